package experiments

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/refugelab/refugelab/data"
	"github.com/refugelab/refugelab/eval"
	"github.com/refugelab/refugelab/report"
)

// counts summarises a list of samples for the report.
func counts(samples []*data.Sample) map[string]int {
	c := map[string]int{"images": len(samples)}
	for _, s := range samples {
		switch s.Label {
		case 1:
			c["glaucoma"]++
		case 0:
			c["normal"]++
		default:
			c["unknown_label"]++
		}
		if s.HasMask {
			c["with_mask"]++
		}
		if s.Fovea != nil {
			c["with_fovea"]++
		}
	}
	for _, k := range []string{"glaucoma", "normal", "unknown_label", "with_mask", "with_fovea"} {
		c[k] += 0
	}
	return c
}

var archBase = map[string]string{
	"unet":    "U-Net (Ronneberger et al., 2015)",
	"heatmap": "U-Net (Ronneberger et al., 2015) with a one-channel Gaussian-heatmap head",
	"cnn":     "VGG-style convolutional classifier (Simonyan and Zisserman, 2015)",
	"resnet":  "ResNet-18 (He et al., 2016)",
}

func archDifferences(n NetworkConfig) []string {
	var d []string
	switch n.Arch {
	case "unet", "heatmap":
		d = append(d, fmt.Sprintf("%d down-sampling stages with %d base channels (the original: 4 stages, 64 channels)", n.Depth, n.Base),
			"padded 3×3 convolutions so the output has the input's size (the original uses unpadded convolutions)",
			"up-sampling by nearest-neighbour ×2 then a 3×3 convolution instead of transposed convolution")
	case "cnn":
		d = append(d, fmt.Sprintf("%d stages with %d base channels, global average pooling and one dense layer instead of three fully connected layers", n.Depth, n.Base))
	case "resnet":
		d = append(d, fmt.Sprintf("stage widths from %d base channels (the original: 64)", n.Base))
	}
	switch n.Norm {
	case "group":
		d = append(d, fmt.Sprintf("group normalisation (%d groups) after each convolution", n.Groups))
	case "none":
		d = append(d, "no normalisation layers")
	}
	if n.Dropout > 0 {
		d = append(d, fmt.Sprintf("dropout %.2g", n.Dropout))
	}
	if n.InitFrom != "" {
		d = append(d, "initialised from "+n.InitFrom)
	}
	return d
}

// describe writes description.json: every sentence the report prints, from
// the pieces that ran.
func (p *pipeline) describe() error {
	cfgSHA := p.manifest.ConfigSHA256
	var datasets []map[string]any
	for _, s := range p.cfg.Data.Sources {
		var ss []*data.Sample
		for _, smp := range p.samples {
			if smp.Source == s.Name {
				ss = append(ss, smp)
			}
		}
		sizes, devices := map[string]int{}, map[string]int{}
		for _, smp := range ss {
			sizes[fmt.Sprintf("%dx%d", smp.W, smp.H)]++
			if smp.Device != "" {
				devices[smp.Device]++
			}
		}
		datasets = append(datasets, map[string]any{
			"name": s.Name, "format": s.Format, "root": s.Root,
			"sentence": data.DescribeSource(sourceSpec(s)), "counts": counts(ss), "sizes": sizes, "devices": devices,
		})
	}
	perSplit := map[string]map[string]int{}
	for _, sp := range []string{"train", "val", "test"} {
		var ss []*data.Sample
		for _, id := range p.splitIDs(sp) {
			ss = append(ss, p.byID[id])
		}
		c := counts(ss)
		devices := map[string]bool{}
		for _, smp := range p.samples {
			if smp.Device != "" {
				devices[smp.Device] = true
			}
		}
		for d := range devices {
			c["device "+d] = 0
		}
		for _, smp := range ss {
			if smp.Device != "" {
				c["device "+smp.Device]++
			}
		}
		perSplit[sp] = c
	}
	split := map[string]any{
		"method": p.splits.Method, "seed": p.splits.Seed, "criterion": p.splits.Criterion,
		"counts":    map[string]int{"train": len(p.splits.Train), "val": len(p.splits.Val), "test": len(p.splits.Test)},
		"per_split": perSplit,
	}
	if len(p.dropped) > 0 {
		split["dropped"] = p.dropped
	}
	tasks := map[string]any{}
	var localizer map[string]any
	for _, t := range taskList(p.cfg) {
		if !t.cfg.Enabled {
			continue
		}
		td, err := p.describeTask(t)
		if err != nil {
			return err
		}
		if td == nil {
			continue
		}
		if t.name == "localizer" {
			localizer = td
		} else {
			tasks[t.name] = td
		}
	}
	var mods []map[string]string
	for _, m := range p.manifest.Modules {
		mods = append(mods, map[string]string{"path": m.Path, "version": m.Version})
	}
	desc := map[string]any{
		"config_sha256": cfgSHA,
		"title":         p.cfg.Report.Title, "team": p.cfg.Report.Team, "authors": p.cfg.Report.Authors, "code_url": p.cfg.Report.CodeURL,
		"name": p.cfg.Name, "seed": p.cfg.Seed,
		"datasets": datasets, "split": split, "tasks": tasks,
		"language": map[string]any{"go_version": p.manifest.GoVersion, "main_module": p.manifest.MainModule, "modules": mods,
			"framework": "Gorgonia " + moduleVersion(p.manifest, "gorgonia.org/gorgonia") + " (tensor " + moduleVersion(p.manifest, "gorgonia.org/tensor") + ")"},
		"hardware":          map[string]any{"os": p.manifest.OS, "arch": p.manifest.Arch, "cpu": p.manifest.CPU, "num_cpu": p.manifest.NumCPU, "gomaxprocs": p.manifest.GOMAXPROCS},
		"wall_seconds":      time.Since(p.start).Seconds(),
		"reproduce_command": "refugelab reproduce " + p.dir,
		"run_command":       "refugelab run " + p.r.File + overrideFlags(p.r.Overrides),
		"data_hashes":       p.manifest.Inputs,
		"vcs":               p.manifest.VCS,
	}
	if localizer != nil {
		desc["localizer"] = localizer
	}
	if len(p.dropped) > 0 {
		desc["dropped_samples"] = p.dropped
	}
	return writeJSON(filepath.Join(p.dir, "description.json"), desc)
}

