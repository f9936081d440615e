// Shipped experiment presets: <package>/presets/<group>/<name>.yaml, named '<group>/<name>' (e.g. cpu/table1).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | null = null;

/** The package's presets folder. */
export function presetsDir(): string {
  if (root === null) {
    let dir = dirname(fileURLToPath(import.meta.url));
    for (let i = 0; i < 6; i++) {
      const pkg = join(dir, 'package.json');
      if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'gue') break;
      dir = dirname(dir);
    }
    root = dir;
  }
  return join(root, 'presets');
}

export interface PresetEntry {
  name: string;
  path: string;
  /** The first comment line of the file (its one-line description). */
  summary: string;
}

export function listPresets(): PresetEntry[] {
  const dir = presetsDir();
  if (!existsSync(dir)) return [];
  const out: PresetEntry[] = [];
  for (const group of readdirSync(dir).sort()) {
    const gdir = join(dir, group);
    if (!statSync(gdir).isDirectory()) continue;
    for (const f of readdirSync(gdir).sort()) {
      const m = /^(.*)\.(ya?ml|json)$/.exec(f);
      if (!m) continue;
      const path = join(gdir, f);
      const first = readFileSync(path, 'utf8').split('\n').find((l) => l.startsWith('#'));
      out.push({ name: `${group}/${m[1]}`, path, summary: first ? first.replace(/^#\s*/, '') : '' });
    }
  }
  return out;
}

/** A file path as given, or the path of a preset name; null when neither exists. */
export function resolveExperimentPath(arg: string): string | null {
  if (existsSync(arg) && statSync(arg).isFile()) return arg;
  const hit = listPresets().find((p) => p.name === arg || p.name === arg.replace(/\.(ya?ml|json)$/, ''));
  return hit ? hit.path : null;
}
