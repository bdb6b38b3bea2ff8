package data

import (
	"bufio"
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

// imageExts are the file extensions ReadImage accepts, lower-cased.
var imageExts = map[string]string{
	".png":  "png",
	".jpg":  "jpeg",
	".jpeg": "jpeg",
	".bmp":  "bmp",
	".tif":  "tiff",
	".tiff": "tiff",
}

// IsImageFile tells whether the name has an image extension ReadImage
// accepts (.png, .jpg, .jpeg, .bmp, .tif, .tiff), compared case-insensitively so that
// "g0002.JPG" counts as well as "g0001.jpg".
func IsImageFile(name string) bool {
	_, ok := imageExts[strings.ToLower(filepath.Ext(name))]
	return ok
}

// decodeFile decodes an image file with the decoder its extension names
// (case-insensitively). It never guesses from content: a .png holding JPEG
// bytes is an error naming the file.
func decodeFile(path string) (image.Image, string, error) {
	kind, ok := imageExts[strings.ToLower(filepath.Ext(path))]
	if !ok {
		return nil, "", fmt.Errorf("read image %s: unsupported extension %q (expected .png, .jpg, .jpeg, .bmp, .tif or .tiff, any case)", path, filepath.Ext(path))
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("read image %s: %w", path, err)
	}
	var img image.Image
	switch kind {
	case "png":
		img, err = png.Decode(bytes.NewReader(b))
	case "jpeg":
		img, err = jpeg.Decode(bytes.NewReader(b))
	case "bmp":
		img, err = bmp.Decode(bytes.NewReader(b))
	case "tiff":
		img, err = tiff.Decode(bytes.NewReader(b))
	}
	if err != nil {
		return nil, "", fmt.Errorf("read image %s: %s decode failed (%d bytes; truncated or damaged file?): %w", path, kind, len(b), err)
	}
	return img, kind, nil
}

// ImageSize reads only the header of an image file and returns its width and
// height. It is fast (no pixel decoding) and fails, naming the file, when the
// extension is not an image extension or the header is unreadable.
func ImageSize(path string) (w, h int, err error) {
	kind, ok := imageExts[strings.ToLower(filepath.Ext(path))]
	if !ok {
		return 0, 0, fmt.Errorf("read image header %s: unsupported extension %q (expected .png, .jpg, .jpeg, .bmp, .tif or .tiff, any case)", path, filepath.Ext(path))
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, fmt.Errorf("read image header %s: %w", path, err)
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var cfg image.Config
	switch kind {
	case "png":
		cfg, err = png.DecodeConfig(r)
	case "jpeg":
		cfg, err = jpeg.DecodeConfig(r)
	case "bmp":
		cfg, err = bmp.DecodeConfig(r)
	case "tiff":
		cfg, err = tiff.DecodeConfig(r)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("read image header %s: %s header unreadable: %w", path, kind, err)
	}
	return cfg.Width, cfg.Height, nil
}

// ReadImage decodes a PNG, JPEG, BMP or TIFF file (extension matched
// case-insensitively: .JPG works) into a 3-channel planar float32 image with
// values in [0, 1]. Grey images are replicated to three channels; alpha is
// dropped (un-premultiplied). A truncated or damaged file is an error that
// names it.
func ReadImage(path string) (*Image, error) {
	src, _, err := decodeFile(path)
	if err != nil {
		return nil, err
	}
	return FromGoImage(src), nil
}

// inv255 maps a byte to its float32 value in [0, 1].
var inv255 = func() (t [256]float32) {
	for i := range t {
		t[i] = float32(i) / 255
	}
	return
}()

// FromGoImage converts a decoded Go image into a 3-channel planar float32
// Image in [0, 1]. Grey sources are replicated to three channels; colours
// with alpha are un-premultiplied (alpha dropped).
func FromGoImage(src image.Image) *Image {
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	out := NewImage(w, h, 3)
	n := w * h
	R, G, B := out.Pix[:n], out.Pix[n:2*n], out.Pix[2*n:]
	switch s := src.(type) {
	case *image.YCbCr:
		ycbcrToPlanar(s, R, G, B)
	case *image.Gray:
		for y := 0; y < h; y++ {
			row := s.Pix[y*s.Stride : y*s.Stride+w]
			for x, v := range row {
				f := inv255[v]
				i := y*w + x
				R[i], G[i], B[i] = f, f, f
			}
		}
	case *image.RGBA:
		for y := 0; y < h; y++ {
			row := s.Pix[y*s.Stride : y*s.Stride+4*w]
			for x := 0; x < w; x++ {
				i := y*w + x
				p := row[4*x : 4*x+4]
				if a := p[3]; a == 255 {
					R[i], G[i], B[i] = inv255[p[0]], inv255[p[1]], inv255[p[2]]
				} else if a > 0 {
					af := float32(a)
					R[i], G[i], B[i] = float32(p[0])/af, float32(p[1])/af, float32(p[2])/af
				}
			}
		}
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			row := s.Pix[y*s.Stride : y*s.Stride+4*w]
			for x := 0; x < w; x++ {
				i := y*w + x
				p := row[4*x : 4*x+4]
				R[i], G[i], B[i] = inv255[p[0]], inv255[p[1]], inv255[p[2]]
			}
		}
	case *image.Paletted:
		pal := make([][3]float32, len(s.Palette))
		for k, c := range s.Palette {
			nc := color.NRGBAModel.Convert(c).(color.NRGBA)
			pal[k] = [3]float32{inv255[nc.R], inv255[nc.G], inv255[nc.B]}
		}
		for y := 0; y < h; y++ {
			row := s.Pix[y*s.Stride : y*s.Stride+w]
			for x, k := range row {
				i := y*w + x
				if int(k) < len(pal) {
					R[i], G[i], B[i] = pal[k][0], pal[k][1], pal[k][2]
				}
			}
		}
	default:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := color.NRGBA64Model.Convert(src.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA64)
				i := y*w + x
				R[i], G[i], B[i] = float32(c.R)/65535, float32(c.G)/65535, float32(c.B)/65535
			}
		}
	}
	return out
}

