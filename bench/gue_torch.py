#!/usr/bin/python3
"""PyTorch side of `npm run bench:gue` (the reference for bench/gue.ts).

One GUE outer step as the authors run it (BOME with the dynamic barrier; written here from the paper and the
reference notes /work/shared/reference/gue-official-code.md §2, not copied from their code):
  1. a fresh deepcopy of the classifier (parameters + BN buffers) and a fresh Adam(lr 1e-4); T inner steps on
     g(w, .) = CE(F(P_w(x)), y) on the same batch, the generator running forward at every inner step and
     loss.backward() also filling the generator's .grad (wasted work, as in the authors' loop);
  2. a = grad_theta f, f = mean_i max_{k != y_i} CE(F_theta(x_i), k) on the clean batch;
  3. two more generator forwards: loss1 = g(w, theta), loss2 = g(w, theta^T);
     b_w = grad_w (loss1 - loss2) (retain_graph), b_theta = grad_theta loss1;
  4. lambda = max(0, (eta |b|^2 - <a, b_theta>) / (|b|^2 + 1e-8)), the norm over (w, theta);
  5. generator SGD(0.1) with grad lambda b_w; classifier SGD(0.01) with grad a + lambda b_theta.
P_w(x) = clamp(x + eps * G_w(x), 0, 1), eps = 8/255.

Settings (batch 128 by default; U-Net width 16 unless noted):
  fmnist_smallcnn: 28x28x1 inputs, SmallCNN surrogate (as src/nn/models/small-cnn.ts, width 32)
  cifar_resnet18:  32x32x3 inputs, ResNet-18 CIFAR variant (as src/nn/models/resnet.ts)
  cifar_resnet18_w64: as cifar_resnet18 with the paper's width-64 U-Net
Default layout (NCHW), one thread per core. Sanity check: after the first step lambda is finite and >= 0.
Prints one JSON line: {"<setting>": steps/s, "<setting>_img_s": images/s, "<setting>_lambda": lambda, "rss_mb": ...}.
Run with Debian's /usr/bin/python3 (python3-torch), jemalloc preloaded by the caller.
"""
import argparse, copy, json, math, os, resource, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F


# ---------------------------------------------------------------- models (same structure as ours)
def double_conv(i, o):
    return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(),
                         nn.Conv2d(o, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU())


class UNet(nn.Module):
    """The GUE U-Net (as bench/engine_torch.py and src/nn/models/unet.ts); sizes not divisible by 8 are
    reflect-padded to the next multiple and cropped back, as ours does (28 -> 32)."""

    def __init__(self, cin=3, width=16):
        super().__init__()
        w = (width, 2 * width, 4 * width, 8 * width)
        self.d1, self.d2, self.d3, self.d4 = double_conv(cin, w[0]), double_conv(w[0], w[1]), double_conv(w[1], w[2]), double_conv(w[2], w[3])
        self.pool = nn.AvgPool2d(2)
        self.up = nn.Upsample(scale_factor=2, mode='bilinear', align_corners=True)
        self.u3, self.u2, self.u1 = double_conv(w[3] + w[2], w[2]), double_conv(w[2] + w[1], w[1]), double_conv(w[1] + w[0], w[0])
        self.last = nn.Sequential(nn.Conv2d(w[0], cin, 1), nn.BatchNorm2d(cin))

    def forward(self, x):
        h, wd = x.shape[2], x.shape[3]
        ph, pw = (8 - h % 8) % 8, (8 - wd % 8) % 8
        top, left = ph // 2, pw // 2
        if ph or pw:
            x = F.pad(x, (left, pw - left, top, ph - top), mode='reflect')
        c1 = self.d1(x); x = self.pool(c1)
        c2 = self.d2(x); x = self.pool(c2)
        c3 = self.d3(x); x = self.pool(c3)
        x = self.d4(x)
        x = self.u3(torch.cat([self.up(x), c3], 1))
        x = self.u2(torch.cat([self.up(x), c2], 1))
        x = self.u1(torch.cat([self.up(x), c1], 1))
        out = torch.tanh(self.last(x))
        if ph or pw:
            out = out[:, :, top:top + h, left:left + wd]
        return out


