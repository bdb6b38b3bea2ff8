//go:build amd64 && !purego

package nn

const haveAsmKernel = true

// sgemmKernel6x16 adds A·B to the 6×16 block at c (row stride ldc), or
// stores it when add is 0: A(i,p) = a[i*rsA + p*csA] for i < 6, p < k;
// B(p,j) = b[p*rsB + j] for j < 16. Strides are in floats.
//
//go:noescape
func sgemmKernel6x16(k int, a *float32, rsA, csA int, b *float32, rsB int, c *float32, ldc int, add int)

// sgemmKernel4x16 is sgemmKernel6x16 for a 4×16 block (rows 0..3 of A).
//
//go:noescape
func sgemmKernel4x16(k int, a *float32, rsA, csA int, b *float32, rsB int, c *float32, ldc int, add int)

// sgemmKernel6x16Off and sgemmKernel4x16Off are the 6×16 and 4×16
// kernels with B rows found through a table: B(p,j) = b[off[p] + j]
// (offsets in floats), for convolutions that read shifted views of a
// padded image instead of an im2col copy.
//
//go:noescape
func sgemmKernel6x16Off(k int, a *float32, rsA, csA int, b *float32, off *int, c *float32, ldc int, add int)

//go:noescape
func sgemmKernel4x16Off(k int, a *float32, rsA, csA int, b *float32, off *int, c *float32, ldc int, add int)
