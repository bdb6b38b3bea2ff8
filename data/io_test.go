package data

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

// rgbTestImage is a 4x3 NRGBA image whose pixel (x, y) = (10x, 20y, 7x+y).
func rgbTestImage() *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, 4, 3))
	for y := 0; y < 3; y++ {
		for x := 0; x < 4; x++ {
			i := img.PixOffset(x, y)
			img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = uint8(10*x), uint8(20*y), uint8(7*x+y), 255
		}
	}
	return img
}

func TestReadImagePNGAndBMPExact(t *testing.T) {
	dir := t.TempDir()
	src := rgbTestImage()
	pp := filepath.Join(dir, "a.PNG") // upper-case extension
	writePNG(t, pp, src)
	var buf bytes.Buffer
	if err := bmp.Encode(&buf, src); err != nil {
		t.Fatal(err)
	}
	pb := filepath.Join(dir, "a.bmp")
	os.WriteFile(pb, buf.Bytes(), 0o644)
	buf.Reset()
	if err := tiff.Encode(&buf, src, nil); err != nil {
		t.Fatal(err)
	}
	pt := filepath.Join(dir, "a.TIF")
	os.WriteFile(pt, buf.Bytes(), 0o644)
	for _, p := range []string{pp, pb, pt} {
		im, err := ReadImage(p)
		if err != nil {
			t.Fatal(err)
		}
		if im.W != 4 || im.H != 3 || im.C != 3 {
			t.Fatalf("%s: %dx%dx%d", p, im.W, im.H, im.C)
		}
		for y := 0; y < 3; y++ {
			for x := 0; x < 4; x++ {
				want := [3]float32{float32(10*x) / 255, float32(20*y) / 255, float32(7*x+y) / 255}
				for c := 0; c < 3; c++ {
					if got := im.At(c, x, y); got != want[c] {
						t.Errorf("%s (%d,%d) c%d = %v, want %v", p, x, y, c, got, want[c])
					}
				}
			}
		}
		w, h, err := ImageSize(p)
		if err != nil || w != 4 || h != 3 {
			t.Errorf("ImageSize(%s) = %d %d %v", p, w, h, err)
		}
	}
	// WriteImagePNG round trip is exact on 8-bit values.
	im, _ := ReadImage(pp)
	out := filepath.Join(dir, "out.png")
	if err := WriteImagePNG(out, im); err != nil {
		t.Fatal(err)
	}
	back, err := ReadImage(out)
	if err != nil {
		t.Fatal(err)
	}
	for i := range im.Pix {
		if back.Pix[i] != im.Pix[i] {
			t.Fatalf("PNG round trip differs at %d: %v vs %v", i, back.Pix[i], im.Pix[i])
		}
	}
}

func TestReadImageGreyReplicated(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "g.png")
	writePNG(t, p, grayFrom(2, 1, []uint8{0, 51}))
	im, err := ReadImage(p)
	if err != nil {
		t.Fatal(err)
	}
	if im.C != 3 {
		t.Fatalf("channels %d", im.C)
	}
	for c := 0; c < 3; c++ {
		if im.At(c, 0, 0) != 0 || im.At(c, 1, 0) != 0.2 {
			t.Errorf("channel %d: %v %v, want 0 0.2", c, im.At(c, 0, 0), im.At(c, 1, 0))
		}
	}
}

// A .JPG (upper case) reads like a .jpg; a truncated JPEG is an error naming
// the file; an unknown extension is an error naming the extension.
func TestReadImageJPEG(t *testing.T) {
	dir := t.TempDir()
	src := image.NewNRGBA(image.Rect(0, 0, 64, 48))
	for i := range src.Pix {
		src.Pix[i] = 200
		if i%4 == 3 {
			src.Pix[i] = 255
		}
	}
	// Noise in the lower half so the entropy-coded data dominates the file.
	for y := 24; y < 48; y++ {
		for x := 0; x < 64; x++ {
			src.Pix[src.PixOffset(x, y)] = uint8((x*131 + y*71) % 256)
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, src, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "g0002.JPG")
	os.WriteFile(p, buf.Bytes(), 0o644)
	im, err := ReadImage(p)
	if err != nil {
		t.Fatal(err)
	}
	if im.W != 64 || im.H != 48 {
		t.Errorf("size %dx%d", im.W, im.H)
	}
	// A flat 200 grey image decodes to within one level of 200/255.
	if v := im.At(1, 10, 10); v < 199.0/255 || v > 201.0/255 {
		t.Errorf("pixel value %v", v)
	}
	tp := filepath.Join(dir, "t.jpg")
	os.WriteFile(tp, buf.Bytes()[:buf.Len()/2], 0o644)
	if _, err := ReadImage(tp); err == nil || !strings.Contains(err.Error(), tp) {
		t.Errorf("truncated JPEG: err = %v", err)
	}
	// The header alone still reads: sizes come from headers, decoding is Check's job.
	if w, h, err := ImageSize(tp); err != nil || w != 64 || h != 48 {
		t.Errorf("ImageSize of truncated JPEG: %d %d %v", w, h, err)
	}
	if _, err := ReadImage(filepath.Join(dir, "x.gif")); err == nil || !strings.Contains(err.Error(), ".gif") {
		t.Errorf("gif: err = %v", err)
	}
	if _, err := ReadImage(filepath.Join(dir, "missing.png")); err == nil || !strings.Contains(err.Error(), "missing.png") {
		t.Errorf("missing: err = %v", err)
	}
}

// The inlined Y'CbCr conversion gives exactly image/color.YCbCrToRGB's bytes
// for every chroma subsampling ratio and an offset sub-image.
func TestYCbCrConversionExact(t *testing.T) {
	ratios := []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422,
		image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410}
	for _, r := range ratios {
		full := image.NewYCbCr(image.Rect(0, 0, 37, 150), r)
		for i := range full.Y {
			full.Y[i] = uint8(i*7 + 3)
		}
		for i := range full.Cb {
			full.Cb[i] = uint8(i*13 + 1)
			full.Cr[i] = uint8(255 - i*5)
		}
		for _, src := range []*image.YCbCr{full, full.SubImage(image.Rect(3, 5, 30, 140)).(*image.YCbCr)} {
			im := FromGoImage(src)
			b := src.Bounds()
			for y := 0; y < b.Dy(); y++ {
				for x := 0; x < b.Dx(); x++ {
					c := src.YCbCrAt(b.Min.X+x, b.Min.Y+y)
					rr, gg, bb := color.YCbCrToRGB(c.Y, c.Cb, c.Cr)
					if im.At(0, x, y) != inv255[rr] || im.At(1, x, y) != inv255[gg] || im.At(2, x, y) != inv255[bb] {
						t.Fatalf("ratio %v bounds %v pixel (%d,%d) differs", r, b, x, y)
					}
				}
			}
		}
	}
}
