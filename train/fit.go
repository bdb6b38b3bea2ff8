package train

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cheggaaa/pb/v3"
	"github.com/cheggaaa/pb/v3/termutil"
	"github.com/refugelab/refugelab/data"
	"github.com/refugelab/refugelab/nn"
)

// Example is one training example: X the network input (C*H*W values), Y
// the target (classification: [label]; segmentation: class per pixel 0 bg,
// 1 rim, 2 cup, H*W values; heatmap: the Gaussian heatmap, H*W values), W
// optional per-target weights (nil = all 1).
type Example struct {
	X []float32
	Y []float32
	W []float32
}

// Dataset yields training examples. Example is called concurrently and
// must be deterministic per (epoch, i). Epochs are numbered from 1.
type Dataset interface {
	Len() int
	Example(epoch, i int) (Example, error)
}

// LabeledDataset is a Dataset that can report a sample's class without
// building it; Config.BalancedSampling needs it.
type LabeledDataset interface {
	Dataset
	Label(i int) int
}

// FitOptions are the per-run settings of Fit.
type FitOptions struct {
	// Task names the task in logs, errors and checkpoints.
	Task string
	Cfg  Config
	// Seed is the task's root seed; batch order and dropout derive from it.
	Seed uint64
	// CkptDir is the task's checkpoint folder (checkpoints/<task>): Fit
	// writes latest/ and best/ in it. Empty disables checkpoints (and
	// Resume).
	CkptDir string
	// Log receives one JSON line per epoch (nil: none).
	Log io.Writer
	// Quiet disables progress output.
	Quiet bool
	// Resume continues from CkptDir/latest when it exists.
	Resume bool
	// Progress receives progress bars (a terminal) or plain lines; nil
	// means os.Stderr.
	Progress io.Writer
	// StopAfter, when > 0, stops after that epoch as if the process had
	// been interrupted (latest checkpoint written, best not loaded). For
	// resume tests and time-boxed runs.
	StopAfter int
}

// FitResult summarises a Fit.
type FitResult struct {
	// EpochsRun is the last epoch trained (counting resumed epochs).
	EpochsRun int
	// BestEpoch is the epoch of the best validation (0: no validation).
	BestEpoch int
	// Best holds the validation metrics of BestEpoch.
	Best map[string]float64
	// WallSeconds is this call's wall time (not part of any hash).
	WallSeconds float64
	// LastLoss is the mean training loss of the last epoch.
	LastLoss float64
	// Stopped says why training ended: "epochs", "early-stopping" or
	// "stop-after".
	Stopped string
	// DataWaitSeconds is the wall time this call's training loop spent
	// blocked waiting for the prefetch workers' next example, summed over
	// epochs; StepSeconds is the wall time of the training steps (forward,
	// backward, gradient clipping, optimizer). Measured, never used: they
	// influence nothing that is trained or hashed.
	DataWaitSeconds float64
	StepSeconds     float64
}

// fitState is checkpoints/<task>/latest/state.json.
type fitState struct {
	Task       string             `json:"task"`
	ConfigHash string             `json:"config_sha256"`
	Epoch      int                `json:"epoch"`
	Step       int                `json:"step"`
	BestEpoch  int                `json:"best_epoch"`
	BestValue  *float64           `json:"best_value"`
	Best       map[string]float64 `json:"best_metrics"`
	BadChecks  int                `json:"bad_checks"`
	Monitor    string             `json:"monitor"`
	LastLoss   float64            `json:"last_loss"`
	RNG        rngState           `json:"rng"`
	mem        memBest
}

// rngState records the random streams: every stream is derived from the
// root seed and (epoch, batch), so the root and the next epoch are the
// whole state.
type rngState struct {
	Root      uint64 `json:"root_seed"`
	NextEpoch int    `json:"next_epoch"`
	Streams   string `json:"streams"`
}

