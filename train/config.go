// Package train is the training loop: batching with a seeded order and a
// prefetching worker pool, losses, optimizers with exported state,
// learning-rate schedules, validation, best-checkpoint selection, early
// stopping, checkpoints with exact resume, progress output and the
// training log, and batched prediction with optional flip TTA.
package train

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/refugelab/refugelab/data"
)

// OptSpec configures the optimizer. Zero fields take the defaults listed
// per field.
type OptSpec struct {
	// Name is sgd, adam or adamw (default adam).
	Name string `yaml:"name" json:"name"`
	// LR is the base learning rate (default 0.001).
	LR float64 `yaml:"lr" json:"lr"`
	// Momentum is the SGD momentum (default 0.9 for sgd).
	Momentum float64 `yaml:"momentum" json:"momentum"`
	// Nesterov turns SGD momentum into Nesterov momentum.
	Nesterov bool `yaml:"nesterov" json:"nesterov"`
	// Beta1, Beta2, Eps are the Adam constants (defaults 0.9, 0.999, 1e-8).
	Beta1 float64 `yaml:"beta1" json:"beta1"`
	Beta2 float64 `yaml:"beta2" json:"beta2"`
	Eps   float64 `yaml:"eps" json:"eps"`
	// WeightDecay is L2 decay added to the gradient (sgd, adam) or
	// decoupled decay (adamw; default 0.01 for adamw, 0 otherwise). Biases
	// and normalisation parameters are never decayed.
	WeightDecay float64 `yaml:"weight_decay" json:"weight_decay"`
}

// SchedSpec configures the learning-rate schedule, evaluated at every step
// from the fractional epoch.
type SchedSpec struct {
	// Name is constant, step, cosine or poly (default constant).
	Name string `yaml:"name" json:"name"`
	// WarmupEpochs of linear warm-up from lr/steps to lr (default 0).
	WarmupEpochs int `yaml:"warmup_epochs" json:"warmup_epochs"`
	// StepEpochs and Gamma: step multiplies the rate by Gamma every
	// StepEpochs epochs (defaults 10, 0.1).
	StepEpochs int     `yaml:"step_epochs" json:"step_epochs"`
	Gamma      float64 `yaml:"gamma" json:"gamma"`
	// Power of the poly schedule (default 0.9).
	Power float64 `yaml:"power" json:"power"`
	// MinLR is the floor of cosine and poly (default 0).
	MinLR float64 `yaml:"min_lr" json:"min_lr"`
}

// LossSpec selects a loss by name with generic parameters (see KnownLosses).
type LossSpec struct {
	Name   string         `yaml:"name" json:"name"`
	Params map[string]any `yaml:"params" json:"params"`
}

// Config is the training loop's configuration.
type Config struct {
	Epochs    int       `yaml:"epochs" json:"epochs"`
	BatchSize int       `yaml:"batch_size" json:"batch_size"`
	Optimizer OptSpec   `yaml:"optimizer" json:"optimizer"`
	Schedule  SchedSpec `yaml:"schedule" json:"schedule"`
	Loss      LossSpec  `yaml:"loss" json:"loss"`
	// ValEvery validates every N epochs (default 1); the last epoch is
	// always validated.
	ValEvery int `yaml:"val_every" json:"val_every"`
	// Monitor is the validation metric selecting the best checkpoint
	// (empty: the first key of the first validation, sorted).
	Monitor string `yaml:"monitor" json:"monitor"`
	// MonitorMode is max or min (default max).
	MonitorMode string `yaml:"monitor_mode" json:"monitor_mode"`
	// Patience stops training after this many validations without
	// improvement (0 = never).
	Patience int `yaml:"patience" json:"patience"`
	// ClipNorm clips the global gradient L2 norm (0 = off).
	ClipNorm float64 `yaml:"clip_norm" json:"clip_norm"`
	// BalancedSampling draws every batch position by first choosing a class
	// uniformly, then a sample of that class (needs a LabeledDataset).
	BalancedSampling bool `yaml:"balanced_sampling" json:"balanced_sampling"`
	// Workers is the number of goroutines preparing examples (default 2).
	Workers int `yaml:"workers" json:"workers"`
}

