package nn

import (
	"sync"

	"golang.org/x/sys/cpu"
	"gonum.org/v1/gonum/blas"
)

// gemm computes C = op(A)·op(B) (+ C when accumulate), row-major:
// op(A) is m×k (A stored k×m when transA), op(B) is k×n (B stored n×k when
// transB). On AMD64 with AVX2 and FMA it packs panels and runs a 6×16
// assembly micro-kernel; elsewhere it calls gonum's SGEMM. The summation
// order over k is fixed (blocks of gemmKC in order), so results are
// deterministic on a machine; the two paths may differ in the last bits.
func gemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, accumulate bool, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if !useAsmGemm {
		ta, tb := blas.NoTrans, blas.NoTrans
		if transA {
			ta = blas.Trans
		}
		if transB {
			tb = blas.Trans
		}
		beta := float32(0)
		if accumulate {
			beta = 1
		}
		sgemm.Sgemm(ta, tb, m, n, k, 1, a, lda, b, ldb, beta, c, ldc)
		return
	}
	if k == 0 {
		if !accumulate {
			for i := 0; i < m; i++ {
				clear(c[i*ldc : i*ldc+n])
			}
		}
		return
	}
	packedGemm(transA, transB, m, n, k, a, lda, b, ldb, accumulate, c, ldc)
}

const (
	gemmMR = 6
	gemmNR = 16
)

// useAsmGemm selects the assembly path.
var useAsmGemm = haveAsmKernel && cpu.X86.HasAVX2 && cpu.X86.HasFMA

var gemmPool = sync.Pool{New: func() any { s := make([]float32, 0); return &s }}

func scratch(n int) *[]float32 {
	p := gemmPool.Get().(*[]float32)
	if cap(*p) < n {
		*p = make([]float32, n)
	}
	*p = (*p)[:n]
	return p
}

// packedGemm walks C in strips of 16 columns and panels of 6 rows. A is
// read in place through its strides (only a last partial panel is copied,
// zero-padded); B strips are read in place when B is not transposed and
// the strip is full, else copied into a zero-padded k×16 buffer. Every C
// element is one dot product over k in order.
func packedGemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, accumulate bool, c []float32, ldc int) {
	add := 0
	if accumulate {
		add = 1
	}
	rsA, csA := lda, 1
	if transA {
		rsA, csA = 1, lda
	}
	full := m / gemmMR * gemmMR
	var aEdge []float32
	if full < m {
		ep := scratch(gemmMR * k)
		defer gemmPool.Put(ep)
		aEdge = *ep
		clear(aEdge)
		for ii := 0; full+ii < m; ii++ {
			i := full + ii
			for p := 0; p < k; p++ {
				aEdge[p*gemmMR+ii] = a[i*rsA+p*csA]
			}
		}
	}
	bp := scratch(gemmNR * k)
	tp := scratch(gemmMR * gemmNR)
	defer gemmPool.Put(bp)
	defer gemmPool.Put(tp)
	B, T := *bp, *tp
	for jc := 0; jc < n; jc += gemmNR {
		nr := min(gemmNR, n-jc)
		var bs *float32
		rsB := gemmNR
		switch {
		case !transB && nr == gemmNR:
			bs, rsB = &b[jc], ldb
		case !transB:
			for p := 0; p < k; p++ {
				d := B[p*gemmNR : (p+1)*gemmNR]
				copy(d, b[p*ldb+jc:p*ldb+jc+nr])
				clear(d[nr:])
			}
			bs = &B[0]
		default:
			if nr < gemmNR {
				clear(B)
			}
			for jj := 0; jj < nr; jj++ {
				col := b[(jc+jj)*ldb : (jc+jj)*ldb+k]
				for p, v := range col {
					B[p*gemmNR+jj] = v
				}
			}
			bs = &B[0]
		}
		for i0 := 0; i0 < full; i0 += gemmMR {
			if nr == gemmNR {
				sgemmKernel6x16(k, &a[i0*rsA], rsA, csA, bs, rsB, &c[i0*ldc+jc], ldc, add)
				continue
			}
			sgemmKernel6x16(k, &a[i0*rsA], rsA, csA, bs, rsB, &T[0], gemmNR, 0)
			putBlock(c, ldc, i0, jc, gemmMR, nr, T, accumulate)
		}
		if full < m {
			sgemmKernel6x16(k, &aEdge[0], 1, gemmMR, bs, rsB, &T[0], gemmNR, 0)
			putBlock(c, ldc, full, jc, m-full, nr, T, accumulate)
		}
	}
}

// putBlock adds (or stores) the valid rows×cols part of a 6×16 tile.
func putBlock(c []float32, ldc, i0, j0, rows, cols int, t []float32, accumulate bool) {
	for ii := 0; ii < rows; ii++ {
		cr := c[(i0+ii)*ldc+j0 : (i0+ii)*ldc+j0+cols]
		tr := t[ii*gemmNR : ii*gemmNR+cols]
		if !accumulate {
			copy(cr, tr)
			continue
		}
		for jj := range cr {
			cr[jj] += tr[jj]
		}
	}
}