func configHash(c Config) string {
	c.Workers = 0
	b, _ := json.Marshal(c)
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Fit trains m on ds. val (may be nil) returns validation metrics; it runs
// every ValEvery epochs and after the last one. The best checkpoint (by
// Cfg.Monitor, Cfg.MonitorMode) is loaded into m before Fit returns. A
// NaN/Inf loss stops with an error naming the task, epoch and batch; the
// checkpoints of the last good epoch stay on disk.
func Fit(m *nn.Model, ds Dataset, val func(m *nn.Model, epoch int) (map[string]float64, error), opt FitOptions) (*FitResult, error) {
	start := time.Now()
	cfg := opt.Cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("task %s: %w", opt.Task, err)
	}
	if ds == nil || ds.Len() == 0 {
		return nil, fmt.Errorf("task %s: empty training set", opt.Task)
	}
	loss, err := BuildLoss(cfg.Loss)
	if err != nil {
		return nil, fmt.Errorf("task %s: train.%w", opt.Task, err)
	}
	ex0, err := ds.Example(1, 0)
	if err != nil {
		return nil, fmt.Errorf("task %s: example 0: %w", opt.Task, err)
	}
	xSize := m.In.C * m.In.H * m.In.W
	if len(ex0.X) != xSize {
		return nil, fmt.Errorf("task %s: example 0 has %d input values, the network expects %dx%dx%d = %d", opt.Task, len(ex0.X), m.In.C, m.In.H, m.In.W, xSize)
	}
	ySize := len(ex0.Y)
	outShape := append([]int{cfg.BatchSize}, m.OutShape()...)
	if err := loss.Check(outShape, ySize); err != nil {
		return nil, fmt.Errorf("task %s: loss %s: %w", opt.Task, loss.Name, err)
	}
	var lds LabeledDataset
	if cfg.BalancedSampling {
		var ok bool
		if lds, ok = ds.(LabeledDataset); !ok {
			return nil, fmt.Errorf("task %s: train.balanced_sampling needs a dataset with labels (this task's examples have none)", opt.Task)
		}
	}
	tr, err := m.NewTrainer(cfg.BatchSize, ySize, loss.Name, loss.F)
	if err != nil {
		return nil, fmt.Errorf("task %s: %w", opt.Task, err)
	}
	optim, err := NewOptimizer(cfg.Optimizer, m.Params())
	if err != nil {
		return nil, fmt.Errorf("task %s: train.%w", opt.Task, err)
	}
	n := ds.Len()
	steps := (n + cfg.BatchSize - 1) / cfg.BatchSize
	st := fitState{Task: opt.Task, ConfigHash: configHash(cfg), Monitor: cfg.Monitor,
		RNG: rngState{Root: opt.Seed, NextEpoch: 1, Streams: "batch order data.Seed(root, \"batches\", epoch); dropout data.Seed(root, \"dropout\", epoch, batch)"}}
	if opt.Resume && opt.CkptDir != "" {
		ok, err := loadLatest(opt.CkptDir, m, optim, &st)
		if err != nil {
			return nil, fmt.Errorf("task %s: resume: %w", opt.Task, err)
		}
		if ok && st.ConfigHash != configHash(cfg) {
			return nil, fmt.Errorf("task %s: resume: %s was written with a different train config (sha256 %s, now %s)", opt.Task, filepath.Join(opt.CkptDir, "latest"), st.ConfigHash, configHash(cfg))
		}
	}
	progress := opt.Progress
	if progress == nil {
		progress = os.Stderr
	}
	res := &FitResult{Stopped: "epochs"}
	if cfg.Patience > 0 && st.BadChecks >= cfg.Patience {
		// resumed after the run had already stopped early
		res.Stopped = "early-stopping"
	}
	x := make([]float32, cfg.BatchSize*xSize)
	y := make([]float32, cfg.BatchSize*ySize)
	w := make([]float32, cfg.BatchSize*ySize)
	for epoch := st.Epoch + 1; epoch <= cfg.Epochs && res.Stopped == "epochs"; epoch++ {
		t0 := time.Now()
		order := epochOrder(opt.Seed, epoch, n, steps*cfg.BatchSize, lds)
		pf := newPrefetch(ds, epoch, order, cfg.Workers, 2*cfg.BatchSize+cfg.Workers)
		bar := newBar(opt, progress, epoch, cfg.Epochs, steps)
		var sum float64
		var lr float64
		// Wall-clock accounting only (log.jsonl data_wait_s, step_s): no
		// decision below reads these.
		var wait, stepDur time.Duration
		for b := 0; b < steps; b++ {
			useW := false
			for k := 0; k < cfg.BatchSize; k++ {
				pos := b*cfg.BatchSize + k
				tw := time.Now()
				ex, err := pf.get(pos)
				wait += time.Since(tw)
				if err != nil {
					pf.stop()
					bar.finish()
					return nil, fmt.Errorf("task %s: epoch %d: example %d: %w", opt.Task, epoch, order[pos], err)
				}
				if len(ex.X) != xSize || len(ex.Y) != ySize || (ex.W != nil && len(ex.W) != ySize) {
					pf.stop()
					bar.finish()
					return nil, fmt.Errorf("task %s: epoch %d: example %d has %d inputs, %d targets, %d weights (expected %d, %d, %d or none)", opt.Task, epoch, order[pos], len(ex.X), len(ex.Y), len(ex.W), xSize, ySize, ySize)
				}
				copy(x[k*xSize:], ex.X)
				copy(y[k*ySize:], ex.Y)
				ws := w[k*ySize : (k+1)*ySize]
				if ex.W != nil {
					copy(ws, ex.W)
					useW = true
				} else {
					for i := range ws {
						ws[i] = 1
					}
				}
			}
			var wArg []float32
			if useW {
				wArg = w
			}
			ts := time.Now()
			l, err := tr.Step(x, y, wArg, data.Seed(opt.Seed, "dropout", epoch, b))
			if err != nil {
				pf.stop()
				bar.finish()
				return nil, fmt.Errorf("task %s: epoch %d batch %d: %w", opt.Task, epoch, b+1, err)
			}
			if math.IsNaN(l) || math.IsInf(l, 0) {
				pf.stop()
				bar.finish()
				kept := "no checkpoint folder was given"
				if opt.CkptDir != "" {
					kept = fmt.Sprintf("the last good checkpoint (epoch %d) is kept in %s", st.Epoch, opt.CkptDir)
				}
				return nil, fmt.Errorf("task %s: epoch %d batch %d: loss is %v; training stopped (%s)", opt.Task, epoch, b+1, l, kept)
			}
			grads := tr.Grads()
			if cfg.ClipNorm > 0 {
				ClipGradNorm(grads, cfg.ClipNorm)
			}
			lr = cfg.Schedule.LR(cfg.Optimizer.LR, st.Step, steps, cfg.Epochs)
			if err := optim.Step(m.Params(), grads, lr); err != nil {
				pf.stop()
				bar.finish()
				return nil, fmt.Errorf("task %s: epoch %d batch %d: %w", opt.Task, epoch, b+1, err)
			}
			stepDur += time.Since(ts)
			st.Step++
			sum += l
			bar.step(sum / float64(b+1))
		}
		pf.stop()
		bar.finish()
		res.DataWaitSeconds += wait.Seconds()
		res.StepSeconds += stepDur.Seconds()
		meanLoss := sum / float64(steps)
		st.Epoch = epoch
		st.LastLoss = meanLoss
		st.RNG.NextEpoch = epoch + 1
		var metrics map[string]float64
		improved := false
		if val != nil && (epoch%cfg.ValEvery == 0 || epoch == cfg.Epochs) {
			if metrics, err = val(m, epoch); err != nil {
				return nil, fmt.Errorf("task %s: epoch %d: validation: %w", opt.Task, epoch, err)
			}
			key := st.Monitor
			if key == "" {
				key = firstKey(metrics)
				st.Monitor = key
			}
			v, ok := metrics[key]
			if !ok {
				return nil, fmt.Errorf("task %s: train.monitor: metric %q not among the validation metrics (%v)", opt.Task, key, keys(metrics))
			}
			if !math.IsNaN(v) && (st.BestValue == nil || (cfg.MonitorMode == "max" && v > *st.BestValue) || (cfg.MonitorMode == "min" && v < *st.BestValue)) {
				vv := v
				st.BestValue, st.BestEpoch, st.Best, st.BadChecks = &vv, epoch, copyMetrics(metrics), 0
				improved = true
			} else {
				st.BadChecks++
			}
		}
		// The log line goes out before the checkpoint: a run killed in
		// between leaves a line for an epoch that the resumed run repeats
		// (drop log lines after CheckpointEpoch when resuming), never a
		// missing line.
		secs := time.Since(t0).Seconds()
		if opt.Log != nil {
			if err := writeLogLine(opt.Log, opt.Task, epoch, meanLoss, lr, metrics, epochTimes{secs, wait.Seconds(), stepDur.Seconds()}); err != nil {
				return nil, fmt.Errorf("task %s: log: %w", opt.Task, err)
			}
		}
		if opt.CkptDir != "" {
			if improved {
				if err := saveCheckpoint(filepath.Join(opt.CkptDir, "best"), m, nil, &st); err != nil {
					return nil, fmt.Errorf("task %s: epoch %d: %w", opt.Task, epoch, err)
				}
			}
			if err := saveCheckpoint(filepath.Join(opt.CkptDir, "latest"), m, optim, &st); err != nil {
				return nil, fmt.Errorf("task %s: epoch %d: %w", opt.Task, epoch, err)
			}
		} else if improved {
			st.bestWeights(m)
		}
		if !opt.Quiet {
			fmt.Fprintf(progress, "[%s] epoch %d/%d loss %.5g lr %.3g%s (%.1fs)\n", opt.Task, epoch, cfg.Epochs, meanLoss, lr, metricText(metrics), secs)
		}
		res.EpochsRun, res.LastLoss = epoch, meanLoss
		if opt.StopAfter > 0 && epoch >= opt.StopAfter && epoch < cfg.Epochs {
			res.Stopped = "stop-after"
			res.BestEpoch, res.Best = st.BestEpoch, st.Best
			res.WallSeconds = time.Since(start).Seconds()
			return res, nil
		}
		if cfg.Patience > 0 && st.BadChecks >= cfg.Patience {
			res.Stopped = "early-stopping"
			break
		}
	}
	if res.EpochsRun == 0 {
		res.EpochsRun, res.LastLoss = st.Epoch, st.LastLoss
	}
	res.BestEpoch, res.Best = st.BestEpoch, st.Best
	if st.BestEpoch > 0 {
		if opt.CkptDir != "" {
			if err := m.Load(filepath.Join(opt.CkptDir, "best")); err != nil {
				return nil, fmt.Errorf("task %s: loading the best checkpoint: %w", opt.Task, err)
			}
		} else if st.mem != nil {
			for i, p := range allTensors(m) {
				copy(p.Data, st.mem[i])
			}
		}
	}
	res.WallSeconds = time.Since(start).Seconds()
	return res, nil
}

