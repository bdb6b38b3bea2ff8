//go:build amd64 && !purego

#include "textflag.h"

// STORE6x16 and STORE4x16 end a kernel: at label store, C (DX, row stride R8
// bytes) gets the accumulators Y0.. added (add+64(FP) != 0) or stored.
#define STORE6x16 \
	store:; \
	MOVQ add+64(FP), AX; \
	TESTQ AX, AX; \
	JZ   overwrite; \
	VADDPS  (DX), Y0, Y0; \
	VMOVUPS Y0, (DX); \
	VADDPS  32(DX), Y1, Y1; \
	VMOVUPS Y1, 32(DX); \
	ADDQ    R8, DX; \
	VADDPS  (DX), Y2, Y2; \
	VMOVUPS Y2, (DX); \
	VADDPS  32(DX), Y3, Y3; \
	VMOVUPS Y3, 32(DX); \
	ADDQ    R8, DX; \
	VADDPS  (DX), Y4, Y4; \
	VMOVUPS Y4, (DX); \
	VADDPS  32(DX), Y5, Y5; \
	VMOVUPS Y5, 32(DX); \
	ADDQ    R8, DX; \
	VADDPS  (DX), Y6, Y6; \
	VMOVUPS Y6, (DX); \
	VADDPS  32(DX), Y7, Y7; \
	VMOVUPS Y7, 32(DX); \
	ADDQ    R8, DX; \
	VADDPS  (DX), Y8, Y8; \
	VMOVUPS Y8, (DX); \
	VADDPS  32(DX), Y9, Y9; \
	VMOVUPS Y9, 32(DX); \
	ADDQ    R8, DX; \
	VADDPS  (DX), Y10, Y10; \
	VMOVUPS Y10, (DX); \
	VADDPS  32(DX), Y11, Y11; \
	VMOVUPS Y11, 32(DX); \
	VZEROUPPER; \
	RET; \
	overwrite:; \
	VMOVUPS Y0, (DX); \
	VMOVUPS Y1, 32(DX); \
	ADDQ    R8, DX; \
	VMOVUPS Y2, (DX); \
	VMOVUPS Y3, 32(DX); \
	ADDQ    R8, DX; \
	VMOVUPS Y4, (DX); \
	VMOVUPS Y5, 32(DX); \
	ADDQ    R8, DX; \
	VMOVUPS Y6, (DX); \
	VMOVUPS Y7, 32(DX); \
	ADDQ    R8, DX; \
	VMOVUPS Y8, (DX); \
	VMOVUPS Y9, 32(DX); \
	ADDQ    R8, DX; \
	VMOVUPS Y10, (DX); \
	VMOVUPS Y11, 32(DX); \
	VZEROUPPER; \
	RET

#define STORE4x16 \
	store:; \
	MOVQ add+64(FP), AX; \
	TESTQ AX, AX; \
	JZ   overwrite; \
	VADDPS  (DX), Y0, Y0; \
	VMOVUPS Y0, (DX); \
	VADDPS  32(DX), Y1, Y1; \
	VMOVUPS Y1, 32(DX); \
	ADDQ    R8, DX; \
	VADDPS  (DX), Y2, Y2; \
	VMOVUPS Y2, (DX); \
	VADDPS  32(DX), Y3, Y3; \
	VMOVUPS Y3, 32(DX); \
	ADDQ    R8, DX; \
	VADDPS  (DX), Y4, Y4; \
	VMOVUPS Y4, (DX); \
	VADDPS  32(DX), Y5, Y5; \
	VMOVUPS Y5, 32(DX); \
	ADDQ    R8, DX; \
	VADDPS  (DX), Y6, Y6; \
	VMOVUPS Y6, (DX); \
	VADDPS  32(DX), Y7, Y7; \
	VMOVUPS Y7, 32(DX); \
	VZEROUPPER; \
	RET; \
	overwrite:; \
	VMOVUPS Y0, (DX); \
	VMOVUPS Y1, 32(DX); \
	ADDQ    R8, DX; \
	VMOVUPS Y2, (DX); \
	VMOVUPS Y3, 32(DX); \
	ADDQ    R8, DX; \
	VMOVUPS Y4, (DX); \
	VMOVUPS Y5, 32(DX); \
	ADDQ    R8, DX; \
	VMOVUPS Y6, (DX); \
	VMOVUPS Y7, 32(DX); \
	VZEROUPPER; \
	RET

