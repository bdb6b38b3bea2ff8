package nn

import (
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// convGraph runs Conv2D (ours, or Gorgonia's stock Conv2d when stock) in a
// graph with loss Σ r·out and returns out, dL/dx, dL/dw.
func convGraph(t *testing.T, x, w, b []float32, xs, ws []int, stride, pad int, stock bool) (out, gx, gw []float32) {
	t.Helper()
	g := G.NewGraph()
	xn := G.NewTensor(g, tensor.Float32, 4, G.WithShape(xs...), G.WithName("x"), G.WithValue(tensor.New(tensor.WithShape(xs...), tensor.WithBacking(x))))
	wn := G.NewTensor(g, tensor.Float32, 4, G.WithShape(ws...), G.WithName("w"), G.WithValue(tensor.New(tensor.WithShape(ws...), tensor.WithBacking(w))))
	bn := G.NewTensor(g, tensor.Float32, 4, G.WithShape(1, ws[0], 1, 1), G.WithName("b"), G.WithValue(tensor.New(tensor.WithShape(1, ws[0], 1, 1), tensor.WithBacking(b))))
	var y *G.Node
	var err error
	if stock {
		y, err = G.Conv2d(xn, wn, tensor.Shape{ws[2], ws[3]}, []int{pad, pad}, []int{stride, stride}, []int{1, 1})
	} else {
		y, err = Conv2D(xn, wn, bn, stride, pad)
	}
	if err != nil {
		t.Fatal(err)
	}
	r := randVals(y.Shape().TotalSize(), 99, 1)
	rn := G.NewTensor(g, tensor.Float32, 4, G.WithShape(y.Shape()...), G.WithName("r"), G.WithValue(tensor.New(tensor.WithShape(y.Shape()...), tensor.WithBacking(r))))
	prod, err := G.HadamardProd(y, rn)
	if err != nil {
		t.Fatal(err)
	}
	cost, err := G.Sum(prod)
	if err != nil {
		t.Fatal(err)
	}
	wrt := G.Nodes{xn, wn}
	if !stock {
		wrt = append(wrt, bn)
	}
	if _, err := G.Grad(cost, wrt...); err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g, G.BindDualValues(wrt...))
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	out = append([]float32(nil), y.Value().Data().([]float32)...)
	gxv, _ := xn.Grad()
	gwv, _ := wn.Grad()
	return out, append([]float32(nil), gxv.Data().([]float32)...), append([]float32(nil), gwv.Data().([]float32)...)
}

