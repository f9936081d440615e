// Training a GUE generator: the outer loop over mini-batches, run folders, checkpoints and resume.
// A run folder holds:
//   options.json          resolved options, seed and versions
//   metrics.jsonl         one line per outer step: f, g, q, λ, norms, inner product
//   checkpoint.{safetensors,json}   generator + classifier + optimizer state + position (atomic; resumable)
//   generator.{safetensors,json}    the generator as of the latest checkpoint, with what it needs to be applied
//                                   (ε, channels, width): a killed run leaves a usable generator
// Learning-rate schedules: genMilestones / clsMilestones (epochs, MultiStepLR semantics: during 0-based epoch e
// the lr is lr₀·γ^#{m ≤ e}); GUE-AT's authors use [120, 140] with γ = 0.1 for both optimizers over 150 epochs.
// The lr is a function of the epoch alone, so a resumed run follows the same schedule.
import { existsSync, mkdirSync, readFileSync, appendFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Generator, Tensor, manualSeed, scope } from '../engine/index.js';
import { TensorDataset, indexBatches, numBatches, seededSubset, type ImageDataset } from '../data/index.js';
import { UNet, TemplateGenerator, buildClassifier } from '../nn/models/index.js';
import type { Module } from '../nn/module.js';
import { loadCheckpointSync, saveCheckpointSync, writeFileAtomicSync, writeJsonAtomicSync } from '../io/index.js';
import { GAME_DEFAULTS, GameSolver, checkGameOptions, type GameOptions, type StepMetrics } from './bome.js';
import { silent, type EventSink } from '../util/events.js';
import { versions } from '../util/versions.js';
import { PROXY_DEFAULTS, ProxyVictim } from './proxy.js';

export interface TrainOptions extends GameOptions {
  epochs: number;
  batchSize: number;
  seed: number;
  /** Surrogate classifier architecture (registry name). */
  surrogate: string;
  /** U-Net width (64 paper, 16 CPU); with genArch 'templates', the encoder's width. */
  genWidth: number;
  /**
   * Generator architecture: 'unet' (the paper's, default), 'class-templates' (ours: one learned pattern per class, picked
   * by the label; labelled data only) or 'templates' (an option of ours: a small encoder picks a
   * softmax mixture of K learned full-image patterns; src/nn/models/template-gen.ts).
   */
  genArch: GeneratorArch;
  /** Fraction of the training set the generator sees (seeded subset), in (0, 1]. */
  fraction: number;
  /** Stop after this many outer steps in this invocation (0 = run to the end). */
  maxSteps: number;
  /** Seconds between checkpoints (also at every epoch end and at the end). */
  checkpointEvery: number;
  device: string;
  memoryFormat: 'contiguous' | 'channelsLast';
  /** Epochs after which the generator's lr is multiplied by lrGamma (none by default). */
  genMilestones: number[];
  /** Epochs after which the classifier's lr is multiplied by lrGamma (none by default). */
  clsMilestones: number[];
  lrGamma: number;
  /**
   * Surrogate warm restarts (an option of ours, not the authors'; 0 = never, their default): every this many outer
   * steps the classifier θ is re-initialised (fresh seeded weights and BN statistics), so the generator faces
   * classifiers at every stage of training from scratch, as the victims it must fool are, instead of one θ that
   * co-adapts with it over the whole run.
   */
  resetEvery: number;
  /** Proxy-victim diagnostic (src/game/proxy.ts): every this many outer steps (0 = off). Needs the test set. */
  proxyEvery: number;
  proxyTrainSize: number;
  proxyEpochs: number;
  proxyModel: string;
}

export const TRAIN_DEFAULTS: Readonly<TrainOptions> = Object.freeze({
  ...GAME_DEFAULTS,
  epochs: 50,
  batchSize: 256,
  seed: 3,
  surrogate: 'resnet18',
  genWidth: 64,
  genArch: 'unet',
  fraction: 1,
  maxSteps: 0,
  checkpointEvery: 300,
  device: 'cpu',
  memoryFormat: 'channelsLast',
  genMilestones: [],
  clsMilestones: [],
  lrGamma: 0.1,
  resetEvery: 0,
  proxyEvery: 0,
  proxyTrainSize: PROXY_DEFAULTS.trainSize,
  proxyEpochs: PROXY_DEFAULTS.epochs,
  proxyModel: PROXY_DEFAULTS.model,
});

/** Keeps the lines of a JSON-lines file whose `step` is at most `step` (a resumed run rewinds to its checkpoint). */
function trimJsonl(path: string, step: number): void {
  if (!existsSync(path)) return;
  const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l.trim() !== '');
  const keep = lines.filter((l) => (JSON.parse(l) as { step: number }).step <= step);
  writeFileAtomicSync(path, keep.map((l) => l + '\n').join(''));
}

