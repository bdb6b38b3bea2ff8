package experiments

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/refugelab/refugelab/data"
)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// oneOf checks that v is one of the allowed words.
func (r *Resolved) oneOf(ps *[]Problem, path, v string, allowed ...string) {
	if !slices.Contains(allowed, v) {
		*ps = append(*ps, r.dec.at(path, "%q is not allowed (expected one of: %s; did you mean %q?)", v, strings.Join(allowed, ", "), data.Closest(v, allowed)))
	}
}

func (r *Resolved) check(ps *[]Problem, ok bool, path, format string, args ...any) {
	if !ok {
		*ps = append(*ps, r.dec.at(path, format, args...))
	}
}

// validate checks values that the schema's types cannot: ranges, names,
// cross-references, and the registered pieces of each package.
func (r *Resolved) validate() []Problem {
	var ps []Problem
	c := &r.Config
	r.check(&ps, nameRE.MatchString(c.Name), "name", "expected a run name of letters, digits, '.', '_' or '-' (got %q)", c.Name)
	r.check(&ps, len(c.Data.Sources) > 0, "data.sources", "expected at least one data source")
	seen := map[string]bool{}
	for i, s := range c.Data.Sources {
		p := fmt.Sprintf("data.sources[%d]", i)
		r.check(&ps, nameRE.MatchString(s.Name), p+".name", "expected a source name of letters, digits, '.', '_' or '-' (got %q)", s.Name)
		r.check(&ps, !seen[s.Name], p+".name", "source name %q is used twice", s.Name)
		seen[s.Name] = true
		r.check(&ps, s.Format != "", p+".format", "expected a source format")
	}
	sp := c.Data.Split
	r.oneOf(&ps, "data.split.method", sp.Method, "random", "stratified", "kfold", "by-source", "predefined")
	r.check(&ps, sp.Val >= 0 && sp.Val < 1, "data.split.val", "expected a fraction in [0, 1), got %v", sp.Val)
	r.check(&ps, sp.Test >= 0 && sp.Test < 1, "data.split.test", "expected a fraction in [0, 1), got %v", sp.Test)
	r.check(&ps, sp.Val+sp.Test < 1, "data.split", "val + test = %v leaves no training data (expected a sum below 1)", sp.Val+sp.Test)
	for i, s := range sp.Stratify {
		r.oneOf(&ps, fmt.Sprintf("data.split.stratify[%d]", i), s, "label", "source")
	}
	if sp.Method == "kfold" {
		r.check(&ps, sp.K >= 2, "data.split.k", "expected k >= 2 folds, got %d", sp.K)
		r.check(&ps, sp.Fold >= 0 && sp.Fold < sp.K, "data.split.fold", "expected a fold in [0, %d), got %d", sp.K, sp.Fold)
	}
	for _, l := range []struct {
		key  string
		list []string
	}{{"train_sources", sp.TrainSources}, {"val_sources", sp.ValSources}, {"test_sources", sp.TestSources}} {
		for i, n := range l.list {
			r.check(&ps, seen[n], fmt.Sprintf("data.split.%s[%d]", l.key, i), "no source is named %q", n)
		}
	}
	r.oneOf(&ps, "data.on_problem", c.Data.OnProblem, "fail", "drop")
	for i, a := range c.Augment {
		r.check(&ps, a.P >= 0 && a.P <= 1, fmt.Sprintf("augment[%d].p", i), "expected a probability in [0, 1], got %v", a.P)
	}

	tasks := taskList(c)
	enabled := 0
	for _, t := range tasks {
		if t.cfg.Enabled && t.name != "localizer" {
			enabled++
		}
	}
	r.check(&ps, enabled > 0, "tasks", "expected at least one enabled task (classification, segmentation or fovea)")
	for _, t := range tasks {
		p := "tasks." + t.name
		tc := t.cfg
		r.oneOf(&ps, p+".input", tc.Input, "full", "roi")
		if t.name == "localizer" || t.name == "fovea" {
			r.check(&ps, tc.Input == "full", p+".input", "the %s works on the full image (expected \"full\")", t.name)
			r.oneOf(&ps, p+".decode", tc.Decode, "peak", "soft-argmax")
			r.check(&ps, tc.Sigma > 0, p+".sigma", "expected a heatmap sigma > 0 pixels, got %v", tc.Sigma)
		}
		if t.name == "classification" {
			r.oneOf(&ps, p+".score", tc.Score, "network", "vcdr", "multitask")
			if tc.Score == "multitask" && tc.Enabled {
				seg := c.Tasks.Segmentation
				r.check(&ps, seg != nil && seg.Enabled && seg.Network.Arch == "multitask", p+".score", "score \"multitask\" needs an enabled segmentation task with network.arch: multitask (its glaucoma head gives the score)")
			}
			if tc.Score == "vcdr" && tc.Enabled {
				r.check(&ps, c.Tasks.Segmentation != nil && c.Tasks.Segmentation.Enabled, p+".score", "score \"vcdr\" needs an enabled segmentation task")
			}
		}
		if t.name == "segmentation" && tc.Network.Arch == "multitask" {
			r.check(&ps, tc.Loss.Name == "multitask", p+".loss.name", "a multitask network trains with the multitask loss (got %q)", tc.Loss.Name)
		}
		if t.name != "segmentation" && tc.Network.Arch == "multitask" {
			r.check(&ps, false, p+".network.arch", "multitask is the segmentation task's shared-encoder network; use score: multitask on the classification task")
		}
		n := tc.Network
		r.check(&ps, n.Base >= 1, p+".network.base", "expected base channels >= 1, got %d", n.Base)
		r.check(&ps, n.Depth >= 1 && n.Depth <= 6, p+".network.depth", "expected a depth in [1, 6], got %d", n.Depth)
		r.check(&ps, n.Dropout >= 0 && n.Dropout < 1, p+".network.dropout", "expected a dropout rate in [0, 1), got %v", n.Dropout)
		// Only the keys the task sets itself: inherited values are checked
		// (and reported) once, at train.*.
		var own []Problem
		r.checkTrain(&own, p+".train", tc.Train)
		for _, pr := range own {
			if _, ok := r.dec.nodes[pr.Path]; ok {
				ps = append(ps, pr)
			}
		}
	}
	r.checkTrain(&ps, "train", &c.Train)
	for i, s := range c.Eval.Splits {
		r.oneOf(&ps, fmt.Sprintf("eval.splits[%d]", i), s, "val", "test")
	}
	r.oneOf(&ps, "eval.submission.format", c.Eval.Submission.Format, "refuge2018", "refuge2")
	r.oneOf(&ps, "eval.submission.split", c.Eval.Submission.Split, "val", "test")
	r.check(&ps, c.Eval.Bootstrap >= 0, "eval.bootstrap", "expected a number of bootstrap resamples >= 0")
	for i, f := range c.Report.Formats {
		r.oneOf(&ps, fmt.Sprintf("report.formats[%d]", i), f, "md", "tex", "html")
	}
	ps = append(ps, r.validatePieces()...)
	return ps
}

