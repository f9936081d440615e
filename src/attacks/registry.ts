// The attack registry: name → Attack, and the one function that turns an attack into protected data.
// Add an attack by writing src/attacks/<name>.ts and listing it here.
import type { ImageDataset } from '../data/dataset.js';
import { silent, type EventSink } from '../util/events.js';
import { resolveOptions, type OptionValues } from '../util/options.js';
import { poisonDataset, type PoisonReport, type Quantization } from './poison.js';
import type { Attack, Norm } from './types.js';
import { randomNoise, randomClassNoise } from './random.js';
import { emSample, emClass } from './em.js';
import { tap } from './tap.js';
import { lsp } from './lsp.js';
import { ar } from './ar.js';
import { deepConfuse } from './deepconfuse.js';
import { shortcutGen } from './shortcutgen.js';
import { rem } from './rem.js';

export const ATTACKS: Readonly<Record<string, Attack>> = Object.freeze({
  random: randomNoise,
  'random-class': randomClassNoise,
  'em-sample': emSample,
  'em-class': emClass,
  tap,
  lsp,
  ar,
  deepconfuse: deepConfuse,
  shortcutgen: shortcutGen,
  rem,
});

export class UnknownAttackError extends Error {
  constructor(name: string) {
    super(`unknown attack '${name}'; available: ${Object.keys(ATTACKS).join(', ')}`);
    this.name = 'UnknownAttackError';
  }
}

export function getAttack(name: string): Attack {
  const a = ATTACKS[name];
  if (!a) throw new UnknownAttackError(name);
  return a;
}

export interface RunAttackOptions {
  eps: number;
  norm?: Norm;
  seed?: number;
  device?: string;
  quantization?: Quantization;
  batchSize?: number;
  /** Raw attack options (validated against the attack's table). */
  options?: Record<string, unknown>;
  onEvent?: EventSink;
  task?: string;
}

/** Prepares `name` on `train` and protects it through `poisonDataset`. */
export function runAttack(name: string, train: ImageDataset, o: RunAttackOptions): { dataset: ImageDataset; report: PoisonReport; options: OptionValues; meta: Record<string, unknown> } {
  const attack = getAttack(name);
  const norm = o.norm ?? 'linf';
  if (!attack.norms.includes(norm)) throw new Error(`attack '${name}' supports ${attack.norms.join(', ')}, not ${norm}`);
  const options = resolveOptions(`attack '${name}'`, attack.options, o.options);
  const device = o.device ?? 'cpu';
  const onEvent = o.onEvent ?? silent;
  const task = o.task ?? name;
  const prepared = attack.prepare({ train, eps: o.eps, norm, seed: o.seed ?? 0, device, onEvent, task }, options);
  try {
    const { dataset, report } = poisonDataset(train, prepared.perturb, { eps: o.eps, norm, quantization: o.quantization ?? 'round', batchSize: o.batchSize ?? 500, device }, onEvent, `${task} protect`);
    return { dataset: { ...dataset, source: `${train.source} (${name})` }, report, options, meta: prepared.meta };
  } finally {
    prepared.dispose();
  }
}
