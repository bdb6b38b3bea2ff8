//go:build !amd64 || purego

package nn

const haveAsmKernel = false

func sgemmKernel6x16(k int, a *float32, rsA, csA int, b *float32, rsB int, c *float32, ldc int, add int) {
	panic("nn: no assembly GEMM kernel on this platform")
}

func sgemmKernel4x16(k int, a *float32, rsA, csA int, b *float32, rsB int, c *float32, ldc int, add int) {
	panic("nn: no assembly GEMM kernel on this platform")
}

func sgemmKernel6x16Off(k int, a *float32, rsA, csA int, b *float32, off *int, c *float32, ldc int, add int) {
	panic("nn: no assembly GEMM kernel on this platform")
}

func sgemmKernel4x16Off(k int, a *float32, rsA, csA int, b *float32, off *int, c *float32, ldc int, add int) {
	panic("nn: no assembly GEMM kernel on this platform")
}
