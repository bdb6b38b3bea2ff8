package nn

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"gorgonia.org/tensor"
)

// Fixtures from PyTorch 1.13 (Debian python3-torch), made by
// testdata/gen_torch.py: outputs and gradients of loss = Σ r·y computed in
// float64 from float32 inputs given by closed formulas (torchVals).

type torchLayer struct {
	XShape []int     `json:"x_shape"`
	WShape []int     `json:"w_shape"`
	Stride int       `json:"stride"`
	Pad    int       `json:"pad"`
	Dil    int       `json:"dilation"` // absent (0) means 1
	Slope  float64   `json:"slope"`
	Groups int       `json:"groups"`
	Y      []float64 `json:"y"`
	GX     []float64 `json:"gx"`
	GW     []float64 `json:"gw"`
	GB     []float64 `json:"gb"`
	GScale []float64 `json:"gscale"`
	GShift []float64 `json:"gshift"`
	RM     []float64 `json:"running_mean"`
	RV     []float64 `json:"running_var"`
}

func torchVals(n int, a, b, scale float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(scale * math.Sin(a*float64(i)+b))
	}
	return v
}

func loadTorch(t *testing.T) map[string]json.RawMessage {
	t.Helper()
	b, err := os.ReadFile("testdata/torch_fixtures.json")
	if err != nil {
		t.Fatalf("fixture: %v (regenerate with /usr/bin/python3 nn/testdata/gen_torch.py)", err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func fixture(t *testing.T, all map[string]json.RawMessage, name string) torchLayer {
	t.Helper()
	var l torchLayer
	if err := json.Unmarshal(all[name], &l); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return l
}

// runAgainst runs a kernel's forward and backward (gout = r) and compares
// with PyTorch; want[i] is the expected gradient of input i (nil = skip).
func runAgainst(t *testing.T, name string, k kern, shapes []tensor.Shape, in [][]float32, y []float64, want [][]float64) {
	t.Helper()
	outS, err := k.outShape(shapes)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, outS.TotalSize())
	k.fwd(in, shapes, out)
	if len(out) != len(y) {
		t.Fatalf("%s: %d outputs, PyTorch %d", name, len(out), len(y))
	}
	if e := relErr(out, y, 1e-3); e > 1e-5 {
		t.Errorf("%s forward vs PyTorch: relative error %.3g", name, e)
	}
	r := torchVals(len(out), 0.11, 0.5, 1)
	for i, w := range want {
		if w == nil {
			continue
		}
		g := make([]float32, len(in[i]))
		k.bwd(i, in, shapes, out, r, g)
		if e := relErr(g, w, 1e-3); e > 1e-4 {
			t.Errorf("%s gradient %d vs PyTorch: relative error %.3g", name, i, e)
		}
	}
}

func size(s []int) int {
	n := 1
	for _, v := range s {
		n *= v
	}
	return n
}

func TestTorchLayers(t *testing.T) {
	all := loadTorch(t)
	for _, name := range []string{"conv_s1_p1", "conv_s2_p1", "conv_k1", "conv_d2_p2", "conv_d3_s2_p1", "conv_d2_k5_s3"} {
		f := fixture(t, all, name)
		x := torchVals(size(f.XShape), 0.37, 0.1, 1)
		w := torchVals(size(f.WShape), 0.23, 0.3, 0.3)
		b := torchVals(f.WShape[0], 0.5, 0.2, 0.2)
		shapes := []tensor.Shape{f.XShape, f.WShape, {1, f.WShape[0], 1, 1}}
		runAgainst(t, name, &convKern{stride: f.Stride, pad: f.Pad, dil: f.Dil}, shapes, [][]float32{x, w, b}, f.Y, [][]float64{f.GX, f.GW, f.GB})
	}
	f := fixture(t, all, "group_norm")
	x := torchVals(size(f.XShape), 0.37, 0.1, 2)
	c := f.XShape[1]
	sc, sh := torchVals(c, 0.7, 0.4, 1), torchVals(c, 0.9, 0.6, 1)
	cs := tensor.Shape{1, c, 1, 1}
	runAgainst(t, "group_norm", &groupNormKern{groups: f.Groups, eps: 1e-5}, []tensor.Shape{f.XShape, cs, cs}, [][]float32{x, sc, sh}, f.Y, [][]float64{f.GX, f.GScale, f.GShift})

	f = fixture(t, all, "batch_norm")
	x = torchVals(size(f.XShape), 0.37, 0.1, 2)
	c = f.XShape[1]
	sc, sh = torchVals(c, 0.7, 0.4, 1), torchVals(c, 0.9, 0.6, 1)
	cs = tensor.Shape{1, c, 1, 1}
	rm, rv := make([]float32, c), []float32{1, 1, 1, 1}
	runAgainst(t, "batch_norm", &batchNormKern{eps: 1e-5, momentum: 0.1, train: true, rm: rm, rv: rv}, []tensor.Shape{f.XShape, cs, cs}, [][]float32{x, sc, sh}, f.Y, [][]float64{f.GX, f.GScale, f.GShift})
	if relErr(rm, f.RM, 1e-3) > 1e-5 || relErr(rv, f.RV, 1e-3) > 1e-5 {
		t.Errorf("batch norm running statistics (%v, %v), PyTorch (%v, %v)", rm, rv, f.RM, f.RV)
	}
	for _, name := range []string{"leaky_relu_0.01", "leaky_relu_0.2"} {
		f := fixture(t, all, name)
		if f.Slope == 0 {
			t.Fatalf("%s: fixture has no slope", name)
		}
		x := torchVals(size(f.XShape), 0.37, 0.1, 1)
		runAgainst(t, name, leakyReluKern{slope: float32(f.Slope)}, []tensor.Shape{f.XShape}, [][]float32{x}, f.Y, [][]float64{f.GX})
	}
	for name, k := range map[string]kern{"max_pool": &maxPoolKern{}, "avg_pool": avgPoolKern{}, "upsample": upsampleKern{}} {
		f := fixture(t, all, name)
		x := torchVals(size(f.XShape), 0.37, 0.1, 1)
		runAgainst(t, name, k, []tensor.Shape{f.XShape}, [][]float32{x}, f.Y, [][]float64{f.GX})
	}
}
