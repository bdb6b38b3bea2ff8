#!/usr/bin/env python3
"""Independent reference for data.Warp / data.WarpMask (refugelab).

Regenerate with: /usr/bin/python3 warp_ref.py > warp_ref.json
(Debian python3-numpy 1.24, python3-scipy 1.10).

Source: a 7x5 (W x H) single-channel image v(x, y) = ((3x + 5y) mod 11) / 10
and a mask m(x, y) = [0, 128, 255][(x + 2y) mod 3].
Transform T (source -> destination) = rotation by 20 degrees and scale 1.3
about the source point (3, 2), moved to the destination point (4.5, 3.5);
the output is 9 x 8. For each output pixel centre (x', y') the source point
is T^-1(x', y'). Inside the source extent [-0.5, W-0.5) x [-0.5, H-0.5) the
image value is bilinear with edge-clamped neighbours (scipy map_coordinates,
order=1, mode='nearest', which clamps the same way), outside it is the pad
value 0; the mask is nearest (floor(s + 0.5), clamped) inside and 255
outside.
"""
import json
import math

import numpy as np
from scipy import ndimage

W, H, OW, OH = 7, 5, 9, 8
v = np.array([[((3 * x + 5 * y) % 11) / 10 for x in range(W)] for y in range(H)], dtype=np.float64)
m = np.array([[[0, 128, 255][(x + 2 * y) % 3] for x in range(W)] for y in range(H)], dtype=np.uint8)

th, s = math.radians(20), 1.3
c, sn = math.cos(th) * s, math.sin(th) * s
# x' = c (x-3) - sn (y-2) + 4.5 ; y' = sn (x-3) + c (y-2) + 3.5
A = np.array([[c, -sn], [sn, c]])
t = np.array([4.5, 3.5]) - A @ np.array([3.0, 2.0])
T = [A[0, 0], A[0, 1], t[0], A[1, 0], A[1, 1], t[1]]
Ai = np.linalg.inv(A)

img_out, mask_out = [], []
for yo in range(OH):
    for xo in range(OW):
        sx, sy = Ai @ (np.array([xo, yo], dtype=np.float64) - t)
        inside = -0.5 <= sx < W - 0.5 and -0.5 <= sy < H - 0.5
        if inside:
            val = ndimage.map_coordinates(v, [[sy], [sx]], order=1, mode="nearest")[0]
            ix = min(W - 1, int(math.floor(sx + 0.5)))
            iy = min(H - 1, int(math.floor(sy + 0.5)))
            mv = int(m[iy, ix])
        else:
            val, mv = 0.0, 255
        img_out.append(float(val))
        mask_out.append(mv)

print(json.dumps({"T": T, "w": OW, "h": OH, "image": img_out, "mask": mask_out}, indent=1))
