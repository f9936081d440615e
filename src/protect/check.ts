// `gue check` as a library: "is my protection still working?" The test of unlearnable examples (Huang et
// al., ICLR 2021; GUE, AAAI 2024, §5): train a fresh victim on the protected training set and on its clean
// twin, and compare their accuracy on clean test data. A protection that works leaves the protected-data
// model near chance while the clean-data model learns. Optionally the protected set is first transformed
// (JPEG, down-and-up resizing, grayscale; transforms.ts), as a scraper might, and one victim is trained per
// transform.
//
// Verdict per protected row, with chance = 100/K and clean = the clean-data model's accuracy:
//   retained = (acc − chance) / (clean − chance), the share of learnable accuracy the victim still gets;
//   'holds' if retained ≤ 0.35, 'weak' if ≤ 0.7, 'broken' above. If the clean model itself is within
//   10 points of chance, the check is 'inconclusive' (train longer or on more data).
import type { ImageDataset } from '../data/dataset.js';
import { trainVictim, type VictimOptions } from '../victim/train.js';
import { silent, type EventSink } from '../util/events.js';
import { applyTransform, transformName, type TransformSpec } from './transforms.js';

export const HOLDS_MAX = 0.35;
export const WEAK_MAX = 0.7;

export type Verdict = 'baseline' | 'holds' | 'weak' | 'broken' | 'inconclusive';

export interface CheckRow {
  /** 'clean', 'protected', or 'protected + <transform>'. */
  training: string;
  transform: string | null;
  /** Clean test accuracy (%) after the last epoch, and per epoch. */
  testAcc: number;
  curve: number[];
  /** clean − testAcc, in points (0 for the clean row). */
  gap: number;
  retained: number;
  verdict: Verdict;
}

export interface CheckReport {
  rows: CheckRow[];
  cleanAcc: number;
  chance: number;
  /** The plain-language verdict. */
  summary: string;
  victim: Partial<VictimOptions>;
}

export function verdictOf(acc: number, clean: number, chance: number): { retained: number; verdict: Verdict } {
  if (clean - chance < 10) return { retained: NaN, verdict: 'inconclusive' };
  const retained = (acc - chance) / (clean - chance);
  return { retained, verdict: retained <= HOLDS_MAX ? 'holds' : retained <= WEAK_MAX ? 'weak' : 'broken' };
}

const pct = (v: number): string => `${v.toFixed(1)} %`;

export function plainVerdict(rows: CheckRow[], clean: number, chance: number): string {
  const prot = rows.filter((r) => r.training !== 'clean');
  if (prot.length === 0) return `clean baseline: ${pct(clean)}`;
  if (prot[0]!.verdict === 'inconclusive') {
    return `inconclusive: the model trained on clean data reaches only ${pct(clean)} (chance ${pct(chance)}); train longer (--epochs) or on more data (--train-size)`;
  }
  const plain = prot.find((r) => r.transform === null);
  const parts: string[] = [];
  if (plain) {
    parts.push(plain.verdict === 'holds'
      ? `protection holds: a model trained on your protected data reaches ${pct(plain.testAcc)} vs ${pct(clean)} on clean data (chance ${pct(chance)})`
      : `protection is ${plain.verdict}: a model trained on your protected data still reaches ${pct(plain.testAcc)} vs ${pct(clean)} on clean data (chance ${pct(chance)})`);
  }
  const failing = prot.filter((r) => r.transform !== null && r.verdict !== 'holds');
  const holding = prot.filter((r) => r.transform !== null && r.verdict === 'holds');
  for (const r of failing) parts.push(`protection is ${r.verdict === 'broken' ? 'broken' : 'weak'} after ${r.transform}: ${pct(r.testAcc)}`);
  if (holding.length > 0) parts.push(`it survives ${holding.map((r) => `${r.transform} (${pct(r.testAcc)})`).join(', ')}`);
  return parts.join('; ');
}

/** Trains the victims and compares them (see the header). */
export async function runCheck(
  data: { clean: ImageDataset; protected: ImageDataset; test: ImageDataset },
  o: { victim: Partial<VictimOptions>; transforms: TransformSpec[] },
  onEvent: EventSink = silent,
): Promise<CheckReport> {
  const { clean, test } = data;
  const prot = data.protected;
  if (clean.shape.join() !== prot.shape.join()) throw new Error(`the protected images [${prot.shape.join(', ')}] and the clean ones [${clean.shape.join(', ')}] differ in shape`);
  if (clean.labels.length !== prot.labels.length) throw new Error(`the protected set has ${prot.labels.length} images but its clean twin has ${clean.labels.length}`);
  for (let i = 0; i < clean.labels.length; i++) {
    if (clean.labels[i] !== prot.labels[i]) throw new Error(`the protected set and its clean twin disagree on the label of image ${i}; they are not twins`);
  }
  const chance = 100 / clean.numClasses;
  const runs: { training: string; transform: TransformSpec | null }[] = [
    { training: 'clean', transform: null },
    { training: 'protected', transform: null },
    ...o.transforms.map((t) => ({ training: `protected + ${transformName(t)}`, transform: t })),
  ];
  const rows: CheckRow[] = [];
  let cleanAcc = NaN;
  for (const run of runs) {
    let train = run.training === 'clean' ? clean : prot;
    if (run.transform) {
      onEvent({ type: 'log', level: 'info', message: `applying ${transformName(run.transform)} to the protected training set` });
      train = await applyTransform(prot, run.transform);
    }
    const r = trainVictim(train, test, o.victim, onEvent, run.training);
    const acc = r.finalTestAcc;
    if (run.training === 'clean') cleanAcc = acc;
    const v = run.training === 'clean' ? { retained: 1, verdict: 'baseline' as Verdict } : verdictOf(acc, cleanAcc, chance);
    rows.push({ training: run.training, transform: run.transform ? transformName(run.transform) : null, testAcc: acc, curve: r.epochs.map((e) => e.testAcc), gap: cleanAcc - acc, retained: v.retained, verdict: v.verdict });
    onEvent({ type: 'result', task: 'check', metrics: { training: run.training, test_acc: acc, gap: cleanAcc - acc, verdict: v.verdict } });
  }
  return { rows, cleanAcc, chance, summary: plainVerdict(rows, cleanAcc, chance), victim: o.victim };
}
