// The defense registry: name → Defense (data defenses transform the training set once; training defenses
// change each batch). Add a defense by writing src/defenses/<name>.ts and listing it here.
import { OptionError, resolveOptions, type OptionValues } from '../util/options.js';
import type { Defense } from './types.js';
import { mixup } from './mixup.js';
import { cutout } from './cutout.js';
import { cutmix } from './cutmix.js';
import { jpeg } from './jpeg.js';
import { grayscale } from './grayscale.js';
import { bitdepth } from './bitdepth.js';
import { blur } from './blur.js';

export * from './types.js';
export { jpegRoundTrip } from './jpeg.js';
export { toGrayscale } from './grayscale.js';
export { reduceBitDepth } from './bitdepth.js';
export { gaussianBlur } from './blur.js';

export const DEFENSES: Readonly<Record<string, Defense>> = Object.freeze({
  mixup,
  cutout,
  cutmix,
  jpeg,
  grayscale,
  bitdepth,
  blur,
});

export class UnknownDefenseError extends Error {
  constructor(name: string) {
    super(`unknown defense '${name}'; available: none, ${Object.keys(DEFENSES).join(', ')}`);
    this.name = 'UnknownDefenseError';
  }
}

export function getDefense(name: string): Defense {
  const d = Object.prototype.hasOwnProperty.call(DEFENSES, name) ? DEFENSES[name] : undefined;
  if (!d) throw new UnknownDefenseError(name);
  return d;
}

/** The defense and its validated options ('none' → null). Throws UnknownDefenseError / OptionError. */
export function resolveDefense(name: string, given: Record<string, unknown> = {}): { defense: Defense; options: OptionValues } | null {
  if (name === 'none') {
    if (Object.keys(given).length > 0) throw new OptionError(`defense 'none' takes no options; got ${Object.keys(given).join(', ')}`);
    return null;
  }
  const defense = getDefense(name);
  return { defense, options: resolveOptions(`defense '${name}'`, defense.options, given) };
}