/** lr during 0-based epoch `epoch` under MultiStepLR(milestones, gamma). */
export function multiStepLr(base: number, milestones: readonly number[], gamma: number, epoch: number): number {
  return base * Math.pow(gamma, milestones.filter((m) => m <= epoch).length);
}

/** Options that must not change when a run is resumed. */
const FIXED_ON_RESUME: (keyof TrainOptions)[] = [
  'eps', 'innerSteps', 'eta', 'lrCls', 'lrGen', 'lrInner', 'genMomentum', 'genWeightDecay', 'payoff', 'clipNorm',
  'batchSize', 'seed', 'surrogate', 'genWidth', 'genArch', 'fraction',
  'lowerLoss', 'atEps', 'atSteps', 'tradesBeta', 'genMilestones', 'clsMilestones', 'lrGamma', 'resetEvery', 'genGrad', 'clsGrad', 'routeWeight', 'genOptim', 'gameAugment',
];

export type GeneratorArch = 'unet' | 'templates' | 'class-templates';
export const GENERATOR_ARCHS: readonly GeneratorArch[] = ['unet', 'templates', 'class-templates'];
export type GueGenerator = UNet | TemplateGenerator;

export interface GeneratorMeta {
  kind: 'gue-generator';
  eps: number;
  channels: number;
  width: number;
  /** Absent in generators written before the option existed: 'unet'. */
  arch?: GeneratorArch;
  /** Number of patterns (arch 'templates'). */
  templates?: number;
  imageShape: [number, number, number];
  numClasses: number;
  dataset: string;
  steps: number;
  options: Partial<TrainOptions>;
  versions: Record<string, string | number | boolean>;
}

export interface TrainResult {
  runDir: string;
  steps: number;
  totalSteps: number;
  finished: boolean;
  last: StepMetrics | null;
}

interface CheckpointMeta {
  step: number;
  /** Identifies the generator's training data, so a resume on other data is refused. */
  dataFingerprint: string;
  options: TrainOptions;
  genOpt: unknown;
  clfOpt: unknown;
  dataset: string;
}

/** The seeded subset of the training set the generator sees. */
export function generatorSubset(ds: ImageDataset, fraction: number, seed: number): ImageDataset {
  if (!(fraction > 0 && fraction <= 1)) throw new Error(`fraction must be in (0, 1], got ${fraction}`);
  if (fraction === 1) return ds;
  const n = ds.labels.length;
  const k = Math.max(1, Math.round(n * fraction));
  return seededSubset(ds, k, seed, `${ds.source}[${(fraction * 100).toFixed(0)} % seeded subset]`);
}

/** Size, shape and a checksum of the images and labels. */
export function dataFingerprint(ds: ImageDataset): string {
  let h = 2166136261;
  const step = Math.max(1, Math.floor(ds.images.length / 65536));
  for (let i = 0; i < ds.images.length; i += step) h = Math.imul(h ^ ds.images[i]!, 16777619) >>> 0;
  for (let i = 0; i < ds.labels.length; i++) h = Math.imul(h ^ ds.labels[i]!, 16777619) >>> 0;
  return `${ds.labels.length}×[${ds.shape.join(',')}] #${h.toString(16)}`;
}

function stateOf(prefix: string, m: Module, into: Map<string, Tensor>): void {
  for (const [k, t] of m.stateDict()) into.set(`${prefix}.${k}`, t);
}
function stateFor(prefix: string, all: Map<string, Tensor>): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [k, t] of all) if (k.startsWith(prefix + '.')) out.set(k.slice(prefix.length + 1), t);
  return out;
}

/** Builds a generator of the given architecture (fresh weights from `generator` when given). */
export function buildGenerator(arch: GeneratorArch, o: { channels: number; width: number; imageShape: [number, number, number]; numClasses: number; templates?: number; generator?: Generator }): GueGenerator {
  if (arch === 'unet') return new UNet({ channels: o.channels, width: o.width, generator: o.generator });
  if (arch === 'templates' || arch === 'class-templates') {
    return new TemplateGenerator({
      channels: o.channels, width: o.width, imageSize: [o.imageShape[1], o.imageShape[2]],
      templates: arch === 'class-templates' ? o.numClasses : o.templates ?? o.numClasses, routing: arch === 'class-templates' ? 'label' : 'router', generator: o.generator,
    });
  }
  throw new Error(`unknown generator architecture '${String(arch)}' (expected one of ${GENERATOR_ARCHS.join(', ')})`);
}

