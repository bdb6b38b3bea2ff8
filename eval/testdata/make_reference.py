#!/usr/bin/python3
"""Independent reference values for package eval's metrics.

Generates randomised cases and the expected metrics computed with NumPy and
scikit-learn (Debian packages python3-numpy 1.24 and python3-sklearn 1.2):

  * AUC: sklearn.metrics.roc_auc_score.
  * Sensitivity at specificity: the DESIGN.md section 4 rule on the ROC
    vertices from sklearn.metrics.roc_curve (drop_intermediate=False):
    specificity = TN/N, sensitivity = TP/P, the lowest sensitivity where the
    target falls exactly on a vertex specificity (vertical step), otherwise
    linear interpolation between the bracketing vertices.
  * Segmentation: disc = mask < 255, cup = mask == 0, Dice per image
    (None when both masks are empty), vertical diameter = the largest
    per-column count, vCDR = cup / (disc + 1e-7), absolute error.
  * Mean, sample SD (ddof=1), percentiles (numpy "linear"), fovea distance.
  * Post-processing on binary maps with scipy.ndimage (python3-scipy 1.10):
    largest 8- and 4-connected component (ndimage.label; ties: lowest
    label, i.e. first in raster order), binary_fill_holes, and opening /
    closing with the digital disk x^2 + y^2 <= r^2, where the erosion
    counts pixels outside the image as structure (border_value=1) and the
    dilation as background (border_value=0).
  * Ellipse fit: the direct least-squares fit written with numpy.linalg
    (eig, solve) on raw pixel coordinates of noisy points.

Run:  /usr/bin/python3 eval/testdata/make_reference.py > eval/testdata/reference.json
The Go test (reference_test.go) needs no Python: it reads the JSON.
"""
import base64
import json
import sys

import numpy as np
from scipy import ndimage
from sklearn.metrics import roc_auc_score, roc_curve

rng = np.random.default_rng(20181016)


def sens_at_spec(scores, labels, target):
    fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
    n = int((labels == 0).sum())
    p = int((labels == 1).sum())
    fp = np.rint(fpr * n).astype(np.int64)
    tp = np.rint(tpr * p).astype(np.int64)
    spec = (n - fp) / n  # TN / N, in float64 exactly as a division of counts
    sens = tp / p
    hits = spec == target
    if hits.any():
        return float(sens[hits].min())
    for i in range(len(spec) - 1):
        if spec[i] > target > spec[i + 1]:
            t = (spec[i] - target) / (spec[i] - spec[i + 1])
            return float(sens[i] + t * (sens[i + 1] - sens[i]))
    raise ValueError("no bracket")


def classification_cases():
    cases = []
    for k in range(40):
        # Negatives a multiple of 20 in every other case, so that 17/20
        # specificity (0.85) falls exactly on vertices.
        n_neg = int(rng.integers(1, 15)) * (20 if k % 2 == 0 else 1) + (0 if k % 2 == 0 else int(rng.integers(3, 60)))
        n_pos = int(rng.integers(1, 40))
        labels = np.array([1] * n_pos + [0] * n_neg)
        rng.shuffle(labels)
        levels = int(rng.choice([2, 3, 5, 10, 1000]))  # few levels -> many ties
        scores = rng.integers(0, levels, size=labels.size) / levels + 0.3 * labels * rng.random() * rng.random(labels.size)
        scores = np.round(scores, 3)
        specs = [0.85, 0.9, 0.5, float(rng.random())]
        cases.append({
            "scores": scores.tolist(),
            "labels": labels.tolist(),
            "auc": float(roc_auc_score(labels, scores)),
            "specs": specs,
            "sens": [sens_at_spec(scores, labels, s) for s in specs],
        })
    # Vertical steps exactly at specificity 0.85: N a multiple of 20 with
    # distinct negative scores, and 2 to 5 positives scored strictly between
    # the (0.15 N)-th and the next highest negative, plus random positives.
    for k in range(8):
        n_neg = 20 * int(rng.integers(1, 8))
        neg = np.sort(rng.choice(np.arange(1000, 100000), size=n_neg, replace=False))[::-1] / 1e5
        j = n_neg * 3 // 20  # FP count at specificity 0.85
        lo, hi = neg[j], neg[j - 1]
        step = lo + (hi - lo) * (np.arange(1, int(rng.integers(2, 6)) + 1) / 7.0)
        others = np.round(rng.random(int(rng.integers(0, 10))), 5)
        pos = np.concatenate([step, others])
        scores = np.concatenate([pos, neg])
        labels = np.array([1] * pos.size + [0] * n_neg)
        specs = [0.85, 0.9, 0.5, float(rng.random())]
        cases.append({
            "scores": scores.tolist(),
            "labels": labels.tolist(),
            "auc": float(roc_auc_score(labels, scores)),
            "specs": specs,
            "sens": [sens_at_spec(scores, labels, s) for s in specs],
        })
    return cases


