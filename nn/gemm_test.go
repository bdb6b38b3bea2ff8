package nn

import (
	"math"
	"testing"
)

// TestGemm compares gemm (the assembly path where available) with a
// naive float64 triple loop on odd shapes, all transpose variants, with
// and without accumulation, and leading dimensions larger than the rows.
func TestGemm(t *testing.T) {
	t.Logf("assembly kernel in use: %v", useAsmGemm)
	for _, sh := range [][3]int{{1, 1, 1}, {7, 17, 5}, {6, 16, 256}, {13, 33, 300}, {64, 100, 576}, {3, 4096, 27}, {16, 72, 4096}} {
		m, n, k := sh[0], sh[1], sh[2]
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				for _, acc := range []bool{false, true} {
					lda, ldb, ldc := k+1, n+2, n+3
					if ta {
						lda = m + 1
					}
					if tb {
						ldb = k + 2
					}
					rowsA, rowsB := m, k
					if ta {
						rowsA = k
					}
					if tb {
						rowsB = n
					}
					a := randVals(rowsA*lda, 1, 1)
					b := randVals(rowsB*ldb, 2, 1)
					c := randVals(m*ldc, 3, 1)
					want := make([]float64, m*n)
					for i := 0; i < m; i++ {
						for j := 0; j < n; j++ {
							var s float64
							if acc {
								s = float64(c[i*ldc+j])
							}
							for p := 0; p < k; p++ {
								var av, bv float32
								if ta {
									av = a[p*lda+i]
								} else {
									av = a[i*lda+p]
								}
								if tb {
									bv = b[j*ldb+p]
								} else {
									bv = b[p*ldb+j]
								}
								s += float64(av) * float64(bv)
							}
							want[i*n+j] = s
						}
					}
					before := append([]float32(nil), c...)
					gemm(ta, tb, m, n, k, a, lda, b, ldb, acc, c, ldc)
					var worst float64
					for i := 0; i < m; i++ {
						for j := 0; j < n; j++ {
							worst = math.Max(worst, math.Abs(float64(c[i*ldc+j])-want[i*n+j])/math.Sqrt(float64(k)+1))
						}
						for j := n; j < ldc; j++ {
							if c[i*ldc+j] != before[i*ldc+j] {
								t.Fatalf("%v ta=%v tb=%v: wrote outside the matrix at row %d col %d", sh, ta, tb, i, j)
							}
						}
					}
					if worst > 1e-5 {
						t.Errorf("%v ta=%v tb=%v acc=%v: error %.3g (scaled by sqrt(k))", sh, ta, tb, acc, worst)
					}
				}
			}
		}
	}
}
