package experiments

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/refugelab/refugelab/augment"
	"github.com/refugelab/refugelab/data"
	"github.com/refugelab/refugelab/eval"
	"github.com/refugelab/refugelab/train"
)

// pathPrefix matches an error that starts with a key path, e.g.
// "augment[2].params.gamma: unknown parameter ...".
var pathPrefix = regexp.MustCompile(`^([a-z_]+(?:\[\d+\])?(?:\.[A-Za-z_0-9-]+(?:\[\d+\])?)*): `)

// pieceProblem turns a package's error into a problem located at the
// configured key. A package error that names its own key path relative to
// the piece (e.g. "augment[2].params.gamma") is located at that path when it
// starts with the same top-level key.
func (r *Resolved) pieceProblem(base string, err error) Problem {
	msg := err.Error()
	if m := pathPrefix.FindStringSubmatch(msg); m != nil {
		p := m[1]
		top := strings.SplitN(base, ".", 2)[0]
		top = strings.SplitN(top, "[", 2)[0]
		if strings.HasPrefix(p, top) {
			return r.dec.at(p, "%s", strings.TrimPrefix(msg, m[0]))
		}
		// The package named a path inside the piece: append it (without
		// repeating the piece's own key).
		last := base[strings.LastIndex(base, ".")+1:]
		if strings.HasPrefix(p, last+".") {
			return r.dec.at(base+strings.TrimPrefix(p, last), "%s", strings.TrimPrefix(msg, m[0]))
		}
		if strings.HasPrefix(p, "params") || strings.Contains(p, ".") {
			return r.dec.at(base+"."+p, "%s", strings.TrimPrefix(msg, m[0]))
		}
	}
	return r.dec.at(base, "%s", msg)
}

// validatePieces builds every registered piece (sources, preprocessing
// steps, transforms, networks, losses, post-processing) to check its name
// and parameters, reporting problems at their key paths.
func (r *Resolved) validatePieces() []Problem {
	var ps []Problem
	c := &r.Config
	formats := data.KnownFormats()
	for i, s := range c.Data.Sources {
		p := fmt.Sprintf("data.sources[%d]", i)
		if s.Format != "" && !slices.Contains(formats, s.Format) {
			ps = append(ps, r.dec.at(p+".format", "%v", data.UnknownNameError("source format", s.Format, formats)))
			continue
		}
		if s.Format != "synthetic" {
			if s.Root == "" {
				ps = append(ps, r.dec.at(p+".root", "expected the dataset folder of format %s (relative to the config file)", s.Format))
				continue
			}
			root := s.Root
			if !filepath.IsAbs(root) {
				root = filepath.Join(filepath.Dir(r.File), root)
			}
			if st, err := os.Stat(root); err == nil && s.Format == "csv" && st.IsDir() {
				ps = append(ps, r.dec.at(p+".root", "%s is a folder; the csv format's root is the manifest file (image, mask, label, fovea_x, fovea_y columns)", root))
			} else if err == nil && s.Format != "csv" && !st.IsDir() {
				ps = append(ps, r.dec.at(p+".root", "%s is a file; format %s expects the dataset folder", root, s.Format))
			}
			if _, err := os.Stat(root); err != nil {
				hint := ""
				if strings.Contains(root, "shared") {
					hint = " (the real-data samples live in ../shared/data beside the repository; this machine does not have them)"
				}
				ps = append(ps, r.dec.at(p+".root", "%s does not exist%s", root, hint))
			} else if abs, err := filepath.Abs(root); err == nil {
				c.Data.Sources[i].Root = abs // the resolved config names the folder exactly
			}
		}
	}
	if _, err := data.NewPipeline(stepSpecs(c.Preprocess.Full)); err != nil {
		ps = append(ps, r.pieceProblem("preprocess.full", err))
	}
	if _, err := data.NewPipeline(stepSpecs(c.Preprocess.ROI)); err != nil {
		ps = append(ps, r.pieceProblem("preprocess.roi", err))
	}
	for i, st := range c.Preprocess.ROI {
		if _, ok := st.Params["disc_factor"]; ok && st.Name == "roi" {
			ps = append(ps, r.dec.at(fmt.Sprintf("preprocess.roi[%d].params.disc_factor", i), "the disc diameter is unknown when predicting from the image alone; give the window in original pixels (window: N) instead"))
		}
	}
	for i := range c.Augment {
		if _, ok := r.dec.nodes[fmt.Sprintf("augment[%d].p", i)]; !ok {
			if _, ok := r.dec.nodes[fmt.Sprintf("augment[%d]", i)]; ok {
				ps = append(ps, r.dec.at(fmt.Sprintf("augment[%d]", i), "expected p, the probability of applying %q (0 to 1)", c.Augment[i].Name))
			}
		}
	}
	if _, err := augment.Build(augSpecs(c.Augment)); err != nil {
		ps = append(ps, r.pieceProblem("augment", err))
	}
	for _, t := range taskList(c) {
		p := "tasks." + t.name
		if err := networkSpec(t.cfg.Network).Defaults().Validate(); err != nil {
			ps = append(ps, r.pieceProblem(p+".network", err))
		}
		if t.name == "classification" && (t.cfg.Score == "vcdr" || t.cfg.Score == "multitask") {
			continue
		}
		if _, err := train.BuildLoss(train.LossSpec{Name: t.cfg.Loss.Name, Params: t.cfg.Loss.Params}); err != nil {
			ps = append(ps, r.pieceProblem(p+".loss", err))
		}
		if t.name == "segmentation" {
			if _, err := eval.NewPost(postSpecs(t.cfg.Postprocess)); err != nil {
				ps = append(ps, r.pieceProblem(p+".postprocess", err))
			}
		}
	}
	return ps
}
