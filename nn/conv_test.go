package nn

import (
	"fmt"
	"math"
	"runtime"
	"testing"

	"github.com/refugelab/refugelab/data"
	"gorgonia.org/tensor"
)

// setConvBlocks sets the implicit-GEMM block sizes (and the micro-kernel)
// for one test and restores them afterwards.
func setConvBlocks(t *testing.T, kc, nc, kp, tb int, goKernel bool) {
	t.Helper()
	okc, onc, okp, otb, omk, omk4 := convKC, convNC, convKP, convTB, microKernel, microKernel4
	ook, ook4, odir := offKernel, offKernel4, convDirectMaxBytes
	convKC, convNC, convKP, convTB = kc, nc, kp, tb
	if goKernel {
		microKernel, microKernel4 = kernel6x16Go, kernel4x16Go
		offKernel, offKernel4 = kernel6x16OffGo, kernel4x16OffGo
	}
	t.Cleanup(func() {
		convKC, convNC, convKP, convTB, microKernel, microKernel4 = okc, onc, okp, otb, omk, omk4
		offKernel, offKernel4, convDirectMaxBytes = ook, ook4, odir
	})
}

// TestConvBlockEdges runs forward and all three gradients of the
// convolution against the naive float64 loops (checkConvLoops, relative
// error <= 1e-5) with tiny block sizes, so that every block edge is
// crossed: tap blocks that split a channel's k×k taps, pixel blocks that
// split output rows, partial 6-row panels (O not a multiple of 6), partial
// 16-column strips, and weight-gradient tiles whose last panel runs past
// C·k·k. It does so with the assembly micro-kernel (where present) and
// with the portable Go one, and with the default block sizes on inputs
// larger than one block; each both on the direct path (convdirect.go) and
// with im2col blocks for every convolution.
func TestConvBlockEdges(t *testing.T) {
	type blocks struct {
		kc, nc, kp, tb int
		goKernel       bool
	}
	cases := []blocks{{7, 16, 20, 12, false}, {5, 32, 7, 6, true}, {256, 256, 256, 48, true}}
	if useAsmGemm {
		cases = append(cases, blocks{256, 256, 256, 48, false})
	}
	for _, bl := range cases {
		for _, direct := range []bool{true, false} {
			t.Run(fmt.Sprintf("kc%d_nc%d_kp%d_tb%d_go%v_direct%v", bl.kc, bl.nc, bl.kp, bl.tb, bl.goKernel, direct), func(t *testing.T) {
				setConvBlocks(t, bl.kc, bl.nc, bl.kp, bl.tb, bl.goKernel)
				if !direct {
					convDirectMaxBytes = 0 // im2col for every stride-1 convolution
				}
				r := data.NewRand(4242)
				for it := 0; it < 12; it++ {
					n, c, o := 1+r.IntN(2), 1+r.IntN(12), 1+r.IntN(23)
					k := []int{1, 3, 5}[r.IntN(3)]
					s, d := 1+r.IntN(2), 1+r.IntN(2)
					p := r.IntN(d*(k/2) + 2)
					span := d*(k-1) + 1
					h, w := span+r.IntN(20), span+r.IntN(20)
					checkConvLoops(t, n, c, h, w, o, k, s, p, d, uint64(1000+it))
				}
				// larger than one default block: 30 channels × 9 taps = 270 > 256
				// taps, 24×24 = 576 > 256 pixels, 20 outputs (partial panels)
				checkConvLoops(t, 2, 30, 24, 24, 20, 3, 1, 1, 1, 77)
				// 1×1 convolution read in place, rows past a partial last tile
				checkConvLoops(t, 2, 13, 20, 20, 7, 1, 1, 0, 1, 78)
				// 16 and 10 outputs: a last panel of 4 rows, stored directly
				checkConvLoops(t, 2, 10, 17, 16, 16, 3, 1, 1, 1, 79)
			})
		}
	}
}

// TestConvThreadsIdentical: the forward output and all gradients are
// bitwise identical at 1, 2 and 3 threads (fixed summation order).
func TestConvThreadsIdentical(t *testing.T) {
	ref := convAll(t, 1)
	for _, th := range []int{2, 3} {
		got := convAll(t, th)
		for i := range ref {
			for j := range ref[i] {
				if got[i][j] != ref[i][j] {
					t.Fatalf("threads %d: result %d differs at %d: %v vs %v", th, i, j, got[i][j], ref[i][j])
				}
			}
		}
	}
}

// convAll runs forward and the three gradients of a 3→20 channel 3×3
// convolution on 5 images of 37×29 at the given GOMAXPROCS.
func convAll(t *testing.T, threads int) [][]float32 {
	t.Helper()
	old := runtime.GOMAXPROCS(threads)
	defer runtime.GOMAXPROCS(old)
	n, c, h, w, o, k := 5, 3, 37, 29, 20, 3
	x := randVals(n*c*h*w, 1, 1)
	wt := randVals(o*c*k*k, 2, 1)
	b := randVals(o, 3, 1)
	shapes := []tensor.Shape{{n, c, h, w}, {o, c, k, k}, {1, o, 1, 1}}
	kern := &convKern{stride: 1, pad: 1}
	out := make([]float32, n*o*h*w)
	kern.fwd([][]float32{x, wt, b}, shapes, out)
	g := randVals(len(out), 4, 1)
	res := [][]float32{out}
	for i, s := range []int{len(x), len(wt), len(b)} {
		gin := make([]float32, s)
		kern.bwd(i, [][]float32{x, wt, b}, shapes, out, g, gin)
		res = append(res, gin)
	}
	return res
}