// Defaults returns c with every zero field replaced by its default.
func (c Config) Defaults() Config {
	if c.Epochs == 0 {
		c.Epochs = 10
	}
	if c.BatchSize == 0 {
		c.BatchSize = 8
	}
	c.Optimizer = c.Optimizer.Defaults()
	c.Schedule = c.Schedule.Defaults()
	if c.ValEvery == 0 {
		c.ValEvery = 1
	}
	if c.MonitorMode == "" {
		c.MonitorMode = "max"
	}
	if c.Workers == 0 {
		c.Workers = 2
	}
	return c
}

// Defaults fills the optimizer defaults.
func (o OptSpec) Defaults() OptSpec {
	if o.Name == "" {
		o.Name = "adam"
	}
	if o.LR == 0 {
		o.LR = 0.001
	}
	switch o.Name {
	case "sgd":
		if o.Momentum == 0 {
			o.Momentum = 0.9
		}
	case "adam", "adamw":
		if o.Beta1 == 0 {
			o.Beta1 = 0.9
		}
		if o.Beta2 == 0 {
			o.Beta2 = 0.999
		}
		if o.Eps == 0 {
			o.Eps = 1e-8
		}
		if o.Name == "adamw" && o.WeightDecay == 0 {
			o.WeightDecay = 0.01
		}
	}
	return o
}

// Defaults fills the schedule defaults.
func (s SchedSpec) Defaults() SchedSpec {
	if s.Name == "" {
		s.Name = "constant"
	}
	if s.StepEpochs == 0 {
		s.StepEpochs = 10
	}
	if s.Gamma == 0 {
		s.Gamma = 0.1
	}
	if s.Power == 0 {
		s.Power = 0.9
	}
	return s
}

var knownOpts = []string{"adam", "adamw", "sgd"}
var knownScheds = []string{"constant", "cosine", "poly", "step"}

// KnownOptimizers lists the optimizer names.
func KnownOptimizers() []string { return append([]string(nil), knownOpts...) }

// KnownSchedules lists the schedule names.
func KnownSchedules() []string { return append([]string(nil), knownScheds...) }

func has(l []string, v string) bool {
	for _, x := range l {
		if x == v {
			return true
		}
	}
	return false
}

// Validate checks the (defaulted) optimizer spec.
func (o OptSpec) Validate() error {
	o = o.Defaults()
	if !has(knownOpts, o.Name) {
		return fmt.Errorf("optimizer.name: %w", data.UnknownNameError("optimizer", o.Name, knownOpts))
	}
	if !(o.LR > 0) || math.IsInf(o.LR, 0) {
		return fmt.Errorf("optimizer.lr: %g must be > 0", o.LR)
	}
	if o.Momentum < 0 || o.Momentum >= 1 {
		return fmt.Errorf("optimizer.momentum: %g out of range (expected 0 <= m < 1)", o.Momentum)
	}
	if o.Nesterov && o.Name != "sgd" {
		return fmt.Errorf("optimizer.nesterov: only sgd has Nesterov momentum (optimizer is %s)", o.Name)
	}
	if o.Beta1 < 0 || o.Beta1 >= 1 {
		return fmt.Errorf("optimizer.beta1: %g out of range (expected 0 <= b < 1)", o.Beta1)
	}
	if o.Beta2 < 0 || o.Beta2 >= 1 {
		return fmt.Errorf("optimizer.beta2: %g out of range (expected 0 <= b < 1)", o.Beta2)
	}
	if o.Eps < 0 {
		return fmt.Errorf("optimizer.eps: %g must be >= 0", o.Eps)
	}
	if o.WeightDecay < 0 {
		return fmt.Errorf("optimizer.weight_decay: %g must be >= 0", o.WeightDecay)
	}
	return nil
}

