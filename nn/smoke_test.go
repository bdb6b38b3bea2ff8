package nn

import (
	"math"
	"testing"
	"time"
)

func mseLoss(out []float32, shape []int, y, w []float32, grad []float32) float64 {
	var s float64
	for i := range out {
		d := float64(out[i] - y[i])
		s += float64(w[i]) * d * d
		if grad != nil {
			grad[i] = float32(2 * float64(w[i]) * d / float64(len(out)))
		}
	}
	return s / float64(len(out))
}

func TestSmokeArchs(t *testing.T) {
	for _, arch := range []string{"unet", "cnn", "resnet"} {
		outC := 3
		m, err := New(NetSpec{Arch: arch, Base: 8, Depth: 3}, Shape{3, 32, 32}, outC, 2, 1)
		if err != nil {
			t.Fatal(arch, err)
		}
		ys := 3
		if m.Dense() {
			ys = 3 * 32 * 32
		}
		tr, err := m.NewTrainer(2, ys, "mse", mseLoss)
		if err != nil {
			t.Fatal(arch, err)
		}
		x := make([]float32, 2*3*32*32)
		for i := range x {
			x[i] = float32(math.Sin(float64(i)))
		}
		y := make([]float32, 2*ys)
		t0 := time.Now()
		l, err := tr.Step(x, y, nil, 1)
		if err != nil {
			t.Fatal(arch, err)
		}
		var gn float64
		for _, g := range tr.Grads() {
			for _, v := range g {
				gn += float64(v) * float64(v)
			}
		}
		out, err := m.Forward(x, 2)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s loss %g gradnorm %g params %d out %d %v", arch, l, math.Sqrt(gn), m.TotalParams(), len(out), time.Since(t0))
	}
}