export function saveGenerator(path: string, gen: GueGenerator, meta: GeneratorMeta): void {
  saveCheckpointSync(path, { tensors: gen.stateDict(), meta });
}

/** Loads a generator saved by `gue train` (generator.safetensors + generator.json). */
export function loadGenerator(path: string, device = 'cpu'): { gen: GueGenerator; meta: GeneratorMeta } {
  const ck = loadCheckpointSync<GeneratorMeta>(path, { device });
  try {
    const meta = ck.meta;
    if (meta?.kind !== 'gue-generator') throw new Error(`${ck.paths.sidecar}: not a gue generator (kind '${String(meta?.kind)}')`);
    const gen = buildGenerator(meta.arch ?? 'unet', meta);
    if (device !== 'cpu') gen.to(device);
    gen.loadStateDict(ck.tensors);
    gen.eval();
    return { gen, meta };
  } finally {
    for (const t of ck.tensors.values()) t.dispose();
  }
}

/**
 * Trains a GUE generator on `train`, writing the run folder `runDir`. With resume, continues from the folder's
 * checkpoint (the options fixed at the start must match; `epochs` may grow).
 */
/**
 * Trains (or, with resume, continues) a generator in `runDir`. `proxyTest` is the clean test set the
 * proxy victims are scored on; it is needed only when proxyEvery > 0.
 */