// Validate checks the (defaulted) schedule spec.
func (s SchedSpec) Validate() error {
	s = s.Defaults()
	if !has(knownScheds, s.Name) {
		return fmt.Errorf("schedule.name: %w", data.UnknownNameError("schedule", s.Name, knownScheds))
	}
	if s.WarmupEpochs < 0 {
		return fmt.Errorf("schedule.warmup_epochs: %d must be >= 0", s.WarmupEpochs)
	}
	if s.StepEpochs < 1 {
		return fmt.Errorf("schedule.step_epochs: %d must be >= 1", s.StepEpochs)
	}
	if s.Gamma <= 0 || s.Gamma > 1 {
		return fmt.Errorf("schedule.gamma: %g out of range (expected 0 < gamma <= 1)", s.Gamma)
	}
	if s.Power <= 0 {
		return fmt.Errorf("schedule.power: %g must be > 0", s.Power)
	}
	if s.MinLR < 0 {
		return fmt.Errorf("schedule.min_lr: %g must be >= 0", s.MinLR)
	}
	return nil
}

// Validate checks the whole (defaulted) config, naming the bad key.
func (c Config) Validate() error {
	c = c.Defaults()
	if c.Epochs < 1 {
		return fmt.Errorf("train.epochs: %d must be >= 1", c.Epochs)
	}
	if c.BatchSize < 1 {
		return fmt.Errorf("train.batch_size: %d must be >= 1", c.BatchSize)
	}
	if err := c.Optimizer.Validate(); err != nil {
		return fmt.Errorf("train.%w", err)
	}
	if err := c.Schedule.Validate(); err != nil {
		return fmt.Errorf("train.%w", err)
	}
	if c.Schedule.WarmupEpochs >= c.Epochs && c.Schedule.WarmupEpochs > 0 {
		return fmt.Errorf("train.schedule.warmup_epochs: %d must be below train.epochs %d", c.Schedule.WarmupEpochs, c.Epochs)
	}
	if _, err := BuildLoss(c.Loss); err != nil {
		return fmt.Errorf("train.%w", err)
	}
	if c.ValEvery < 1 {
		return fmt.Errorf("train.val_every: %d must be >= 1", c.ValEvery)
	}
	if c.MonitorMode != "max" && c.MonitorMode != "min" {
		return fmt.Errorf("train.monitor_mode: %q, expected max or min", c.MonitorMode)
	}
	if c.Patience < 0 {
		return fmt.Errorf("train.patience: %d must be >= 0", c.Patience)
	}
	if c.ClipNorm < 0 {
		return fmt.Errorf("train.clip_norm: %g must be >= 0", c.ClipNorm)
	}
	if c.Workers < 1 || c.Workers > 64 {
		return fmt.Errorf("train.workers: %d out of range (expected 1..64)", c.Workers)
	}
	return nil
}

// Describe is one sentence naming the optimizer and its parameters.
func (o OptSpec) Describe() string {
	o = o.Defaults()
	switch o.Name {
	case "sgd":
		kind := "momentum"
		if o.Nesterov {
			kind = "Nesterov momentum"
		}
		wd := ""
		if o.WeightDecay > 0 {
			wd = fmt.Sprintf(" and L2 weight decay %g", o.WeightDecay)
		}
		return fmt.Sprintf("Stochastic gradient descent with %s %g%s, learning rate %g.", kind, o.Momentum, wd, o.LR)
	case "adamw":
		return fmt.Sprintf("AdamW (Loshchilov & Hutter) with learning rate %g, betas (%g, %g), eps %g and decoupled weight decay %g.", o.LR, o.Beta1, o.Beta2, o.Eps, o.WeightDecay)
	default:
		wd := ""
		if o.WeightDecay > 0 {
			wd = fmt.Sprintf(" and L2 weight decay %g", o.WeightDecay)
		}
		return fmt.Sprintf("Adam (Kingma & Ba) with learning rate %g, betas (%g, %g), eps %g%s.", o.LR, o.Beta1, o.Beta2, o.Eps, wd)
	}
}

