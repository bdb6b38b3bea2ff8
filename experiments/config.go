// Package experiments owns the YAML experiment schema (typed structs,
// defaults, --set overrides, base composition and strict validation), the
// run folder and its manifest, and the runner that wires the stages
// data -> augment -> nn/train -> eval -> report.
package experiments

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Config is one experiment. Every field has a default (see Default), so the
// resolved config saved in a run folder is complete.
type Config struct {
	Name       string           `yaml:"name"`
	Seed       uint64           `yaml:"seed"`
	Base       []string         `yaml:"base,omitempty"`
	Data       DataConfig       `yaml:"data"`
	Preprocess PreprocessConfig `yaml:"preprocess"`
	Augment    []AugmentConfig  `yaml:"augment"`
	Tasks      TasksConfig      `yaml:"tasks"`
	Train      TrainConfig      `yaml:"train"`
	Eval       EvalConfig       `yaml:"eval"`
	Report     ReportConfig     `yaml:"report"`
}

// DataConfig declares the data sources and how they are split.
type DataConfig struct {
	Sources []SourceConfig `yaml:"sources"`
	Split   SplitConfig    `yaml:"split"`
	// OnProblem is "fail" (refuse to train on data with problems) or "drop"
	// (drop the affected samples; the report states it).
	OnProblem string `yaml:"on_problem"`
	// CacheDir holds the preprocessing cache ("" = no cache).
	CacheDir string `yaml:"cache_dir"`
}

// SourceConfig is one data source.
type SourceConfig struct {
	Name   string         `yaml:"name"`
	Format string         `yaml:"format"`
	Root   string         `yaml:"root"`
	Subset string         `yaml:"subset"`
	Params map[string]any `yaml:"params"`
}

// SplitConfig says how samples are partitioned into train, val and test.
type SplitConfig struct {
	Method       string   `yaml:"method"`
	Val          float64  `yaml:"val"`
	Test         float64  `yaml:"test"`
	Stratify     []string `yaml:"stratify"`
	K            int      `yaml:"k"`
	Fold         int      `yaml:"fold"`
	TrainSources []string `yaml:"train_sources"`
	ValSources   []string `yaml:"val_sources"`
	TestSources  []string `yaml:"test_sources"`
	File         string   `yaml:"file"`
}

// StepConfig is one registered processing step with its parameters.
type StepConfig struct {
	Name   string         `yaml:"name"`
	Params map[string]any `yaml:"params"`
}

// PreprocessConfig holds the deterministic preprocessing pipelines: one for
// tasks whose input is the full image, one for optic-nerve-head ROI inputs.
type PreprocessConfig struct {
	Full []StepConfig `yaml:"full"`
	ROI  []StepConfig `yaml:"roi"`
}

// AugmentConfig is one random transform applied to training samples.
type AugmentConfig struct {
	Name   string         `yaml:"name"`
	P      float64        `yaml:"p"`
	Params map[string]any `yaml:"params"`
}

// TasksConfig declares the networks. A nil task is not run.
type TasksConfig struct {
	Classification *TaskConfig `yaml:"classification"`
	Segmentation   *TaskConfig `yaml:"segmentation"`
	Fovea          *TaskConfig `yaml:"fovea"`
	// Localizer finds the disc centre on the full image; it is trained
	// whenever a task uses "roi" input, and centres the ROI at prediction
	// (ground truth is never used to centre a prediction).
	Localizer *TaskConfig `yaml:"localizer"`
}

// TaskConfig configures one task's network, loss, training and decoding.
type TaskConfig struct {
	Enabled bool `yaml:"enabled"`
	// Input is "full" (the whole image) or "roi" (optic-nerve-head crop).
	Input string `yaml:"input"`
	// Score (classification only) is "network", "vcdr" (score = the vCDR
	// of the segmentation task's prediction) or "multitask" (score = the
	// glaucoma head of the segmentation task's multitask network, which
	// shares its encoder).
	Score   string        `yaml:"score"`
	Network NetworkConfig `yaml:"network"`
	Loss    StepConfig    `yaml:"loss"`
	// Train overrides the top-level train block for this task (keys given
	// here win; the resolved config shows the full block).
	Train       *TrainConfig `yaml:"train" refuge:"overlay"`
	Postprocess []StepConfig `yaml:"postprocess"`
	// Decode (fovea, localizer) is "peak" or "soft-argmax".
	Decode string `yaml:"decode"`
	// Sigma is the Gaussian heatmap target's standard deviation in network
	// input pixels (fovea, localizer).
	Sigma float64 `yaml:"sigma"`
	// TTA averages the prediction with that of the horizontally flipped image.
	TTA bool `yaml:"tta"`
}