def random_mask(h, w):
    m = np.full((h, w), 255, dtype=np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    nblobs = int(rng.integers(0, 4))
    for _ in range(nblobs):
        cy, cx = rng.random() * h, rng.random() * w
        ry, rx = 2 + rng.random() * h / 3, 2 + rng.random() * w / 3
        inside = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
        m[inside] = 128
        cup = ((yy - cy) / (ry * 0.5)) ** 2 + ((xx - cx) / (rx * 0.5)) ** 2 <= 1
        if rng.random() < 0.8:
            m[cup] = 0
    # holes and isolated noise pixels, including stray values the official
    # rule still scores (disc < 255, cup == 0)
    noise = rng.random((h, w))
    m[noise < 0.02] = 255
    m[noise > 0.99] = 128
    m[(noise > 0.985) & (noise <= 0.99)] = 0
    if rng.random() < 0.3:
        m[(noise > 0.5) & (noise < 0.505)] = rng.choice([1, 7, 127, 254])
    return m


def dice(a, b):
    s = int(a.sum()) + int(b.sum())
    if s == 0:
        return None
    return 2.0 * int((a & b).sum()) / s


def vdiam(a):
    return int(a.sum(axis=0).max()) if a.size else 0


def seg_cases():
    cases = []
    for k in range(24):
        h, w = int(rng.integers(8, 48)), int(rng.integers(8, 48))
        gt = random_mask(h, w)
        if k % 6 == 0:
            pred = np.full((h, w), 255, dtype=np.uint8)  # empty prediction
        elif k % 6 == 1:
            gt[gt == 0] = 128  # no cup in either mask
            pred = gt.copy()
        elif k % 6 in (2, 3):
            # a shifted, noisier copy: realistic overlaps
            pred = np.roll(gt, (int(rng.integers(-2, 3)), int(rng.integers(-2, 3))), axis=(0, 1))
            flip = rng.random((h, w)) < 0.05
            pred[flip] = rng.choice(np.array([0, 128, 255], dtype=np.uint8), size=int(flip.sum()))
        else:
            pred = random_mask(h, w)
        gd, gc = gt < 255, gt == 0
        pd, pc = pred < 255, pred == 0
        vg = vdiam(gc) / (vdiam(gd) + 1e-7)
        vp = vdiam(pc) / (vdiam(pd) + 1e-7)
        cases.append({
            "w": w, "h": h,
            "gt": base64.b64encode(gt.tobytes()).decode(),
            "pred": base64.b64encode(pred.tobytes()).decode(),
            "dice_disc": dice(gd, pd),
            "dice_cup": dice(gc, pc),
            "vcdr_gt": vg,
            "vcdr_pred": vp,
            "abs_err": abs(vg - vp),
            "diam": [vdiam(gd), vdiam(gc), vdiam(pd), vdiam(pc)],
        })
    return cases


def stats_cases():
    cases = []
    for k in range(10):
        v = rng.random(int(rng.integers(2, 50))) * 10 - 3
        qs = [2.5, 25.0, 50.0, 97.5]
        cases.append({
            "values": v.tolist(),
            "mean": float(np.mean(v)),
            "sd": float(np.std(v, ddof=1)),
            "q": qs,
            "percentiles": [float(np.percentile(v, q)) for q in qs],
        })
    return cases


def fovea_cases():
    gt = rng.random((30, 2)) * 2000
    pred = gt + rng.normal(0, 15, size=gt.shape)
    d = np.hypot(pred[:, 0] - gt[:, 0], pred[:, 1] - gt[:, 1])
    return {"gt": gt.tolist(), "pred": pred.tolist(), "distances": d.tolist(), "mean": float(d.mean())}


def b64(a):
    return base64.b64encode(a.astype(np.uint8).tobytes()).decode()


def largest(m, conn):
    st = np.ones((3, 3)) if conn == 8 else ndimage.generate_binary_structure(2, 1)
    lab, n = ndimage.label(m, structure=st)
    if n <= 1:
        return m.copy()
    sizes = np.bincount(lab.ravel())[1:]
    return lab == (int(np.argmax(sizes)) + 1)


def disk(r):
    y, x = np.mgrid[-r:r + 1, -r:r + 1]
    return x * x + y * y <= r * r


def opening(m, r):
    e = ndimage.binary_erosion(m, structure=disk(r), border_value=1)
    return ndimage.binary_dilation(e, structure=disk(r), border_value=0)


def closing(m, r):
    d = ndimage.binary_dilation(m, structure=disk(r), border_value=0)
    return ndimage.binary_erosion(d, structure=disk(r), border_value=1)


def post_cases():
    cases = []
    for k in range(16):
        h, w = int(rng.integers(12, 40)), int(rng.integers(12, 40))
        m = random_mask(h, w) < 255
        m ^= rng.random((h, w)) < 0.03  # extra specks and pinholes
        r = int(rng.integers(1, 4))
        cases.append({
            "w": w, "h": h, "radius": r, "mask": b64(m),
            "largest8": b64(largest(m, 8)), "largest4": b64(largest(m, 4)),
            "filled": b64(ndimage.binary_fill_holes(m)),
            "opened": b64(opening(m, r)), "closed": b64(closing(m, r)),
        })
    return cases


def fit_ellipse(x, y):
    """Direct least-squares ellipse fit (Fitzgibbon et al. 1999) in the form
    of Halir & Flusser (1998), with numpy.linalg on raw pixel coordinates."""
    D1 = np.column_stack([x * x, x * y, y * y])
    D2 = np.column_stack([x, y, np.ones_like(x)])
    S1, S2, S3 = D1.T @ D1, D1.T @ D2, D2.T @ D2
    T = -np.linalg.solve(S3, S2.T)
    M = S1 + S2 @ T
    M = np.array([M[2] / 2, -M[1], M[0] / 2])
    _, vec = np.linalg.eig(M)
    vec = np.real(vec)
    cond = 4 * vec[0] * vec[2] - vec[1] ** 2
    a1 = vec[:, cond > 0][:, 0]
    q = np.concatenate([a1, T @ a1])
    q = q / np.linalg.norm(q)
    if q[0] < 0:
        q = -q
    a, b, c, d, e, f = q
    den = 4 * a * c - b * b
    return q.tolist(), [(b * e - 2 * c * d) / den, (b * d - 2 * a * e) / den]


def ellipse_cases():
    cases = []
    for k in range(8):
        n = int(rng.integers(8, 60))
        t = rng.random(n) * 2 * np.pi
        cx, cy = rng.random() * 500, rng.random() * 500
        ax, bx = 5 + rng.random() * 100, 5 + rng.random() * 100
        th = rng.random() * np.pi
        u, v = ax * np.cos(t), bx * np.sin(t)
        x = cx + u * np.cos(th) - v * np.sin(th) + rng.normal(0, 0.5, n)
        y = cy + u * np.sin(th) + v * np.cos(th) + rng.normal(0, 0.5, n)
        conic, centre = fit_ellipse(x, y)
        cases.append({"x": x.tolist(), "y": y.tolist(), "conic": conic, "center": centre})
    return cases


json.dump({
    "generator": "eval/testdata/make_reference.py (numpy %s, scikit-learn %s, scipy %s)" % (np.__version__, __import__("sklearn").__version__, __import__("scipy").__version__),
    "classification": classification_cases(),
    "segmentation": seg_cases(),
    "stats": stats_cases(),
    "fovea": fovea_cases(),
    "postprocess": post_cases(),
    "ellipse": ellipse_cases(),
}, sys.stdout, indent=None, separators=(",", ":"))
sys.stdout.write("\n")
