#!/usr/bin/python3
"""Generate torch_fixtures.json: reference outputs and gradients from
PyTorch (Debian python3-torch 1.13) for nn's layers, train's losses and
optimizers. Inputs are float32 values from closed formulas, computed in
float64 by PyTorch. Run: /usr/bin/python3 nn/testdata/gen_torch.py
(writes nn/testdata/torch_fixtures.json). Tests never need Python."""
import json, math
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)


def vals(n, a, b, scale):
    # float32-rounded sin values, as the Go test regenerates them
    return torch.tensor([float(torch.tensor(scale * math.sin(a * i + b), dtype=torch.float32)) for i in range(n)])


def t(shape, a, b, scale=1.0):
    n = 1
    for s in shape:
        n *= s
    return vals(n, a, b, scale).reshape(shape).requires_grad_(True)


def flat(x):
    return [float(v) for v in x.detach().reshape(-1)]


out = {}

# convolutions: loss = sum(r * y); "dilation" is written only when not 1
for name, (xs, ws, stride, pad, dil) in {
    "conv_s1_p1": ((2, 3, 6, 5), (4, 3, 3, 3), 1, 1, 1),
    "conv_s2_p1": ((2, 3, 7, 6), (4, 3, 3, 3), 2, 1, 1),
    "conv_k1": ((2, 5, 4, 4), (3, 5, 1, 1), 1, 0, 1),
    "conv_d2_p2": ((2, 3, 7, 5), (4, 3, 3, 3), 1, 2, 2),
    "conv_d3_s2_p1": ((2, 2, 9, 11), (3, 2, 3, 3), 2, 1, 3),
    "conv_d2_k5_s3": ((1, 2, 13, 10), (2, 2, 5, 5), 3, 2, 2),
}.items():
    x, w, b = t(xs, 0.37, 0.1), t(ws, 0.23, 0.3, 0.3), t((ws[0],), 0.5, 0.2, 0.2)
    y = F.conv2d(x, w, b, stride=stride, padding=pad, dilation=dil)
    r = vals(y.numel(), 0.11, 0.5, 1.0).reshape(y.shape)
    (y * r).sum().backward()
    out[name] = {"x_shape": list(xs), "w_shape": list(ws), "stride": stride, "pad": pad,
                 "y": flat(y), "gx": flat(x.grad), "gw": flat(w.grad), "gb": flat(b.grad)}
    if dil != 1:
        out[name]["dilation"] = dil

# leaky ReLU (negative slope 0.01 and 0.2)
for name, slope in {"leaky_relu_0.01": 0.01, "leaky_relu_0.2": 0.2}.items():
    x = t((2, 3, 4, 6), 0.37, 0.1)
    y = F.leaky_relu(x, negative_slope=slope)
    r = vals(y.numel(), 0.11, 0.5, 1.0).reshape(y.shape)
    (y * r).sum().backward()
    out[name] = {"x_shape": [2, 3, 4, 6], "slope": slope, "y": flat(y), "gx": flat(x.grad)}

# group norm (3 groups of 2 channels)
x, g, b = t((2, 6, 3, 4), 0.37, 0.1, 2.0), t((6,), 0.7, 0.4), t((6,), 0.9, 0.6)
y = F.group_norm(x, 3, g, b, eps=1e-5)
r = vals(y.numel(), 0.11, 0.5, 1.0).reshape(y.shape)
(y * r).sum().backward()
out["group_norm"] = {"x_shape": [2, 6, 3, 4], "groups": 3, "y": flat(y), "gx": flat(x.grad), "gscale": flat(g.grad), "gshift": flat(b.grad)}

# batch norm, training mode, momentum 0.1
x, g, b = t((3, 4, 2, 3), 0.37, 0.1, 2.0), t((4,), 0.7, 0.4), t((4,), 0.9, 0.6)
rm, rv = torch.zeros(4), torch.ones(4)
y = F.batch_norm(x, rm, rv, g, b, training=True, momentum=0.1, eps=1e-5)
r = vals(y.numel(), 0.11, 0.5, 1.0).reshape(y.shape)
(y * r).sum().backward()
out["batch_norm"] = {"x_shape": [3, 4, 2, 3], "y": flat(y), "gx": flat(x.grad), "gscale": flat(g.grad), "gshift": flat(b.grad),
                     "running_mean": flat(rm), "running_var": flat(rv)}

# pooling and upsampling
for name, fn in {"max_pool": lambda x: F.max_pool2d(x, 2), "avg_pool": lambda x: F.avg_pool2d(x, 2),
                 "upsample": lambda x: F.interpolate(x, scale_factor=2, mode="nearest")}.items():
    x = t((2, 3, 4, 6), 0.37, 0.1)
    y = fn(x)
    r = vals(y.numel(), 0.11, 0.5, 1.0).reshape(y.shape)
    (y * r).sum().backward()
    out[name] = {"x_shape": [2, 3, 4, 6], "y": flat(y), "gx": flat(x.grad)}

# losses on logits (mean reduction); gradients w.r.t. the logits
z = t((10,), 1.3, 0.2, 3.0)
yb = torch.tensor([1.0 if i % 3 == 0 else 0.0 for i in range(10)])
l = F.binary_cross_entropy_with_logits(z, yb, pos_weight=torch.tensor(9.0))
l.backward()
out["bce_pw9"] = {"z": flat(z), "y": flat(yb), "loss": float(l), "grad": flat(z.grad)}

z = t((2, 3, 2, 2), 1.3, 0.2, 3.0)
yc = torch.tensor([[[0, 1], [2, 1]], [[2, 2], [0, 1]]])
l = F.cross_entropy(z, yc)
l.backward()
out["ce"] = {"z": flat(z), "y": [float(v) for v in yc.reshape(-1)], "loss": float(l), "grad": flat(z.grad)}

z = t((2, 1, 2, 3), 1.3, 0.2, 1.0)
yh = vals(12, 0.7, 0.1, 1.0).abs().reshape(2, 1, 2, 3)
l = F.mse_loss(z, yh)
l.backward()
out["mse"] = {"z": flat(z), "y": flat(yh), "loss": float(l), "grad": flat(z.grad)}

# optimizers: w0 = sin formula, gradients g_t = cos(0.7·i + t), 3 steps
def opt_run(make):
    w = vals(5, 0.9, 0.3, 1.0).clone().requires_grad_(True)
    o = make([w])
    for s in range(3):
        o.zero_grad()
        w.grad = torch.tensor([float(torch.tensor(math.cos(0.7 * i + s), dtype=torch.float32)) for i in range(5)])
        o.step()
    return flat(w)

out["opt_sgd"] = opt_run(lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01))
out["opt_nesterov"] = opt_run(lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True))
out["opt_adam"] = opt_run(lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01))
out["opt_adamw"] = opt_run(lambda p: torch.optim.AdamW(p, lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1))
out["torch_version"] = torch.__version__

with open(__file__.replace("gen_torch.py", "torch_fixtures.json"), "w") as f:
    json.dump(out, f)

# a .npy written by NumPy itself, for the reader test
import numpy as np
np.save(__file__.replace("gen_torch.py", "numpy_arange.npy"), np.arange(24, dtype=np.float32).reshape(2, 3, 4))