// NetworkConfig selects and sizes an architecture.
type NetworkConfig struct {
	Arch     string  `yaml:"arch"`
	Base     int     `yaml:"base"`
	Depth    int     `yaml:"depth"`
	Norm     string  `yaml:"norm"`
	Groups   int     `yaml:"groups"`
	Dropout  float64 `yaml:"dropout"`
	Init     string  `yaml:"init"`
	InitFrom string  `yaml:"init_from"`
	// Dilation of the U-Net bottleneck convolutions (1 = none).
	Dilation int `yaml:"dilation"`
	// Activation is relu or leaky-relu (with LeakySlope).
	Activation string  `yaml:"activation"`
	LeakySlope float64 `yaml:"leaky_slope"`
}

// TrainConfig is the training loop's configuration.
type TrainConfig struct {
	Epochs    int             `yaml:"epochs"`
	BatchSize int             `yaml:"batch_size"`
	Optimizer OptimizerConfig `yaml:"optimizer"`
	Schedule  ScheduleConfig  `yaml:"schedule"`
	ValEvery  int             `yaml:"val_every"`
	// Monitor is the validation metric that selects the best checkpoint
	// ("" = the task's challenge metric).
	Monitor  string  `yaml:"monitor"`
	Patience int     `yaml:"patience"`
	ClipNorm float64 `yaml:"clip_norm"`
	Balanced bool    `yaml:"balanced_sampling"`
	Workers  int     `yaml:"workers"`
}

// OptimizerConfig configures the optimizer.
type OptimizerConfig struct {
	Name        string  `yaml:"name"`
	LR          float64 `yaml:"lr"`
	Momentum    float64 `yaml:"momentum"`
	Nesterov    bool    `yaml:"nesterov"`
	Beta1       float64 `yaml:"beta1"`
	Beta2       float64 `yaml:"beta2"`
	Eps         float64 `yaml:"eps"`
	WeightDecay float64 `yaml:"weight_decay"`
}

// ScheduleConfig configures the learning-rate schedule.
type ScheduleConfig struct {
	Name         string  `yaml:"name"`
	WarmupEpochs int     `yaml:"warmup_epochs"`
	StepEpochs   int     `yaml:"step_epochs"`
	Gamma        float64 `yaml:"gamma"`
	Power        float64 `yaml:"power"`
	MinLR        float64 `yaml:"min_lr"`
}

// EvalConfig says what is evaluated and how submissions are written.
type EvalConfig struct {
	Splits     []string         `yaml:"splits"`
	Submission SubmissionConfig `yaml:"submission"`
	Bootstrap  int              `yaml:"bootstrap"`
	Strict     bool             `yaml:"strict"`
	// Qualitative is how many best and worst validation cases the report
	// figure shows.
	Qualitative int `yaml:"qualitative"`
}

// SubmissionConfig selects the submission layout.
type SubmissionConfig struct {
	Format string `yaml:"format"`
	Split  string `yaml:"split"`
	Zip    bool   `yaml:"zip"`
}

// ReportConfig is the report's title block and formats.
type ReportConfig struct {
	Title   string   `yaml:"title"`
	Team    string   `yaml:"team"`
	Authors []string `yaml:"authors"`
	CodeURL string   `yaml:"code_url"`
	Formats []string `yaml:"formats"`
}

// DefaultTrain is the training block every config starts from.
func DefaultTrain() TrainConfig {
	return TrainConfig{
		Epochs:    20,
		BatchSize: 8,
		Optimizer: OptimizerConfig{Name: "adam", LR: 1e-3, Momentum: 0.9, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8},
		Schedule:  ScheduleConfig{Name: "cosine", Gamma: 0.1, Power: 0.9, StepEpochs: 10},
		ValEvery:  1,
		Patience:  0,
		Workers:   2,
	}
}

