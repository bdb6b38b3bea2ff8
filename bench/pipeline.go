package main

// The data-pipeline measurement of issue 9 ("the data pipeline (decode,
// preprocess, augment) keeps up with training"): for an experiment config,
// the training sets are built exactly as `refugelab run` builds them
// (experiments.TrainingSets), then three rates are measured in this
// process at GOMAXPROCS = --threads:
//
//   - prepare: load + decode + the geometric preprocessing of every
//     training and validation sample, the run's preprocess stage (once per
//     run; samples/s);
//   - per epoch: Dataset.Example (augmentation, intensity steps, target)
//     on as many goroutines as train.Fit's prefetch workers (train.workers),
//     the only data work inside Fit's epochs (examples/s);
//   - training: Trainer.Step + Optimizer.Step of the task's network at its
//     input size and batch, on batches of the task's own examples
//     (images/s = batch / median step).
//
// "keeps up" compares the per-epoch rate with the training rate. The
// chained rate (decode + preprocess + augment for every example, as a
// loader that keeps nothing between epochs would do) is reported beside it.
// Fit's workers share the cores with the training step, so the isolated
// rates are an upper bound; the data_wait_s fields of log.jsonl measure the
// wait inside a real run.

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/refugelab/refugelab/data"
	"github.com/refugelab/refugelab/experiments"
	"github.com/refugelab/refugelab/nn"
	"github.com/refugelab/refugelab/train"
	"gopkg.in/yaml.v3"
)

// pipeOptions are the settings of one pipeline measurement.
type pipeOptions struct {
	// MaxPerSource limits each source (0: all samples).
	MaxPerSource int
	// Examples is how many Dataset.Example calls are timed per task
	// (cycling over epochs 1, 2, ...).
	Examples int
	// Steps and Warmup are the timed and untimed training steps per task.
	Steps, Warmup int
}

// pipeTask is the measurement of one task's training set.
type pipeTask struct {
	Task    string
	Len     int // training examples
	Workers int // Fit's prefetch workers
	// Examples is the number of Example calls timed in Seconds.
	Examples int
	Seconds  float64
	Batch    int
	In       nn.Shape
	Net      nn.NetSpec
	// StepMs are the timed training steps in ms.
	StepMs []float64
}

// ExampleRate is the per-epoch data rate in examples/s.
func (t pipeTask) ExampleRate() float64 { return float64(t.Examples) / t.Seconds }

// TrainRate is the images/s a training step consumes (batch / median step).
func (t pipeTask) TrainRate() float64 {
	r := result{Ms: t.StepMs}
	return float64(t.Batch) / (r.median() / 1000)
}

// pipeReport is the measurement of one config.
type pipeReport struct {
	Config   string
	Prepared int // samples decoded and preprocessed
	PrepSecs float64
	Tasks    []pipeTask
	// Decode is the decoding rate of each source alone.
	Decode []sourceDecode
}

// sourceDecode is the time to load (decode, or generate) a source's
// images and masks, on the run's worker count.
type sourceDecode struct {
	Name    string
	Images  int
	Seconds float64
	// Size is the first image's width x height.
	W, H int
}

// PrepRate is the prepare stage's rate in samples/s.
func (r pipeReport) PrepRate() float64 { return float64(r.Prepared) / r.PrepSecs }

// measurePipeline measures the data pipeline and the training step of
// every task the config at path trains.
func measurePipeline(path string, o pipeOptions) (*pipeReport, error) {
	r, err := experiments.Load(path, nil)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	sets, prepared, err := experiments.TrainingSets(r, o.MaxPerSource)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	rep := &pipeReport{Config: path, Prepared: prepared, PrepSecs: time.Since(t0).Seconds()}
	for _, sc := range r.Config.Data.Sources {
		d, err := timeDecode(sc, filepath.Dir(r.File), r.Config.Seed, max(r.Config.Train.Workers, 1), o.MaxPerSource)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		rep.Decode = append(rep.Decode, d)
	}
	for _, s := range sets {
		cfg := s.Cfg.Defaults()
		pt := pipeTask{Task: s.Task, Len: s.Data.Len(), Workers: cfg.Workers, Batch: cfg.BatchSize, In: s.In, Net: s.Net}
		n, secs, err := timeExamples(s.Data, cfg.Workers, o.Examples)
		if err != nil {
			return nil, fmt.Errorf("%s: task %s: %w", path, s.Task, err)
		}
		pt.Examples, pt.Seconds = n, secs
		if pt.StepMs, err = timeSteps(s, cfg, o.Warmup, o.Steps); err != nil {
			return nil, fmt.Errorf("%s: task %s: %w", path, s.Task, err)
		}
		rep.Tasks = append(rep.Tasks, pt)
	}
	return rep, nil
}

