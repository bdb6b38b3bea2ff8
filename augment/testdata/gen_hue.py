#!/usr/bin/env python3
"""Reference values for the hue transform of package augment.

Independent implementation: Python's standard colorsys module (RGB <-> HSV).
Each line of hue_reference.csv: r,g,b,shift,r2,g2,b2 where (r2, g2, b2) is
(r, g, b) with its HSV hue rotated by `shift` turns (hue taken modulo 1).
Run: python3 gen_hue.py > hue_reference.csv
"""
import colorsys
import random

random.seed(20261203)
rows = []
for i in range(40):
    r, g, b = (round(random.random(), 6) for _ in range(3))
    shift = round(random.uniform(-0.5, 0.5), 6)
    h, s, v = colorsys.rgb_to_hsv(r, g, b)
    r2, g2, b2 = colorsys.hsv_to_rgb((h + shift) % 1.0, s, v)
    rows.append((r, g, b, shift, r2, g2, b2))
# Edge cases: grey (no hue), pure primaries, a full-turn-equivalent shift.
for r, g, b, shift in [(0.5, 0.5, 0.5, 0.2), (1, 0, 0, 1 / 3), (0, 1, 0, 1 / 3), (0, 0, 1, -0.25), (0.2, 0.4, 0.6, 0.5)]:
    h, s, v = colorsys.rgb_to_hsv(r, g, b)
    r2, g2, b2 = colorsys.hsv_to_rgb((h + shift) % 1.0, s, v)
    rows.append((r, g, b, shift, r2, g2, b2))
print("r,g,b,shift,r2,g2,b2")
for row in rows:
    print(",".join(repr(float(x)) for x in row))