// Default returns the configuration every experiment file is laid over.
// Tasks are absent by default: a config turns on what it declares.
func Default() Config {
	return Config{
		Seed: 1,
		Data: DataConfig{
			Split:     SplitConfig{Method: "stratified", Val: 0.2, Test: 0.2, Stratify: []string{"label", "source"}, K: 5},
			OnProblem: "fail",
		},
		Preprocess: PreprocessConfig{
			Full: []StepConfig{{Name: "resize", Params: map[string]any{"size": 64}}, {Name: "normalize", Params: map[string]any{"mode": "per-image"}}},
			ROI:  []StepConfig{{Name: "roi", Params: map[string]any{"size": 64, "window": 80}}, {Name: "normalize", Params: map[string]any{"mode": "per-image"}}},
		},
		Train: DefaultTrain(),
		Eval: EvalConfig{
			Splits:      []string{"val", "test"},
			Submission:  SubmissionConfig{Format: "refuge2018", Split: "test", Zip: true},
			Bootstrap:   1000,
			Qualitative: 2,
		},
		Report: ReportConfig{Formats: []string{"md", "tex", "html"}},
	}
}

// defaultTask returns the defaults of a task that a config declares.
func defaultTask(kind string) TaskConfig {
	t := TaskConfig{Enabled: true, Input: "full", Network: NetworkConfig{Base: 8, Depth: 3, Norm: "group", Groups: 4, Init: "he", Dilation: 1, Activation: "relu"}}
	switch kind {
	case "classification":
		t.Input = "roi"
		t.Score = "network"
		t.Network.Arch = "cnn"
		t.Loss = StepConfig{Name: "bce", Params: map[string]any{"pos_weight": 1.0}}
		t.TTA = true
	case "segmentation":
		t.Input = "roi"
		t.Network.Arch = "unet"
		t.Loss = StepConfig{Name: "dice-ce", Params: map[string]any{"dice_weight": 1.0, "ce_weight": 1.0}}
		t.Postprocess = []StepConfig{{Name: "argmax"}, {Name: "largest-component"}, {Name: "fill-holes"}, {Name: "cup-in-disc"}}
		t.TTA = true
	case "fovea", "localizer":
		t.Network.Arch = "heatmap"
		t.Loss = StepConfig{Name: "heatmap-mse"}
		t.Decode = "soft-argmax"
		t.Sigma = 2
	}
	return t
}

// Resolved is a loaded experiment: the typed config plus where each key came
// from, for error messages.
type Resolved struct {
	Config    Config
	File      string
	Overrides []string
	dec       *decoder
}

// Load reads an experiment file, composes its base files, applies the
// --set overrides and decodes it strictly over the defaults. All problems
// are returned together as a *ConfigError.
func Load(path string, overrides []string) (*Resolved, error) {
	root, origin, err := loadComposed(path, map[string]bool{})
	if err != nil {
		return nil, &ConfigError{Msg: err.Error()}
	}
	dec := newDecoder(path)
	for n, f := range origin {
		dec.origin[n] = f
	}
	for _, o := range overrides {
		if err := applyOverride(root, o, dec); err != nil {
			dec.problems = append(dec.problems, Problem{File: "--set " + o, Msg: err.Error()})
		}
	}
	cfg := Default()
	// Tasks named in the file start from their own defaults.
	if tasks := lookup(root, "tasks"); tasks != nil && tasks.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(tasks.Content); i += 2 {
			t := defaultTask(tasks.Content[i].Value)
			switch tasks.Content[i].Value {
			case "classification":
				cfg.Tasks.Classification = &t
			case "segmentation":
				cfg.Tasks.Segmentation = &t
			case "fovea":
				cfg.Tasks.Fovea = &t
			case "localizer":
				cfg.Tasks.Localizer = &t
			}
		}
	}
	dec.decode(root, reflectValue(&cfg), "")
	// A task on the optic-nerve-head region needs the disc localizer, which
	// centres the region at prediction time.
	if cfg.Tasks.Localizer == nil {
		for _, t := range taskList(&cfg) {
			if t.cfg.Enabled && t.cfg.Input == "roi" {
				l := defaultTask("localizer")
				cfg.Tasks.Localizer = &l
				break
			}
		}
	}
	// Per-task train blocks: the global block, then the task's keys.
	for _, tk := range taskList(&cfg) {
		tc := *tk.cfg
		tr := cfg.Train
		tr.Optimizer, tr.Schedule = cfg.Train.Optimizer, cfg.Train.Schedule
		if n, ok := dec.overlays["tasks."+tk.name+".train"]; ok {
			dec.decode(n, reflectValue(&tr), "tasks."+tk.name+".train")
		}
		tc.Train = &tr
		*tk.cfg = tc
	}
	cfg.Base = nil
	normalizeMaps(&cfg)
	r := &Resolved{Config: cfg, File: path, Overrides: overrides, dec: dec}
	dec.problems = append(dec.problems, r.validate()...)
	if len(dec.problems) > 0 {
		sortProblems(dec.problems)
		return r, &ConfigError{Problems: dec.problems}
	}
	return r, nil
}

