// The `gue` command line. One file per command; this file dispatches and turns errors into messages.
import { UsageError, helpText, parseFlags, type CommandSpec, type FlagValues } from './args.js';
import { makeRenderer, type Renderer } from './render.js';
import { COMMANDS } from './commands.js';
import { gueVersion } from '../util/versions.js';

export interface CommandContext {
  flags: FlagValues;
  positionals: string[];
  /** Flags given explicitly on the command line (not from defaults). */
  given: Set<string>;
  /** The command's own arguments as given (after the command name). */
  argv: string[];
  out: Renderer;
}

export interface Command {
  spec: CommandSpec;
  run(ctx: CommandContext): Promise<number> | number;
}

function usage(): string {
  const lines = ['gue — unlearnable examples (GUE, AAAI 2024) on libtorch', '', 'Usage: gue <command> [flags]', '', 'Commands:'];
  for (const c of Object.values(COMMANDS)) lines.push(`  ${c.spec.name.padEnd(12)}${c.spec.summary}`);
  lines.push('', "Run 'gue <command> --help' for a command's flags, 'gue --version' for the version ('gue info' for the engine's).");
  return lines.join('\n');
}

/** Runs the CLI; returns the exit status. Never throws. */
export async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    process.stdout.write(`gue ${gueVersion()}\n`);
    return 0;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    process.stderr.write(`gue: unknown command '${name}'\n\n${usage()}\n`);
    return 2;
  }
  let out: Renderer | null = null;
  try {
    const { flags, positionals, given } = parseFlags(cmd.spec, rest);
    if (flags.help) {
      process.stdout.write(helpText(cmd.spec) + '\n');
      return 0;
    }
    out = makeRenderer(flags.json === true);
    return await cmd.run({ flags, positionals, given, argv: rest, out });
  } catch (e) {
    out?.close();
    const err = e as Error;
    if (err instanceof UsageError) {
      process.stderr.write(`gue ${name}: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`gue ${name}: ${err.message ?? String(err)}\n`);
    if (process.env.GUE_DEBUG === '1' && err.stack) process.stderr.write(err.stack + '\n');
    return 1;
  }
}
