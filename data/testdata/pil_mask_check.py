#!/usr/bin/env python3
"""Independent check that refugelab's mask writers are readable by Pillow the
way the official REFUGE scorer reads them (PIL Image.open -> np.array).

Usage: pil_mask_check.py MASK.bmp|MASK.png RAW.bin W H
RAW.bin holds the expected W*H bytes (row-major). Prints the Pillow mode and
whether the decoded array equals RAW. Run 2026-12-03 with Pillow 9.4.0 /
numpy 1.24.2 (Debian) on the C02 16x16 mask written by WriteMaskBMP and
WriteMaskPNG: both open in mode 'L', shape (16, 16), uint8, equal to the raw
bytes, values {0, 128, 255}.
"""
import sys
import numpy as np
from PIL import Image

path, raw, w, h = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
want = np.frombuffer(open(raw, "rb").read(), dtype=np.uint8).reshape(h, w)
im = Image.open(path)
a = np.array(im)
print(path, im.mode, a.shape, a.dtype, bool((a == want).all()), sorted(set(a.flatten().tolist())))
sys.exit(0 if im.mode in ("L", "P") and a.shape == want.shape and (a == want).all() else 1)