// Describe is one sentence naming the schedule and its parameters.
func (s SchedSpec) Describe() string {
	s = s.Defaults()
	var b string
	switch s.Name {
	case "step":
		b = fmt.Sprintf("The learning rate is multiplied by %g every %d epochs", s.Gamma, s.StepEpochs)
	case "cosine":
		b = fmt.Sprintf("The learning rate follows a cosine decay to %g over the training", s.MinLR)
	case "poly":
		b = fmt.Sprintf("The learning rate follows a polynomial decay with power %g to %g over the training", s.Power, s.MinLR)
	default:
		b = "The learning rate is constant"
	}
	if s.WarmupEpochs > 0 {
		b += fmt.Sprintf(", after a linear warm-up over the first %d epochs", s.WarmupEpochs)
	}
	return b + ", updated at every step."
}

// Describe is one sentence summarising the loop's settings.
func (c Config) Describe() string {
	c = c.Defaults()
	s := fmt.Sprintf("Training runs for up to %d epochs with batches of %d in a seeded order", c.Epochs, c.BatchSize)
	if c.BalancedSampling {
		s += " drawn class-balanced"
	}
	mon := c.Monitor
	if mon == "" {
		mon = "the task's validation metric"
	}
	s += fmt.Sprintf(", validating every %d epoch(s); the checkpoint with the best %s (%s) is kept", c.ValEvery, mon, c.MonitorMode)
	if c.Patience > 0 {
		s += fmt.Sprintf(", and training stops early after %d validations without improvement", c.Patience)
	}
	if c.ClipNorm > 0 {
		s += fmt.Sprintf("; gradients are clipped to a global L2 norm of %g", c.ClipNorm)
	}
	return s + "."
}

// DescribeAll returns the sentences of the loop, optimizer, schedule and
// loss, in that order.
func (c Config) DescribeAll() []string {
	c = c.Defaults()
	out := []string{c.Describe(), c.Optimizer.Describe(), c.Schedule.Describe()}
	if l, err := BuildLoss(c.Loss); err == nil {
		out = append(out, l.Describe())
	}
	return out
}

// paramReader reads generic params strictly: unknown keys and wrong types
// are errors naming "<piece>.<param>".
type paramReader struct {
	piece string
	p     map[string]any
	used  map[string]bool
	err   error
}

func newParams(piece string, p map[string]any) *paramReader {
	return &paramReader{piece: piece, p: p, used: map[string]bool{}}
}

func (r *paramReader) float(key string, def float64, ok func(float64) bool, want string) float64 {
	r.used[key] = true
	v, present := r.p[key]
	if !present || r.err != nil {
		return def
	}
	var f float64
	switch t := v.(type) {
	case float64:
		f = t
	case float32:
		f = float64(t)
	case int:
		f = float64(t)
	case int64:
		f = float64(t)
	default:
		r.err = fmt.Errorf("%s.%s: %v is %T, expected a number", r.piece, key, v, v)
		return def
	}
	if ok != nil && !ok(f) {
		r.err = fmt.Errorf("%s.%s: %g out of range (expected %s)", r.piece, key, f, want)
		return def
	}
	return f
}

func (r *paramReader) floats(key string) []float64 {
	r.used[key] = true
	v, present := r.p[key]
	if !present || r.err != nil {
		return nil
	}
	l, ok := v.([]any)
	if !ok {
		if fl, ok2 := v.([]float64); ok2 {
			return fl
		}
		r.err = fmt.Errorf("%s.%s: %v is %T, expected a list of numbers", r.piece, key, v, v)
		return nil
	}
	out := make([]float64, len(l))
	for i, x := range l {
		switch t := x.(type) {
		case float64:
			out[i] = t
		case int:
			out[i] = float64(t)
		default:
			r.err = fmt.Errorf("%s.%s[%d]: %v is %T, expected a number", r.piece, key, i, x, x)
			return nil
		}
	}
	return out
}

func (r *paramReader) done() error {
	if r.err != nil {
		return r.err
	}
	known := make([]string, 0, len(r.used))
	for k := range r.used {
		known = append(known, k)
	}
	sort.Strings(known)
	keys := make([]string, 0, len(r.p))
	for k := range r.p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !r.used[k] {
			if len(known) == 0 {
				return fmt.Errorf("%s.%s: unknown parameter (this piece takes none)", r.piece, k)
			}
			return fmt.Errorf("%s.%s: unknown parameter (known: %s)", r.piece, k, strings.Join(known, ", "))
		}
	}
	return nil
}
