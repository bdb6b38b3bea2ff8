package train

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/refugelab/refugelab/nn"
)

// slowSet is discSet with a delay in every Example: the training loop has
// to wait for the prefetch workers.
type slowSet struct {
	discSet
	delay time.Duration
}

func (d *slowSet) Example(epoch, i int) (Example, error) {
	time.Sleep(d.delay)
	return d.discSet.Example(epoch, i)
}

// TestFitLogsDataWait checks the per-epoch wall-time split of log.jsonl:
// data_wait_s and step_s follow seconds (the existing keys keep their
// order), are non-negative, fit inside the epoch's seconds (each is rounded
// to the millisecond, hence the 0.002 s slack) and sum to FitResult's
// totals; and that a data pipeline slow enough to make the loop wait
// changes nothing that is trained (same weights, same loss).
func TestFitLogsDataWait(t *testing.T) {
	cfg := Config{Epochs: 3, BatchSize: 4, Optimizer: OptSpec{Name: "adam", LR: 0.01}, Loss: LossSpec{Name: "dice-ce"}, Workers: 1}
	run := func(ds Dataset) (*nn.Model, *FitResult, []byte) {
		m, err := nn.New(nn.NetSpec{Arch: "unet", Base: 4, Depth: 2}, nn.Shape{C: 3, H: 16, W: 16}, 3, 4, 1)
		if err != nil {
			t.Fatal(err)
		}
		var log bytes.Buffer
		res, err := Fit(m, ds, nil, FitOptions{Task: "segmentation", Cfg: cfg, Seed: 3, Log: &log, Quiet: true})
		if err != nil {
			t.Fatal(err)
		}
		return m, res, log.Bytes()
	}
	fast, resF, _ := run(&discSet{n: 8, size: 16})
	slow, resS, logS := run(&slowSet{discSet: discSet{n: 8, size: 16}, delay: 3 * time.Millisecond})
	if fast.WeightsHash() != slow.WeightsHash() || resF.LastLoss != resS.LastLoss {
		t.Fatalf("a slower data pipeline changed the result: weights %s vs %s, loss %v vs %v", fast.WeightsHash(), slow.WeightsHash(), resF.LastLoss, resS.LastLoss)
	}
	lines := strings.Split(strings.TrimSpace(string(logS)), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d log lines, want 3 (one per epoch):\n%s", len(lines), logS)
	}
	var sumWait, sumStep float64
	for _, l := range lines {
		if !strings.Contains(l, `"val":{},"seconds":`) || !strings.Contains(l, `,"data_wait_s":`) || !strings.HasSuffix(l, "}") ||
			strings.Index(l, `"seconds"`) > strings.Index(l, `"data_wait_s"`) || strings.Index(l, `"data_wait_s"`) > strings.Index(l, `"step_s"`) {
			t.Fatalf("log line %s: want keys ... val, seconds, data_wait_s, step_s in that order", l)
		}
		var rec struct {
			Epoch    int     `json:"epoch"`
			Seconds  float64 `json:"seconds"`
			DataWait float64 `json:"data_wait_s"`
			Step     float64 `json:"step_s"`
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.DataWait < 0 || rec.Step <= 0 || rec.DataWait+rec.Step > rec.Seconds+0.002 {
			t.Errorf("epoch %d: data_wait_s %v + step_s %v must be >= 0 and within seconds %v", rec.Epoch, rec.DataWait, rec.Step, rec.Seconds)
		}
		sumWait += rec.DataWait
		sumStep += rec.Step
	}
	// 3 epochs, each logged value rounded to the millisecond.
	if d := resS.DataWaitSeconds - sumWait; d > 0.0015 || d < -0.0015 {
		t.Errorf("FitResult.DataWaitSeconds %v, log lines sum to %v", resS.DataWaitSeconds, sumWait)
	}
	if d := resS.StepSeconds - sumStep; d > 0.0015 || d < -0.0015 {
		t.Errorf("FitResult.StepSeconds %v, log lines sum to %v", resS.StepSeconds, sumStep)
	}
}
