// `gue demo`: the README's main job on the embedded default (Fashion-MNIST from Debian's dataset-fashion-mnist).
// Engine demo: trains the small CNN for one epoch and prints its clean test accuracy.
import type { Command } from './main.js';
import { FASHION_MNIST_DIR, loadIdxDataset, subsetByIndices } from '../data/index.js';
import { trainVictim } from '../victim/index.js';
import { engineInfo } from '../engine/index.js';

export const demoCommand: Command = {
  spec: {
    name: 'demo',
    summary: 'train a small CNN on Fashion-MNIST and report its test accuracy',
    usage: 'gue demo [--epochs N] [--train-size N] [--data-dir DIR] [--json]',
    flags: {
      epochs: { type: 'int', description: 'training epochs', default: 1, min: 1, max: 1000 },
      'train-size': { type: 'int', description: 'training images used (first N; 0 = all 60k)', default: 0, min: 0 },
      'batch-size': { type: 'int', description: 'batch size', default: 128, min: 1 },
      lr: { type: 'number', description: 'SGD learning rate', default: 0.05, min: 0 },
      seed: { type: 'int', description: 'random seed', default: 1, min: 0 },
      'data-dir': { type: 'string', description: 'folder with the Fashion-MNIST IDX files', default: FASHION_MNIST_DIR },
      device: { type: 'string', description: 'cpu or cuda', default: 'cpu' },
    },
  },
  run({ flags, out }) {
    const dir = flags['data-dir'] as string;
    let train = loadIdxDataset('train', dir);
    const test = loadIdxDataset('test', dir);
    const n = flags['train-size'] as number;
    if (n > 0 && n < train.labels.length) train = subsetByIndices(train, Array.from({ length: n }, (_, i) => i));
    const t0 = Date.now();
    const r = trainVictim(train, test, {
      model: 'small-cnn',
      epochs: flags.epochs as number,
      batchSize: flags['batch-size'] as number,
      lr: flags.lr as number,
      milestones: [],
      cropPadding: 0,
      flip: false,
      seed: flags.seed as number,
      device: flags.device as string,
    }, out.sink, 'small-cnn');
    const secs = (Date.now() - t0) / 1000;
    const info = engineInfo();
    out.result(
      { test_acc: r.finalTestAcc, epochs: r.epochs.length, train_size: train.labels.length, seconds: secs, torch: info.torch, threads: info.threads },
      `Fashion-MNIST, small CNN, ${r.epochs.length} epoch(s) on ${train.labels.length} images: test accuracy ${r.finalTestAcc.toFixed(2)} % (${secs.toFixed(1)} s, libtorch ${info.torch}, ${info.threads} threads)`,
    );
    return 0;
  },
};
