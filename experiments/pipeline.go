package experiments

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"sort"
	"strings"
	"sync"
	"time"

	"github.com/refugelab/refugelab/augment"
	"github.com/refugelab/refugelab/data"
	"github.com/refugelab/refugelab/nn"
	"github.com/refugelab/refugelab/train"
)

// pipeline is one run in progress: the stages share what they produce here.
type pipeline struct {
	r        *Resolved
	cfg      *Config
	dir      string
	opt      RunOptions
	manifest *Manifest
	resume   bool
	start    time.Time

	samples []*data.Sample
	byID    map[string]*data.Sample
	reports []*data.SourceReport
	splits  *data.Splits
	dropped []string

	full, roi *data.Pipeline
	aug       *augment.Pipeline

	// prepared inputs of training and validation samples (geometric steps
	// only; intensity steps are applied after augmentation).
	prep map[string]*prepared

	models  map[string]*nn.Model
	results map[string]*train.FitResult
	// trainCfg is the train.Config each task was trained with.
	trainCfg map[string]train.Config
	logFile  *os.File
	logMu    sync.Mutex
}

// prepared holds the network inputs of one sample, before intensity steps.
type prepared struct {
	fullX *data.Image
	fullM *data.Mask
	fullT data.Affine
	roiX  *data.Image
	roiM  *data.Mask
	roiT  data.Affine
	disc  *data.Point // disc centre in original pixels (ground truth)
	fovea *data.Point
}

func (p *pipeline) logf(format string, args ...any) {
	if p.opt.Quiet {
		return
	}
	fmt.Fprintf(p.opt.stderr(), "[%s] %s\n", time.Since(p.start).Round(time.Second), fmt.Sprintf(format, args...))
}