func overrideFlags(ov []string) string {
	var b strings.Builder
	for _, o := range ov {
		b.WriteString(" --set '" + o + "'")
	}
	return b.String()
}

func moduleVersion(m *Manifest, path string) string {
	for _, mod := range m.Modules {
		if mod.Path == path {
			return mod.Version
		}
	}
	return "(unknown version)"
}

func (p *pipeline) describeTask(t namedTask) (map[string]any, error) {
	kind := taskKind(t.name)
	pl := p.full
	input := "full image"
	if t.cfg.Input == "roi" {
		pl = p.roi
		input = "optic-nerve-head region"
	}
	pre := pl.Describe()
	if p.cfg.Data.CacheDir != "" {
		pre = append(pre, "The geometric results of these steps are cached as .npy files keyed by the SHA-256 of the source files and the pipeline description, and reused across runs.")
	}
	td := map[string]any{"input": input, "preprocessing": pre, "augmentation": p.aug.Describe()}
	m := p.models[t.name]
	if m != nil {
		td["input_size"] = []int{m.In.W, m.In.H}
		td["input_sentence"] = fmt.Sprintf("The network sees the %s as a %d×%d image with %d channels, produced by the preprocessing steps below; predictions are mapped back to the original pixels by the inverse of the recorded geometric transform.", input, m.In.W, m.In.H, m.In.C)
		var layers []map[string]any
		for _, l := range m.Summary() {
			layers = append(layers, map[string]any{"name": l.Name, "out_shape": l.OutShape, "params": l.Params})
		}
		td["network"] = map[string]any{"arch": t.cfg.Network.Arch, "sentence": networkSpec(t.cfg.Network).Describe(),
			"based_on": archBase[t.cfg.Network.Arch], "differences": archDifferences(t.cfg.Network),
			"layers": layers, "total_params": m.TotalParams()}
		res := p.results[t.name]
		tc := p.trainCfg[t.name]
		tr := map[string]any{
			"optimizer": t.cfg.Train.Optimizer.Name, "lr": t.cfg.Train.Optimizer.LR, "schedule": t.cfg.Train.Schedule.Name,
			"batch_size": t.cfg.Train.BatchSize, "epochs": t.cfg.Train.Epochs, "loss": t.cfg.Loss.Name,
			"init": t.cfg.Network.Init, "seed": data.Seed(p.cfg.Seed, "task", t.name),
			"sentences": tc.DescribeAll(),
		}
		if res != nil {
			tr["epochs_run"] = res.EpochsRun
			tr["best_epoch"] = res.BestEpoch
			tr["best"] = res.Best
			tr["wall_seconds"] = res.WallSeconds
		}
		td["training"] = tr
	} else if t.name == "classification" && t.cfg.Score == "multitask" {
		td["network"] = map[string]any{"arch": "multitask head", "sentence": "The glaucoma score comes from the classification head of the segmentation task's multitask U-Net: global average pooling of the shared encoder's bottleneck and a dense layer giving one logit, trained jointly with the segmentation (see the segmentation network and its loss).", "layers": []any{}, "total_params": 0}
		td["input"] = "the segmentation task's input (shared encoder)"
		td["preprocessing"] = []string{}
		td["augmentation"] = []string{}
		td["postprocessing"] = []string{"The glaucoma risk is the sigmoid of the multitask network's image logit."}
		td["output"] = "glaucoma risk score per image (classification_results.csv)"
		return td, nil
	} else if t.name == "classification" && t.cfg.Score == "vcdr" {
		td["network"] = map[string]any{"arch": "none", "sentence": "The glaucoma score of an image is the vertical cup-to-disc ratio of the segmentation network's predicted mask.", "layers": []any{}, "total_params": 0}
		td["input"] = "predicted segmentation mask"
		td["preprocessing"] = []string{}
		td["augmentation"] = []string{}
		td["postprocessing"] = []string{"The glaucoma risk is the vertical cup-to-disc ratio of the predicted mask at the original size: the largest per-column count of cup pixels over that of disc pixels (+1e-7), as the challenge computes vCDR."}
		td["output"] = "glaucoma risk score per image (classification_results.csv)"
		return td, nil
	} else {
		return nil, nil
	}
	var post []string
	switch kind {
	case "segmentation":
		post = append(post, "The class probabilities are mapped back to original pixels by bilinear interpolation through the inverse of the preprocessing transform; the steps below run at the original resolution, and the result is pasted into a background (255) canvas of the original image size.")
		post = append(post, p.segPost().Describe()...)
	case "heatmap":
		post = append(post, describeDecode(t.cfg.Decode, t.cfg.Sigma)+", mapped back to original pixels by the inverse of the preprocessing transform.")
	case "classification":
		post = append(post, "The glaucoma risk is the sigmoid of the network's logit.")
	}
	if t.cfg.TTA {
		post = append([]string{"Test-time augmentation: the prediction is averaged with that of the horizontally flipped input (flipped back)."}, post...)
	}
	td["postprocessing"] = post
	switch t.name {
	case "classification":
		td["output"] = "glaucoma risk score per image (classification_results.csv)"
	case "segmentation":
		td["output"] = "optic disc and cup mask at the original size, 0 = cup, 128 = rim, 255 = background (segmentation/<stem>.bmp)"
	case "fovea":
		td["output"] = "fovea (x, y) in original pixels (fovea_location_results.csv)"
	case "localizer":
		td["output"] = "optic disc centre in original pixels, which centres the optic-nerve-head region of the other tasks at prediction"
	}
	return td, nil
}

