package augment

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/refugelab/refugelab/data"
)

func rgbaAt(im image.Image, x, y int) color.RGBA {
	return color.RGBAModel.Convert(im.At(x, y)).(color.RGBA)
}

// TestPreviewSheet checks the sheet's geometry, its overlays and that it is
// reproducible byte for byte.
func TestPreviewSheet(t *testing.T) {
	var items []PreviewItem
	for i := 0; i < 2; i++ {
		img, m, pt := testSample(48, 40, data.Point{X: 20 + float64(i), Y: 18})
		items = append(items, PreviewItem{img, m, pt})
	}
	p := mustBuild(t, typical()...)
	dir := t.TempDir()
	out := filepath.Join(dir, "sheet.png")
	const n = 3
	if err := Preview(items, p, 5, n, out); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	im, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	// (n+1) cells of 48 px plus margins of 4: 4 + 4·52 = 212; 2 rows: 4 + 2·44 = 92.
	if im.Bounds().Dx() != 212 || im.Bounds().Dy() != 92 {
		t.Fatalf("sheet is %v, want 212x92", im.Bounds().Size())
	}
	// Original cell of row 0 (origin (4, 4)): the cross centre at the point
	// (20, 18), a disc outline pixel at radius 6 (x = 26, y = 18) and a cup
	// outline pixel at (22, 20) (distance 2.83 <= 3 from the point, its
	// neighbour (23, 20) at 3.61 is not cup; off the cross's arms).
	if c := rgbaAt(im, 4+20, 4+18); c != previewPoint {
		t.Errorf("cross centre colour %v, want %v", c, previewPoint)
	}
	if c := rgbaAt(im, 4+26, 4+18); c != previewDisc {
		t.Errorf("disc outline colour %v, want %v", c, previewDisc)
	}
	if c := rgbaAt(im, 4+22, 4+20); c != previewCup {
		t.Errorf("cup outline colour %v, want %v", c, previewCup)
	}
	// Every augmented cell shows the three overlays.
	for r := 0; r < 2; r++ {
		for c := 1; c <= n; c++ {
			found := map[color.RGBA]bool{}
			for y := 4 + r*44; y < 4+r*44+40; y++ {
				for x := 4 + c*52; x < 4+c*52+48; x++ {
					found[rgbaAt(im, x, y)] = true
				}
			}
			if !found[previewDisc] || !found[previewCup] || !found[previewPoint] {
				t.Errorf("cell (%d, %d) lacks an overlay: disc %v cup %v point %v", r, c, found[previewDisc], found[previewCup], found[previewPoint])
			}
		}
	}
	// Same inputs, same bytes.
	out2 := filepath.Join(dir, "sheet2.png")
	if err := Preview(items, p, 5, n, out2); err != nil {
		t.Fatal(err)
	}
	b2, _ := os.ReadFile(out2)
	if !bytes.Equal(b, b2) {
		t.Error("two previews of the same inputs differ")
	}
	// Errors name the problem.
	if err := Preview(nil, p, 5, n, out); err == nil {
		t.Error("empty item list accepted")
	}
	bad := []PreviewItem{{Image: items[0].Image, Mask: data.NewMask(3, 3)}}
	if err := Preview(bad, p, 5, n, out); err == nil {
		t.Error("mask of another size accepted")
	}
}

// sharedData returns ../shared/data next to the module root, or skips.
func sharedData(t *testing.T) string {
	t.Helper()
	dir := filepath.Join("..", "..", "shared", "data")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("real data not found at %s (../shared/data next to the module root): %v", dir, err)
	}
	return dir
}

// loadRGB decodes an image file into a data.Image, resized (bilinear,
// pixel-centre convention) to outW x outH; it returns the resize map too.
func loadRGB(t *testing.T, path string, outW, outH int) (*data.Image, data.Affine) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src, _, err := image.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b := src.Bounds()
	full := data.NewImage(b.Dx(), b.Dy(), 3)
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			r, g, bb, _ := src.At(b.Min.X+x, b.Min.Y+y).RGBA()
			full.Set(0, x, y, float32(r)/65535)
			full.Set(1, x, y, float32(g)/65535)
			full.Set(2, x, y, float32(bb)/65535)
		}
	}
	a := data.CropResize(0, 0, float64(b.Dx()), float64(b.Dy()), outW, outH)
	inv, _ := a.Inverse()
	return warpImage(full, inv, outW, outH, nil), a
}