// func sgemmKernel6x16(k int, a *float32, rsA, csA int, b *float32, rsB int, c *float32, ldc int, add int)
// C[6×16] (+)= A·B where A(i,p) = a[i*rsA + p*csA] and B(p,j) = b[p*rsB + j]
// (strides in floats; the 16 values of a B row are contiguous). add = 0
// overwrites C, otherwise adds to it.
TEXT ·sgemmKernel6x16(SB), NOSPLIT, $0-72
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ rsA+16(FP), R9
	MOVQ csA+24(FP), R12
	MOVQ b+32(FP), DI
	MOVQ rsB+40(FP), R13
	MOVQ c+48(FP), DX
	MOVQ ldc+56(FP), R8
	SHLQ $2, R9
	SHLQ $2, R12
	SHLQ $2, R13
	SHLQ $2, R8
	LEAQ (R9)(R9*2), R10 // 3·rsA
	LEAQ (R9)(R9*4), R11 // 5·rsA
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	TESTQ CX, CX
	JZ    store

loop:
	VMOVUPS      (DI), Y12
	VMOVUPS      32(DI), Y13
	VBROADCASTSS (SI), Y14
	VFMADD231PS  Y12, Y14, Y0
	VFMADD231PS  Y13, Y14, Y1
	VBROADCASTSS (SI)(R9*1), Y15
	VFMADD231PS  Y12, Y15, Y2
	VFMADD231PS  Y13, Y15, Y3
	VBROADCASTSS (SI)(R9*2), Y14
	VFMADD231PS  Y12, Y14, Y4
	VFMADD231PS  Y13, Y14, Y5
	VBROADCASTSS (SI)(R10*1), Y15
	VFMADD231PS  Y12, Y15, Y6
	VFMADD231PS  Y13, Y15, Y7
	VBROADCASTSS (SI)(R9*4), Y14
	VFMADD231PS  Y12, Y14, Y8
	VFMADD231PS  Y13, Y14, Y9
	VBROADCASTSS (SI)(R11*1), Y15
	VFMADD231PS  Y12, Y15, Y10
	VFMADD231PS  Y13, Y15, Y11
	ADDQ         R12, SI
	ADDQ         R13, DI
	DECQ         CX
	JNZ          loop

	STORE6x16

// func sgemmKernel4x16(k int, a *float32, rsA, csA int, b *float32, rsB int, c *float32, ldc int, add int)
// C[4×16] (+)= A·B where A(i,p) = a[i*rsA + p*csA] and B(p,j) = b[p*rsB + j]
// (strides in floats; the 16 values of a B row are contiguous). add = 0
// overwrites C, otherwise adds to it.
TEXT ·sgemmKernel4x16(SB), NOSPLIT, $0-72
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ rsA+16(FP), R9
	MOVQ csA+24(FP), R12
	MOVQ b+32(FP), DI
	MOVQ rsB+40(FP), R13
	MOVQ c+48(FP), DX
	MOVQ ldc+56(FP), R8
	SHLQ $2, R9
	SHLQ $2, R12
	SHLQ $2, R13
	SHLQ $2, R8
	LEAQ (R9)(R9*2), R10 // 3·rsA
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	TESTQ CX, CX
	JZ    store

loop:
	VMOVUPS      (DI), Y12
	VMOVUPS      32(DI), Y13
	VBROADCASTSS (SI), Y14
	VFMADD231PS  Y12, Y14, Y0
	VFMADD231PS  Y13, Y14, Y1
	VBROADCASTSS (SI)(R9*1), Y15
	VFMADD231PS  Y12, Y15, Y2
	VFMADD231PS  Y13, Y15, Y3
	VBROADCASTSS (SI)(R9*2), Y14
	VFMADD231PS  Y12, Y14, Y4
	VFMADD231PS  Y13, Y14, Y5
	VBROADCASTSS (SI)(R10*1), Y15
	VFMADD231PS  Y12, Y15, Y6
	VFMADD231PS  Y13, Y15, Y7
	ADDQ         R12, SI
	ADDQ         R13, DI
	DECQ         CX
	JNZ          loop

	STORE4x16

