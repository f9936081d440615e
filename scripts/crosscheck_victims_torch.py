#!/usr/bin/python3
"""PyTorch twin of `gue evaluate --clean` on Fashion-MNIST, for an accuracy cross-check of our victim pipeline.

Same recipe as src/victim/train.ts: the first --train-size training images in [0, 1] (no normalisation), SGD
(lr 0.01, momentum 0.9, weight decay 5e-4), MultiStepLR at --milestones (gamma 0.1), batch 256, random crop with
zero padding 4 then horizontal flip, test accuracy on the 10k test images after every epoch with the model in eval
mode. Same architectures as src/nn/models (mlp, lenet, small-cnn, small-resnet) with PyTorch's default init.
Prints one JSON line per model: {"model", "seed", "curve"}. Seeds differ from ours (different RNG streams), so
compare the level and the shape of the curves over seeds, not epoch-by-epoch numbers.

  /usr/bin/python3 scripts/crosscheck_victims_torch.py   # Debian python3-torch --models mlp,lenet --seeds 1,2
"""
import argparse
import gzip
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'bench'))
from engine_torch import Block as BasicBlock  # noqa: E402  (the residual block of the engine benchmark's small ResNet)
from gue_torch import SmallCNN  # noqa: E402  (the game benchmark's twin of src/nn/models/small-cnn.ts)


def idx(path):
    with gzip.open(path, 'rb') as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big') for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def build(name):
    if name == 'mlp':
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))
    if name == 'lenet':
        return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    if name == 'small-cnn':
        return SmallCNN(cin=1, width=32, image_size=28, num_classes=10)
    if name == 'small-resnet':
        return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
                             BasicBlock(32, 32, 1), BasicBlock(32, 32, 1), BasicBlock(32, 64, 2),
                             nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))
    raise SystemExit(f'unknown model {name}')


def augment(x, g):
    n, _, h, w = x.shape
    p = F.pad(x, (4, 4, 4, 4))
    offs = torch.randint(0, 9, (n, 2), generator=g)
    out = torch.stack([p[i, :, dy:dy + h, dx:dx + w] for i, (dy, dx) in enumerate(offs.tolist())])
    flip = torch.rand(n, generator=g) < 0.5
    return torch.where(flip[:, None, None, None], out.flip(3), out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--models', default='mlp,lenet,small-cnn,small-resnet')
    ap.add_argument('--seeds', default='1')
    ap.add_argument('--train-size', type=int, default=10000)
    ap.add_argument('--epochs', type=int, default=8)
    ap.add_argument('--milestones', default='6,7')
    ap.add_argument('--data-dir', default='/usr/share/datasets/fashion-mnist')
    a = ap.parse_args()
    torch.set_num_threads(int(os.environ.get('GUE_NUM_THREADS', '1')))
    d = a.data_dir
    xtr = torch.tensor(idx(f'{d}/train-images-idx3-ubyte.gz')[:a.train_size], dtype=torch.float32).div(255).unsqueeze(1)
    ytr = torch.tensor(idx(f'{d}/train-labels-idx1-ubyte.gz')[:a.train_size], dtype=torch.long)
    xte = torch.tensor(idx(f'{d}/t10k-images-idx3-ubyte.gz'), dtype=torch.float32).div(255).unsqueeze(1)
    yte = torch.tensor(idx(f'{d}/t10k-labels-idx1-ubyte.gz'), dtype=torch.long)
    milestones = [int(m) for m in a.milestones.split(',') if m]
    for name in a.models.split(','):
        for seed in [int(s) for s in a.seeds.split(',')]:
            torch.manual_seed(seed)
            g = torch.Generator().manual_seed(seed)
            model = build(name)
            opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
            sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=milestones, gamma=0.1)
            curve = []
            for _ in range(a.epochs):
                model.train()
                perm = torch.randperm(len(ytr), generator=g)
                for i in range(0, len(perm), 256):
                    b = perm[i:i + 256]
                    loss = F.cross_entropy(model(augment(xtr[b], g)), ytr[b])
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                sched.step()
                model.eval()
                with torch.no_grad():
                    correct = sum((model(xte[i:i + 1000]).argmax(1) == yte[i:i + 1000]).sum().item() for i in range(0, len(yte), 1000))
                curve.append(round(100 * correct / len(yte), 2))
            print(json.dumps({'model': name, 'seed': seed, 'curve': curve}), flush=True)


if __name__ == '__main__':
    main()
