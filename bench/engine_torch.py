#!/usr/bin/python3
"""PyTorch side of `npm run bench:engine` (the reference for bench/engine.ts).

The same three workloads, the same nets, batch and thread count as the TypeScript stack:
  W1: one training step (small ResNet, CE, backward, SGD momentum) at batch B, 32x32x3
  W2: forward + backward of the GUE U-Net at widths 16-32-64-128
  W3: gradient of CE with respect to the input through W1's net (one PGD step), eval mode
Prints one JSON line: {"W1": img/s, "W2": img/s, "W3": img/s, "rss_mb": peak RSS}.
Run with Debian's /usr/bin/python3 (python3-torch), jemalloc preloaded by the caller.
"""
import argparse, json, os, resource, time
import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        o = F.relu(self.b1(self.c1(x)))
        o = self.b2(self.c2(o))
        return F.relu(o + (x if self.short is None else self.short(x)))


class SmallResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 32, 3, 1, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU())
        self.blocks = nn.Sequential(Block(32, 32, 1), Block(32, 32, 1), Block(32, 64, 2))
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        o = self.blocks(self.stem(x))
        return self.fc(F.adaptive_avg_pool2d(o, 1).flatten(1))


def double_conv(i, o):
    return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(),
                         nn.Conv2d(o, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU())


class UNet(nn.Module):
    def __init__(self, w=(16, 32, 64, 128), cin=3):
        super().__init__()
        self.d1, self.d2, self.d3, self.d4 = double_conv(cin, w[0]), double_conv(w[0], w[1]), double_conv(w[1], w[2]), double_conv(w[2], w[3])
        self.pool = nn.AvgPool2d(2)
        self.up = nn.Upsample(scale_factor=2, mode='bilinear', align_corners=True)
        self.u3, self.u2, self.u1 = double_conv(w[3] + w[2], w[2]), double_conv(w[2] + w[1], w[1]), double_conv(w[1] + w[0], w[0])
        self.last = nn.Sequential(nn.Conv2d(w[0], cin, 1), nn.BatchNorm2d(cin))

    def forward(self, x):
        c1 = self.d1(x); x = self.pool(c1)
        c2 = self.d2(x); x = self.pool(c2)
        c3 = self.d3(x); x = self.pool(c3)
        x = self.d4(x)
        x = self.u3(torch.cat([self.up(x), c3], 1))
        x = self.u2(torch.cat([self.up(x), c2], 1))
        x = self.u1(torch.cat([self.up(x), c1], 1))
        return torch.tanh(self.last(x))


def bench(step, batch, seconds, warmup=3, repeats=3):
    for _ in range(warmup):
        step()
    best = 0.0
    for _ in range(repeats):
        n, t0 = 0, time.perf_counter()
        while True:
            step(); n += 1
            dt = time.perf_counter() - t0
            if dt >= seconds and n >= 2:
                break
        best = max(best, n * batch / dt)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--batch', type=int, default=128)
    ap.add_argument('--seconds', type=float, default=2.0)
    ap.add_argument('--threads', type=int, default=os.cpu_count())
    ap.add_argument('--workloads', default='W1,W2,W3')
    ap.add_argument('--channels-last', action='store_true', help='channels-last input and weights')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    B = a.batch
    x = torch.rand(B, 3, 32, 32)
    fmt = torch.channels_last if a.channels_last else torch.contiguous_format
    x = x.contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (B,))
    out = {}
    wl = a.workloads.split(',')
    if 'W1' in wl:
        net = SmallResNet().train().to(memory_format=fmt)
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
        def w1():
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(net(x), y).backward()
            opt.step()
        out['W1'] = bench(w1, B, a.seconds)
    if 'W2' in wl:
        g = UNet().train().to(memory_format=fmt)
        def w2():
            for p in g.parameters():
                p.grad = None
            g(x).mean().backward()
        out['W2'] = bench(w2, B, a.seconds)
    if 'W3' in wl:
        net = SmallResNet().eval().to(memory_format=fmt)
        for p in net.parameters():
            p.requires_grad_(False)
        def w3():
            xa = x.clone().requires_grad_(True)
            gx, = torch.autograd.grad(F.cross_entropy(net(xa), y), [xa])
            return gx
        out['W3'] = bench(w3, B, a.seconds)
    out['rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    out['threads'] = torch.get_num_threads()
    out['torch'] = torch.__version__
    print(json.dumps(out))


if __name__ == '__main__':
    main()
