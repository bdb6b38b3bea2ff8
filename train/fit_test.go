package train

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/refugelab/refugelab/data"
	"github.com/refugelab/refugelab/nn"
)

// discSet is a tiny synthetic segmentation set: a bright disc (rim) with a
// brighter cup at a seeded position; targets 0 bg / 1 rim / 2 cup.
type discSet struct {
	n, size int
	kind    string // "seg", "cls", "heat"
}

func (d *discSet) Len() int { return d.n }

func (d *discSet) Label(i int) int { return i % 2 }

func (d *discSet) Example(epoch, i int) (Example, error) {
	r := data.NewRand(data.Seed(7, "disc", i))
	s := d.size
	cx := float64(s)/4 + r.Float64()*float64(s)/2
	cy := float64(s)/4 + r.Float64()*float64(s)/2
	rd := float64(s) / 6
	rc := rd * (0.3 + 0.4*float64(i%2))
	x := make([]float32, 3*s*s)
	y := make([]float32, s*s)
	for py := 0; py < s; py++ {
		for px := 0; px < s; px++ {
			dd := math.Hypot(float64(px)-cx, float64(py)-cy)
			v := float32(0.2)
			cls := float32(0)
			if dd < rd {
				v, cls = 0.6, 1
			}
			if dd < rc {
				v, cls = 0.9, 2
			}
			for c := 0; c < 3; c++ {
				x[c*s*s+py*s+px] = v + float32(c)*0.05 + float32(r.NormFloat64()*0.02)
			}
			y[py*s+px] = cls
		}
	}
	switch d.kind {
	case "multi":
		return Example{X: x, Y: append(y, float32(i%2))}, nil
	case "cls":
		return Example{X: x, Y: []float32{float32(i % 2)}}, nil
	case "heat":
		h := make([]float32, s*s)
		for py := 0; py < s; py++ {
			for px := 0; px < s; px++ {
				dx, dy := float64(px)-cx, float64(py)-cy
				h[py*s+px] = float32(math.Exp(-(dx*dx + dy*dy) / (2 * 2 * 2)))
			}
		}
		return Example{X: x, Y: h}, nil
	}
	return Example{X: x, Y: y}, nil
}

