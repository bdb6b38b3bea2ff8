package experiments

import (
	"fmt"
	"path/filepath"

	"github.com/refugelab/refugelab/data"
	"github.com/refugelab/refugelab/nn"
	"github.com/refugelab/refugelab/train"
)

// TrainingSet is one task's training data exactly as `refugelab run` hands
// it to train.Fit, with what Fit needs to train on it.
type TrainingSet struct {
	// Task is the configured task name (segmentation, fovea, ...).
	Task string
	// Data yields the training examples: augmentation, the intensity
	// preprocessing steps and the task's target, per (epoch, index).
	Data train.Dataset
	// Cfg is the task's resolved train block (batch size, workers, loss).
	Cfg train.Config
	// Net is the task's network and In its input shape (channels, height,
	// width of an example); OutC is the number of network outputs.
	Net  nn.NetSpec
	In   nn.Shape
	OutC int
}

// TrainingSets loads the sources of r, splits them and runs the
// preprocessing stage (decoding and the geometric steps of every training
// and validation sample) as a run does, writing nothing but a configured
// data.cache_dir, and returns the training set of every task a run trains,
// in training order, and the number of samples preprocessed. Sources are
// read without the full data check of a run (no per-image validation).
// maxPerSource > 0 keeps maxPerSource samples of each source, evenly
// spaced in ID order, for quick measurements on large sources; 0 keeps
// them all. For measuring the data pipeline (go run ./bench --pipeline).
func TrainingSets(r *Resolved, maxPerSource int) ([]TrainingSet, int, error) {
	p := &pipeline{r: r, cfg: &r.Config, opt: RunOptions{Quiet: true}, byID: map[string]*data.Sample{}}
	for _, spec := range p.sourceSpecs() {
		ss, _, err := data.LoadSource(spec, filepath.Dir(r.File), p.cfg.Seed)
		if err != nil {
			return nil, 0, err
		}
		for _, s := range evenSubset(ss, maxPerSource) {
			p.samples = append(p.samples, s)
			p.byID[s.ID] = s
		}
	}
	if err := p.split(); err != nil {
		return nil, 0, fmt.Errorf("split: %w", err)
	}
	if err := p.preprocess(); err != nil {
		return nil, 0, fmt.Errorf("preprocess: %w", err)
	}
	var out []TrainingSet
	for _, t := range taskList(p.cfg) {
		if !p.trains(t) {
			continue
		}
		tr := p.buildSet(t, p.splits.Train, true)
		if tr.Len() == 0 {
			return nil, 0, fmt.Errorf("task %s: no training sample has %s ground truth (check the sources and the split)", t.name, t.name)
		}
		x0 := tr.pl.Intensity(tr.xs[0])
		out = append(out, TrainingSet{Task: t.name, Data: tr, Cfg: p.trainConfigFor(t), Net: networkSpec(t.cfg.Network),
			In: nn.Shape{C: x0.C, H: x0.H, W: x0.W}, OutC: outChannels(tr.kind)})
	}
	return out, len(p.prep), nil
}

// evenSubset returns n samples of ss spread evenly over its order (all of
// them when n <= 0 or n >= len(ss)).
func evenSubset(ss []*data.Sample, n int) []*data.Sample {
	if n <= 0 || n >= len(ss) {
		return ss
	}
	out := make([]*data.Sample, n)
	for i := range out {
		out[i] = ss[i*len(ss)/n]
	}
	return out
}
