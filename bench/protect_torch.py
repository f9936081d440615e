#!/usr/bin/python3
"""PyTorch side of `npm run bench:protect` (the reference for bench/protect.ts).

Protection with a trained GUE generator, PyTorch eager: x' = clamp(x + eps * G(x), 0, 1), G the authors'
U-Net in eval mode, under torch.no_grad(), default NCHW layout. The weights are the SAME file the
TypeScript side uses (a gue generator.safetensors), read here by parsing the safetensors header
(8-byte little-endian length + JSON) and numpy.frombuffer, so no safetensors package is needed.
Prints one JSON line: {"<workload>": images/s, "<workload>:cpu": images per CPU-second, ..., "threads": n,
"torch": version}.
Run with Debian's /usr/bin/python3 (python3-torch), jemalloc preloaded by the caller.
"""
import argparse, json, os, struct, time
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def double_conv(i, o):
    return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(inplace=True),
                         nn.Conv2d(o, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(inplace=True))


class UNet(nn.Module):
    """The generator of src/nn/models/unet.ts, with the same state-dict names."""

    def __init__(self, c, w):
        super().__init__()
        self.dconv_down1 = double_conv(c, w)
        self.dconv_down2 = double_conv(w, 2 * w)
        self.dconv_down3 = double_conv(2 * w, 4 * w)
        self.dconv_down4 = double_conv(4 * w, 8 * w)
        self.dconv_up3 = double_conv(8 * w + 4 * w, 4 * w)
        self.dconv_up2 = double_conv(4 * w + 2 * w, 2 * w)
        self.dconv_up1 = double_conv(2 * w + w, w)
        self.conv_last = nn.Sequential(nn.Conv2d(w, c, 1), nn.BatchNorm2d(c))

    def forward(self, x):
        up = lambda t: F.interpolate(t, scale_factor=2, mode='bilinear', align_corners=True)
        c1 = self.dconv_down1(x)
        c2 = self.dconv_down2(F.avg_pool2d(c1, 2))
        c3 = self.dconv_down3(F.avg_pool2d(c2, 2))
        b = self.dconv_down4(F.avg_pool2d(c3, 2))
        u3 = self.dconv_up3(torch.cat([up(b), c3], 1))
        u2 = self.dconv_up2(torch.cat([up(u3), c2], 1))
        u1 = self.dconv_up1(torch.cat([up(u2), c1], 1))
        return torch.tanh(self.conv_last(u1))


DTYPES = {'F32': np.float32, 'F64': np.float64, 'I64': np.int64, 'I32': np.int32, 'U8': np.uint8}


def load_safetensors(path):
    with open(path, 'rb') as f:
        data = f.read()
    (n,) = struct.unpack('<Q', data[:8])
    header = json.loads(data[8:8 + n].decode('utf-8'))
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        b, e = info['data_offsets']
        arr = np.frombuffer(data, dtype=DTYPES[info['dtype']], count=(e - b) // np.dtype(DTYPES[info['dtype']]).itemsize, offset=base + b)
        out[name] = torch.from_numpy(arr.reshape(info['shape']).copy())
    return out


def bench(step, batch, seconds, warmup, repeats):
    """Best images/s over `repeats` windows of >= `seconds` (wall clock), and best images per CPU-second."""
    for _ in range(warmup):
        step()
    best, best_cpu = 0.0, 0.0
    for _ in range(repeats):
        n, t0, c0 = 0, time.perf_counter(), time.process_time()
        while True:
            step(); n += 1
            dt = time.perf_counter() - t0
            if dt >= seconds and n >= 2:
                break
        best = max(best, n * batch / dt)
        best_cpu = max(best_cpu, n * batch / max(time.process_time() - c0, 1e-9))
    return best, best_cpu


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--workloads', required=True, help='JSON list of {name, weights, channels, width, eps, size, batch, warmup, repeats}')
    ap.add_argument('--seconds', type=float, default=2.0)
    ap.add_argument('--threads', type=int, default=os.cpu_count())
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    out = {}
    nets = {}
    for w in json.loads(a.workloads):
        key = (w['weights'], w['channels'], w['width'])
        if key not in nets:
            net = UNet(w['channels'], w['width'])
            net.load_state_dict(load_safetensors(w['weights']), strict=True)
            nets[key] = net.eval()
        net = nets[key]
        g = torch.Generator().manual_seed(0)
        x = torch.rand(w['batch'], w['channels'], w['size'], w['size'], generator=g)
        eps = w['eps']

        def step():
            with torch.no_grad():
                return torch.clamp(x + eps * net(x), 0, 1)
        out[w['name']], out[w['name'] + ':cpu'] = bench(step, w['batch'], a.seconds, w['warmup'], w['repeats'])
    out['threads'] = torch.get_num_threads()
    out['torch'] = torch.__version__
    print(json.dumps(out))


if __name__ == '__main__':
    main()
