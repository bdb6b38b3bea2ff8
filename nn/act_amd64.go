//go:build amd64 && !purego

package nn

//go:noescape
func applyActAVX(x, o *float32, n int, mhi, mlo, mul, add, slope float32, mode int)

//go:noescape
func inputGradAVX(gin, gy, x, out *float32, n int, m, mul, c1, c0, slope float32, on int)

//go:noescape
func gradSumsAVX(gy, x, out *float32, n int, m float64, slope float32, on int) (sg, sgx float64)
