#!/usr/bin/python3
"""PyTorch peer of refugelab's benchmark (go run ./bench; issue 9).

Builds the same networks as refugelab's nn package (nn/arch.go, layer by
layer) and times the same training step: forward, loss, backward, Adam
step (lr 1e-3), on CPU with torch.set_num_threads(--threads).

  unet: depth down stages of two [3x3 conv + bias, BatchNorm, ReLU] blocks
        and 2x2 max pooling; a bottleneck of two blocks at base<<depth
        channels; depth up stages of nearest 2x upsampling, one block
        ("reduce"), concatenation [skip, reduced] on channels, two blocks;
        a 1x1 conv head. Loss dice-ce: softmax cross-entropy + soft Dice
        over disc (classes 1+2) and cup (class 2), smoothing 1, weights 1.
  cnn:  depth stages of two blocks with 2x2 max pooling after every stage
        but the last; global average pooling; dense to --out logits.
        Loss bce with logits.

BatchNorm uses eps 1e-5 and momentum 0.1 as refugelab does. Inputs and
targets are fixed deterministic tensors (sin(i); classes cycling), as in
the Go harness. Prints one JSON line: engine, net, params, ms (the timed
steps), version, threads. Peak RSS is measured by the parent process.
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=True),
                         nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1),
                         nn.ReLU(inplace=True))


class UNet(nn.Module):
    def __init__(self, cin, base, depth, out):
        super().__init__()
        self.down = nn.ModuleList()
        c = cin
        for i in range(depth):
            o = base << i
            self.down.append(nn.Sequential(block(c, o), block(o, o)))
            c = o
        o = base << depth
        self.bottom = nn.Sequential(block(c, o), block(o, o))
        c = o
        self.reduce = nn.ModuleList()
        self.up = nn.ModuleList()
        for i in range(depth - 1, -1, -1):
            o = base << i
            self.reduce.append(block(c, o))
            self.up.append(nn.Sequential(block(2 * o, o), block(o, o)))
            c = o
        self.head = nn.Conv2d(c, out, 1)

    def forward(self, x):
        skips = []
        for d in self.down:
            x = d(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.bottom(x)
        for r, u, s in zip(self.reduce, self.up, reversed(skips)):
            x = r(F.interpolate(x, scale_factor=2, mode="nearest"))
            x = u(torch.cat([s, x], 1))
        return self.head(x)


class CNN(nn.Module):
    def __init__(self, cin, base, depth, out):
        super().__init__()
        self.stages = nn.ModuleList()
        c = cin
        for i in range(depth):
            o = base << i
            self.stages.append(nn.Sequential(block(c, o), block(o, o)))
            c = o
        self.fc = nn.Linear(c, out)

    def forward(self, x):
        n = len(self.stages)
        for i, s in enumerate(self.stages):
            x = s(x)
            if i < n - 1:
                x = F.max_pool2d(x, 2)
        return self.fc(x.mean(dim=(2, 3)))


def dice_ce(logits, y, smooth=1.0):
    ce = F.cross_entropy(logits, y)
    p = torch.softmax(logits, 1)
    pd = p[:, 1] + p[:, 2]
    pc = p[:, 2]
    gd = (y >= 1).to(p.dtype)
    gc = (y == 2).to(p.dtype)
    dd = (2 * (pd * gd).sum((1, 2)) + smooth) / (pd.sum((1, 2)) + gd.sum((1, 2)) + smooth)
    dc = (2 * (pc * gc).sum((1, 2)) + smooth) / (pc.sum((1, 2)) + gc.sum((1, 2)) + smooth)
    dice = (2 - dd - dc).sum() / (2 * logits.shape[0])
    return ce + dice


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--net", required=True, choices=["unet", "cnn"])
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--base", type=int, default=16)
    ap.add_argument("--depth", type=int, required=True)
    ap.add_argument("--out", type=int, required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(1)
    if a.net == "unet":
        model = UNet(3, a.base, a.depth, a.out)
    else:
        model = CNN(3, a.base, a.depth, a.out)
    model.train()
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    n = a.batch * 3 * a.size * a.size
    x = torch.sin(torch.arange(n, dtype=torch.float64)).float().reshape(a.batch, 3, a.size, a.size)
    if a.net == "unet":
        y = ((torch.arange(a.batch * a.size * a.size) // 7) % max(a.out, 2)).reshape(a.batch, a.size, a.size)
        loss_fn = lambda z: dice_ce(z, y)
    else:
        yf = ((torch.arange(a.batch * a.out) // 7) % 2).float().reshape(a.batch, a.out)
        loss_fn = lambda z: F.binary_cross_entropy_with_logits(z, yf)
    ms = []
    for i in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x))
        loss.backward()
        opt.step()
        if i >= a.warmup:
            ms.append((time.perf_counter() - t0) * 1000)
        if not math.isfinite(float(loss)):
            raise SystemExit(f"peer: loss {float(loss)} at step {i}")
    print(json.dumps({"engine": "pytorch", "net": a.net, "params": params, "ms": ms,
                      "version": "torch " + torch.__version__, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