class SmallCNN(nn.Module):
    """As src/nn/models/small-cnn.ts: [conv3x3(no bias)-BN-ReLU x2, maxpool2] at w, 2w; Linear(2w*s*s->128)-ReLU-Linear."""

    def __init__(self, cin=1, width=32, image_size=28, num_classes=10):
        super().__init__()
        def cbr(i, o):
            return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU()]
        w = width
        self.features = nn.Sequential(*cbr(cin, w), *cbr(w, w), nn.MaxPool2d(2), *cbr(w, 2 * w), *cbr(2 * w, 2 * w), nn.MaxPool2d(2))
        s = (image_size // 2) // 2
        self.fc1 = nn.Linear(2 * w * s * s, 128)
        self.fc2 = nn.Linear(128, num_classes)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(self.features(x).flatten(1))))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        o = F.relu(self.bn1(self.conv1(x)))
        o = self.bn2(self.conv2(o))
        return F.relu(o + (x if self.shortcut is None else self.shortcut(x)))


class ResNet18(nn.Module):
    """CIFAR ResNet-18 as src/nn/models/resnet.ts: 3x3 stem, no max-pool, [2,2,2,2] at 64..512, avg pool, linear."""

    def __init__(self, cin=3, num_classes=10, width=64):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        layers, inp = [], width
        for s, w in enumerate((width, 2 * width, 4 * width, 8 * width)):
            blocks = []
            for b in range(2):
                blocks.append(BasicBlock(inp, w, 2 if (b == 0 and s > 0) else 1))
                inp = w
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.linear = nn.Linear(8 * width, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward(self, x):
        o = F.relu(self.bn1(self.conv1(x)))
        o = self.layer4(self.layer3(self.layer2(self.layer1(o))))
        return self.linear(F.adaptive_avg_pool2d(o, 1).flatten(1))


# ---------------------------------------------------------------- the authors' outer step
def surrogate_payoff(logits, y):
    """f = mean_i max_{k != y_i} CE(logits_i, k), via the per-label CE of every wrong label, stacked and maximised."""
    k = logits.shape[1]
    logp = F.log_softmax(logits, 1)
    ces = torch.stack([F.nll_loss(logp, (y + j) % k, reduction='none') for j in range(1, k)], 1)
    return ces.max(1).values.mean()


def poison(gen, x, eps):
    return torch.clamp(x + gen(x) * eps, 0, 1)


class AuthorsStep:
    def __init__(self, gen, clf, T=10, eps=8 / 255, eta=1.5, lr_cls=0.01, lr_gen=0.1, lr_inner=1e-4):
        self.gen, self.clf = gen, clf
        self.T, self.eps, self.eta, self.lr_inner = T, eps, eta, lr_inner
        self.gen_params = list(gen.parameters())
        self.clf_params = list(clf.parameters())
        self.gen_opt = torch.optim.SGD(self.gen_params, lr=lr_gen)
        self.clf_opt = torch.optim.SGD(self.clf_params, lr=lr_cls)

    def step(self, x, y):
        gen, clf = self.gen, self.clf
        gen.train(); clf.train()
        # theta^T: fresh copy + fresh Adam each outer step, T steps on the same batch; the generator runs
        # forward every inner step and loss.backward() also accumulates into its .grad (unused).
        tmp = copy.deepcopy(clf)
        tmp.train()
        inner = torch.optim.Adam(tmp.parameters(), lr=self.lr_inner)
        for _ in range(self.T):
            inner.zero_grad()
            loss = F.cross_entropy(tmp(poison(gen, x, self.eps)), y)
            loss.backward()
            inner.step()
        # a = grad_theta f on the clean batch
        f = surrogate_payoff(clf(x), y)
        a = torch.autograd.grad(f, self.clf_params)
        # q = g(w, theta) - g(w, theta^T), two more generator forwards
        loss1 = F.cross_entropy(clf(poison(gen, x, self.eps)), y)
        loss2 = F.cross_entropy(tmp(poison(gen, x, self.eps)), y)
        q = loss1 - loss2
        bw = torch.autograd.grad(q, self.gen_params, retain_graph=True)
        bt = torch.autograd.grad(loss1, self.clf_params)
        with torch.no_grad():
            norm_sq = sum((g * g).sum() for g in bw) + sum((g * g).sum() for g in bt)
            dot = sum((u * v).sum() for u, v in zip(a, bt))
            lam = float(torch.relu((self.eta * norm_sq - dot) / (norm_sq + 1e-8)))
            for p, g in zip(self.gen_params, bw):
                p.grad = lam * g
            for p, ga, gb in zip(self.clf_params, a, bt):
                p.grad = ga + lam * gb
        self.gen_opt.step()
        self.clf_opt.step()
        return {'f': float(f), 'g': float(loss1), 'q': float(q), 'lambda': lam}


SETTINGS = {
    'fmnist_smallcnn': dict(c=1, size=28, width=16, clf=lambda: SmallCNN(cin=1, width=32, image_size=28)),
    'cifar_resnet18': dict(c=3, size=32, width=16, clf=lambda: ResNet18(cin=3)),
    'cifar_resnet18_w64': dict(c=3, size=32, width=64, clf=lambda: ResNet18(cin=3)),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--batch', type=int, default=128)
    ap.add_argument('--seconds', type=float, default=10.0, help='measure at least this long (after warm-up)')
    ap.add_argument('--steps', type=int, default=2, help='measure at least this many outer steps')
    ap.add_argument('--warmup', type=int, default=1)
    ap.add_argument('--inner', type=int, default=10, help='inner Adam steps T')
    ap.add_argument('--threads', type=int, default=os.cpu_count())
    ap.add_argument('--settings', default=','.join(SETTINGS))
    ap.add_argument('--device', default='cpu', help='cpu, cuda or cuda:N')
    a = ap.parse_args()
    dev = torch.device(a.device)
    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == 'cuda' else (lambda: None)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    out = {}
    for name in a.settings.split(','):
        if name not in SETTINGS:
            sys.exit(f'unknown setting {name!r}; available: {", ".join(SETTINGS)}')
        s = SETTINGS[name]
        B = a.batch
        x = torch.rand(B, s['c'], s['size'], s['size']).to(dev)
        y = torch.randint(0, 10, (B,)).to(dev)
        solver = AuthorsStep(UNet(cin=s['c'], width=s['width']).to(dev), s['clf']().to(dev), T=a.inner)
        m = solver.step(x, y)
        # Sanity check on the first step: the barrier multiplier is finite and non-negative.
        if not (math.isfinite(m['lambda']) and m['lambda'] >= 0):
            sys.exit(f'{name}: lambda after one step is {m["lambda"]} (expected finite and >= 0)')
        out[f'{name}_lambda'] = m['lambda']
        for _ in range(max(0, a.warmup - 1)):
            solver.step(x, y)
        sync()
        n, t0 = 0, time.perf_counter()
        while True:
            solver.step(x, y); n += 1
            sync()
            dt = time.perf_counter() - t0
            if dt >= a.seconds and n >= a.steps:
                break
        out[name] = n / dt
        out[f'{name}_img_s'] = n * B / dt
        out[f'{name}_n'] = n
        del solver
    out['rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    out['threads'] = torch.get_num_threads()
    out['torch'] = torch.__version__
    out['device'] = str(dev)
    print(json.dumps(out))


if __name__ == '__main__':
    main()