type namedTask struct {
	name string
	cfg  *TaskConfig
}

// taskList returns the declared tasks in a fixed order.
func taskList(c *Config) []namedTask {
	var out []namedTask
	for _, t := range []namedTask{{"localizer", c.Tasks.Localizer}, {"segmentation", c.Tasks.Segmentation},
		{"classification", c.Tasks.Classification}, {"fovea", c.Tasks.Fovea}} {
		if t.cfg != nil {
			out = append(out, t)
		}
	}
	return out
}

// loadComposed parses a YAML file and merges its `base:` files under it
// (deep merge of mappings, the child wins, lists are replaced).
func loadComposed(path string, visiting map[string]bool) (*yaml.Node, map[*yaml.Node]string, error) {
	abs, _ := filepath.Abs(path)
	if visiting[abs] {
		return nil, nil, fmt.Errorf("%s: base files include each other in a cycle", path)
	}
	visiting[abs] = true
	defer delete(visiting, abs)
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("%s: config file not found (give the path to an experiment YAML, e.g. configs/demo.yaml)", path)
		}
		return nil, nil, fmt.Errorf("%s: %v", path, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			return nil, nil, fmt.Errorf("%s:%s: YAML syntax error at or just after this line: %s", path, m[1], m[2])
		}
		return nil, nil, fmt.Errorf("%s: YAML syntax error: %s", path, msg)
	}
	if len(doc.Content) == 0 {
		return nil, nil, fmt.Errorf("%s: the file is empty (expected an experiment mapping with name, data, tasks, ...)", path)
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, nil, fmt.Errorf("%s:%d: expected a mapping of experiment keys at the top level", path, root.Line)
	}
	origin := map[*yaml.Node]string{}
	mark(root, path, origin)
	base := lookup(root, "base")
	if base == nil {
		return root, origin, nil
	}
	var files []*yaml.Node
	switch base.Kind {
	case yaml.ScalarNode:
		files = []*yaml.Node{base}
	case yaml.SequenceNode:
		files = base.Content
	default:
		return nil, nil, fmt.Errorf("%s:%d: base: expected a file name or a list of file names", path, base.Line)
	}
	var merged *yaml.Node
	for _, f := range files {
		p := f.Value
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(path), p)
		}
		bn, bo, err := loadComposed(p, visiting)
		if err != nil {
			return nil, nil, fmt.Errorf("%s:%d: base: %w", path, f.Line, err)
		}
		for k, v := range bo {
			origin[k] = v
		}
		if merged == nil {
			merged = bn
		} else {
			merged = mergeNodes(merged, bn)
		}
	}
	removeKey(root, "base")
	return mergeNodes(merged, root), origin, nil
}

func mark(n *yaml.Node, file string, origin map[*yaml.Node]string) {
	origin[n] = file
	for _, c := range n.Content {
		mark(c, file, origin)
	}
}