// BenchmarkConv reports GFLOP/s of the convolution's forward pass and its
// input and weight gradients on layers of the reference U-Net (batch 8,
// 3×3, same padding) and one strided layer at GOMAXPROCS (go test -bench Conv -cpu 2).
func BenchmarkConv(b *testing.B) {
	for _, sh := range []struct{ n, c, hw, o, s int }{
		{8, 16, 256, 16, 1},  // level 0
		{8, 32, 256, 16, 1},  // level 0 after the skip concatenation
		{8, 64, 64, 64, 1},   // level 2
		{8, 128, 32, 128, 1}, // level 3
		{8, 64, 64, 128, 2},  // a resnet stage's first, strided convolution
	} {
		ohw := (sh.hw-1)/sh.s + 1
		x := randVals(sh.n*sh.c*sh.hw*sh.hw, 1, 1)
		w := randVals(sh.o*sh.c*9, 2, 1)
		bias := randVals(sh.o, 3, 1)
		g := randVals(sh.n*sh.o*ohw*ohw, 4, 1)
		shapes := []tensor.Shape{{sh.n, sh.c, sh.hw, sh.hw}, {sh.o, sh.c, 3, 3}, {1, sh.o, 1, 1}}
		k := &convKern{stride: sh.s, pad: 1}
		out := make([]float32, len(g))
		flop := float64(2*sh.n*sh.o*sh.c*9) * float64(ohw*ohw)
		for _, pass := range []string{"fwd", "dx", "dw"} {
			b.Run(fmt.Sprintf("%s_n%d_c%d_%d²_o%d_s%d", pass, sh.n, sh.c, sh.hw, sh.o, sh.s), func(b *testing.B) {
				var gin []float32
				switch pass {
				case "dx":
					gin = make([]float32, len(x))
				case "dw":
					gin = make([]float32, len(w))
				}
				for b.Loop() {
					switch pass {
					case "fwd":
						k.fwd([][]float32{x, w, bias}, shapes, out)
					case "dx":
						k.bwd(0, [][]float32{x, w, bias}, shapes, out, g, gin)
					case "dw":
						k.bwd(1, [][]float32{x, w, bias}, shapes, out, g, gin)
					}
				}
				b.ReportMetric(flop*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// TestConvNonFinite (found in review): an Inf in the input gives the same
// weight gradient on the direct path as with im2col blocks and as the
// naive loop: ±Inf where a tap touches it, finite elsewhere (the direct
// path multiplies the dropped columns' inputs by 0, which would turn an
// Inf there into NaN on taps that never touch it).
func TestConvNonFinite(t *testing.T) {
	x := randVals(25, 1, 1)
	x[0] = float32(math.Inf(1))
	wt, b, g := randVals(9, 2, 1), randVals(1, 3, 1), randVals(25, 4, 1)
	shapes := []tensor.Shape{{1, 1, 5, 5}, {1, 1, 3, 3}, {1, 1, 1, 1}}
	k := &convKern{stride: 1, pad: 1}
	grad := func(limit int) []float32 {
		defer func(old int) { convDirectMaxBytes = old }(convDirectMaxBytes)
		convDirectMaxBytes = limit
		gw := make([]float32, 9)
		k.bwd(1, [][]float32{x, wt, b}, shapes, nil, g, gw)
		return gw
	}
	direct, im2col := grad(512<<10), grad(0)
	// naive: dW[ky][kx] = Σ g[oy][ox]·x[oy+ky-1][ox+kx-1]
	for t9 := 0; t9 < 9; t9++ {
		ky, kx := t9/3, t9%3
		var want float64
		for oy := 0; oy < 5; oy++ {
			for ox := 0; ox < 5; ox++ {
				iy, ix := oy+ky-1, ox+kx-1
				if iy >= 0 && iy < 5 && ix >= 0 && ix < 5 {
					want += float64(g[oy*5+ox]) * float64(x[iy*5+ix])
				}
			}
		}
		for _, got := range []struct {
			name string
			v    float32
		}{{"direct", direct[t9]}, {"im2col", im2col[t9]}} {
			switch {
			case math.IsInf(want, 0):
				if !math.IsInf(float64(got.v), int(math.Copysign(1, want))) {
					t.Errorf("tap %d %s: %v, expected %v", t9, got.name, got.v, want)
				}
			case !(math.Abs(float64(got.v)-want) <= 1e-5*math.Max(1, math.Abs(want))): // NaN fails
				t.Errorf("tap %d %s: %v, expected %v", t9, got.name, got.v, want)
			}
		}
	}
}
