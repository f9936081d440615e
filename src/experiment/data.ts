// Loads an experiment's dataset: the named training and test splits, optionally cut to their first N images.
import { FASHION_MNIST_DIR, loadCifar10, loadCifar100, loadIdxDataset, type ImageDataset } from '../data/index.js';
import { ExperimentError, type DatasetSpec } from './schema.js';

function head(ds: ImageDataset, n: number | undefined): ImageDataset {
  if (!n || n >= ds.labels.length) return ds;
  const per = ds.shape[0] * ds.shape[1] * ds.shape[2];
  return { ...ds, images: ds.images.slice(0, n * per), labels: ds.labels.slice(0, n), source: `${ds.source}[:${n}]` };
}

export function loadExperimentData(d: DatasetSpec): { train: ImageDataset; test: ImageDataset } {
  const load = (split: 'train' | 'test'): ImageDataset => {
    switch (d.name) {
      case 'fashion-mnist':
        return loadIdxDataset(split, d.dataDir ?? FASHION_MNIST_DIR);
      case 'cifar10':
        if (!d.dataDir) throw new ExperimentError("dataset cifar10 needs dataset.dataDir (or --data-dir): the folder with cifar-10-batches-bin");
        return loadCifar10(split, d.dataDir);
      case 'cifar100':
        if (!d.dataDir) throw new ExperimentError("dataset cifar100 needs dataset.dataDir (or --data-dir): the folder with cifar-100-binary");
        return loadCifar100(split, d.dataDir);
    }
  };
  return { train: head(load('train'), d.trainSize), test: head(load('test'), d.testSize) };
}
