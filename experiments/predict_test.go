package experiments

import (
	"testing"

	"github.com/refugelab/refugelab/data"
	"github.com/refugelab/refugelab/eval"
)

// A ROI at scale 1 pastes back exactly: the argmax of each input pixel lands
// at its original position, everything outside the ROI is background.
func TestPasteProbsExactAtScaleOne(t *testing.T) {
	post, err := eval.NewPost([]eval.StepSpec{{Name: "argmax"}})
	if err != nil {
		t.Fatal(err)
	}
	const in = 10
	probs := make([]float32, 3*in*in)
	want := data.NewMask(20, 20)
	for y := 0; y < in; y++ {
		for x := 0; x < in; x++ {
			i := y*in + x
			switch {
			case x >= 4 && x <= 5 && y >= 4 && y <= 5: // cup
				probs[2*in*in+i] = 0.8
				probs[in*in+i] = 0.1
				probs[i] = 0.1
				want.Pix[(y+5)*20+x+5] = data.Cup
			case x >= 2 && x <= 7 && y >= 2 && y <= 7: // rim
				probs[in*in+i] = 0.7
				probs[i] = 0.3
				want.Pix[(y+5)*20+x+5] = data.Rim
			default:
				probs[i] = 0.9
				probs[in*in+i] = 0.1
			}
		}
	}
	tr := data.CropResize(5, 5, in, in, in, in)
	got, err := pasteProbs(probs, in, in, tr, 20, 20, post)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want.Pix {
		if got.Pix[i] != want.Pix[i] {
			t.Fatalf("pixel (%d,%d) = %d, want %d", i%20, i/20, got.Pix[i], want.Pix[i])
		}
	}
}

// A ROI partly outside the image pastes only the overlapping part.
func TestPasteProbsClipsToImage(t *testing.T) {
	post, _ := eval.NewPost([]eval.StepSpec{{Name: "argmax"}})
	const in = 8
	probs := make([]float32, 3*in*in)
	for i := 0; i < in*in; i++ {
		probs[in*in+i] = 1 // all rim
	}
	// Window [-4, 4) x [-4, 4): only pixels 0..3 x 0..3 are inside the image.
	got, err := pasteProbs(probs, in, in, data.CropResize(-4, -4, in, in, in, in), 10, 10, post)
	if err != nil {
		t.Fatal(err)
	}
	rim := 0
	for y := 0; y < 10; y++ {
		for x := 0; x < 10; x++ {
			if got.Pix[y*10+x] == data.Rim {
				rim++
				if x > 3 || y > 3 {
					t.Errorf("rim at (%d,%d), outside the window", x, y)
				}
			}
		}
	}
	if rim != 16 {
		t.Errorf("%d rim pixels, want 16", rim)
	}
}