export function trainGenerator(train: ImageDataset, opts: Partial<TrainOptions>, runDir: string, resume = false, onEvent: EventSink = silent, dataSpec?: Record<string, unknown>, proxyTest?: ImageDataset): TrainResult {
  let o: TrainOptions = { ...TRAIN_DEFAULTS, ...opts };
  checkGameOptions(o);
  const ckPath = join(runDir, 'checkpoint');
  const hasCk = existsSync(join(runDir, 'checkpoint.json'));
  if (resume && !hasCk) throw new Error(`${runDir}: nothing to resume (no checkpoint.json)`);
  if (!resume && existsSync(runDir) && readdirSync(runDir).length > 0) {
    throw new Error(`${runDir} already exists and is not empty; pass --resume to continue it or choose another --out`);
  }
  mkdirSync(runDir, { recursive: true });

  let ck: ReturnType<typeof loadCheckpointSync<CheckpointMeta>> | null = null;
  if (resume) {
    ck = loadCheckpointSync<CheckpointMeta>(ckPath, { device: o.device });
    const prev = ck.meta.options;
    for (const k of FIXED_ON_RESUME) {
      // Runs written before an option existed used its default.
      const had = prev[k] ?? TRAIN_DEFAULTS[k];
      if (opts[k] !== undefined && JSON.stringify(opts[k]) !== JSON.stringify(had)) {
        for (const t of ck.tensors.values()) t.dispose();
        throw new Error(`cannot resume with a different ${k} (run has ${JSON.stringify(had)}, got ${JSON.stringify(opts[k])})`);
      }
    }
    o = {
      ...TRAIN_DEFAULTS, ...prev, epochs: opts.epochs ?? prev.epochs, maxSteps: opts.maxSteps ?? 0, checkpointEvery: opts.checkpointEvery ?? prev.checkpointEvery, device: o.device,
      // Diagnostics may change on resume.
      proxyEvery: opts.proxyEvery ?? prev.proxyEvery ?? TRAIN_DEFAULTS.proxyEvery,
      proxyTrainSize: opts.proxyTrainSize ?? prev.proxyTrainSize ?? TRAIN_DEFAULTS.proxyTrainSize,
      proxyEpochs: opts.proxyEpochs ?? prev.proxyEpochs ?? TRAIN_DEFAULTS.proxyEpochs,
      proxyModel: opts.proxyModel ?? prev.proxyModel ?? TRAIN_DEFAULTS.proxyModel,
    };
  }

  for (const [k, ms] of [['genMilestones', o.genMilestones], ['clsMilestones', o.clsMilestones]] as const) {
    if (!Array.isArray(ms) || ms.some((m) => !Number.isInteger(m) || m < 1)) throw new Error(`${k} must be positive integer epochs; got ${JSON.stringify(ms)}`);
  }
  if (!(o.lrGamma >= 0)) throw new Error(`lrGamma must be >= 0; got ${o.lrGamma}`);
  if (!Number.isInteger(o.resetEvery) || o.resetEvery < 0) throw new Error(`resetEvery must be an integer ≥ 0; got ${o.resetEvery}`);
  const data = generatorSubset(train, o.fraction, o.seed);
  const fingerprint = dataFingerprint(data);
  if (ck !== null && ck.meta.dataFingerprint !== fingerprint) {
    for (const t of ck.tensors.values()) t.dispose();
    throw new Error(`cannot resume on different training data (the run used ${ck.meta.dataFingerprint}; got ${fingerprint}); pass the same --dataset, --data-dir and --train-size`);
  }
  if (o.proxyEvery > 0 && proxyTest === undefined) throw new Error('proxy victims (proxyEvery > 0) need the clean test set');
  const [c, h] = data.shape;
  manualSeed(o.seed);
  const initGen = new Generator(o.seed);
  if (!GENERATOR_ARCHS.includes(o.genArch)) throw new Error(`genArch must be one of ${GENERATOR_ARCHS.join(', ')}; got ${JSON.stringify(o.genArch)}`);
  const gen = buildGenerator(o.genArch, { channels: c, width: o.genWidth, imageShape: data.shape, numClasses: data.numClasses, generator: initGen });
  const clf = buildClassifier(o.surrogate, { inChannels: c, numClasses: data.numClasses, imageSize: h, generator: initGen });
  const scratch = buildClassifier(o.surrogate, { inChannels: c, numClasses: data.numClasses, imageSize: h, generator: initGen });
  for (const m of [gen, clf, scratch]) m.to({ device: o.device, memoryFormat: o.memoryFormat });
  const solver = new GameSolver(gen, clf, scratch, { ...o, atSeed: o.seed });
  const tdata = new TensorDataset(data, o.device);
  const perEpoch = numBatches(tdata.size, { batchSize: o.batchSize });
  const totalSteps = perEpoch * o.epochs;
  let step = 0;

  const writeOptions = () =>
    writeJsonAtomicSync(join(runDir, 'options.json'), { command: 'train', options: o, dataset: train.source, trainSize: tdata.size, data: dataSpec ?? null, versions: versions() });

  if (ck !== null) {
    gen.loadStateDict(stateFor('gen', ck.tensors));
    clf.loadStateDict(stateFor('clf', ck.tensors));
    solver.genOpt.loadStateDict({ state: stateFor('genopt', ck.tensors), hyper: ck.meta.genOpt } as never);
    solver.clfOpt.loadStateDict({ state: stateFor('clfopt', ck.tensors), hyper: ck.meta.clfOpt } as never);
    step = ck.meta.step;
    const rngState = ck.tensors.get('solver.rng');
    if (rngState) solver.rng.setState(rngState);
    for (const t of ck.tensors.values()) t.dispose();
    // Keep exactly the metrics (and proxy results) of the steps the checkpoint covers.
    trimJsonl(join(runDir, 'metrics.jsonl'), step);
    trimJsonl(join(runDir, 'proxy.jsonl'), step);
    onEvent({ type: 'log', level: 'info', message: `resuming ${runDir} at step ${step}/${totalSteps}` });
  }
  writeOptions();

  const saveState = () => {
    scope(() => {
      const tensors = new Map<string, Tensor>();
      stateOf('gen', gen, tensors);
      stateOf('clf', clf, tensors);
      const g = solver.genOpt.stateDict();
      const cl = solver.clfOpt.stateDict();
      for (const [k, t] of g.state) tensors.set(`genopt.${k}`, t);
      for (const [k, t] of cl.state) tensors.set(`clfopt.${k}`, t);
      tensors.set('solver.rng', solver.rng.getState());
      saveCheckpointSync(ckPath, { tensors, meta: { step, dataFingerprint: fingerprint, options: o, genOpt: g.hyper, clfOpt: cl.hyper, dataset: train.source } satisfies CheckpointMeta });
    });
    // The generator of the latest checkpoint is usable on its own, even if the run is killed later.
    saveGenerator(join(runDir, 'generator'), gen, genMeta());
  };
  const genMeta = (): GeneratorMeta => ({
    kind: 'gue-generator', eps: o.eps, channels: c, width: o.genWidth,
    ...(o.genArch === 'unet' ? {} : { arch: o.genArch, templates: (gen as TemplateGenerator).numTemplates }), imageShape: data.shape, numClasses: data.numClasses,
    dataset: train.source, steps: step, options: o, versions: versions(),
  });

  // Warm restart of θ before outer step s+1 when s is a multiple of resetEvery. The fresh weights depend on the seed
  // and s only, and a checkpoint at step s holds θ before that restart, so a resumed run restarts it identically.
  const resetClassifier = () => {
    const fresh = buildClassifier(o.surrogate, { inChannels: c, numClasses: data.numClasses, imageSize: h, generator: new Generator(o.seed * 7919 + step) });
    try {
      fresh.to({ device: o.device, memoryFormat: o.memoryFormat });
      clf.copyFrom(fresh);
    } finally {
      fresh.dispose();
    }
    onEvent({ type: 'log', level: 'info', message: `step ${step}: surrogate classifier re-initialised (--reset-every ${o.resetEvery})` });
  };

  let last: StepMetrics | null = null;
  let lastSave = Date.now();
  let ranThisCall = 0;
  const metricsPath = join(runDir, 'metrics.jsonl');
  // Proxy victims: a fixed seeded subset of the whole training set, protected by the generator as it is now.
  const proxyPath = join(runDir, 'proxy.jsonl');
  const proxy = o.proxyEvery > 0
    ? new ProxyVictim(train, proxyTest!, { trainSize: o.proxyTrainSize, epochs: o.proxyEpochs, model: o.proxyModel, seed: o.seed, device: o.device })
    : null;
  const runProxy = () => {
    const r = proxy!.evaluate(gen, o.eps);
    appendFileSync(proxyPath, JSON.stringify({ step, proxy: { acc: r.acc, worstAcc: r.worst, linf255: r.linf255, seconds: r.seconds, model: o.proxyModel, epochs: o.proxyEpochs, trainSize: proxy!.train.labels.length } }) + '\n');
    onEvent({ type: 'log', level: 'info', message: `proxy victim at step ${step}: clean test accuracy ${r.acc.toFixed(2)} % (worst epoch ${r.worst.toFixed(2)} %)` });
  };
  try {
    if (proxy !== null && step === 0) {
      const refs = proxy.references(o.eps);
      appendFileSync(proxyPath, JSON.stringify({ step: 0, reference: { clean: refs.clean, random: refs.random, model: o.proxyModel, epochs: o.proxyEpochs } }) + '\n');
      onEvent({ type: 'log', level: 'info', message: `proxy references: clean ${refs.clean.acc.toFixed(2)} %, random ±ε noise ${refs.random.acc.toFixed(2)} %` });
      runProxy();
    }
    while (step < totalSteps) {
      if (o.maxSteps > 0 && ranThisCall >= o.maxSteps) break;
      const epoch = Math.floor(step / perEpoch);
      const within = step % perEpoch;
      // The shuffle of each epoch comes from its own seeded generator, so a resumed run sees the same batches.
      const shuffle = new Generator(o.seed * 1000 + epoch + 1);
      solver.genOpt.lr = multiStepLr(o.lrGen, o.genMilestones, o.lrGamma, epoch);
      solver.clfOpt.lr = multiStepLr(o.lrCls, o.clsMilestones, o.lrGamma, epoch);
      let b = 0;
      for (const idx of indexBatches(tdata.size, { batchSize: o.batchSize, shuffle: true, generator: shuffle })) {
        if (b++ < within) continue;
        if (o.maxSteps > 0 && ranThisCall >= o.maxSteps) break;
        if (o.resetEvery > 0 && step > 0 && step % o.resetEvery === 0) resetClassifier();
        const t0 = Date.now();
        const m = scope(() => {
          const batch = tdata.batch(idx);
          const x = o.memoryFormat === 'channelsLast' ? batch.x.contiguous('channelsLast') : batch.x;
          return solver.step(x, batch.y);
        });
        step++;
        ranThisCall++;
        last = m;
        appendFileSync(metricsPath, JSON.stringify({ step, epoch: epoch + 1, ...m, lrGen: solver.genOpt.lr, lrCls: solver.clfOpt.lr, seconds: (Date.now() - t0) / 1000 }) + '\n');
        onEvent({ type: 'progress', task: `gue epoch ${epoch + 1}/${o.epochs}`, step: step - epoch * perEpoch, total: perEpoch, metrics: { f: m.f, g: m.g, lambda: m.lambda } });
        if (proxy !== null && step % o.proxyEvery === 0) runProxy();
        if (Date.now() - lastSave > o.checkpointEvery * 1000) {
          saveState();
          lastSave = Date.now();
        }
      }
      if (step % perEpoch === 0 && step > 0 && last) {
        onEvent({ type: 'epoch', task: 'gue', epoch: step / perEpoch, epochs: o.epochs, metrics: { f: last.f, g: last.g, q: last.q, lambda: last.lambda } });
        saveState();
        lastSave = Date.now();
      }
    }
    saveState();
    const finished = step >= totalSteps;
    writeJsonAtomicSync(join(runDir, 'summary.json'), { steps: step, totalSteps, finished, last });
    return { runDir, steps: step, totalSteps, finished, last };
  } finally {
    solver.dispose();
    gen.dispose();
    clf.dispose();
    scratch.dispose();
    tdata.dispose();
  }
}
