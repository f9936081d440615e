// FIXTURE DATA for the report tests: made-up experiment folders, gue train run folders and gue evaluate
// folders in the formats `gue report` reads. None of these numbers were measured; they only have the
// shapes of real results (accuracies in %, per-epoch curves, per-step solver metrics).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A tiny deterministic pseudo-random sequence (fixtures must be the same on every run). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const curve = (start: number, end: number, n: number, rnd: () => number) =>
  Array.from({ length: n }, (_, i) => +(start + ((end - start) * (i + 1)) / n + (rnd() - 0.5) * 2).toFixed(2));

export interface RowSpec {
  method: string;
  eps255?: number;
  fraction?: number;
  payoff?: string;
  defense?: string;
  defenseOptions?: Record<string, unknown>;
  at?: string;
  atEps255?: number;
  model?: string;
  seed?: number;
  genSteps?: number;
  status?: 'done' | 'pending' | 'failed';
  finalAcc?: number;
  robustAcc?: number | null;
  generatorRun?: string | null;
  error?: string | null;
  victimFrom?: string;
  /** The cell's id (default cell-<i>). */
  cell?: string;
}

export function row(spec: RowSpec, i: number, epochs = 5): Record<string, unknown> {
  const rnd = lcg(1000 + i);
  const status = spec.status ?? 'done';
  const final = spec.finalAcc ?? (spec.method === 'clean' ? 90 : 30);
  const c = status === 'done' ? curve(final * 0.6, final, epochs, rnd) : [];
  if (c.length > 0) c[c.length - 1] = final;
  const clean = spec.method === 'clean';
  return {
    cell: spec.cell ?? `cell-${i}`,
    status,
    error: spec.error ?? (status === 'failed' ? 'fixture failure: out of memory' : null),
    method: spec.method,
    eps255: clean ? 0 : spec.eps255 ?? 8,
    norm: 'linf',
    fraction: spec.fraction ?? 1,
    payoff: spec.payoff ?? 'surrogate',
    lowerLoss: 'ce',
    genSteps: clean ? null : spec.genSteps ?? 40,
    defense: spec.defense ?? 'none',
    defenseOptions: spec.defenseOptions ?? {},
    at: spec.at ?? 'none',
    atEps255: spec.atEps255 ?? 0,
    model: spec.model ?? 'small-cnn',
    epochs,
    seed: spec.seed ?? 1,
    finalAcc: status === 'done' ? final : null,
    worstAcc: status === 'done' ? Math.min(...c) : null,
    bestAcc: status === 'done' ? Math.max(...c) : null,
    robustAcc: spec.robustAcc ?? null,
    curve: c,
    protectDir: clean ? null : `protect/p${i}`,
    generatorRun: spec.generatorRun === undefined ? null : spec.generatorRun,
    linf255: clean ? 0 : spec.eps255 ?? 8,
    seconds: 12.5 + i,
    ...(spec.victimFrom ? { victimFrom: spec.victimFrom } : {}),
  };
}

export function writeExperiment(dir: string, meta: { experiment: string; figure: string; title?: string }, rows: RowSpec[]): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'results.json'), JSON.stringify({
    experiment: meta.experiment,
    title: meta.title ?? `FIXTURE DATA: ${meta.experiment}`,
    figure: meta.figure,
    dataset: 'fashion-mnist',
    trainSize: 2000,
    createdAt: '2026-01-02T03:04:05.000Z',
    versions: { gue: '0.1.0', libtorch: '2.1.0', node: 'v20.0.0' },
    rows: rows.map((r, i) => row(r, i)),
  }, null, 2));
  return dir;
}