// TestC18Conv: field case C18 (gorgonia/gorgonia#268): 1×8×14×14 ⊛
// 16×8×5×5, pad 2, x[i] = sin(i), w[j] = cos(j)/10, and 1×1×4×4 = 0..15 ⊛
// 2×2 (pad 1 → 5×5) match the naive loop within 1e-4, forward and input /
// weight gradients (finite differences of the float64 naive loop).
func TestC18Conv(t *testing.T) {
	for _, tc := range []struct {
		xs, ws []int
		pad    int
		seq    bool
	}{
		{[]int{1, 8, 14, 14}, []int{16, 8, 5, 5}, 2, false},
		{[]int{1, 1, 4, 4}, []int{1, 1, 2, 2}, 1, true},
	} {
		x := make([]float32, tc.xs[0]*tc.xs[1]*tc.xs[2]*tc.xs[3])
		for i := range x {
			if tc.seq {
				x[i] = float32(i)
			} else {
				x[i] = float32(math.Sin(float64(i)))
			}
		}
		w := make([]float32, tc.ws[0]*tc.ws[1]*tc.ws[2]*tc.ws[3])
		for j := range w {
			w[j] = float32(math.Cos(float64(j)) / 10)
		}
		b := make([]float32, tc.ws[0])
		out, gx, gw := convGraph(t, x, w, b, tc.xs, tc.ws, 1, tc.pad, false)
		ref := func(x64, w64 []float64) []float64 {
			return naiveConv(x64, w64, make([]float64, tc.ws[0]), tc.xs[0], tc.xs[1], tc.xs[2], tc.xs[3], tc.ws[0], tc.ws[2], 1, tc.pad)
		}
		want := ref(to64(x), to64(w))
		ho := tc.xs[2] + 2*tc.pad - tc.ws[2] + 1
		if len(out) != tc.ws[0]*ho*ho {
			t.Fatalf("C18 %v: output has %d values, expected 1×%d×%d×%d", tc.xs, len(out), tc.ws[0], ho, ho)
		}
		if e := relErr(out, want, 1e-3); e > 1e-4 {
			t.Errorf("C18 %v forward: relative error %.3g", tc.xs, e)
		}
		r := randVals(len(out), 99, 1)
		x64, w64 := to64(x), to64(w)
		// finite differences on every 31st coordinate (the naive loop is slow)
		fd := func(v []float64, got []float32) ([]float32, []float64) {
			var a []float32
			var g []float64
			for i := 0; i < len(v); i += 31 {
				o := v[i]
				v[i] = o + 1e-6
				lp := dot(ref(x64, w64), r)
				v[i] = o - 1e-6
				lm := dot(ref(x64, w64), r)
				v[i] = o
				g = append(g, (lp-lm)/2e-6)
				a = append(a, got[i])
			}
			return a, g
		}
		if a, g := fd(x64, gx); relErr(a, g, 1e-3) > 1e-4 {
			e := relErr(a, g, 1e-3)
			t.Errorf("C18 %v input gradient: relative error %.3g", tc.xs, e)
		}
		if a, g := fd(w64, gw); relErr(a, g, 1e-3) > 1e-4 {
			e := relErr(a, g, 1e-3)
			t.Errorf("C18 %v weight gradient: relative error %.3g", tc.xs, e)
		}
		// Gorgonia's stock Conv2d on the same input, for the record.
		if sout, _, _ := convGraph(t, x, w, b, tc.xs, tc.ws, 1, tc.pad, true); len(sout) == len(want) {
			t.Logf("C18 %v: stock gorgonia Conv2d forward relative error %.3g (ours %.3g)", tc.xs, relErr(sout, want, 1e-3), relErr(out, want, 1e-3))
		}
	}
}

