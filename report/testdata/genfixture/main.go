// Command genfixture writes the tiny fake run folder report/testdata/run
// used by the report tests. The values are chosen by hand (scores, labels,
// mask geometry, fovea points, sentences); the derived numbers (AUC by the
// Mann-Whitney count, per-image Dice and vCDR by the REFUGE rules, fovea
// distances, means and SDs) are computed here so the fixture is internally
// consistent. Bootstrap intervals are hand-picked placeholders.
//
// Run from the module root: go run ./report/testdata/genfixture
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
)

const out = "report/testdata/run"

func main() {
	must(os.RemoveAll(out))
	must(os.MkdirAll(filepath.Join(out, "qualitative", "val"), 0o755))

	config := `name: tiny_demo
seed: 42
data:
  sources:
    - {name: synth, format: synthetic, params: {n: 16, width: 128, height: 128}}
    - {name: refuge_train, format: refuge2018, root: data/REFUGE_train}
  split: {method: stratified, val: 0.3, test: 0.1, stratify: true}
train: {epochs: 5, batch_size: 4, optimizer: {name: adam, lr: 0.001}}
report:
  title: "Tiny demo & fixture: REFUGE2 report"
  team: "Team_#1 ~ 100%"
  authors: ["A. Author", "B. Ö. Author"]
  code_url: https://example.org/refugelab?x=1#readme
  formats: [md, tex, html]
`
	write("config.yaml", []byte(config))
	sum := sha256.Sum256([]byte(config))
	hash := hex.EncodeToString(sum[:])
	write("overrides.txt", []byte("train.epochs=5\n"))

	train := []string{}
	for i := 0; i < 12; i++ {
		train = append(train, fmt.Sprintf("synth_%04d", i))
	}
	val := []string{"g0001", "n0001", "synth_0012", "synth_0013", "synth_0014", "synth_0015"}
	test := []string{"g0002", "n0002"}
	criterion := "Stratified random split by glaucoma label: 30% validation, 10% test, the rest training, seed 42."
	writeJSON("splits.json", map[string]any{
		"method": "stratified", "seed": 42, "criterion": criterion,
		"counts": map[string]int{"train": 12, "val": 6, "test": 2},
		"train":  train, "val": val, "test": test,
	})
	inputs := map[string]string{
		"data/REFUGE_train/Training400/Glaucoma/g0001.jpg":      sha("g0001"),
		"data/REFUGE_train/Training400/Non-Glaucoma/n0001.jpg":  sha("n0001"),
		"data/REFUGE_train/Annotation/Disc_Cup_Masks/g0001.bmp": sha("g0001m"),
	}
	writeJSON("manifest.json", map[string]any{
		"run_id": "tiny_demo-20261203-120000", "name": "tiny_demo", "seed": 42, "status": "done",
		"start": "2026-12-03T12:00:00Z", "end": "2026-12-03T12:03:21Z",
		"command":    []string{"refugelab", "run", "configs/tiny demo.yaml", "--set", "train.epochs=5"},
		"overrides":  []string{"train.epochs=5"},
		"go_version": "go1.26.8",
		"modules": []map[string]string{
			{"path": "gorgonia.org/gorgonia", "version": "v0.9.18", "sum": "h1:x"},
			{"path": "gonum.org/v1/plot", "version": "v0.17.0", "sum": "h1:y"},
		},
		"main_module": map[string]string{"path": "github.com/refugelab/refugelab", "version": "(devel)"},
		"vcs":         map[string]any{"revision": "4335be7aa0c1d2e3f4a5b6c7d8e9f00112233445", "time": "2026-12-03T11:58:00Z", "modified": false},
		"os":          "linux", "arch": "amd64", "cpu": "Intel(R) Xeon(R) CPU @ 2.20GHz", "num_cpu": 2, "gomaxprocs": 2,
		"config_sha256": hash, "inputs": inputs, "wall_seconds": 201.4,
		"mask_rules": []string{"synth: REFUGE codes (0 = cup, 128 = rim, 255 = background; any other value rejected)",
			"refuge_train: REFUGE codes (0 = cup, 128 = rim, 255 = background; any other value rejected)"},
	})

	// ---- log.jsonl ----
	var log []byte
	addLog := func(task string, epochs int, loss0 float64, val func(e int) map[string]float64) {
		for e := 1; e <= epochs; e++ {
			line, _ := json.Marshal(map[string]any{
				"task": task, "epoch": e, "train_loss": round4(loss0 * math.Pow(0.8, float64(e-1))),
				"lr": 0.001, "val": val(e), "seconds": 1.5 * float64(e),
			})
			log = append(log, line...)
			log = append(log, '\n')
		}
	}
	addLog("classification", 5, 0.69, func(e int) map[string]float64 {
		return map[string]float64{"auc": round4(0.6 + 0.05*float64(e)), "val_loss": round4(0.7 - 0.04*float64(e))}
	})
	addLog("segmentation", 5, 1.1, func(e int) map[string]float64 {
		return map[string]float64{"dice_disc": round4(0.5 + 0.08*float64(e)), "dice_cup": round4(0.3 + 0.07*float64(e))}
	})
	addLog("fovea", 4, 0.05, func(e int) map[string]float64 {
		return map[string]float64{"mean_distance_px": round4(12 - 2*float64(e))}
	})
	addLog("localizer", 3, 0.9, func(e int) map[string]float64 {
		return map[string]float64{"dice_disc": round4(0.6 + 0.1*float64(e))}
	})
	write("log.jsonl", log)

	// ---- classification ----
	type cls struct {
		name  string
		label int
		score float64
	}
	valCls := []cls{{"g0001", 1, 0.42}, {"n0001", 0, 0.42}, {"synth_0012", 1, 0.81}, {"synth_0013", 0, 0.35}, {"synth_0014", 0, 0.12}, {"synth_0015", 0, 0.66}}
	testCls := []cls{{"g0002", 1, 0.7}, {"n0002", 0, 0.3}}
	auc := func(cs []cls) float64 { // Mann-Whitney: ties count half
		var s float64
		var np, nn int
		for _, a := range cs {
			if a.label != 1 {
				continue
			}
			np++
			for _, b := range cs {
				if b.label == 0 {
					if a.score > b.score {
						s++
					} else if a.score == b.score {
						s += 0.5
					}
				}
			}
		}
		for _, b := range cs {
			if b.label == 0 {
				nn++
			}
		}
		return s / float64(np*nn)
	}
	perCls := func(cs []cls) []map[string]any {
		var o []map[string]any
		for _, c := range cs {
			o = append(o, map[string]any{"name": c.name + ".jpg", "label": c.label, "score": c.score})
		}
		return o
	}

	// ---- segmentation and fovea on val (128x128 images) ----
	type geo struct {
		name                   string
		cx, cy, rd, rc         float64 // GT disc centre, radii
		px, py, prd, prc       float64 // predicted
		fgx, fgy, fpx, fpy     float64 // fovea GT and prediction
		glaucomaish, qualitate bool
	}
	geos := []geo{
		{"g0001", 24, 22, 10, 7, 25, 22, 10, 6, 10, 26, 12, 27, true, true},
		{"n0001", 20, 24, 9, 4, 20, 24, 9, 4, 36, 25, 36, 24, false, true},
		{"synth_0012", 26, 20, 8, 5, 30, 23, 7, 2, 9, 24, 15, 20, true, true},
		{"synth_0013", 22, 22, 9, 3, 23, 22, 9, 4, 38, 24, 37, 24, false, false},
		{"synth_0014", 24, 24, 10, 4, 24, 25, 10, 5, 8, 26, 8, 26, false, false},
		{"synth_0015", 23, 23, 9, 4, 18, 28, 6, 0, 37, 22, 30, 30, false, true},
	}
	const W, H = 128, 128
	var segRows, fovRows []map[string]any
	var dd, dc, ve, fd []float64
	var qual []map[string]any
	for _, g := range geos {
		// The geometry above is for 48x48; scale it ×2 about a 16 px
		// margin, so that the disc is small enough for the zoom tiles.
		p := func(v float64) float64 { return 2*v + 16 }
		g.cx, g.cy, g.px, g.py = p(g.cx), p(g.cy), p(g.px), p(g.py)
		g.fgx, g.fgy, g.fpx, g.fpy = p(g.fgx), p(g.fgy), p(g.fpx), p(g.fpy)
		g.rd, g.rc, g.prd, g.prc = 2*g.rd, 2*g.rc, 2*g.prd, 2*g.prc
		gt := circleMask(W, H, g.cx, g.cy, g.rd, g.rc)
		pr := circleMask(W, H, g.px, g.py, g.prd, g.prc)
		ddisc := dice(gt, pr, func(v uint8) bool { return v < 255 })
		dcup := dice(gt, pr, func(v uint8) bool { return v == 0 })
		vg := vcdr(gt, W, H)
		vp := vcdr(pr, W, H)
		segRows = append(segRows, map[string]any{"name": g.name + ".jpg", "dice_disc": round4(ddisc), "dice_cup": round4(dcup),
			"vcdr_gt": round4(vg), "vcdr_pred": round4(vp), "vcdr_abs_err": round4(math.Abs(vg - vp))})
		dd = append(dd, ddisc)
		dc = append(dc, dcup)
		ve = append(ve, math.Abs(vg-vp))
		dist := math.Hypot(g.fgx-g.fpx, g.fgy-g.fpy)
		fd = append(fd, dist)
		fovRows = append(fovRows, map[string]any{"name": g.name + ".jpg", "gt_x": g.fgx, "gt_y": g.fgy, "x": g.fpx, "y": g.fpy, "distance_px": round4(dist)})
		if g.qualitate {
			writePNG(filepath.Join("qualitative", "val", g.name+"_image.png"), fundus(W, H, g.cx, g.cy, g.rd, g.rc, g.fgx, g.fgy))
			writePNG(filepath.Join("qualitative", "val", g.name+"_gt.png"), maskImage(gt, W, H))
			writePNG(filepath.Join("qualitative", "val", g.name+"_pred.png"), maskImage(pr, W, H))
			kind := "best"
			if ddisc+dcup < 1.5 {
				kind = "worst"
			}
			qual = append(qual, map[string]any{"split": "val", "stem": g.name, "kind": kind, "scale": 1, "dice_cup": round4(dcup), "dice_disc": round4(ddisc),
				"fovea_gt": []float64{g.fgx, g.fgy}, "fovea_pred": []float64{g.fpx, g.fpy}})
		}
	}
	writeJSON(filepath.Join("qualitative", "index.json"), qual)

	ci := func(m float64) []float64 { return []float64{round4(math.Max(0, m-0.0731)), round4(m + 0.0517)} }
	aucVal, aucTest := auc(valCls), auc(testCls)
	metrics := map[string]any{
		"val": map[string]any{
			"classification": map[string]any{"auc": round4(aucVal), "sensitivity_at_spec_0.85": 0.5, "specificity": 0.85, "n": 6,
				"n_glaucoma": 2, "n_normal": 4, "n_missing": 0, "auc_ci95": []float64{0.5, 1}},
			"segmentation": map[string]any{
				"dice_disc": round4(mean(dd)), "dice_cup": round4(mean(dc)), "vcdr_mae": round4(mean(ve)), "n": 6,
				"n_missing": 0, "dice_disc_undefined": 0, "dice_cup_undefined": 0,
				"dice_disc_sd": round4(sd(dd)), "dice_cup_sd": round4(sd(dc)), "vcdr_mae_sd": round4(sd(ve)),
				"dice_disc_ci95": ci(mean(dd)), "dice_cup_ci95": ci(mean(dc)), "vcdr_mae_ci95": ci(mean(ve)),
			},
			"fovea": map[string]any{"mean_distance_px": round4(mean(fd)), "n": 6, "n_missing": 0,
				"mean_distance_px_sd": round4(sd(fd)), "mean_distance_px_ci95": ci(mean(fd))},
			"per_image": map[string]any{
				"classification": perCls(valCls), "segmentation": segRows, "fovea": fovRows,
			},
		},
		"test": map[string]any{
			"classification": map[string]any{"auc": round4(aucTest), "sensitivity_at_spec_0.85": 1, "specificity": 0.85, "n": 2,
				"n_glaucoma": 1, "n_normal": 1, "n_missing": 1, "auc_ci95": []float64{1, 1}},
			"per_image": map[string]any{"classification": perCls(testCls)},
			"problems": []map[string]any{{"task": "classification", "name": "x0003", "kind": "missing",
				"what": "no prediction for ground-truth image x0003", "expected": "one row per ground-truth image"}},
		},
	}
	writeJSON("metrics.json", metrics)

	// ---- description.json ----
	layersCNN := []map[string]any{
		{"name": "conv1", "out_shape": []int{1, 16, 64, 64}, "params": 448},
		{"name": "res1", "out_shape": []int{1, 16, 32, 32}, "params": 4672},
		{"name": "res2", "out_shape": []int{1, 32, 16, 16}, "params": 14016},
		{"name": "gap", "out_shape": []int{1, 32}, "params": 0},
		{"name": "fc", "out_shape": []int{1, 1}, "params": 33},
	}
	layersUNet := []map[string]any{
		{"name": "enc1", "out_shape": []int{1, 8, 32, 32}, "params": 800},
		{"name": "enc2", "out_shape": []int{1, 16, 16, 16}, "params": 3488},
		{"name": "bottleneck", "out_shape": []int{1, 32, 8, 8}, "params": 13888},
		{"name": "dec2", "out_shape": []int{1, 16, 16, 16}, "params": 6928},
		{"name": "dec1", "out_shape": []int{1, 8, 32, 32}, "params": 1736},
		{"name": "head", "out_shape": []int{1, 3, 32, 32}, "params": 27},
	}
	total := func(ls []map[string]any) int {
		t := 0
		for _, l := range ls {
			t += l["params"].(int)
		}
		return t
	}
	training := func(lr float64, loss string, epochs, best int, wall float64, extra string) map[string]any {
		return map[string]any{
			"optimizer": "Adam (beta1 0.9, beta2 0.999, eps 1e-08, weight decay 0)", "lr": lr,
			"schedule": "Cosine decay from the base rate to 0 over all epochs, 1 warm-up epoch", "batch_size": 4,
			"epochs": epochs, "epochs_run": epochs, "best_epoch": best, "loss": loss,
			"init": "He normal (fan-in, seeded per layer)", "seed": 42,
			"early_stopping": "patience 10 epochs on the monitored metric", "selection": "best validation " + extra,
			"wall_seconds": wall,
			"best":         map[string]float64{"monitor": round4(0.5 + wall/1000)},
			"sentences":    []string{"Gradients are clipped to a global L2 norm of 5", "Batches are drawn with a seeded shuffle per epoch"},
		}
	}
	seg := map[string]any{
		"input": "optic-nerve-head region", "input_size": []int{32, 32},
		"input_sentence": "A 32×32 px square crop centred on the disc found by the localiser (1.5× the disc diameter), resampled from the original image",
		"preprocessing": []string{
			"Crop to the field of view (threshold 0.05 on the red channel)",
			"ROI crop of 1.5 disc diameters around the predicted disc centre, resized to 32×32 px (bilinear, pad 0)",
			"Normalise each channel by the dataset mean and std (μ, σ from the training split)",
		},
		"network": map[string]any{"arch": "unet", "sentence": "U-Net, base 8 channels, depth 2, group normalisation (4 groups), dropout 0",
			"based_on": "U-Net (Ronneberger et al., 2015)", "differences": []string{"Group normalisation after every convolution", "Upsampling + 3×3 convolution instead of transposed convolution", "Depth 2 instead of 4"},
			"layers": layersUNet, "total_params": total(layersUNet)},
		"training": training(0.001, "Dice + cross-entropy (weights 1 and 1)", 5, 4, 61.2, "mean Dice"),
		"augmentation": []string{
			"Horizontal flip with probability 0.5 (image, mask and fovea x' = W-1-x)",
			"Rotation by an angle uniform in [-15°, 15°] with probability 0.5 (mask nearest)",
			"Gamma ~ U{0.8, 1.2}^1 on the image only with probability 0.3; 100% of pixels_kept & $none$",
		},
		"postprocessing": []string{"Argmax over {background, rim, cup}", "Keep the largest connected component of the disc", "Fill holes", "Force the cup inside the disc", "Paste back into a 255 canvas of the original size"},
		"output":         "REFUGE mask (0 cup, 128 rim, 255 background) at the original image size",
	}
	cl := map[string]any{
		"input": "full image", "input_size": []int{64, 64},
		"input_sentence": "The whole fundus image, cropped to the field of view and resized to 64×64 px",
		"preprocessing":  []string{"Crop to the field of view (threshold 0.05 on the red channel)", "Resize keeping the aspect ratio to 64×64 px, padding with 0", "Normalise each image to zero mean and unit variance"},
		"network": map[string]any{"arch": "resnet", "sentence": "ResNet, base 16 channels, 2 stages, batch normalisation",
			"based_on": "ResNet-18 (He et al., 2016)", "differences": []string{"2 residual stages instead of 4", "16 base channels instead of 64"},
			"layers": layersCNN, "total_params": total(layersCNN)},
		"training":       training(0.0003, "Binary cross-entropy with pos_weight 9", 5, 5, 80.3, "AUC"),
		"augmentation":   []string{"Horizontal flip with probability 0.5", "Brightness/contrast jitter ±0.1 with probability 0.5"},
		"postprocessing": []string{},
		"output":         "Glaucoma probability (sigmoid of the logit)",
	}
	fov := map[string]any{
		"input": "full image", "input_size": []int{64, 64},
		"input_sentence": "The whole fundus image resized to 64×64 px",
		"preprocessing":  []string{"Resize keeping the aspect ratio to 64×64 px, padding with 0"},
		"network": map[string]any{"arch": "heatmap", "sentence": "U-Net with a 1-channel heatmap head",
			"based_on": "U-Net (Ronneberger et al., 2015)", "differences": []string{"1-channel Gaussian heatmap output (σ 2 px)"},
			"layers": layersUNet[:5], "total_params": total(layersUNet[:5])},
		"training":       training(0.001, "Mean squared error on the heatmap", 4, 4, 40.1, "mean distance"),
		"augmentation":   []string{},
		"postprocessing": []string{"Soft-argmax of the heatmap, mapped back to original pixels"},
		"output":         "Fovea (x, y) in original image pixels",
	}
	loc := map[string]any{
		"input": "full image", "input_size": []int{64, 64},
		"preprocessing":  []string{"Resize keeping the aspect ratio to 64×64 px, padding with 0"},
		"network":        map[string]any{"arch": "unet", "sentence": "U-Net, base 8 channels, depth 2", "layers": layersUNet, "total_params": total(layersUNet)},
		"training":       training(0.001, "Dice + cross-entropy", 3, 3, 19.8, "disc Dice"),
		"augmentation":   []string{"Horizontal flip with probability 0.5"},
		"postprocessing": []string{"Disc centre = centroid of the largest disc component"},
		"output":         "Disc centre for the ROI crop",
	}
	writeJSON("description.json", map[string]any{
		"config_sha256": hash, "title": "Tiny demo & fixture: REFUGE2 report", "team": "Team_#1 ~ 100%",
		"authors": []string{"A. Author", "B. Ö. Author"}, "code_url": "https://example.org/refugelab?x=1#readme",
		"datasets": []map[string]any{
			{"name": "synth", "format": "synthetic", "root": "", "sentence": "Synthetic fundus images (128×128 px, seeded) with disc, cup and fovea ground truth",
				"counts": map[string]int{"images": 16, "glaucoma": 4, "normal": 12, "unknown_label": 0, "with_mask": 16, "with_fovea": 16},
				"sizes":  map[string]int{"128x128": 16}, "devices": map[string]int{"synthetic": 16}},
			{"name": "refuge_train", "format": "refuge2018", "root": "data/REFUGE_train", "sentence": "REFUGE 2018 training images (Zeiss Visucam 500), labels from folder names",
				"counts": map[string]int{"images": 4, "glaucoma": 2, "normal": 2, "unknown_label": 0, "with_mask": 2, "with_fovea": 2},
				"sizes":  map[string]int{"2124x2056": 4}, "devices": map[string]int{"Zeiss Visucam 500": 4}},
		},
		"split": map[string]any{"method": "stratified", "seed": 42, "criterion": criterion,
			"counts": map[string]int{"train": 12, "val": 6, "test": 2},
			"per_split": map[string]map[string]int{
				"train": {"glaucoma": 3, "normal": 9, "with_mask": 12, "with_fovea": 12},
				"val":   {"glaucoma": 2, "normal": 4, "with_mask": 6, "with_fovea": 6},
				"test":  {"glaucoma": 1, "normal": 1, "with_mask": 0, "with_fovea": 0},
			}},
		"tasks":           map[string]any{"classification": cl, "segmentation": seg, "fovea": fov},
		"localizer":       loc,
		"run_command":     "refugelab run 'configs/tiny demo.yaml' --set 'train.epochs=5'",
		"dropped_samples": []string{"synth_0099"},
		"language": map[string]any{"go_version": "go1.26.8", "framework": "Gorgonia v0.9.18 (tensor v0.9.24)", "modules": []map[string]string{
			{"path": "gorgonia.org/gorgonia", "version": "v0.9.18"}, {"path": "gorgonia.org/tensor", "version": "v0.9.24"}, {"path": "gonum.org/v1/plot", "version": "v0.17.0"}}},
		"hardware":          map[string]any{"os": "linux", "arch": "amd64", "cpu": "Intel(R) Xeon(R) CPU @ 2.20GHz", "num_cpu": 2, "gomaxprocs": 2},
		"wall_seconds":      201.4,
		"reproduce_command": "refugelab reproduce runs/tiny_demo-20261203-120000",
		"data_hashes":       inputs,
	})
}