func (r *Resolved) checkTrain(ps *[]Problem, p string, t *TrainConfig) {
	if t == nil {
		return
	}
	r.check(ps, t.Epochs >= 1, p+".epochs", "expected epochs >= 1, got %d", t.Epochs)
	r.check(ps, t.BatchSize >= 1, p+".batch_size", "expected a batch size >= 1, got %d", t.BatchSize)
	r.oneOf(ps, p+".optimizer.name", t.Optimizer.Name, "sgd", "adam", "adamw")
	r.check(ps, t.Optimizer.LR > 0, p+".optimizer.lr", "expected a learning rate > 0, got %v", t.Optimizer.LR)
	r.check(ps, t.Optimizer.Momentum >= 0 && t.Optimizer.Momentum < 1, p+".optimizer.momentum", "expected momentum in [0, 1), got %v", t.Optimizer.Momentum)
	r.check(ps, t.Optimizer.Beta1 >= 0 && t.Optimizer.Beta1 < 1, p+".optimizer.beta1", "expected beta1 in [0, 1), got %v", t.Optimizer.Beta1)
	r.check(ps, t.Optimizer.Beta2 >= 0 && t.Optimizer.Beta2 < 1, p+".optimizer.beta2", "expected beta2 in [0, 1), got %v", t.Optimizer.Beta2)
	r.check(ps, t.Optimizer.WeightDecay >= 0, p+".optimizer.weight_decay", "expected weight decay >= 0, got %v", t.Optimizer.WeightDecay)
	r.oneOf(ps, p+".schedule.name", t.Schedule.Name, "constant", "step", "cosine", "poly")
	r.check(ps, t.Schedule.WarmupEpochs >= 0 && t.Schedule.WarmupEpochs < t.Epochs || t.Epochs < 1, p+".schedule.warmup_epochs", "expected warm-up epochs in [0, epochs), got %d", t.Schedule.WarmupEpochs)
	r.check(ps, t.ValEvery >= 1, p+".val_every", "expected val_every >= 1, got %d", t.ValEvery)
	r.check(ps, t.Patience >= 0, p+".patience", "expected patience >= 0 (0 = no early stopping), got %d", t.Patience)
	r.check(ps, t.ClipNorm >= 0, p+".clip_norm", "expected clip_norm >= 0 (0 = off), got %v", t.ClipNorm)
	r.check(ps, t.Workers >= 1 && t.Workers <= 64, p+".workers", "expected 1 to 64 data workers, got %d", t.Workers)
}