// timeDecode loads max samples of a source (evenly spaced in ID order, as
// experiments.TrainingSets keeps them; all when max <= 0) with Sample.Load
// on workers goroutines and times it.
func timeDecode(sc experiments.SourceConfig, baseDir string, seed uint64, workers, max int) (sourceDecode, error) {
	ss, _, err := data.LoadSource(data.SourceSpec{Name: sc.Name, Format: sc.Format, Root: sc.Root, Subset: sc.Subset, Params: sc.Params}, baseDir, seed)
	if err != nil {
		return sourceDecode{}, err
	}
	if max > 0 && len(ss) > max {
		kept := make([]*data.Sample, max)
		for i := range kept {
			kept[i] = ss[i*len(ss)/max]
		}
		ss = kept
	}
	d := sourceDecode{Name: sc.Name, Images: len(ss)}
	imgs := make([]*data.Image, len(ss))
	errs := make([]error, len(ss))
	var next atomic.Int64
	var wg sync.WaitGroup
	t0 := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(ss); i = int(next.Add(1) - 1) {
				imgs[i], _, errs[i] = ss[i].Load()
			}
		}()
	}
	wg.Wait()
	d.Seconds = time.Since(t0).Seconds()
	for i, err := range errs {
		if err != nil {
			return d, fmt.Errorf("source %s: sample %s: %w", sc.Name, ss[i].ID, err)
		}
	}
	if len(imgs) > 0 {
		d.W, d.H = imgs[0].W, imgs[0].H
	}
	return d, nil
}

// timeExamples computes n examples of ds (positions 0..n-1 of the epochs
// 1, 2, ... in index order) on workers goroutines, as Fit's prefetch does,
// and returns how many were computed and the wall time.
func timeExamples(ds train.Dataset, workers, n int) (int, float64, error) {
	l := ds.Len()
	var next, done atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	t0 := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1) - 1)
				if k >= n {
					return
				}
				if _, err := ds.Example(1+k/l, k%l); err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("example %d of epoch %d: %w", k%l, 1+k/l, err)
					}
					mu.Unlock()
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	return int(done.Load()), time.Since(t0).Seconds(), first
}

// timeSteps times warmup+steps training steps (Trainer.Step and the
// optimizer) of s's network on batches of its own examples and returns the
// timed steps in ms.
func timeSteps(s experiments.TrainingSet, cfg train.Config, warmup, steps int) ([]float64, error) {
	loss, err := train.BuildLoss(cfg.Loss)
	if err != nil {
		return nil, err
	}
	m, err := nn.New(s.Net, s.In, s.OutC, cfg.BatchSize, 1)
	if err != nil {
		return nil, err
	}
	xs := s.In.C * s.In.H * s.In.W
	var x, y []float32
	var ys int
	for k := 0; k < cfg.BatchSize; k++ {
		ex, err := s.Data.Example(1, k%s.Data.Len())
		if err != nil {
			return nil, err
		}
		if len(ex.X) != xs {
			return nil, fmt.Errorf("example has %d inputs, the network expects %d", len(ex.X), xs)
		}
		ys = len(ex.Y)
		x = append(x, ex.X...)
		y = append(y, ex.Y...)
	}
	tr, err := m.NewTrainer(cfg.BatchSize, ys, loss.Name, loss.F)
	if err != nil {
		return nil, err
	}
	opt, err := train.NewOptimizer(cfg.Optimizer, m.Params())
	if err != nil {
		return nil, err
	}
	var ms []float64
	for i := 0; i < warmup+steps; i++ {
		t0 := time.Now()
		if _, err := tr.Step(x, y, nil, data.Seed(1, "dropout", i)); err != nil {
			return nil, err
		}
		if err := opt.Step(m.Params(), tr.Grads(), cfg.Optimizer.LR); err != nil {
			return nil, err
		}
		if i >= warmup {
			ms = append(ms, float64(time.Since(t0).Microseconds())/1000)
		}
	}
	return ms, nil
}

// verdict says whether a data rate keeps up with a training rate.
func verdict(data, train float64) string {
	if data >= train {
		return fmt.Sprintf("keeps up (%.1f× the training rate)", data/train)
	}
	return fmt.Sprintf("does NOT keep up (%.2f× the training rate)", data/train)
}