// tinyNet exercises every layer kind in one graph: conv, group norm, ReLU,
// max pool, upsample, concat (a skip with two consumers), dropout.
func tinyModel(t *testing.T, arch string, dropout float64) *Model {
	t.Helper()
	m, err := New(NetSpec{Arch: arch, Base: 4, Depth: 1, Groups: 2, Dropout: dropout}, Shape{C: 2, H: 8, W: 8}, 3, 2, 5)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func sqLoss(out []float32, _ []int, y, w []float32, grad []float32) float64 {
	var s float64
	for i := range out {
		d := float64(out[i]) - float64(y[i])
		s += 0.5 * float64(w[i]) * d * d
		if grad != nil {
			grad[i] = float32(float64(w[i]) * d)
		}
	}
	return s
}

// TestNetworkGradient checks the whole graph's parameter gradients (our
// ops glued by Gorgonia's symbolic differentiation, including the gradient
// sums at skip connections) against central differences of the loss
// computed with Model.Forward. The networks are made smooth (identity for
// ReLU, average for max pooling; the kernels themselves are checked to
// 1e-4 above): without norm, the network is linear and the squared loss
// quadratic, so central differences are exact up to float32 rounding.
func TestNetworkGradient(t *testing.T) {
	linearForTests = true
	defer func() { linearForTests = false }()
	for _, tc := range []struct {
		arch, norm string
		h, tol     float32
	}{
		{"unet", "none", 0.1, 2e-2}, {"cnn", "none", 0.1, 2e-2}, {"resnet", "none", 0.1, 2e-2},
		{"unet", "group", 0.01, 5e-2}, {"cnn", "group", 0.01, 5e-2}, {"resnet", "group", 0.01, 5e-2},
		{"multitask", "none", 0.1, 2e-2}, {"multitask", "group", 0.01, 5e-2},
	} {
		m, err := New(NetSpec{Arch: tc.arch, Base: 4, Depth: 1, Groups: 2, Norm: tc.norm}, Shape{C: 2, H: 8, W: 8}, 3, 2, 5)
		if err != nil {
			t.Fatal(err)
		}
		worst, checked := checkGraphGrads(t, tc.arch+"/"+tc.norm, m, tc.h, tc.tol, nil)
		t.Logf("%s/%s: worst relative gradient error %.3g over %d coordinates of %d tensors", tc.arch, tc.norm, worst, checked, len(m.Params()))
	}
}

// checkGraphGrads compares the parameter gradients of one training step
// (batch 2, input and targets from seeds 21 and 22, squared loss) with
// central differences of the loss computed with Model.Forward, step h,
// every (1+len/40)-th coordinate of the parameters whose name keep accepts
// (all when keep is nil); relative error (floor 1) at most tol. It returns
// the worst error and the number of coordinates checked.
func checkGraphGrads(t *testing.T, label string, m *Model, h, tol float32, keep func(string) bool) (float64, int) {
	t.Helper()
	per := 1
	for _, v := range m.OutShape() {
		per *= v
	}
	tr, err := m.NewTrainer(2, per, "sq", sqLoss)
	if err != nil {
		t.Fatal(err)
	}
	x := randVals(2*m.In.C*m.In.H*m.In.W, 21, 1)
	y := randVals(2*per, 22, 1)
	if _, err := tr.Step(x, y, nil, 1); err != nil {
		t.Fatal(err)
	}
	ones := make([]float32, 2*per)
	for i := range ones {
		ones[i] = 1
	}
	lossAt := func() float64 {
		out, err := m.Forward(x, 2)
		if err != nil {
			t.Fatal(err)
		}
		return sqLoss(out, nil, y, ones, nil)
	}
	worst := 0.0
	checked := 0
	for pi, p := range m.Params() {
		if keep != nil && !keep(p.Name) {
			continue
		}
		g := tr.Grads()[pi]
		for j := 0; j < len(p.Data); j += 1 + len(p.Data)/40 {
			orig := p.Data[j]
			p.Data[j] = orig + h
			lp := lossAt()
			up := p.Data[j]
			p.Data[j] = orig - h
			lm := lossAt()
			dn := p.Data[j]
			p.Data[j] = orig
			fd := (lp - lm) / float64(up-dn)
			e := math.Abs(fd-float64(g[j])) / math.Max(math.Abs(fd), 1)
			worst = math.Max(worst, e)
			checked++
			if e > float64(tol) {
				t.Errorf("%s %s[%d]: gradient %.6g, finite difference %.6g", label, p.Name, j, g[j], fd)
			}
		}
	}
	return worst, checked
}

// TestC22Repeatable: field case C22 (gorgonia#466): three forward/backward
// runs of one TapeMachine with Reset between give bit-identical outputs
// and gradients; the heap after 500 steps stays within 10% of step 50.
func TestC22Repeatable(t *testing.T) {
	m := tinyModel(t, "unet", 0.3)
	per := 3 * 8 * 8
	before := TrainingMachinesBuilt()
	tr, err := m.NewTrainer(2, per, "sq", sqLoss)
	if err != nil {
		t.Fatal(err)
	}
	if n := TrainingMachinesBuilt() - before; n != 1 {
		t.Fatalf("NewTrainer built %d TapeMachines, expected 1", n)
	}
	x := randVals(2*2*8*8, 31, 1)
	y := randVals(2*per, 32, 1)
	var outs [][]float32
	var grads [][]float32
	for run := 0; run < 3; run++ {
		if _, err := tr.Step(x, y, nil, 7); err != nil {
			t.Fatal(err)
		}
		outs = append(outs, tr.Output())
		var flat []float32
		for _, g := range tr.Grads() {
			flat = append(flat, g...)
		}
		grads = append(grads, flat)
	}
	for run := 1; run < 3; run++ {
		for i := range outs[0] {
			if math.Float32bits(outs[run][i]) != math.Float32bits(outs[0][i]) {
				t.Fatalf("run %d output %d differs: %v vs %v", run, i, outs[run][i], outs[0][i])
			}
		}
		for i := range grads[0] {
			if math.Float32bits(grads[run][i]) != math.Float32bits(grads[0][i]) {
				t.Fatalf("run %d gradient %d differs", run, i)
			}
		}
	}
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	var h50 uint64
	for it := 1; it <= 500; it++ {
		if _, err := tr.Step(x, y, nil, uint64(it)); err != nil {
			t.Fatal(err)
		}
		if it == 50 {
			h50 = heap()
		}
	}
	h500 := heap()
	if float64(h500) > 1.1*float64(h50) {
		t.Errorf("heap grew from %d (step 50) to %d (step 500), more than 10%%", h50, h500)
	}
	t.Logf("heap at step 50: %d B, at step 500: %d B", h50, h500)
}

// TestNaNWatch (C21, debug mode): with the NaN watch on, a NaN input makes
// Step fail naming the first op whose output holds it (the first
// convolution), instead of silently producing NaN weights.
func TestNaNWatch(t *testing.T) {
	SetNaNWatch(true)
	defer SetNaNWatch(false)
	m := tinyModel(t, "cnn", 0)
	tr, err := m.NewTrainer(2, 3, "sq", sqLoss)
	if err != nil {
		t.Fatal(err)
	}
	x := randVals(2*2*8*8, 1, 1)
	x[5] = float32(math.NaN())
	_, err = tr.Step(x, make([]float32, 6), nil, 1)
	if err == nil || !strings.Contains(err.Error(), "NaN found") || !strings.Contains(err.Error(), "Conv2D") {
		t.Fatalf("error %v should report NaN at the first Conv2D", err)
	}
}

// TestNoInputImageGradient: the training graph computes no gradient with
// respect to the input image (nobody reads it; Gorgonia would compile and
// run it every step), for every architecture; parameter gradients are
// still checked by TestNetworkGradient.
func TestNoInputImageGradient(t *testing.T) {
	for _, arch := range []string{"cnn", "unet", "resnet", "heatmap", "multitask"} {
		m, err := New(NetSpec{Arch: arch, Base: 4, Depth: 2}, Shape{C: 3, H: 16, W: 16}, 2, 2, 1)
		if err != nil {
			t.Fatal(err)
		}
		per := 1
		for _, v := range m.OutShape() {
			per *= v
		}
		tr, err := m.NewTrainer(2, per, "zero", func(out []float32, _ []int, y, w, g []float32) float64 { return 0 })
		if err != nil {
			t.Fatalf("%s: %v", arch, err)
		}
		n := 0
		for _, nd := range tr.gr.g.AllNodes() {
			if nd.Op() != nil && strings.HasPrefix(nd.Op().String(), "grad") && nd.Shape().Eq(tr.gr.x.Shape()) {
				n++
			}
		}
		if n != 0 {
			t.Errorf("%s: %d gradient nodes of the input image's shape %v, expected 0", arch, n, tr.gr.x.Shape())
		}
	}
}

// TestGradPoolIdentical: with gradient buffers recycled within a step
// (gradPool), three training steps of every architecture give bitwise the
// same losses and parameter gradients as without, buffers are in fact
// shared (fewer allocated than pooled ops), and every buffer is idle
// again after a step. Released buffers are filled with NaN, so a buffer
// released before its last read would show.
func TestGradPoolIdentical(t *testing.T) {
	defer func(old bool) { poisonGradPool = old }(poisonGradPool)
	poisonGradPool = true // a read after release would give NaN gradients
	for _, arch := range []string{"unet", "resnet", "multitask", "cnn"} {
		spec := NetSpec{Arch: arch, Base: 4, Depth: 2, Norm: "batch"}
		run := func(pool bool) ([]float64, [][]float32, *gradPool, int) {
			defer func(old bool) { poolGrads = old }(poolGrads)
			poolGrads = pool
			m, err := New(spec, Shape{C: 3, H: 16, W: 16}, 2, 2, 7)
			if err != nil {
				t.Fatal(err)
			}
			per := 1
			for _, v := range m.OutShape() {
				per *= v
			}
			tr, err := m.NewTrainer(2, per, "sq", func(out []float32, _ []int, y, w, g []float32) float64 {
				var s float64
				for i := range out {
					d := out[i] - y[i]
					if g != nil {
						g[i] = d
					}
					s += float64(d * d / 2)
				}
				return s
			})
			if err != nil {
				t.Fatalf("%s: %v", arch, err)
			}
			pooled := 0
			for _, n := range tr.gr.g.AllNodes() {
				if op, ok := n.Op().(*kernGradOp); ok && op.uses > 0 {
					pooled++
				}
			}
			var losses []float64
			var grads [][]float32
			for step := 0; step < 3; step++ {
				x := randVals(2*3*16*16, uint64(10+step), 1)
				y := randVals(2*per, uint64(20+step), 1)
				l, err := tr.Step(x, y, nil, uint64(step))
				if err != nil {
					t.Fatalf("%s: %v", arch, err)
				}
				losses = append(losses, l)
				for _, g := range tr.Grads() {
					grads = append(grads, append([]float32(nil), g...))
				}
			}
			return losses, grads, tr.pool, pooled
		}
		l1, g1, pool, pooled := run(true)
		l0, g0, _, _ := run(false)
		if !slices.Equal(l1, l0) {
			t.Errorf("%s: losses %v with pooling, %v without", arch, l1, l0)
		}
		for i := range g0 {
			if !slices.Equal(g1[i], g0[i]) {
				t.Fatalf("%s: gradient %d differs with pooling", arch, i)
			}
		}
		if pool == nil || pooled == 0 {
			t.Fatalf("%s: no gradient pooled", arch)
		}
		idle := 0
		for _, f := range pool.free {
			idle += len(f)
		}
		if len(pool.left) != 0 || idle >= pooled {
			t.Errorf("%s: after a step %d buffers still in use, %d idle buffers for %d pooled gradient ops (expected 0 in use and fewer buffers than ops)", arch, len(pool.left), idle, pooled)
		}
		t.Logf("%s: %d pooled gradient ops share %d buffers", arch, pooled, idle)
	}
}

// TestGradPoolReads: a pooled buffer is handed out again only after its
// last read, and then for the same shape only.
func TestGradPoolReads(t *testing.T) {
	p := newGradPool()
	a := p.get(tensor.Shape{2, 3}, 2)
	p.read(a)
	if b := p.get(tensor.Shape{2, 3}, 1); b == a {
		t.Fatal("buffer handed out again after 1 of its 2 reads")
	}
	p.read(a)
	if c := p.get(tensor.Shape{3, 2}, 1); c == a {
		t.Fatal("buffer handed out for another shape")
	}
	if d := p.get(tensor.Shape{2, 3}, 1); d != a {
		t.Fatal("idle buffer not reused for its shape")
	}
	p.read(tensor.New(tensor.WithShape(2, 3), tensor.Of(tensor.Float32))) // not pooled: ignored
	p.reset()
	if len(p.left) != 0 {
		t.Fatalf("%d buffers in use after reset", len(p.left))
	}
}