func circleMask(w, h int, cx, cy, rd, rc float64) []uint8 {
	m := make([]uint8, w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			d := math.Hypot(float64(x)-cx, float64(y)-cy)
			switch {
			case d <= rc:
				m[y*w+x] = 0
			case d <= rd:
				m[y*w+x] = 128
			default:
				m[y*w+x] = 255
			}
		}
	}
	return m
}

func dice(a, b []uint8, in func(uint8) bool) float64 {
	var inter, na, nb int
	for i := range a {
		x, y := in(a[i]), in(b[i])
		if x {
			na++
		}
		if y {
			nb++
		}
		if x && y {
			inter++
		}
	}
	if na+nb == 0 {
		return math.NaN()
	}
	return 2 * float64(inter) / float64(na+nb)
}

// vcdr: largest per-column count of cup pixels over that of disc pixels.
func vcdr(m []uint8, w, h int) float64 {
	var cup, disc int
	for x := 0; x < w; x++ {
		var c, d int
		for y := 0; y < h; y++ {
			v := m[y*w+x]
			if v == 0 {
				c++
			}
			if v < 255 {
				d++
			}
		}
		cup, disc = max(cup, c), max(disc, d)
	}
	return float64(cup) / (float64(disc) + 1e-7)
}

func fundus(w, h int, cx, cy, rd, rc, fx, fy float64) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			r := math.Hypot(float64(x)-float64(w-1)/2, float64(y)-float64(h-1)/2)
			if r > float64(w)/2 {
				img.Set(x, y, color.Black)
				continue
			}
			d := math.Hypot(float64(x)-cx, float64(y)-cy)
			f := math.Hypot(float64(x)-fx, float64(y)-fy)
			red := 190 - 40*r/float64(w)
			g := 70.0
			b := 30.0
			if d < rd {
				red, g, b = 240, 200, 120
			}
			if d < rc {
				red, g, b = 255, 240, 190
			}
			if f < 4 {
				red, g, b = red*0.6, g*0.6, b*0.6
			}
			img.Set(x, y, color.RGBA{uint8(red), uint8(g), uint8(b), 255})
		}
	}
	return img
}

func maskImage(m []uint8, w, h int) image.Image {
	g := image.NewGray(image.Rect(0, 0, w, h))
	copy(g.Pix, m)
	return g
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func sd(v []float64) float64 {
	m := mean(v)
	s := 0.0
	for _, x := range v {
		s += (x - m) * (x - m)
	}
	return math.Sqrt(s / float64(len(v)-1))
}

func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func write(name string, b []byte) {
	p := filepath.Join(out, name)
	must(os.MkdirAll(filepath.Dir(p), 0o755))
	must(os.WriteFile(p, b, 0o644))
}

func writeJSON(name string, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	must(err)
	write(name, append(b, '\n'))
}

func writePNG(name string, img image.Image) {
	p := filepath.Join(out, name)
	f, err := os.Create(p)
	must(err)
	must(png.Encode(f, img))
	must(f.Close())
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