/** A gue train run folder with `steps` outer steps; proxy lines every `proxyEvery` steps (0 = none). */
export function writeTrainRun(dir: string, steps: number, opts: { payoff?: string; seed?: number; proxyEvery?: number; proxyFile?: boolean } = {}): string {
  mkdirSync(dir, { recursive: true });
  const rnd = lcg(opts.seed ?? 7);
  const payoff = opts.payoff ?? 'surrogate';
  writeFileSync(join(dir, 'options.json'), JSON.stringify({
    command: 'train',
    options: { eps: 8 / 255, innerSteps: 10, eta: 1.5, lrCls: 0.01, lrGen: 0.1, lrInner: 1e-4, genMomentum: 0, genWeightDecay: 0, payoff, clipNorm: 10, path: 'exact', epochs: 2, batchSize: 64, seed: opts.seed ?? 3, surrogate: 'small-cnn', genWidth: 16, fraction: 1, maxSteps: 0, checkpointEvery: 300, device: 'cpu', memoryFormat: 'channelsLast' },
    dataset: 'fashion-mnist train (FIXTURE)',
    trainSize: 2000,
    data: { dataset: 'fashion-mnist', 'train-size': 2000 },
    versions: { gue: '0.1.0', libtorch: '2.1.0', node: 'v20.0.0' },
  }, null, 2));
  const scale = payoff === 'ce' ? 100 : payoff === 'ce-clip' ? 10 : 1;
  const lines: string[] = [];
  const proxy: string[] = [];
  for (let s = 1; s <= steps; s++) {
    const t = s / steps;
    lines.push(JSON.stringify({
      step: s, epoch: 1 + Math.floor((2 * (s - 1)) / steps),
      f: -1 - t + rnd() * 0.2, g: 2.3 * (1 - 0.8 * t) + rnd() * 0.1, gInner: 2.0 * (1 - 0.8 * t), q: 0.3 * (1 - t) + rnd() * 0.05,
      lambda: Math.max(0, 0.5 * (1 - t) + (rnd() - 0.5) * 0.2), gradQNorm: 1 + rnd(), dot: (rnd() - 0.5) * 0.1,
      gradFNorm: scale * (1 + rnd()), gradQwNorm: 0.5 + rnd(), seconds: 0.5,
    }));
    if (opts.proxyEvery && s % opts.proxyEvery === 0) proxy.push(JSON.stringify({ proxy: { step: s, acc: +(85 - 50 * t).toFixed(2), worstAcc: +(80 - 50 * t).toFixed(2) } }));
  }
  // A run killed mid-write leaves a torn last line: the reader must skip it.
  const torn = '{"step": ' + (steps + 1) + ', "f": -1.';
  if (opts.proxyFile) {
    writeFileSync(join(dir, 'metrics.jsonl'), lines.join('\n') + '\n' + torn);
    writeFileSync(join(dir, 'proxy.jsonl'), proxy.join('\n') + '\n');
  } else {
    writeFileSync(join(dir, 'metrics.jsonl'), [...lines, ...proxy].join('\n') + '\n' + torn);
  }
  writeFileSync(join(dir, 'summary.json'), JSON.stringify({ steps, totalSteps: steps, finished: true, last: null }));
  return dir;
}

export interface EvaluateExtras {
  robustAcc?: number;
  defense?: { name: string; kind: 'data' | 'training'; options: Record<string, unknown> };
  adversarialTraining?: { kind: string; eps: number; steps: number; stepSize: number; beta?: number };
}

export function writeEvaluate(dir: string, training: string, accs: number[], model = 'small-cnn', extras: EvaluateExtras = {}): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'results.json'), JSON.stringify({
    command: 'evaluate', training, trainingMeta: null,
    victim: { model, epochs: accs.length, milestones: [Math.round(accs.length * 0.75)], batchSize: 256, lr: 0.01, momentum: 0.9, weightDecay: 5e-4, cropPadding: 4, flip: true, seed: 1, device: 'cpu' },
    result: {
      epochs: accs.map((a, i) => ({ epoch: i + 1, trainLoss: 1 / (i + 1), trainAcc: a + 5, testAcc: a, lr: 0.01 })),
      finalTestAcc: accs[accs.length - 1], worstTestAcc: Math.min(...accs), bestTestAcc: Math.max(...accs),
      robustAcc: extras.robustAcc ?? null, robust: extras.robustAcc !== undefined ? { eps: 4 / 255, steps: 20, stepSize: 1 / 255 } : null,
      adversarialTraining: extras.adversarialTraining ?? null, defense: extras.defense ?? null,
    },
    versions: { gue: '0.1.0', libtorch: '2.1.0', node: 'v20.0.0' },
  }, null, 2));
  return dir;
}

