package experiments

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/refugelab/refugelab/data"
	"github.com/refugelab/refugelab/eval"
	"github.com/refugelab/refugelab/nn"
)

// weightsHeader is the part of a checkpoint's header.json Predict needs.
type weightsHeader struct {
	Spec nn.NetSpec `json:"spec"`
	In   nn.Shape   `json:"in"`
	OutC int        `json:"out_c"`
}

// loadTrained rebuilds every trained task of a run from its best checkpoint.
func loadTrained(runDir string, cfg *Config) (map[string]*nn.Model, error) {
	models := map[string]*nn.Model{}
	for _, t := range taskList(cfg) {
		dir := filepath.Join(runDir, "checkpoints", t.name, "best")
		b, err := os.ReadFile(filepath.Join(dir, "header.json"))
		if os.IsNotExist(err) {
			continue // not trained in this run (e.g. classification by vCDR)
		}
		if err != nil {
			return nil, err
		}
		var h weightsHeader
		if err := json.Unmarshal(b, &h); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "header.json"), err)
		}
		h.Spec.InitFrom = ""
		m, err := nn.New(h.Spec, h.In, h.OutC, 1, 0)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", dir, err)
		}
		if err := m.Load(dir); err != nil {
			return nil, err
		}
		models[t.name] = m
	}
	if len(models) == 0 {
		return nil, fmt.Errorf("%s: no trained model under checkpoints/<task>/best (is this a finished run folder?)", runDir)
	}
	return models, nil
}

// Predict applies a trained run to new images (a config's sources, or one
// source given as FORMAT:ROOT) and writes a submission in out.
func Predict(runDir, dataArg, out string, o RunOptions, w io.Writer) error {
	if dataArg == "" || out == "" {
		return &UsageError{Msg: "--data and --out are required"}
	}
	if _, err := os.Stat(out); err == nil {
		return &UsageError{Msg: fmt.Sprintf("%s: already exists; predict writes a new folder and never overwrites one", out)}
	}
	r, err := Load(filepath.Join(runDir, "config.yaml"), nil)
	if err != nil {
		return err
	}
	var sources []SourceConfig
	baseDir := "."
	if strings.HasSuffix(dataArg, ".yaml") || strings.HasSuffix(dataArg, ".yml") {
		dr, err := Load(dataArg, nil)
		if err != nil {
			return err
		}
		sources, baseDir = dr.Config.Data.Sources, filepath.Dir(dataArg)
	} else {
		format, root, ok := strings.Cut(dataArg, ":")
		if !ok || format == "" || root == "" {
			return &UsageError{Msg: fmt.Sprintf("--data: expected a config file (.yaml) or FORMAT:ROOT, e.g. refuge2018:/data/REFUGE/Test400 (got %q)", dataArg)}
		}
		sources = []SourceConfig{{Name: format, Format: format, Root: root}}
	}
	p := &pipeline{r: r, cfg: &r.Config, opt: o, byID: map[string]*data.Sample{}}
	for _, s := range sources {
		samples, _, err := data.LoadSource(sourceSpec(s), baseDir, r.Config.Seed)
		if err != nil {
			return fmt.Errorf("source %q: %w", s.Name, err)
		}
		p.samples = append(p.samples, samples...)
	}
	if len(p.samples) == 0 {
		return fmt.Errorf("--data %s: no images found", dataArg)
	}
	if err := p.buildPieces(); err != nil {
		return err
	}
	if p.models, err = loadTrained(runDir, &r.Config); err != nil {
		return err
	}
	pr, err := p.newPredictor()
	if err != nil {
		return err
	}
	// New data has no ground truth to choose the tasks by: predict every task
	// on every image.
	for task := range pr.active {
		for _, s := range p.samples {
			pr.active[task][s.Source] = true
		}
	}
	ks, err := keys(p.samples)
	if err != nil {
		return err
	}
	preds, err := pr.predictImages(p.samples)
	if err != nil {
		return err
	}
	names := map[string]string{}
	for i, s := range p.samples {
		names[ks[i]] = s.Name
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	sub := r.Config.Eval.Submission
	if err := eval.WriteSubmission(out, sub.Format, toPredictions(ks, preds), names, sub.Zip); err != nil {
		return err
	}
	fmt.Fprintf(w, "wrote %s submission for %d images to %s\n", sub.Format, len(p.samples), out)
	return nil
}
