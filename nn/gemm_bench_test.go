package nn

import (
	"fmt"
	"testing"
)

// BenchmarkGemm reports GFLOP/s of gemm on convolution-like shapes.
func BenchmarkGemm(b *testing.B) {
	for _, sh := range []struct {
		ta, tb  bool
		m, n, k int
	}{
		{false, false, 16, 4096, 72},   // forward, 3×3 conv 8→16 at 64²
		{false, false, 64, 256, 576},   // forward, 64→64 at 16²
		{true, false, 72, 4096, 16},    // input gradient
		{false, true, 72, 16, 4096},    // weight gradient (colᵀ form)
		{false, false, 128, 128, 1152}, // square-ish
	} {
		b.Run(fmt.Sprintf("%v%v_%dx%dx%d", sh.ta, sh.tb, sh.m, sh.n, sh.k), func(b *testing.B) {
			lda, ldb := sh.k, sh.n
			if sh.ta {
				lda = sh.m
			}
			if sh.tb {
				ldb = sh.k
			}
			a := randVals(sh.m*sh.k, 1, 1)
			bb := randVals(sh.k*sh.n, 2, 1)
			c := make([]float32, sh.m*sh.n)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				gemm(sh.ta, sh.tb, sh.m, sh.n, sh.k, a, lda, bb, ldb, false, c, sh.n)
			}
			b.ReportMetric(float64(2*sh.m*sh.n*sh.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