// ycbcrToPlanar converts a decoded JPEG (Y'CbCr, any chroma subsampling)
// to planar float RGB. The arithmetic is image/color.YCbCrToRGB's, inlined,
// so the bytes are identical to the standard conversion; rows are split into
// fixed bands converted in parallel (parallelRows, geom.go) (each pixel is independent, so the
// result does not depend on scheduling).
func ycbcrToPlanar(s *image.YCbCr, R, G, B []float32) {
	b := s.Bounds()
	w, h := b.Dx(), b.Dy()
	parallelRows(h, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			sy := b.Min.Y + y
			yrow := s.Y[s.YOffset(b.Min.X, sy) : s.YOffset(b.Min.X, sy)+w]
			ci0 := s.COffset(b.Min.X, sy)
			var cshift uint // chroma x index = (x >> cshift) relative to the row start
			switch s.SubsampleRatio {
			case image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420:
				cshift = 1
			case image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410:
				cshift = 2
			}
			off := (b.Min.X >> cshift) << cshift // COffset's rounding of the first column
			for x, yv := range yrow {
				ci := ci0 + ((b.Min.X+x)>>cshift - off>>cshift)
				cb1 := int32(s.Cb[ci]) - 128
				cr1 := int32(s.Cr[ci]) - 128
				yy1 := int32(yv) * 0x10101
				r := yy1 + 91881*cr1
				if uint32(r)&0xff000000 == 0 {
					r >>= 16
				} else {
					r = ^(r >> 31)
				}
				g := yy1 - 22554*cb1 - 46802*cr1
				if uint32(g)&0xff000000 == 0 {
					g >>= 16
				} else {
					g = ^(g >> 31)
				}
				bb := yy1 + 116130*cb1
				if uint32(bb)&0xff000000 == 0 {
					bb >>= 16
				} else {
					bb = ^(bb >> 31)
				}
				i := y*w + x
				R[i], G[i], B[i] = inv255[uint8(r)], inv255[uint8(g)], inv255[uint8(bb)]
			}
		}
	})
}

// to8 converts a float in [0, 1] to a byte, clamping and rounding half up.
func to8(v float32) uint8 {
	if !(v > 0) { // also NaN
		return 0
	}
	if v >= 1 {
		return 255
	}
	return uint8(v*255 + 0.5)
}

// ToGoImage converts an Image to an 8-bit Go image: *image.Gray for one
// channel, *image.NRGBA (opaque) for three. Values are clamped to [0, 1] and
// rounded to the nearest of 256 levels.
func ToGoImage(im *Image) (image.Image, error) {
	if im == nil {
		return nil, fmt.Errorf("image is nil")
	}
	if im.W <= 0 || im.H <= 0 || len(im.Pix) != im.W*im.H*im.C {
		return nil, fmt.Errorf("image is empty or inconsistent (W=%d H=%d C=%d len=%d)", im.W, im.H, im.C, len(im.Pix))
	}
	n := im.W * im.H
	switch im.C {
	case 1:
		g := image.NewGray(image.Rect(0, 0, im.W, im.H))
		for i, v := range im.Pix {
			g.Pix[i] = to8(v)
		}
		return g, nil
	case 3:
		o := image.NewNRGBA(image.Rect(0, 0, im.W, im.H))
		for i := 0; i < n; i++ {
			o.Pix[4*i] = to8(im.Pix[i])
			o.Pix[4*i+1] = to8(im.Pix[n+i])
			o.Pix[4*i+2] = to8(im.Pix[2*n+i])
			o.Pix[4*i+3] = 255
		}
		return o, nil
	}
	return nil, fmt.Errorf("image has %d channels (expected 1 or 3)", im.C)
}

// WriteImagePNG writes an Image (1 or 3 channels, values clamped to [0, 1])
// as an 8-bit PNG, atomically (temporary file + rename).
func WriteImagePNG(path string, im *Image) error {
	g, err := ToGoImage(im)
	if err != nil {
		return fmt.Errorf("write image %s: %w", path, err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, g); err != nil {
		return fmt.Errorf("write image %s: %w", path, err)
	}
	return WriteFileAtomic(path, buf.Bytes())
}
