// The one interface every availability attack implements (GUE's generator, EM, TAP, ...). An attack is
// prepared on a training set and returns a PerturbFn: per-sample perturbations looked up by dataset index
// (stored δ) or computed (a generator's forward). Protected data is always made by `poisonDataset`, which
// projects to the budget, clamps, quantizes and checks the bound, so every attack is compared fairly.
import type { ImageDataset } from '../data/dataset.js';
import type { EventSink } from '../util/events.js';
import type { OptionSpec, OptionValues } from '../util/options.js';
import type { PerturbFn } from './poison.js';

export type Norm = 'linf' | 'l2';

export interface AttackContext {
  /** The (clean) training set to protect. Its images are uint8 NCHW. */
  train: ImageDataset;
  /** Budget in [0,1] units: L∞ radius (e.g. 8/255), or the per-image L2 radius when norm is 'l2'. */
  eps: number;
  norm: Norm;
  seed: number;
  device: string;
  onEvent: EventSink;
  /** Prefix for progress events. */
  task: string;
}

export interface PreparedAttack {
  /** δ for a float batch in [0,1] with its dataset indices and labels. */
  perturb: PerturbFn;
  /** What to record next to the protected data (options actually used, training stats, ...). */
  meta: Record<string, unknown>;
  /** Frees every tensor the attack holds. */
  dispose(): void;
}

export interface Attack {
  name: string;
  /** One line: what it is. */
  title: string;
  /** The paper it implements (authors, year, venue). */
  cite: string;
  /** Norms the attack supports (most are L∞ only). */
  norms: readonly Norm[];
  options: Readonly<Record<string, OptionSpec>>;
  /** Runs the attack's optimisation (if any) on ctx.train. `options` are already validated. */
  prepare(ctx: AttackContext, options: OptionValues): PreparedAttack;
}