func TestFitSegmentationLearns(t *testing.T) {
	m, err := nn.New(nn.NetSpec{Arch: "unet", Base: 8, Depth: 2}, nn.Shape{C: 3, H: 32, W: 32}, 3, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	ds := &discSet{n: 16, size: 32}
	var log bytes.Buffer
	cfg := Config{Epochs: 8, BatchSize: 4, Optimizer: OptSpec{Name: "adam", LR: 0.01}, Loss: LossSpec{Name: "dice-ce"}}
	res, err := Fit(m, ds, nil, FitOptions{Task: "segmentation", Cfg: cfg, Seed: 3, Log: &log, Quiet: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v\n%s", res, log.String())
	// Source of the bound: a constant predictor (uniform softmax) has CE
	// ln 3 = 1.0986 plus Dice loss near 1; learning must go far below.
	if res.LastLoss > 0.8 {
		t.Fatalf("last epoch loss %.4f, expected < 0.8 (the network did not learn)", res.LastLoss)
	}
}

func readLog(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		// wall times, not reproducible
		delete(m, "seconds")
		delete(m, "data_wait_s")
		delete(m, "step_s")
		out = append(out, m)
	}
	return out
}

// segVal is a validation callback: mean soft Dice-like accuracy (fraction
// of pixels whose argmax class is right) on the first 4 examples.
func segVal(ds Dataset) func(m *nn.Model, epoch int) (map[string]float64, error) {
	return func(m *nn.Model, epoch int) (map[string]float64, error) {
		var xs [][]float32
		var ys [][]float32
		for i := 0; i < 4; i++ {
			ex, _ := ds.Example(0, i)
			xs = append(xs, ex.X)
			ys = append(ys, ex.Y)
		}
		ps, err := Predict(m, xs, false)
		if err != nil {
			return nil, err
		}
		right, n := 0, 0
		for i, p := range ps {
			sp := len(ys[i])
			for j := 0; j < sp; j++ {
				best := 0
				for c := 1; c < 3; c++ {
					if p[c*sp+j] > p[best*sp+j] {
						best = c
					}
				}
				if float32(best) == ys[i][j] {
					right++
				}
				n++
			}
		}
		return map[string]float64{"acc": float64(right) / float64(n)}, nil
	}
}

func segModel(t *testing.T, dropout float64) *nn.Model {
	return segModelNorm(t, dropout, "group")
}

func segModelNorm(t *testing.T, dropout float64, norm string) *nn.Model {
	m, err := nn.New(nn.NetSpec{Arch: "unet", Base: 4, Depth: 2, Dropout: dropout, Norm: norm}, nn.Shape{C: 3, H: 16, W: 16}, 3, 4, 11)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestResumeExact: a run stopped after 3 of 6 epochs and resumed ends with
// the same weights (hash), the same log lines (apart from wall time) and
// the same best epoch as an uninterrupted run; two uninterrupted runs are
// identical too (with different worker counts). The network uses batch
// norm and dropout, so running statistics and masks are covered.
func TestResumeExact(t *testing.T) {
	ds := &discSet{n: 10, size: 16}
	cfg := Config{Epochs: 6, BatchSize: 4, Optimizer: OptSpec{Name: "adamw", LR: 0.01}, Schedule: SchedSpec{Name: "cosine", WarmupEpochs: 1},
		Loss: LossSpec{Name: "dice-ce"}, Monitor: "acc", ValEvery: 2, ClipNorm: 5}
	run := func(dir string, stop int, resume bool, workers int, log *bytes.Buffer) (*nn.Model, *FitResult) {
		m := segModelNorm(t, 0.2, "batch")
		c := cfg
		c.Workers = workers
		res, err := Fit(m, ds, segVal(ds), FitOptions{Task: "segmentation", Cfg: c, Seed: 5, CkptDir: dir, Log: log, Quiet: true, StopAfter: stop, Resume: resume})
		if err != nil {
			t.Fatal(err)
		}
		return m, res
	}
	var logA, logB, logC bytes.Buffer
	a, resA := run(t.TempDir(), 0, false, 2, &logA)
	dirB := t.TempDir()
	_, resB1 := run(dirB, 3, false, 1, &logB)
	if resB1.Stopped != "stop-after" || resB1.EpochsRun != 3 {
		t.Fatalf("interrupted run: %+v", resB1)
	}
	if e, err := CheckpointEpoch(dirB); e != 3 || err != nil {
		t.Fatalf("CheckpointEpoch after the interruption: %d, %v (expected 3)", e, err)
	}
	b, resB := run(dirB, 0, true, 3, &logB)
	c, _ := run(t.TempDir(), 0, false, 1, &logC)
	if a.WeightsHash() != b.WeightsHash() {
		t.Fatal("resumed run ends with different weights than the uninterrupted run")
	}
	if a.WeightsHash() != c.WeightsHash() {
		t.Fatal("two identical runs (2 and 1 workers) end with different weights")
	}
	la, lb := readLog(t, logA.Bytes()), readLog(t, logB.Bytes())
	if len(la) != 6 || len(lb) != 6 {
		t.Fatalf("log lines: %d uninterrupted, %d interrupted+resumed; expected 6", len(la), len(lb))
	}
	for i := range la {
		ja, _ := json.Marshal(la[i])
		jb, _ := json.Marshal(lb[i])
		if !bytes.Equal(ja, jb) {
			t.Fatalf("log line %d differs:\n%s\n%s", i+1, ja, jb)
		}
	}
	if resA.BestEpoch != resB.BestEpoch || resA.EpochsRun != 6 || resB.EpochsRun != 6 {
		t.Fatalf("results differ: %+v vs %+v", resA, resB)
	}
	if la[0]["val"].(map[string]any)["acc"] != nil || la[1]["val"].(map[string]any)["acc"] == nil {
		t.Fatalf("validation should run at epochs 2, 4, 6 only: %v", la[:2])
	}
}

// TestOverfitTasks: each task's network fits a tiny set: the final
// training loss is far below the loss of a constant prediction.
func TestOverfitTasks(t *testing.T) {
	for _, tc := range []struct {
		kind, arch string
		outC       int
		loss       LossSpec
		epochs     int
		max        float64 // bound on the last epoch's loss
		why        string
	}{
		{"seg", "unet", 3, LossSpec{Name: "dice-ce"}, 60, 0.15, "constant prediction: CE ≥ 0.6 and Dice loss ≥ 0.5"},
		{"cls", "cnn", 1, LossSpec{Name: "bce"}, 60, 0.1, "constant prediction: BCE ln 2 = 0.693 on balanced labels"},
		{"heat", "heatmap", 1, LossSpec{Name: "heatmap-mse"}, 30, 0.004, "zero prediction: MSE = mean target² ≈ 0.0123 (σ = 2 px Gaussian on 16×16)"},
		{"multi", "multitask", 3, LossSpec{Name: "multitask"}, 60, 0.2, "constant prediction: dice-ce ≥ 1.1 plus BCE ln 2 = 0.693"},
	} {
		ds := &discSet{n: 8, size: 16, kind: tc.kind}
		m, err := nn.New(nn.NetSpec{Arch: tc.arch, Base: 8, Depth: 2}, nn.Shape{C: 3, H: 16, W: 16}, tc.outC, 4, 1)
		if err != nil {
			t.Fatal(err)
		}
		cfg := Config{Epochs: tc.epochs, BatchSize: 4, Optimizer: OptSpec{Name: "adam", LR: 0.01}, Loss: tc.loss}
		res, err := Fit(m, ds, nil, FitOptions{Task: tc.kind, Cfg: cfg, Seed: 1, Quiet: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: last loss %.5f (%s)", tc.kind, res.LastLoss, tc.why)
		if res.LastLoss > tc.max {
			t.Errorf("%s: last loss %.5f > %.5f (%s)", tc.kind, res.LastLoss, tc.max, tc.why)
		}
	}
}

// nanSet yields a NaN target in epoch 2.
type nanSet struct{ discSet }

func (d *nanSet) Example(epoch, i int) (Example, error) {
	ex, err := d.discSet.Example(epoch, i)
	if epoch == 2 {
		ex.Y[0] = float32(math.NaN())
	}
	return ex, err
}

// TestNaNStops: a NaN loss stops Fit with an error naming the task, epoch
// and batch; the checkpoint of the last good epoch (1) stays.
func TestNaNStops(t *testing.T) {
	ds := &nanSet{discSet{n: 8, size: 16}}
	dir := t.TempDir()
	cfg := Config{Epochs: 3, BatchSize: 4, Loss: LossSpec{Name: "heatmap-mse"}}
	ds.kind = "heat"
	m, _ := nn.New(nn.NetSpec{Arch: "heatmap", Base: 4, Depth: 2}, nn.Shape{C: 3, H: 16, W: 16}, 1, 4, 1)
	_, err := Fit(m, ds, nil, FitOptions{Task: "segmentation", Cfg: cfg, Seed: 1, CkptDir: dir, Quiet: true})
	if err == nil || !strings.Contains(err.Error(), "task segmentation: epoch 2 batch 1: loss is NaN") {
		t.Fatalf("error %v should name task, epoch 2 and batch 1", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "latest", "state.json"))
	if err != nil || !strings.Contains(string(b), `"epoch": 1,`) {
		t.Fatalf("latest checkpoint should be epoch 1: %s %v", b, err)
	}
}

// TestEarlyStopping: with a metric that never improves after epoch 1 and
// patience 2, training stops after epoch 3 and the best (epoch 1) weights
// are loaded back.
func TestEarlyStopping(t *testing.T) {
	ds := &discSet{n: 8, size: 16}
	m := segModel(t, 0)
	var best string
	val := func(m *nn.Model, epoch int) (map[string]float64, error) {
		if epoch == 1 {
			best = m.WeightsHash()
		}
		return map[string]float64{"loss": float64(epoch)}, nil
	}
	cfg := Config{Epochs: 10, BatchSize: 4, Loss: LossSpec{Name: "dice-ce"}, Monitor: "loss", MonitorMode: "min", Patience: 2}
	before := nn.TrainingMachinesBuilt()
	defer func() {
		// C22: one training TapeMachine per Fit, not one per step or epoch
		if n := nn.TrainingMachinesBuilt() - before; n != 1 {
			t.Errorf("Fit built %d training TapeMachines, expected 1", n)
		}
	}()
	res, err := Fit(m, ds, val, FitOptions{Task: "seg", Cfg: cfg, Seed: 1, CkptDir: t.TempDir(), Quiet: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.EpochsRun != 3 || res.BestEpoch != 1 || res.Stopped != "early-stopping" || res.Best["loss"] != 1 {
		t.Fatalf("result %+v: expected stop after epoch 3 with best epoch 1", res)
	}
	if m.WeightsHash() != best {
		t.Fatal("the best checkpoint's weights were not loaded into the model")
	}
}

// TestBalancedOrder: balanced sampling on labels 1:3 draws both classes
// about equally.
func TestBalancedOrder(t *testing.T) {
	ds := &ratioSet{discSet{n: 400, size: 4}}
	order := epochOrder(1, 1, 400, 4000, ds)
	pos := 0
	for _, i := range order {
		if ds.Label(i) == 1 {
			pos++
		}
	}
	if pos < 1800 || pos > 2200 {
		t.Fatalf("%d positives of 4000 draws, expected ≈ 2000 (labels are 25%% positive)", pos)
	}
	plain := epochOrder(1, 1, 400, 400, nil)
	seen := map[int]bool{}
	for _, i := range plain {
		seen[i] = true
	}
	if len(seen) != 400 {
		t.Fatalf("plain order visits %d distinct samples, expected all 400", len(seen))
	}
}

type ratioSet struct{ discSet }

func (d *ratioSet) Label(i int) int {
	if i%4 == 0 {
		return 1
	}
	return 0
}

// TestPredictTTA: flip TTA is flip-equivariant: TTA(flip(x)) = flip(TTA(x))
// for segmentation, and TTA(flip(x)) = TTA(x) for classification.
func TestPredictTTA(t *testing.T) {
	ds := &discSet{n: 2, size: 16}
	ex, _ := ds.Example(0, 1)
	fx := make([]float32, len(ex.X))
	flipW(ex.X, fx, 3, 16, 16)
	seg := segModel(t, 0)
	p, _ := Predict(seg, [][]float32{ex.X, fx}, true)
	back := make([]float32, len(p[1]))
	flipW(p[1], back, 3, 16, 16)
	for i := range back {
		if math.Abs(float64(back[i]-p[0][i])) > 1e-6 {
			t.Fatalf("segmentation TTA not flip-equivariant at %d: %v vs %v", i, back[i], p[0][i])
		}
	}
	var sum float64
	for c := 0; c < 3; c++ {
		sum += float64(p[0][c*256])
	}
	if math.Abs(sum-1) > 1e-5 {
		t.Fatalf("softmax probabilities at pixel 0 sum to %v", sum)
	}
	cls, _ := nn.New(nn.NetSpec{Arch: "cnn", Base: 4, Depth: 2}, nn.Shape{C: 3, H: 16, W: 16}, 1, 1, 3)
	q, _ := Predict(cls, [][]float32{ex.X, fx}, true)
	if math.Abs(float64(q[0][0]-q[1][0])) > 1e-6 || q[0][0] <= 0 || q[0][0] >= 1 {
		t.Fatalf("classification TTA: %v vs %v (expected equal probabilities in (0,1))", q[0][0], q[1][0])
	}
	// batching: 11 inputs (one full batch of 8 plus 3) give the same
	// outputs as one at a time
	var xs [][]float32
	for i := 0; i < 11; i++ {
		xs = append(xs, ex.X)
	}
	many, _ := Predict(seg, xs, false)
	one, _ := Predict(seg, xs[:1], false)
	for i := range many {
		for j := range one[0] {
			if many[i][j] != one[0][j] {
				t.Fatalf("example %d of a batch differs from the single prediction", i)
			}
		}
	}
}

// TestProgressLines: not quiet, a non-terminal writer gets one plain line
// per epoch with loss, learning rate and the validation metrics.
func TestProgressLines(t *testing.T) {
	ds := &discSet{n: 4, size: 16}
	var out bytes.Buffer
	val := func(m *nn.Model, epoch int) (map[string]float64, error) { return map[string]float64{"acc": 0.5}, nil }
	cfg := Config{Epochs: 2, BatchSize: 4, Loss: LossSpec{Name: "dice-ce"}, Monitor: "acc"}
	if _, err := Fit(segModel(t, 0), ds, val, FitOptions{Task: "seg", Cfg: cfg, Seed: 1, Progress: &out}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[1], "[seg] epoch 2/2 loss ") || !strings.Contains(lines[1], " acc 0.5 ") {
		t.Fatalf("progress output:\n%s", out.String())
	}
}

// TestThreadCountInvariant: the same Fit with GOMAXPROCS 1 and 4 ends with
// bit-identical weights (work is split per image, partial sums reduced in
// a fixed order).
func TestThreadCountInvariant(t *testing.T) {
	ds := &discSet{n: 8, size: 16}
	cfg := Config{Epochs: 2, BatchSize: 4, Optimizer: OptSpec{Name: "sgd", LR: 0.05, Nesterov: true}, Loss: LossSpec{Name: "dice-ce"}}
	var hashes []string
	for _, procs := range []int{1, 4} {
		old := runtime.GOMAXPROCS(procs)
		m := segModelNorm(t, 0.1, "batch")
		_, err := Fit(m, ds, nil, FitOptions{Task: "seg", Cfg: cfg, Seed: 2, Quiet: true})
		runtime.GOMAXPROCS(old)
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, m.WeightsHash())
	}
	if hashes[0] != hashes[1] {
		t.Fatalf("weights differ between GOMAXPROCS 1 and 4: %s vs %s", hashes[0][:12], hashes[1][:12])
	}
}

// TestBestInMemory: without a checkpoint folder the best weights, batch
// norm running statistics included, are kept in memory and restored.
func TestBestInMemory(t *testing.T) {
	ds := &discSet{n: 8, size: 16}
	m := segModelNorm(t, 0, "batch")
	var best string
	val := func(m *nn.Model, epoch int) (map[string]float64, error) {
		if epoch == 2 {
			best = m.WeightsHash()
		}
		return map[string]float64{"score": -math.Abs(float64(epoch) - 2)}, nil
	}
	cfg := Config{Epochs: 4, BatchSize: 4, Loss: LossSpec{Name: "dice-ce"}, Monitor: "score"}
	res, err := Fit(m, ds, val, FitOptions{Task: "seg", Cfg: cfg, Seed: 1, Quiet: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.BestEpoch != 2 || m.WeightsHash() != best {
		t.Fatalf("best epoch %d; weights restored: %v", res.BestEpoch, m.WeightsHash() == best)
	}
}

// TestResumeAfterEarlyStop: resuming a run that had stopped early trains
// no further epoch and keeps the same best weights.
func TestResumeAfterEarlyStop(t *testing.T) {
	ds := &discSet{n: 8, size: 16}
	dir := t.TempDir()
	val := func(m *nn.Model, epoch int) (map[string]float64, error) {
		return map[string]float64{"loss": float64(epoch)}, nil
	}
	cfg := Config{Epochs: 10, BatchSize: 4, Loss: LossSpec{Name: "dice-ce"}, Monitor: "loss", MonitorMode: "min", Patience: 2}
	a := segModel(t, 0)
	if _, err := Fit(a, ds, val, FitOptions{Task: "seg", Cfg: cfg, Seed: 1, CkptDir: dir, Quiet: true}); err != nil {
		t.Fatal(err)
	}
	b := segModel(t, 0)
	var log bytes.Buffer
	res, err := Fit(b, ds, val, FitOptions{Task: "seg", Cfg: cfg, Seed: 1, CkptDir: dir, Quiet: true, Resume: true, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if log.Len() != 0 || res.EpochsRun != 3 || res.BestEpoch != 1 || res.Stopped != "early-stopping" || a.WeightsHash() != b.WeightsHash() {
		t.Fatalf("resume after early stop: %+v, log %q, same weights %v", res, log.String(), a.WeightsHash() == b.WeightsHash())
	}
}

// TestMultitaskPredict: the multitask network's prediction is the
// segmentation softmax followed by a probability; flip TTA keeps the
// segmentation part flip-equivariant and the probability flip-invariant.
func TestMultitaskPredict(t *testing.T) {
	m, err := nn.New(nn.NetSpec{Arch: "multitask", Base: 4, Depth: 2}, nn.Shape{C: 3, H: 16, W: 16}, 3, 2, 4)
	if err != nil {
		t.Fatal(err)
	}
	ds := &discSet{n: 2, size: 16}
	ex, _ := ds.Example(0, 1)
	fx := make([]float32, len(ex.X))
	flipW(ex.X, fx, 3, 16, 16)
	p, err := Predict(m, [][]float32{ex.X, fx}, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(p[0]) != 3*256+1 {
		t.Fatalf("prediction has %d values, expected 3·256 + 1", len(p[0]))
	}
	back := make([]float32, 3*256)
	flipW(p[1][:3*256], back, 3, 16, 16)
	for i := range back {
		if math.Abs(float64(back[i]-p[0][i])) > 1e-6 {
			t.Fatalf("segmentation part not flip-equivariant at %d", i)
		}
	}
	if a, b := p[0][3*256], p[1][3*256]; math.Abs(float64(a-b)) > 1e-6 || a <= 0 || a >= 1 {
		t.Fatalf("probabilities %v and %v: expected equal and in (0,1)", a, b)
	}
	if s := p[0][0] + p[0][256] + p[0][512]; math.Abs(float64(s)-1) > 1e-5 {
		t.Fatalf("class probabilities at pixel 0 sum to %v", s)
	}
}