// printPipeline writes the report of one config: per task the per-epoch
// data rate against the training rate, then the chained rate against it.
func printPipeline(w io.Writer, r *pipeReport) {
	fmt.Fprintf(w, "\n== data pipeline: %s\n", r.Config)
	fmt.Fprintf(w, "  prepare (load + decode + geometric preprocessing, once per run): %d samples in %.2f s = %.1f samples/s\n", r.Prepared, r.PrepSecs, r.PrepRate())
	for _, d := range r.Decode {
		fmt.Fprintf(w, "    decode only, source %s: %d images (%dx%d) in %.2f s = %.1f images/s\n", d.Name, d.Images, d.W, d.H, d.Seconds, float64(d.Images)/d.Seconds)
	}
	fmt.Fprintf(w, "  %-15s %5s %7s %-34s %10s %11s  %s\n", "task", "train", "workers", "network, input, batch", "data ex/s", "train img/s", "per-epoch data (augment + intensity + target) vs training")
	for _, t := range r.Tasks {
		net := fmt.Sprintf("%s b%d d%d, %dx%dx%d, b%d", t.Net.Arch, t.Net.Base, t.Net.Depth, t.In.C, t.In.H, t.In.W, t.Batch)
		fmt.Fprintf(w, "  %-15s %5d %7d %-34s %10.1f %11.2f  %s\n", t.Task, t.Len, t.Workers, net, t.ExampleRate(), t.TrainRate(), verdict(t.ExampleRate(), t.TrainRate()))
	}
	for _, t := range r.Tasks {
		chained := 1 / (1/r.PrepRate() + 1/t.ExampleRate())
		fmt.Fprintf(w, "  %-15s chained decode + preprocess + augment per example (nothing kept between epochs): %.1f ex/s, %s\n", t.Task, chained, verdict(chained, t.TrainRate()))
	}
}

// runPipeline measures every config of o.pipeConfigs (comma-separated
// paths) at GOMAXPROCS = o.threads; a config whose data is absent is
// reported as skipped.
func runPipeline(o options, w io.Writer) int {
	runtime.GOMAXPROCS(o.threads)
	fmt.Fprintf(w, "refugelab bench --pipeline  %s  threads %d  (GOMAXPROCS); data: %d Example calls per task, training: median of %d steps after %d warm-up; load average before: %s\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.GOMAXPROCS(0), o.pipeExamples, o.steps, o.warmup, loadAvg())
	if o.pipeMax > 0 {
		fmt.Fprintf(w, "sources limited to %d samples each (--pipeline-max)\n", o.pipeMax)
	}
	failed := false
	for _, path := range strings.Split(o.pipeConfigs, ",") {
		path = strings.TrimSpace(path)
		if path == "" {
			continue
		}
		if why := missingData(path); why != "" {
			fmt.Fprintf(w, "\n== data pipeline: %s skipped: %s\n", path, why)
			continue
		}
		rep, err := measurePipeline(path, pipeOptions{MaxPerSource: o.pipeMax, Examples: o.pipeExamples, Steps: o.steps, Warmup: o.warmup})
		if err != nil {
			fmt.Fprintf(w, "\n== data pipeline: %s failed: %v\n", path, err)
			failed = true
			continue
		}
		printPipeline(w, rep)
	}
	fmt.Fprintf(w, "\nload average after: %s\n", loadAvg())
	if failed {
		return 1
	}
	return 0
}

// missingData says why a config cannot be measured here: the file is
// absent, or one of its sources' roots (resolved against the config's
// folder) does not exist, e.g. ../shared/data on a machine without it.
// It reads the file's own data.sources (not its base: files); any other
// problem is left to experiments.Load to report.
func missingData(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	var c struct {
		Data struct {
			Sources []struct {
				Name string `yaml:"name"`
				Root string `yaml:"root"`
			} `yaml:"sources"`
		} `yaml:"data"`
	}
	if yaml.Unmarshal(b, &c) != nil {
		return ""
	}
	for _, s := range c.Data.Sources {
		if s.Root == "" {
			continue
		}
		root := s.Root
		if !filepath.IsAbs(root) {
			root = filepath.Join(filepath.Dir(path), root)
		}
		if _, err := os.Stat(root); err != nil {
			return fmt.Sprintf("source %s: root %s not found", s.Name, root)
		}
	}
	return ""
}