// loadMask decodes a REFUGE-convention mask (first channel) resized with
// nearest neighbour.
func loadMask(t *testing.T, path string, outW, outH int) *data.Mask {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b := src.Bounds()
	m := &data.Mask{W: b.Dx(), H: b.Dy(), Pix: make([]uint8, b.Dx()*b.Dy())}
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			r, _, _, _ := src.At(b.Min.X+x, b.Min.Y+y).RGBA()
			m.Pix[y*m.W+x] = uint8(r >> 8)
		}
	}
	checkMaskCodes(t, path, m)
	inv, _ := data.CropResize(0, 0, float64(m.W), float64(m.H), outW, outH).Inverse()
	return warpMask(m, inv, outW, outH, nil)
}

// TestPreviewRealData builds a contact sheet from real images in
// ../shared/data: three 800x800 disc crops with REFUGE masks (fundus-dg-roi,
// resized to 256x256) and two full IDRiD images with their fovea (resized to
// 384x255), through every geometric and photometric transform. It checks
// that the masks keep their codes and the points agree with the warped
// images' geometry, and writes the sheet to $AUGMENT_PREVIEW_OUT (a folder)
// when set, else to a temporary folder.
func TestPreviewRealData(t *testing.T) {
	root := sharedData(t)
	var items []PreviewItem
	for _, stem := range []string{"Domain1/ROIs/%s/gdrishtiGS_002", "Domain2/ROIs/%s/G-1-L", "Domain3/ROIs/%s/g0003"} {
		ip := filepath.Join(root, "fundus-dg-roi", fmt.Sprintf(stem, "image")+".png")
		mp := filepath.Join(root, "fundus-dg-roi", fmt.Sprintf(stem, "mask")+".png")
		if _, err := os.Stat(ip); err != nil {
			t.Skipf("fundus-dg-roi sample missing: %v", err)
		}
		img, _ := loadRGB(t, ip, 256, 256)
		items = append(items, PreviewItem{Image: img, Mask: loadMask(t, mp, 256, 256)})
	}
	f, err := os.Open(filepath.Join(root, "idrid-localization", "labels.csv"))
	if err != nil {
		t.Skipf("idrid labels missing: %v", err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rows[1:3] { // header: image,width,height,fovea_x,fovea_y,...
		img, a := loadRGB(t, filepath.Join(root, "idrid-localization", row[0]), 384, 255)
		fx, _ := strconv.ParseFloat(row[3], 64)
		fy, _ := strconv.ParseFloat(row[4], 64)
		pt := a.Apply(data.Point{X: fx, Y: fy})
		items = append(items, PreviewItem{Image: img, Point: &pt})
	}
	p := mustBuild(t,
		Spec{Name: "hflip", Prob: 0.5},
		Spec{Name: "rotate", Prob: 0.7, Params: map[string]any{"degrees": 20}},
		Spec{Name: "scale", Prob: 0.7, Params: map[string]any{"range": []any{0.85, 1.2}}},
		Spec{Name: "translate", Prob: 0.3, Params: map[string]any{"fraction": 0.05}},
		Spec{Name: "elastic", Prob: 0.5},
		Spec{Name: "brightness", Prob: 0.5}, Spec{Name: "contrast", Prob: 0.5},
		Spec{Name: "saturation", Prob: 0.3}, Spec{Name: "hue", Prob: 0.3},
		Spec{Name: "gamma", Prob: 0.5}, Spec{Name: "blur", Prob: 0.2},
		Spec{Name: "noise", Prob: 0.2}, Spec{Name: "erase", Prob: 0.2},
	)
	for i, it := range items {
		for k := 0; k < 6; k++ {
			_, om, _, _ := p.Apply(it.Image, it.Mask, it.Point, 2026, k, i)
			if om != nil {
				checkMaskCodes(t, "real mask", om)
			}
		}
	}
	dir := os.Getenv("AUGMENT_PREVIEW_OUT")
	if dir == "" {
		dir = t.TempDir()
	}
	out := filepath.Join(dir, "augment-preview.png")
	if err := Preview(items, p, 2026, 6, out); err != nil {
		t.Fatal(err)
	}
	t.Logf("preview written to %s", out)
}
