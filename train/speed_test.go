package train

import (
	"math"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/refugelab/refugelab/nn"
)

// TestStepSpeed measures ms per training step (forward + backward +
// optimizer) of the demo's networks at batch 8 on 64x64 inputs. Run with
// REFUGELAB_SPEED=1 (not part of the normal test run).
func TestStepSpeed(t *testing.T) {
	if os.Getenv("REFUGELAB_SPEED") == "" {
		t.Skip("set REFUGELAB_SPEED=1 to measure step times")
	}
	cases := []struct {
		name string
		spec nn.NetSpec
		outC int
		loss LossSpec
		y    int
	}{
		{"segmentation unet b8 d3", nn.NetSpec{Arch: "unet", Base: 8, Depth: 3}, 3, LossSpec{Name: "dice-ce"}, 64 * 64},
		{"classification cnn b8 d3", nn.NetSpec{Arch: "cnn", Base: 8, Depth: 3}, 1, LossSpec{Name: "bce"}, 1},
		{"heatmap b8 d3", nn.NetSpec{Arch: "heatmap", Base: 8, Depth: 3}, 1, LossSpec{Name: "heatmap-mse"}, 64 * 64},
		{"segmentation unet b16 d4", nn.NetSpec{Arch: "unet", Base: 16, Depth: 4}, 3, LossSpec{Name: "dice-ce"}, 64 * 64},
		{"classification resnet b8 d4", nn.NetSpec{Arch: "resnet", Base: 8, Depth: 4}, 1, LossSpec{Name: "bce"}, 1},
	}
	for _, c := range cases {
		m, err := nn.New(c.spec, nn.Shape{C: 3, H: 64, W: 64}, c.outC, 8, 1)
		if err != nil {
			t.Fatal(err)
		}
		l, _ := BuildLoss(c.loss)
		tr, err := m.NewTrainer(8, c.y, l.Name, l.F)
		if err != nil {
			t.Fatal(err)
		}
		o, _ := NewOptimizer(OptSpec{Name: "adam"}, m.Params())
		x := make([]float32, 8*3*64*64)
		for i := range x {
			x[i] = float32(math.Sin(float64(i)))
		}
		y := make([]float32, 8*c.y)
		for i := range y {
			y[i] = float32(i % 2)
		}
		n := 10
		for i := 0; i < 2; i++ {
			tr.Step(x, y, nil, 1)
		}
		c0 := cpuTime()
		t0 := time.Now()
		for i := 0; i < n; i++ {
			if _, err := tr.Step(x, y, nil, 1); err != nil {
				t.Fatal(err)
			}
			o.Step(m.Params(), tr.Grads(), 1e-3)
		}
		step := time.Since(t0) / time.Duration(n)
		cpu := (cpuTime() - c0) / time.Duration(n)
		t0 = time.Now()
		xs := make([][]float32, 8)
		for i := range xs {
			xs[i] = x[i*3*64*64 : (i+1)*3*64*64]
		}
		for i := 0; i < n; i++ {
			Predict(m, xs, false)
		}
		t.Logf("%-30s params %7d  train step %6.1f ms wall, %6.1f ms CPU  predict(8) %6.1f ms", c.name, m.TotalParams(), float64(step.Microseconds())/1000, float64(cpu.Microseconds())/1000, float64((time.Since(t0)/time.Duration(n)).Microseconds())/1000)
	}
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
