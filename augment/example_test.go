package augment_test

import (
	"fmt"

	"github.com/refugelab/refugelab/augment"
	"github.com/refugelab/refugelab/data"
)

// Build a pipeline from specs (as decoded from the config's augment: list),
// print its report sentences and augment one sample: a horizontal flip always
// applied moves the point from x = 10 to W-1-x = 53 in a 64-wide frame.
func Example() {
	p, err := augment.Build([]augment.Spec{
		{Name: "hflip", Prob: 1},
		{Name: "gamma", Prob: 0.5, Params: map[string]any{"range": []any{0.8, 1.25}}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range p.Describe() {
		fmt.Println(s)
	}
	img, m := data.NewImage(64, 48, 3), data.NewMask(64, 48)
	_, _, pt, inFrame := p.Apply(img, m, &data.Point{X: 10, Y: 20}, 42, 0, 7)
	fmt.Println(*pt, inFrame)

	_, err = augment.Build([]augment.Spec{{Name: "rotate", Prob: 0.5, Params: map[string]any{"degrees": []any{15, -15}}}})
	fmt.Println(err)
	// Output:
	// horizontal flip with probability 1, exact for the image, the mask and the fovea point (x' = W-1-x, pixel-centre convention)
	// gamma correction v' = v^g with a uniform exponent g in [0.8, 1.25] with probability 0.5, image only (mask and fovea point unchanged), result clamped to [0, 1]
	// {53 20} true
	// augment[0].params.degrees: min 15 > max -15: expected [min, max] with min <= max (transform rotate)
}