// mergeNodes deep-merges mapping b over mapping a (b wins).
func mergeNodes(a, b *yaml.Node) *yaml.Node {
	if a == nil || a.Kind != yaml.MappingNode || b.Kind != yaml.MappingNode {
		return b
	}
	out := &yaml.Node{Kind: yaml.MappingNode, Tag: a.Tag, Line: a.Line, Column: a.Column}
	out.Content = append(out.Content, a.Content...)
	for i := 0; i+1 < len(b.Content); i += 2 {
		k, v := b.Content[i], b.Content[i+1]
		found := false
		for j := 0; j+1 < len(out.Content); j += 2 {
			if out.Content[j].Value == k.Value {
				out.Content[j] = k
				out.Content[j+1] = mergeNodes(out.Content[j+1], v)
				found = true
				break
			}
		}
		if !found {
			out.Content = append(out.Content, k, v)
		}
	}
	return out
}

func lookup(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func removeKey(m *yaml.Node, key string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}

// applyOverride sets key.path=value in the node tree. List elements are
// addressed by index: augment.0.p=0.3 or augment[0].p=0.3.
func applyOverride(root *yaml.Node, o string, dec *decoder) error {
	eq := strings.IndexByte(o, '=')
	if eq <= 0 {
		return fmt.Errorf("expected key=value (e.g. train.optimizer.lr=0.0005)")
	}
	key, val := o[:eq], o[eq+1:]
	key = strings.NewReplacer("[", ".", "]", "").Replace(key)
	parts := strings.Split(key, ".")
	var vdoc yaml.Node
	if err := yaml.Unmarshal([]byte(val), &vdoc); err != nil || len(vdoc.Content) == 0 {
		vdoc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.ScalarNode, Tag: "!!str", Value: val}}}
	}
	vn := vdoc.Content[0]
	mark(vn, "--set "+o, dec.origin)
	cur := root
	for i, p := range parts {
		last := i == len(parts)-1
		switch cur.Kind {
		case yaml.MappingNode:
			next := lookup(cur, p)
			if last {
				if next != nil {
					for j := 0; j+1 < len(cur.Content); j += 2 {
						if cur.Content[j].Value == p {
							cur.Content[j+1] = vn
						}
					}
				} else {
					kn := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: p}
					mark(kn, "--set "+o, dec.origin)
					cur.Content = append(cur.Content, kn, vn)
				}
				return nil
			}
			if next == nil {
				kn := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: p}
				next = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
				mark(kn, "--set "+o, dec.origin)
				mark(next, "--set "+o, dec.origin)
				cur.Content = append(cur.Content, kn, next)
			}
			cur = next
		case yaml.SequenceNode:
			idx, err := strconv.Atoi(p)
			if err != nil || idx < 0 || idx >= len(cur.Content) {
				return fmt.Errorf("%s: %q is not an index of this list (it has %d elements)", strings.Join(parts[:i+1], "."), p, len(cur.Content))
			}
			if last {
				cur.Content[idx] = vn
				return nil
			}
			cur = cur.Content[idx]
		default:
			return fmt.Errorf("%s: is a single value, it has no key %q", strings.Join(parts[:i], "."), p)
		}
	}
	return nil
}

// Marshal renders the resolved config as YAML.
func (c *Config) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	enc.Close()
	return buf.Bytes(), nil
}

// yamlLine splits yaml.v3's "line N: message".
var yamlLine = regexp.MustCompile(`^line (\d+): (.*)$`)

// UsageError is a bad command line: the command exits with status 2.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// normalizeMaps replaces nil parameter maps by empty ones, so a config and
// its saved, re-loaded copy are equal value for value.
func normalizeMaps(c *Config) {
	fix := func(m *map[string]any) {
		if *m == nil {
			*m = map[string]any{}
		}
	}
	for i := range c.Data.Sources {
		fix(&c.Data.Sources[i].Params)
	}
	for _, l := range [][]StepConfig{c.Preprocess.Full, c.Preprocess.ROI} {
		for i := range l {
			fix(&l[i].Params)
		}
	}
	for i := range c.Augment {
		fix(&c.Augment[i].Params)
	}
	for _, t := range taskList(c) {
		fix(&t.cfg.Loss.Params)
		for i := range t.cfg.Postprocess {
			fix(&t.cfg.Postprocess[i].Params)
		}
	}
}