func (p *pipeline) segPost() *eval.Post {
	post, err := eval.NewPost(postSpecs(p.cfg.Tasks.Segmentation.Postprocess))
	if err != nil {
		return nil
	}
	return post
}

// report renders the technical report from the run folder.
func (p *pipeline) report() error {
	// The manifest must be final for the report's reproducibility section.
	p.manifest.Status = "done"
	p.manifest.End = nowString()
	p.manifest.WallSeconds = time.Since(p.start).Seconds()
	if err := writeJSON(filepath.Join(p.dir, "manifest.json"), p.manifest); err != nil {
		return err
	}
	files, err := report.Generate(p.dir, report.Options{Formats: p.cfg.Report.Formats})
	if err != nil {
		return err
	}
	sort.Strings(files)
	p.logf("report: %s", strings.Join(files, ", "))
	return nil
}

// describeDecode is the sentence for a heatmap decoding method.
func describeDecode(method string, sigma float64) string {
	if method == "peak" {
		return fmt.Sprintf("The point is the position of the heatmap's maximum (trained on a Gaussian target of sigma %.3g input pixels)", sigma)
	}
	return fmt.Sprintf("The point is the soft-argmax of the heatmap: the centroid, weighted by the height above half the maximum, of the connected region above half the maximum that contains the peak (sub-pixel; trained on a Gaussian target of sigma %.3g input pixels)", sigma)
}