/** A folder of every kind of input the paper's experiments produce; returns their paths. */
export function writeAllFixtures(root: string): Record<string, string> {
  const methods = ['clean', 'gue', 'em', 'random'];
  const accs: Record<string, number> = { clean: 91.2, gue: 23.4, em: 30.5, random: 89.8 };
  const table1 = writeExperiment(join(root, 'table1'), { experiment: 'table1-cpu', figure: 'table1' },
    [1, 2].flatMap((seed) => methods.map((m) => ({ method: m, seed, finalAcc: accs[m]! + seed * 0.5 }))));
  const models = ['small-cnn', 'vgg16', 'resnet18'];
  const table2 = writeExperiment(join(root, 'table2'), { experiment: 'table2-cpu', figure: 'table2' },
    models.flatMap((model, j) => ['clean', 'gue'].map((m) => ({ method: m, model, finalAcc: m === 'clean' ? 90 - j : 20 + 3 * j, ...(model === 'small-cnn' && m === 'clean' ? { victimFrom: 'table1-cpu/clean' } : {}) }))));
  const defenses: [string, Record<string, unknown>][] = [['none', {}], ['mixup', {}], ['cutout', { length: 8 }], ['jpeg', { quality: 10 }], ['grayscale', {}]];
  const table3 = writeExperiment(join(root, 'table3'), { experiment: 'table3-cpu', figure: 'table3' }, [
    ...defenses.flatMap(([d, o], j) => ['clean', 'gue'].map((m) => ({ method: m, defense: d, defenseOptions: o, finalAcc: m === 'clean' ? 90 - j : 22 + 4 * j }))),
    { method: 'gue', defense: 'cutmix', status: 'failed' },
    { method: 'clean', defense: 'cutmix', status: 'pending' },
  ]);
  const table4 = writeExperiment(join(root, 'table4'), { experiment: 'table4-cpu', figure: 'table4' },
    [['none', 0], ['pgd', 2], ['pgd', 4]].flatMap(([at, e], j) => ['clean', 'gue'].map((m) => ({ method: m, at: at as string, atEps255: e as number, finalAcc: m === 'clean' ? 90 - 3 * j : 25 + 25 * j, robustAcc: j === 0 ? 0.5 : 40 + 5 * j }))));
  const fig3 = writeExperiment(join(root, 'fig3'), { experiment: 'fig3-cpu', figure: 'fig3' }, [
    { method: 'clean', finalAcc: 91 },
    ...[0.2, 0.4, 0.6, 0.8, 1].map((p) => ({ method: 'gue', fraction: p, genSteps: Math.round(400 * p), finalAcc: 60 - 35 * p })),
  ]);
  const fig5dir = join(root, 'fig5');
  const payoffs = ['ce', 'ce-clip', 'surrogate'];
  payoffs.forEach((p, i) => writeTrainRun(join(fig5dir, 'protect', `g${i}`, 'run'), 60, { payoff: p, seed: 10 + i }));
  const fig5 = writeExperiment(fig5dir, { experiment: 'fig5-cpu', figure: 'fig5' },
    payoffs.map((p, i) => ({ method: 'gue', payoff: p, generatorRun: `protect/g${i}/run`, finalAcc: 40 - 8 * i })));
  const train = writeTrainRun(join(root, 'train-run'), 1500, { proxyEvery: 300 });
  const train2 = writeTrainRun(join(root, 'train-run-2'), 400, { seed: 5, proxyEvery: 100, proxyFile: true });
  const evalClean = writeEvaluate(join(root, 'eval-clean'), 'clean', [80.1, 86.3, 88.9, 90.2]);
  const evalProt = writeEvaluate(join(root, 'eval-gue'), 'protected/gue-8', [30.2, 25.1, 22.7, 21.9]);
  return { table1, table2, table3, table4, fig3, fig5, train, train2, evalClean, evalProt };
}
