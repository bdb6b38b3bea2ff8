//go:build amd64 && !purego

#include "textflag.h"

// Element-wise loops of the normalisation layers with their fused
// activation, 8 floats per step (AVX2, FMA). n is a multiple of 8; the
// callers handle the tail in Go.

// func applyActAVX(x, o *float32, n int, mhi, mlo, mul, add, slope float32, mode int)
// o = act(((x - mhi) - mlo)·mul + add); mode 0: none, 1: ReLU, 2: leaky
// ReLU max(y, slope·y). NaN propagates (the maximum returns y when y is
// NaN).
TEXT ·applyActAVX(SB), NOSPLIT, $0-56
	MOVQ         x+0(FP), SI
	MOVQ         o+8(FP), DI
	MOVQ         n+16(FP), CX
	VBROADCASTSS mhi+24(FP), Y6
	VBROADCASTSS mlo+28(FP), Y7
	VBROADCASTSS mul+32(FP), Y0
	VBROADCASTSS add+36(FP), Y1
	VBROADCASTSS slope+40(FP), Y2
	MOVQ         mode+48(FP), AX
	VXORPS       Y3, Y3, Y3
	SHRQ         $3, CX
	JZ           adone
	CMPQ         AX, $1
	JEQ          arelu
	CMPQ         AX, $2
	JEQ          aleaky

anone:
	VMOVUPS     (SI), Y4
	VSUBPS      Y6, Y4, Y4
	VSUBPS      Y7, Y4, Y4
	VFMADD213PS Y1, Y0, Y4
	VMOVUPS     Y4, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DI
	DECQ        CX
	JNZ         anone
	JMP         adone

arelu:
	VMOVUPS     (SI), Y4
	VSUBPS      Y6, Y4, Y4
	VSUBPS      Y7, Y4, Y4
	VFMADD213PS Y1, Y0, Y4
	VMAXPS      Y4, Y3, Y4
	VMOVUPS     Y4, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DI
	DECQ        CX
	JNZ         arelu
	JMP         adone

aleaky:
	VMOVUPS     (SI), Y4
	VSUBPS      Y6, Y4, Y4
	VSUBPS      Y7, Y4, Y4
	VFMADD213PS Y1, Y0, Y4
	VMULPS      Y2, Y4, Y5
	VMAXPS      Y4, Y5, Y4
	VMOVUPS     Y4, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DI
	DECQ        CX
	JNZ         aleaky

adone:
	VZEROUPPER
	RET

// func inputGradAVX(gin, gy, x, out *float32, n int, m, mul, c1, c0, slope float32, on int)
// gin = mul·gp + c1·(x - m) + c0 with gp = g when on is 0, else g where
// out > 0 and slope·g elsewhere.
TEXT ·inputGradAVX(SB), NOSPLIT, $0-72
	MOVQ         gin+0(FP), DI
	MOVQ         gy+8(FP), SI
	MOVQ         x+16(FP), R8
	MOVQ         out+24(FP), R9
	MOVQ         n+32(FP), CX
	VBROADCASTSS m+40(FP), Y0
	VBROADCASTSS mul+44(FP), Y1
	VBROADCASTSS c1+48(FP), Y2
	VBROADCASTSS c0+52(FP), Y3
	VBROADCASTSS slope+56(FP), Y4
	MOVQ         on+64(FP), AX
	VXORPS       Y5, Y5, Y5
	VPCMPEQD     Y6, Y6, Y6 // 1.0 in every lane: all ones >> 25 << 23
	VPSRLD       $25, Y6, Y6
	VPSLLD       $23, Y6, Y6
	SHRQ         $3, CX
	JZ           gdone

gloop:
	VMOVUPS (SI), Y8
	TESTQ   AX, AX
	JZ      gnoact
	VMOVUPS (R9), Y9
	VCMPPS  $0x1e, Y5, Y9, Y10 // out > 0 (ordered, quiet)
	VBLENDVPS Y10, Y6, Y4, Y11 // 1 where out > 0, else slope
	VMULPS  Y11, Y8, Y8

gnoact:
	VMOVUPS     (R8), Y12
	VSUBPS      Y0, Y12, Y12
	VFMADD213PS Y3, Y2, Y12
	VFMADD231PS Y8, Y1, Y12
	VMOVUPS     Y12, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DI
	ADDQ        $32, R8
	ADDQ        $32, R9
	DECQ        CX
	JNZ         gloop

gdone:
	VZEROUPPER
	RET

// func gradSumsAVX(gy, x, out *float32, n int, m float64, slope float32, on int) (sg, sgx float64)
// sg = Σ gp, sgx = Σ gp·(x - m) in float64 (gp as in inputGradAVX), with
// eight float64 lanes per sum combined in a fixed order.
TEXT ·gradSumsAVX(SB), NOSPLIT, $0-72
	MOVQ         gy+0(FP), SI
	MOVQ         x+8(FP), R8
	MOVQ         out+16(FP), R9
	MOVQ         n+24(FP), CX
	VBROADCASTSD m+32(FP), Y7
	VBROADCASTSS slope+40(FP), Y4
	MOVQ         on+48(FP), AX
	VXORPS       Y5, Y5, Y5
	VPCMPEQD     Y6, Y6, Y6 // 1.0 in every lane: all ones >> 25 << 23
	VPSRLD       $25, Y6, Y6
	VPSLLD       $23, Y6, Y6
	VXORPD       Y0, Y0, Y0
	VXORPD       Y1, Y1, Y1
	VXORPD       Y2, Y2, Y2
	VXORPD       Y3, Y3, Y3
	SHRQ         $3, CX
	JZ           sdone

sloop:
	VMOVUPS (SI), Y8
	TESTQ   AX, AX
	JZ      snoact
	VMOVUPS (R9), Y9
	VCMPPS  $0x1e, Y5, Y9, Y10
	VBLENDVPS Y10, Y6, Y4, Y11
	VMULPS  Y11, Y8, Y8

snoact:
	VCVTPS2PD    X8, Y9
	VEXTRACTF128 $1, Y8, X10
	VCVTPS2PD    X10, Y10
	VADDPD       Y9, Y0, Y0
	VADDPD       Y10, Y1, Y1
	VMOVUPS      (R8), Y11
	VCVTPS2PD    X11, Y12
	VEXTRACTF128 $1, Y11, X13
	VCVTPS2PD    X13, Y13
	VSUBPD       Y7, Y12, Y12
	VSUBPD       Y7, Y13, Y13
	VFMADD231PD  Y12, Y9, Y2
	VFMADD231PD  Y13, Y10, Y3
	ADDQ         $32, SI
	ADDQ         $32, R8
	ADDQ         $32, R9
	DECQ         CX
	JNZ          sloop

sdone:
	VADDPD       Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPD       X1, X0, X0
	VHADDPD      X0, X0, X0
	MOVSD        X0, sg+56(FP)
	VADDPD       Y3, Y2, Y2
	VEXTRACTF128 $1, Y2, X3
	VADDPD       X3, X2, X2
	VHADDPD      X2, X2, X2
	MOVSD        X2, sgx+64(FP)
	VZEROUPPER
	RET