// memBest keeps best weights in memory when no checkpoint folder is given.
type memBest = [][]float32

func (st *fitState) bestWeights(m *nn.Model) {
	all := allTensors(m)
	st.mem = make(memBest, len(all))
	for i, p := range all {
		st.mem[i] = append([]float32(nil), p.Data...)
	}
}

// allTensors is every trainable parameter and buffer of m.
func allTensors(m *nn.Model) []*nn.Param {
	return append(append([]*nn.Param(nil), m.Params()...), m.Buffers()...)
}

// CheckpointEpoch returns the last completed epoch recorded in
// ckptDir/latest (0 when there is no checkpoint). A resuming caller drops
// log.jsonl lines of this task with a later epoch.
func CheckpointEpoch(ckptDir string) (int, error) {
	for _, d := range []string{"latest", "latest.old"} {
		b, err := os.ReadFile(filepath.Join(ckptDir, d, "state.json"))
		if err != nil {
			continue
		}
		var s fitState
		if err := json.Unmarshal(b, &s); err != nil {
			return 0, fmt.Errorf("%s: %w", filepath.Join(ckptDir, d, "state.json"), err)
		}
		return s.Epoch, nil
	}
	return 0, nil
}

func firstKey(m map[string]float64) string {
	k := keys(m)
	if len(k) == 0 {
		return ""
	}
	return k[0]
}