func (p *pipeline) run() error {
	steps := []struct {
		name string
		f    func() error
	}{
		{"load data", p.loadData},
		{"split", p.split},
		{"preprocess", p.preprocess},
		{"train", p.trainAll},
		{"predict and evaluate", p.predictAll},
		{"describe", p.describe},
		{"report", p.report},
	}
	for _, s := range steps {
		if p.opt.interrupted() {
			return fmt.Errorf("%w before %s (resume with: refugelab run --resume %s)", ErrInterrupted, s.name, p.dir)
		}
		p.logf("%s", s.name)
		if err := s.f(); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return nil
}

// sourceSpec converts a configured source, resolving its root against the
// config file's folder.
func sourceSpec(s SourceConfig) data.SourceSpec {
	return data.SourceSpec{Name: s.Name, Format: s.Format, Root: s.Root, Subset: s.Subset, Params: s.Params}
}

func (p *pipeline) sourceSpecs() []data.SourceSpec {
	var specs []data.SourceSpec
	for _, s := range p.cfg.Data.Sources {
		specs = append(specs, sourceSpec(s))
	}
	return specs
}

// loadData loads every source and checks every sample (pairing, decoding,
// mask codes, sizes, points). Problems stop the run unless the config opts
// into dropping the affected samples.
func (p *pipeline) loadData() error {
	p.byID = map[string]*data.Sample{}
	samples, reports, problems, err := data.CheckSources(p.sourceSpecs(), filepath.Dir(p.r.File), p.cfg.Seed, p.workers())
	if err != nil {
		return err
	}
	p.reports = reports
	for _, rep := range reports {
		p.logf("source %s (%s): %d samples", rep.Name, rep.Format, rep.Images)
		if rep.MaskRule != "" {
			p.manifest.MaskRules = append(p.manifest.MaskRules, rep.Name+": "+rep.MaskRule)
		}
	}
	if len(problems) > 0 && p.cfg.Data.OnProblem != "drop" {
		var b strings.Builder
		for i, pr := range problems {
			if i == 20 {
				fmt.Fprintf(&b, "\n  ... and %d more (refugelab data check CONFIG lists them all)", len(problems)-20)
				break
			}
			fmt.Fprintf(&b, "\n  %s", pr.Error())
		}
		return fmt.Errorf("%d data problems (fix them, or set data.on_problem: drop to leave the affected samples out):%s", len(problems), b.String())
	}
	bad := map[string]string{}
	for _, pr := range problems {
		for _, s := range samples {
			for _, f := range data.SampleFiles(s) {
				if pr.File != "" && pr.File == f {
					bad[s.ID] = pr.Error()
				}
			}
		}
	}
	for _, s := range samples {
		if why, ok := bad[s.ID]; ok {
			p.dropped = append(p.dropped, s.ID+": "+why)
			continue
		}
		p.samples = append(p.samples, s)
		p.byID[s.ID] = s
	}
	if len(problems) > 0 {
		p.logf("dropped %d samples with data problems (data.on_problem: drop)", len(p.dropped))
		p.manifest.Dropped = p.dropped
	}
	// Hash every input file.
	paths := map[string]bool{}
	for _, s := range p.samples {
		for _, f := range data.SampleFiles(s) {
			paths[f] = true
		}
	}
	list := make([]string, 0, len(paths))
	for f := range paths {
		list = append(list, f)
	}
	sort.Strings(list)
	hashes := make([]string, len(list))
	errs := make([]error, len(list))
	parallel(len(list), p.workers(), func(i int) { hashes[i], errs[i] = FileSHA256(list[i]) })
	for i, f := range list {
		if errs[i] != nil {
			return errs[i]
		}
		p.manifest.Inputs[f] = hashes[i]
	}
	return writeJSON(filepath.Join(p.dir, "manifest.json"), p.manifest)
}

func (p *pipeline) workers() int {
	w := p.cfg.Train.Workers
	if w < 1 {
		w = 1
	}
	return w
}

// parallel runs f(0..n-1) on w goroutines. Each index is computed by
// exactly one call, so results stored by index do not depend on scheduling.
func parallel(n, w int, f func(i int)) {
	if w > n {
		w = n
	}
	if w <= 1 {
		for i := 0; i < n; i++ {
			f(i)
		}
		return
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for k := 0; k < w; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}

func (p *pipeline) split() error {
	sp := p.cfg.Data.Split
	spec := data.SplitSpec{Method: sp.Method, Val: sp.Val, Test: sp.Test, Stratify: len(sp.Stratify) > 0, StratifyBy: sp.Stratify, K: sp.K, Fold: sp.Fold,
		TrainSources: sp.TrainSources, ValSources: sp.ValSources, TestSources: sp.TestSources, File: sp.File}
	s, err := data.MakeSplit(p.samples, spec, p.cfg.Seed)
	if err != nil {
		return err
	}
	p.splits = s
	out := map[string]any{
		"method": s.Method, "seed": s.Seed, "criterion": s.Criterion,
		"counts": map[string]int{"train": len(s.Train), "val": len(s.Val), "test": len(s.Test)},
		"train":  s.Train, "val": s.Val, "test": s.Test,
	}
	p.logf("split: %d train, %d val, %d test", len(s.Train), len(s.Val), len(s.Test))
	if p.dir == "" { // data check: nothing is written
		return nil
	}
	return writeJSON(filepath.Join(p.dir, "splits.json"), out)
}

func stepSpecs(in []StepConfig) []data.StepSpec {
	out := make([]data.StepSpec, len(in))
	for i, s := range in {
		out[i] = data.StepSpec{Name: s.Name, Params: s.Params}
	}
	return out
}

func augSpecs(in []AugmentConfig) []augment.Spec {
	out := make([]augment.Spec, len(in))
	for i, s := range in {
		out[i] = augment.Spec{Name: s.Name, Prob: s.P, Params: s.Params}
	}
	return out
}

// needsROI tells whether any enabled task works on the ONH region.
func (p *pipeline) needsROI() bool {
	for _, t := range taskList(p.cfg) {
		if t.cfg.Enabled && t.cfg.Input == "roi" {
			return true
		}
	}
	return false
}

func (p *pipeline) buildPieces() error {
	var err error
	if p.full, err = data.NewPipeline(stepSpecs(p.cfg.Preprocess.Full)); err != nil {
		return fmt.Errorf("preprocess.full: %w", err)
	}
	if p.roi, err = data.NewPipeline(stepSpecs(p.cfg.Preprocess.ROI)); err != nil {
		return fmt.Errorf("preprocess.roi: %w", err)
	}
	if p.aug, err = augment.Build(augSpecs(p.cfg.Augment)); err != nil {
		return fmt.Errorf("augment: %w", err)
	}
	return nil
}

// geometry prepares the geometric part of a pipeline for one image.
func geometry(pl *data.Pipeline, img *data.Image, m *data.Mask, center *data.Point) (*data.Image, *data.Mask, data.Affine, error) {
	t, w, h, err := pl.Geometry(img, center, 0)
	if err != nil {
		return nil, nil, data.Affine{}, err
	}
	x := data.Warp(img, t, w, h, 0)
	var wm *data.Mask
	if m != nil {
		wm = data.WarpMask(m, t, w, h)
	}
	return x, wm, t, nil
}

// groundTruthDisc returns a sample's disc centre from its mask or markup.
func groundTruthDisc(s *data.Sample, m *data.Mask) *data.Point {
	if m != nil {
		if c, _, _, ok := data.DiscGeometry(m); ok {
			return &c
		}
	}
	if s.DiscCenter != nil {
		c := *s.DiscCenter
		return &c
	}
	return nil
}

// preprocess loads every train and validation sample once and keeps its
// prepared inputs. Test samples are prepared at prediction time, from the
// image alone.
func (p *pipeline) preprocess() error {
	if err := p.buildPieces(); err != nil {
		return err
	}
	ids := append(append([]string(nil), p.splits.Train...), p.splits.Val...)
	p.prep = make(map[string]*prepared, len(ids))
	out := make([]*prepared, len(ids))
	errs := make([]error, len(ids))
	roi := p.needsROI()
	bar := newProgress("preprocess", len(ids), p.opt)
	var cache *data.Cache
	if p.cfg.Data.CacheDir != "" {
		cache = &data.Cache{Dir: p.cacheDir()}
		if err := os.MkdirAll(cache.Dir, 0o755); err != nil {
			return fmt.Errorf("data.cache_dir: %w", err)
		}
	}
	parallel(len(ids), p.workers(), func(i int) {
		defer bar.Increment()
		s := p.byID[ids[i]]
		if cache != nil {
			out[i], errs[i] = p.prepareCached(cache, s, roi)
			return
		}
		img, m, err := s.Load()
		if err != nil {
			errs[i] = err
			return
		}
		pr := &prepared{disc: groundTruthDisc(s, m)}
		if s.Fovea != nil {
			f := *s.Fovea
			pr.fovea = &f
		}
		if pr.fullX, pr.fullM, pr.fullT, err = geometry(p.full, img, m, nil); err != nil {
			errs[i] = fmt.Errorf("%s: %w", s.ID, err)
			return
		}
		if roi && pr.disc != nil {
			if pr.roiX, pr.roiM, pr.roiT, err = geometry(p.roi, img, m, pr.disc); err != nil {
				errs[i] = fmt.Errorf("%s: %w", s.ID, err)
				return
			}
		}
		out[i] = pr
	})
	bar.Finish()
	for i, id := range ids {
		if errs[i] != nil {
			return errs[i]
		}
		p.prep[id] = out[i]
	}
	if cache != nil {
		st := cache.Stats()
		p.logf("preprocessing cache %s: %d hits, %d misses, %d damaged entries rebuilt", cache.Dir, st.Hits, st.Misses, st.Rebuilt)
	}
	return nil
}

// cacheDir resolves data.cache_dir against the config file's folder.
func (p *pipeline) cacheDir() string {
	d := p.cfg.Data.CacheDir
	if !filepath.IsAbs(d) {
		d = filepath.Join(filepath.Dir(p.r.File), d)
	}
	return d
}

// prepareCached prepares a sample through the .npy cache: the ground-truth
// disc centre (stored losslessly as the bits of two float64), the full-image
// input and the ROI input, each keyed by the source files' hashes and the
// pipeline. A warm cache decodes nothing.
func (p *pipeline) prepareCached(cache *data.Cache, s *data.Sample, roi bool) (*prepared, error) {
	key, err := data.SampleCacheKey(s, p.full, "gt-disc-centre-v1")
	if err != nil {
		return nil, err
	}
	vals, _, err := cache.GetOrCompute(key, func() ([]float32, []int, error) {
		_, m, err := s.Load()
		if err != nil {
			return nil, nil, err
		}
		c := groundTruthDisc(s, m)
		if c == nil {
			return []float32{0}, []int{1}, nil
		}
		v := append([]float32{1}, f64bits(c.X)...)
		v = append(v, f64bits(c.Y)...)
		return v, []int{9}, nil
	})
	if err != nil {
		return nil, err
	}
	pr := &prepared{}
	if len(vals) == 9 && vals[0] == 1 {
		pr.disc = &data.Point{X: f64from(vals[1:5]), Y: f64from(vals[5:9])}
	}
	if s.Fovea != nil {
		f := *s.Fovea
		pr.fovea = &f
	}
	full, err := cache.PrepareSample(p.full, s, nil, 0, true)
	if err != nil {
		return nil, err
	}
	pr.fullX, pr.fullM, pr.fullT = full.X, full.M, full.T
	if roi && pr.disc != nil {
		r, err := cache.PrepareSample(p.roi, s, pr.disc, 0, true)
		if err != nil {
			return nil, err
		}
		pr.roiX, pr.roiM, pr.roiT = r.X, r.M, r.T
	}
	return pr, nil
}

// f64bits splits a float64's bits into four 16-bit integers held exactly
// by float32 values, so a cache of float32 arrays stores it losslessly.
func f64bits(v float64) []float32 {
	b := math.Float64bits(v)
	return []float32{float32(b >> 48), float32(b >> 32 & 0xffff), float32(b >> 16 & 0xffff), float32(b & 0xffff)}
}

// f64from is the inverse of f64bits.
func f64from(v []float32) float64 {
	return math.Float64frombits(uint64(v[0])<<48 | uint64(v[1])<<32 | uint64(v[2])<<16 | uint64(v[3]))
}

// taskKind is the engine's task for a configured task.
func taskKind(name string) string {
	switch name {
	case "classification":
		return "classification"
	case "segmentation":
		return "segmentation"
	}
	return "heatmap"
}

// hasGT tells whether a sample carries the ground truth a task trains on.
func (p *pipeline) hasGT(task string, s *data.Sample) bool {
	pr := p.prep[s.ID]
	switch task {
	case "classification":
		return s.HasLabel()
	case "segmentation":
		return s.HasMask
	case "fovea":
		return s.Fovea != nil
	case "localizer":
		return pr != nil && pr.disc != nil || s.DiscCenter != nil
	}
	return false
}

// input returns the prepared input of a sample for a task, and the pipeline
// whose intensity steps apply to it.
func (p *pipeline) input(t namedTask, pr *prepared) (*data.Image, *data.Mask, data.Affine, *data.Pipeline) {
	if t.cfg.Input == "roi" {
		return pr.roiX, pr.roiM, pr.roiT, p.roi
	}
	return pr.fullX, pr.fullM, pr.fullT, p.full
}

// target returns the point a heatmap task regresses, in original pixels.
func target(task string, pr *prepared) *data.Point {
	if task == "fovea" {
		return pr.fovea
	}
	return pr.disc
}

// taskSet is a training (or validation) set of one task.
type taskSet struct {
	task   string
	kind   string
	ids    []string
	xs     []*data.Image
	ms     []*data.Mask
	pts    []*data.Point // in network-input pixels
	ts     []data.Affine // original -> network input
	gts    []*data.Point // heatmap targets in original pixels
	labels []int
	pl     *data.Pipeline
	aug    *augment.Pipeline
	seed   uint64
	sigma  float64
	stop   func() bool // true once an interrupt was requested
	// multitask: segmentation targets carry the image label too.
	multitask bool
}

func (d *taskSet) Len() int { return len(d.xs) }

// Label returns sample i's glaucoma label (for class-balanced sampling).
func (d *taskSet) Label(i int) int { return d.labels[i] }

// Example returns sample i as seen in the given epoch: augmented (training
// sets only), then the intensity steps, then the task's target.
func (d *taskSet) Example(epoch, i int) (train.Example, error) {
	if d.stop != nil && d.stop() {
		return train.Example{}, ErrInterrupted
	}
	x, m, pt := d.xs[i], d.ms[i], d.pts[i]
	inFrame := pt != nil
	if d.aug != nil {
		x, m, pt, inFrame = d.aug.Apply(x, m, pt, d.seed, epoch, i)
	}
	x = d.pl.Intensity(x)
	ex := train.Example{X: x.Pix}
	switch d.kind {
	case "classification":
		ex.Y = []float32{float32(d.labels[i])}
	case "segmentation":
		ex.Y = maskClasses(m)
		if d.multitask {
			// Targets: the pixels' classes, then the image's label (weight 0
			// when unknown).
			ex.Y = append(ex.Y, float32(max(d.labels[i], 0)))
			if d.labels[i] != 0 && d.labels[i] != 1 {
				ex.W = make([]float32, len(ex.Y))
				for k := range ex.W[:len(ex.W)-1] {
					ex.W[k] = 1
				}
			}
		}
	default:
		if pt == nil || !inFrame {
			ex.Y = make([]float32, x.W*x.H)
			ex.W = make([]float32, x.W*x.H) // weight 0: the point left the frame
		} else {
			ex.Y = data.GaussianHeatmap(*pt, x.W, x.H, d.sigma)
		}
	}
	return ex, nil
}

// maskClasses converts REFUGE codes to class indices (0 bg, 1 rim, 2 cup).
func maskClasses(m *data.Mask) []float32 {
	y := make([]float32, len(m.Pix))
	for i, v := range m.Pix {
		switch v {
		case data.Cup:
			y[i] = 2
		case data.Rim:
			y[i] = 1
		}
	}
	return y
}

// buildSet gathers the samples of ids that carry the task's ground truth.
func (p *pipeline) buildSet(t namedTask, ids []string, withAug bool) *taskSet {
	d := &taskSet{task: t.name, kind: taskKind(t.name), sigma: t.cfg.Sigma, seed: data.Seed(p.cfg.Seed, "augment", t.name),
		multitask: t.cfg.Network.Arch == "multitask"}
	if withAug {
		d.aug = p.aug
	}
	for _, id := range ids {
		s, pr := p.byID[id], p.prep[id]
		if pr == nil || !p.hasGT(t.name, s) {
			continue
		}
		x, m, tr, pl := p.input(t, pr)
		if x == nil {
			continue
		}
		d.pl = pl
		var pt *data.Point
		if d.kind == "heatmap" {
			g := target(t.name, pr)
			if g == nil {
				continue
			}
			q := tr.Apply(*g)
			pt = &q
		}
		if d.kind == "segmentation" && m == nil {
			continue
		}
		d.ids = append(d.ids, id)
		d.xs = append(d.xs, x)
		d.ms = append(d.ms, m)
		d.pts = append(d.pts, pt)
		d.ts = append(d.ts, tr)
		if d.kind == "heatmap" {
			d.gts = append(d.gts, target(t.name, pr))
		} else {
			d.gts = append(d.gts, nil)
		}
		d.labels = append(d.labels, s.Label)
	}
	if d.pl == nil {
		d.pl = p.full
		if t.cfg.Input == "roi" {
			d.pl = p.roi
		}
	}
	return d
}

// networkSpec converts the configured network.
func networkSpec(n NetworkConfig) nn.NetSpec {
	return nn.NetSpec{Arch: n.Arch, Base: n.Base, Depth: n.Depth, Norm: n.Norm, Groups: n.Groups, Dropout: n.Dropout, Init: n.Init, InitFrom: n.InitFrom,
		Dilation: n.Dilation, Activation: n.Activation, LeakySlope: n.LeakySlope}
}

// outChannels is the number of network outputs of a task.
func outChannels(kind string) int {
	if kind == "segmentation" {
		return 3
	}
	return 1
}

func (p *pipeline) trainAll() error {
	p.models = map[string]*nn.Model{}
	p.results = map[string]*train.FitResult{}
	p.trainCfg = map[string]train.Config{}
	logPath := filepath.Join(p.dir, "log.jsonl")
	if p.resume {
		// Keep each task's lines up to its last checkpoint: a kill between a
		// log line and its checkpoint must not leave a duplicate epoch.
		if err := p.trimLog(logPath); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if !p.resume {
		if err := f.Truncate(0); err != nil {
			return err
		}
	}
	for _, t := range taskList(p.cfg) {
		if !p.trains(t) {
			continue
		}
		if err := p.trainTask(t, f); err != nil {
			return fmt.Errorf("task %s: %w", t.name, err)
		}
	}
	return nil
}

// trains tells whether a run trains a network for task t: an enabled task,
// except a classification scored from the segmentation network and a
// localizer that no ROI task needs.
func (p *pipeline) trains(t namedTask) bool {
	switch {
	case !t.cfg.Enabled:
		return false
	case t.name == "classification" && (t.cfg.Score == "vcdr" || t.cfg.Score == "multitask"):
		return false
	case t.name == "localizer" && !p.needsROI():
		return false
	}
	return true
}

func (p *pipeline) trainTask(t namedTask, logw io.Writer) error {
	tr := p.buildSet(t, p.splits.Train, true)
	tr.stop = p.opt.interrupted
	val := p.buildSet(t, p.splits.Val, false)
	if tr.Len() == 0 {
		return fmt.Errorf("no training sample has %s ground truth (check the sources and the split)", t.name)
	}
	if len(tr.xs) > 0 {
		p.logf("task %s: %d training and %d validation samples, input %dx%d", t.name, tr.Len(), val.Len(), tr.xs[0].W, tr.xs[0].H)
	}
	x0 := tr.pl.Intensity(tr.xs[0])
	cfg := p.trainConfigFor(t)
	cfg.Monitor, cfg.MonitorMode = monitor(t, val)
	p.trainCfg[t.name] = cfg
	seed := data.Seed(p.cfg.Seed, "task", t.name)
	m, err := nn.New(networkSpec(t.cfg.Network), nn.Shape{C: x0.C, H: x0.H, W: x0.W}, outChannels(tr.kind), cfg.BatchSize, seed)
	if err != nil {
		return fmt.Errorf("tasks.%s.network: %w", t.name, err)
	}
	valFn := func(m *nn.Model, epoch int) (map[string]float64, error) { return p.validate(t, m, val) }
	if val.Len() == 0 {
		valFn = nil
	}
	res, err := train.Fit(m, tr, valFn, train.FitOptions{
		Task: t.name, Cfg: cfg, Seed: seed, CkptDir: filepath.Join(p.dir, "checkpoints", t.name),
		Log: logw, Quiet: p.opt.Quiet, Resume: p.resume, Progress: p.opt.stderr(), StopAfter: p.opt.stopAfter[t.name],
	})
	if err != nil {
		if errors.Is(err, ErrInterrupted) || p.opt.interrupted() {
			return fmt.Errorf("%w during epoch training of task %s; the last completed epoch's checkpoint is kept (resume with: refugelab run --resume %s)", ErrInterrupted, t.name, p.dir)
		}
		return err
	}
	if res.Stopped == "stop-after" {
		return fmt.Errorf("interrupted after epoch %d (resume with: refugelab run --resume %s)", res.EpochsRun, p.dir)
	}
	p.models[t.name] = m
	p.results[t.name] = res
	p.logf("task %s: %d epochs, best epoch %d (%s)", t.name, res.EpochsRun, res.BestEpoch, metricList(res.Best))
	return nil
}

// monitor returns the validation metric that selects a task's checkpoint.
func monitor(t namedTask, val *taskSet) (string, string) {
	if t.cfg.Train.Monitor != "" {
		m := t.cfg.Train.Monitor
		if strings.Contains(m, "distance") || strings.Contains(m, "mae") || strings.Contains(m, "loss") {
			return m, "min"
		}
		return m, "max"
	}
	switch val.kind {
	case "segmentation":
		return "dice_mean", "max"
	case "classification":
		pos, neg := 0, 0
		for _, l := range val.labels {
			if l == 1 {
				pos++
			} else if l == 0 {
				neg++
			}
		}
		if pos > 0 && neg > 0 {
			return "auc", "max"
		}
		return "bce", "min"
	}
	return "distance_px", "min"
}

// trainConfigFor converts a task's resolved train block and loss.
func (p *pipeline) trainConfigFor(t namedTask) train.Config {
	c := t.cfg.Train
	return train.Config{
		Epochs: c.Epochs, BatchSize: c.BatchSize,
		Optimizer: train.OptSpec{Name: c.Optimizer.Name, LR: c.Optimizer.LR, Momentum: c.Optimizer.Momentum, Nesterov: c.Optimizer.Nesterov,
			Beta1: c.Optimizer.Beta1, Beta2: c.Optimizer.Beta2, Eps: c.Optimizer.Eps, WeightDecay: c.Optimizer.WeightDecay},
		Schedule: train.SchedSpec{Name: c.Schedule.Name, WarmupEpochs: c.Schedule.WarmupEpochs, StepEpochs: c.Schedule.StepEpochs,
			Gamma: c.Schedule.Gamma, Power: c.Schedule.Power, MinLR: c.Schedule.MinLR},
		Loss:     train.LossSpec{Name: t.cfg.Loss.Name, Params: t.cfg.Loss.Params},
		ValEvery: c.ValEvery, Monitor: c.Monitor, Patience: c.Patience, ClipNorm: c.ClipNorm,
		BalancedSampling: c.Balanced, Workers: c.Workers,
	}
}

// metricList formats metrics as "name value, ..." in name order.
func metricList(m map[string]float64) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s %.4g", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// trimLog rewrites log.jsonl keeping, per task, the epochs its latest
// checkpoint covers.
func (p *pipeline) trimLog(path string) error {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	keep := map[string]int{}
	var out []byte
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var rec struct {
			Task  string `json:"task"`
			Epoch int    `json:"epoch"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil || !strings.HasSuffix(line, "\n") {
			continue // a torn last line
		}
		last, ok := keep[rec.Task]
		if !ok {
			last, _ = train.CheckpointEpoch(filepath.Join(p.dir, "checkpoints", rec.Task))
			keep[rec.Task] = last
		}
		if rec.Epoch <= last {
			out = append(out, line...)
		}
	}
	return data.WriteFileAtomic(path, out)
}