// func sgemmKernel6x16Off(k int, a *float32, rsA, csA int, b *float32, off *int, c *float32, ldc int, add int)
// C[6×16] (+)= A·B where A(i,p) = a[i*rsA + p*csA] and B(p,j) = b[off[p] + j]
// (strides and offsets in floats). add = 0
// overwrites C, otherwise adds to it.
TEXT ·sgemmKernel6x16Off(SB), NOSPLIT, $0-72
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ rsA+16(FP), R9
	MOVQ csA+24(FP), R12
	MOVQ b+32(FP), DI
	MOVQ off+40(FP), R13
	MOVQ c+48(FP), DX
	MOVQ ldc+56(FP), R8
	SHLQ $2, R9
	SHLQ $2, R12
	SHLQ $2, R8
	LEAQ (R9)(R9*2), R10 // 3·rsA
	LEAQ (R9)(R9*4), R11 // 5·rsA
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	TESTQ CX, CX
	JZ    store

loop:
	MOVQ         (R13), BX
	VMOVUPS      (DI)(BX*4), Y12
	VMOVUPS      32(DI)(BX*4), Y13
	VBROADCASTSS (SI), Y14
	VFMADD231PS  Y12, Y14, Y0
	VFMADD231PS  Y13, Y14, Y1
	VBROADCASTSS (SI)(R9*1), Y15
	VFMADD231PS  Y12, Y15, Y2
	VFMADD231PS  Y13, Y15, Y3
	VBROADCASTSS (SI)(R9*2), Y14
	VFMADD231PS  Y12, Y14, Y4
	VFMADD231PS  Y13, Y14, Y5
	VBROADCASTSS (SI)(R10*1), Y15
	VFMADD231PS  Y12, Y15, Y6
	VFMADD231PS  Y13, Y15, Y7
	VBROADCASTSS (SI)(R9*4), Y14
	VFMADD231PS  Y12, Y14, Y8
	VFMADD231PS  Y13, Y14, Y9
	VBROADCASTSS (SI)(R11*1), Y15
	VFMADD231PS  Y12, Y15, Y10
	VFMADD231PS  Y13, Y15, Y11
	ADDQ         R12, SI
	ADDQ         $8, R13
	DECQ         CX
	JNZ          loop

	STORE6x16


// func sgemmKernel4x16Off(k int, a *float32, rsA, csA int, b *float32, off *int, c *float32, ldc int, add int)
// C[4×16] (+)= A·B where A(i,p) = a[i*rsA + p*csA] and B(p,j) = b[off[p] + j]
// (strides in floats; the 16 values of a B row are contiguous). add = 0
// overwrites C, otherwise adds to it.
TEXT ·sgemmKernel4x16Off(SB), NOSPLIT, $0-72
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ rsA+16(FP), R9
	MOVQ csA+24(FP), R12
	MOVQ b+32(FP), DI
	MOVQ off+40(FP), R13
	MOVQ c+48(FP), DX
	MOVQ ldc+56(FP), R8
	SHLQ $2, R9
	SHLQ $2, R12
	SHLQ $2, R8
	LEAQ (R9)(R9*2), R10 // 3·rsA
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	TESTQ CX, CX
	JZ    store

loop:
	MOVQ         (R13), BX
	VMOVUPS      (DI)(BX*4), Y12
	VMOVUPS      32(DI)(BX*4), Y13
	VBROADCASTSS (SI), Y14
	VFMADD231PS  Y12, Y14, Y0
	VFMADD231PS  Y13, Y14, Y1
	VBROADCASTSS (SI)(R9*1), Y15
	VFMADD231PS  Y12, Y15, Y2
	VFMADD231PS  Y13, Y15, Y3
	VBROADCASTSS (SI)(R9*2), Y14
	VFMADD231PS  Y12, Y14, Y4
	VFMADD231PS  Y13, Y14, Y5
	VBROADCASTSS (SI)(R10*1), Y15
	VFMADD231PS  Y12, Y15, Y6
	VFMADD231PS  Y13, Y15, Y7
	ADDQ         R12, SI
	ADDQ         $8, R13
	DECQ         CX
	JNZ          loop

	STORE4x16