func keys(m map[string]float64) []string {
	k := make([]string, 0, len(m))
	for x := range m {
		k = append(k, x)
	}
	sort.Strings(k)
	return k
}

func copyMetrics(m map[string]float64) map[string]float64 {
	c := make(map[string]float64, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func metricText(m map[string]float64) string {
	s := ""
	for _, k := range keys(m) {
		s += fmt.Sprintf(" %s %.4g", k, m[k])
	}
	return s
}

// epochOrder is the sample index at every batch position of an epoch:
// a seeded permutation repeated to fill the last batch, or with balanced
// sampling a uniformly drawn class then a uniformly drawn sample of it.
func epochOrder(seed uint64, epoch, n, total int, lds LabeledDataset) []int {
	r := data.NewRand(data.Seed(seed, "batches", epoch))
	out := make([]int, total)
	if lds != nil {
		byClass := map[int][]int{}
		for i := 0; i < n; i++ {
			l := lds.Label(i)
			byClass[l] = append(byClass[l], i)
		}
		classes := make([]int, 0, len(byClass))
		for c := range byClass {
			classes = append(classes, c)
		}
		sort.Ints(classes)
		for k := range out {
			c := byClass[classes[r.IntN(len(classes))]]
			out[k] = c[r.IntN(len(c))]
		}
		return out
	}
	perm := r.Perm(n)
	for k := range out {
		out[k] = perm[k%n]
	}
	return out
}

// prefetch computes examples of an epoch ahead of the training loop with a
// pool of workers; results are placed by position so the order never
// depends on scheduling. At most lookahead examples are held.
type prefetch struct {
	slots []pslot
	sem   chan struct{}
	quit  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup
	next  atomic.Int64
}

type pslot struct {
	ex   Example
	err  error
	done chan struct{}
}

func newPrefetch(ds Dataset, epoch int, order []int, workers, lookahead int) *prefetch {
	p := &prefetch{slots: make([]pslot, len(order)), sem: make(chan struct{}, lookahead), quit: make(chan struct{})}
	for i := range p.slots {
		p.slots[i].done = make(chan struct{})
	}
	for w := 0; w < workers; w++ {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for {
				select {
				case p.sem <- struct{}{}:
				case <-p.quit:
					return
				}
				i := int(p.next.Add(1) - 1)
				if i >= len(order) {
					return
				}
				func() {
					defer func() {
						if r := recover(); r != nil {
							p.slots[i].err = fmt.Errorf("panic: %v", r)
						}
						close(p.slots[i].done)
					}()
					p.slots[i].ex, p.slots[i].err = ds.Example(epoch, order[i])
				}()
			}
		}()
	}
	return p
}

func (p *prefetch) get(i int) (Example, error) {
	<-p.slots[i].done
	ex, err := p.slots[i].ex, p.slots[i].err
	p.slots[i].ex = Example{}
	<-p.sem
	return ex, err
}

// stop ends the workers (a worker waiting for a slot sees quit; one
// computing an example finishes it first).
func (p *prefetch) stop() {
	p.once.Do(func() { close(p.quit) })
	p.wg.Wait()
}

// logLine is one line of log.jsonl. The wall times (seconds, data_wait_s,
// step_s) vary from run to run; everything before them is reproducible.
type logLine struct {
	Task      string         `json:"task"`
	Epoch     int            `json:"epoch"`
	TrainLoss float64        `json:"train_loss"`
	LR        float64        `json:"lr"`
	Val       map[string]any `json:"val"`
	Seconds   float64        `json:"seconds"`
	// DataWait is the epoch's time blocked on the prefetch workers (the
	// data pipeline did not keep up), Step the time in training steps;
	// the rest of Seconds is validation, logging and batch assembly.
	DataWait float64 `json:"data_wait_s"`
	Step     float64 `json:"step_s"`
}

// epochTimes are an epoch's wall times in seconds: the whole epoch, the
// data wait and the training steps.
type epochTimes struct{ total, wait, step float64 }

// ms3 rounds seconds to the millisecond for the log.
func ms3(s float64) float64 { return math.Round(s*1000) / 1000 }

func writeLogLine(w io.Writer, task string, epoch int, loss, lr float64, metrics map[string]float64, tm epochTimes) error {
	v := map[string]any{}
	for k, x := range metrics {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			v[k] = nil
		} else {
			v[k] = x
		}
	}
	b, err := json.Marshal(logLine{Task: task, Epoch: epoch, TrainLoss: loss, LR: lr, Val: v, Seconds: ms3(tm.total), DataWait: ms3(tm.wait), Step: ms3(tm.step)})
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// bar is the per-epoch progress: a pb/v3 bar (loss, ETA) on a terminal,
// otherwise a plain line every 30 s of a long epoch. Output timing never
// affects training.
type bar struct {
	p          *pb.ProgressBar
	w          io.Writer
	prefix     string
	steps, cur int
	last       time.Time
}

func newBar(opt FitOptions, w io.Writer, epoch, epochs, steps int) *bar {
	prefix := fmt.Sprintf("[%s] epoch %d/%d", opt.Task, epoch, epochs)
	if opt.Quiet {
		return &bar{}
	}
	if !isTerminal(w) {
		return &bar{w: w, prefix: prefix, steps: steps, last: time.Now()}
	}
	p := pb.New(steps)
	p.SetWriter(w)
	if tw, err := termutil.TerminalWidth(); err != nil || tw < 20 {
		p.SetWidth(100) // a terminal that reports no width (e.g. some ptys)
	}
	p.SetTemplateString(`{{string . "prefix"}} {{counters . }} {{bar . }} {{percent . }} {{rtime . "ETA %s"}} {{string . "loss"}}`)
	p.Set("prefix", prefix)
	p.Start()
	return &bar{p: p}
}

func (b *bar) step(loss float64) {
	b.cur++
	if b.p != nil {
		b.p.Set("loss", fmt.Sprintf("loss %.4g", loss))
		b.p.Increment()
		return
	}
	if b.w != nil && time.Since(b.last) >= 30*time.Second {
		b.last = time.Now()
		fmt.Fprintf(b.w, "%s batch %d/%d loss %.5g\n", b.prefix, b.cur, b.steps, loss)
	}
}

func (b *bar) finish() {
	if b.p != nil {
		b.p.Finish()
		b.p = nil
	}
}
