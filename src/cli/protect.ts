// `gue protect <file|dir>... -o <dir>`: protect photos with a trained generator, one forward pass each.
// Parses flags, opens the generator (libtorch or ONNX), calls protectFiles and renders its events.
// Exit status: 0 when every image was protected, 1 when any file failed (the others are still written).
import type { Command } from './main.js';
import { UsageError } from './args.js';
import { DEVICE_FLAG } from './common.js';
import { openGenerator } from '../protect/open.js';
import { protectFiles, type ProtectSummary } from '../protect/images.js';
import type { OutputFormat } from '../protect/codec.js';

const num = (v: number, d = 2): string | number => (Number.isFinite(v) ? Number(v.toFixed(d)) : v > 0 ? 'inf' : 'n/a');

function humanSummary(s: ProtectSummary, out: string, format: string): string {
  const lines: string[] = [];
  if (s.images.length > 0) {
    lines.push('image'.padEnd(40) + 'size'.padStart(12) + 'L∞/255'.padStart(8) + 'PSNR dB'.padStart(9) + 'SSIM'.padStart(8));
    for (const r of s.images) {
      const name = r.output.length > 38 ? '…' + r.output.slice(-37) : r.output;
      lines.push(name.padEnd(40) + `${r.width}×${r.height}`.padStart(12) + String(r.linf255).padStart(8) + String(num(r.psnr)).padStart(9) + r.ssim.toFixed(4).padStart(8));
    }
  }
  const rate = s.seconds > 0 ? s.images.length / s.seconds : 0;
  lines.push(
    `protected ${s.images.length} image${s.images.length === 1 ? '' : 's'} → ${out} (${format}) in ${s.seconds.toFixed(1)} s (${rate.toFixed(2)} images/s)` +
      (s.images.length > 0 ? `; max L∞ ${s.maxLinf255}/255 (budget ${s.bound255}/255), mean PSNR ${num(s.meanPsnr)} dB, mean SSIM ${num(s.meanSsim, 4)}, min SSIM ${num(s.minSsim, 4)}` : ''),
  );
  if (s.skipped.length > 0) lines.push(`skipped ${s.skipped.length} non-image file${s.skipped.length === 1 ? '' : 's'} in the input folders`);
  if (s.failed.length > 0) {
    lines.push(`${s.failed.length} file${s.failed.length === 1 ? '' : 's'} failed:`);
    for (const f of s.failed) lines.push(`  ${f.input}: ${f.error}`);
  }
  return lines.join('\n');
}

export const protectCommand: Command = {
  spec: {
    name: 'protect',
    summary: 'protect photos (files or folders) with a trained generator; writes new files',
    usage: 'gue protect <file|dir>... -o <dir> [--generator <run-dir|generator.safetensors|generator.onnx>] [--format png|jpg|webp] [--quality q] [--tile N] [--overwrite]',
    positionals: { name: 'at least one image file or folder', min: 0, max: Number.MAX_SAFE_INTEGER }, // checked in run (so --help works)
    flags: {
      out: { type: 'string', description: 'output folder, also -o (created; names mirror the inputs)' },
      generator: { type: 'string', description: 'generator: a gue train run folder, generator.safetensors, an exported .onnx, or the name of a shipped one in assets/generators/ (default: fmnist-28x28-w16)' },
      format: { type: 'string', description: 'output format; jpg and webp are lossy and weaken the protection', default: 'png', choices: ['png', 'jpg', 'webp'] },
      quality: { type: 'int', description: 'jpg/webp quality', default: 90, min: 1, max: 100 },
      tile: { type: 'int', description: 'process images larger than this in overlapping tiles (a multiple of 8; 0 = never tile)', default: 512, min: 0 },
      overlap: { type: 'int', description: 'margin cut away at each shared tile edge', default: 32, min: 0 },
      batch: { type: 'int', description: 'tiles per forward pass', default: 4, min: 1 },
      recursive: { type: 'boolean', description: 'walk sub-folders of folder inputs (--no-recursive: only the folder itself)', default: true },
      overwrite: { type: 'boolean', description: 'replace existing output files (inputs are never overwritten)' },
      ...DEVICE_FLAG,
    },
  },
  async run({ flags, positionals, out }) {
    // The flag parser knows only --long flags: -o <dir> arrives as two positionals.
    const inputs = [...positionals];
    let dir = flags.out as string | undefined;
    for (let i = inputs.indexOf('-o'); i >= 0; i = inputs.indexOf('-o')) {
      const v = inputs[i + 1];
      if (v === undefined) throw new UsageError('-o needs a value');
      if (dir !== undefined && dir !== v) throw new UsageError('give the output folder once (-o or --out)');
      dir = v;
      inputs.splice(i, 2);
    }
    if (dir === undefined) throw new UsageError('-o <output folder> is required');
    const bad = inputs.find((a) => /^-[^-]/.test(a) && a !== '-');
    if (bad !== undefined) throw new UsageError(`unknown option '${bad}' (flags are --long; the output folder is -o <dir>)`);
    if (inputs.length === 0) throw new UsageError(`'protect' needs at least one image file or folder. Usage: ${protectCommand.spec.usage}`);
    const tile = flags.tile as number;
    if (tile > 0 && tile % 8 !== 0) throw new UsageError(`--tile must be a multiple of 8 (or 0), got ${tile}`);
    const overlap = flags.overlap as number;
    if (tile > 0 && tile < 2 * overlap + 8) throw new UsageError(`--tile ${tile} is too small for --overlap ${overlap} (need at least ${2 * overlap + 8})`);
    const format = flags.format as OutputFormat;
    const { backend, path, shipped } = await openGenerator(flags.generator as string | undefined, { device: flags.device as string });
    try {
      if (shipped) out.sink({ type: 'log', level: 'info', message: `using the shipped generator ${path}` });
      const s = await protectFiles(inputs, dir, backend, {
        format, quality: flags.quality as number, tile, overlap, batch: flags.batch as number,
        overwrite: flags.overwrite === true, recursive: flags.recursive as boolean,
      }, out.sink);
      out.result(
        {
          out: dir, generator: path, backend: backend.kind, eps255: backend.eps * 255, format, images: s.images.length, failed: s.failed, skipped: s.skipped.length,
          bound255: s.bound255, max_linf255: s.maxLinf255, mean_psnr: num(s.meanPsnr), mean_ssim: num(s.meanSsim, 4), min_ssim: num(s.minSsim, 4),
          seconds: s.seconds, images_per_s: s.seconds > 0 ? s.images.length / s.seconds : null,
          per_image: s.images.map((r) => ({ ...r, psnr: num(r.psnr) })),
        },
        humanSummary(s, dir, format),
      );
      return s.failed.length > 0 || s.images.length === 0 ? 1 : 0;
    } finally {
      await backend.dispose();
    }
  },
};
