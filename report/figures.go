package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/color"
	"math"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// pngDPI is the resolution of the PNG figures.
const pngDPI = 150

// Colours used by the figures.
var (
	colGT       = color.RGBA{0, 200, 0, 255}
	colPredDisc = color.RGBA{30, 90, 255, 255}
	colPredCup  = color.RGBA{230, 0, 0, 255}
	colBox      = color.RGBA{235, 242, 250, 255}
	colBoxLine  = color.RGBA{60, 90, 130, 255}
	palette     = []color.Color{
		color.RGBA{31, 119, 180, 255}, color.RGBA{214, 39, 40, 255}, color.RGBA{44, 160, 44, 255},
		color.RGBA{255, 127, 14, 255}, color.RGBA{148, 103, 189, 255}, color.RGBA{140, 86, 75, 255},
	}
)

// render draws a figure on an SVG and a PNG canvas of the same size.
func render(w, h vg.Length, paint func(dc draw.Canvas)) (ff *figureFiles, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("drawing failed: %v", p)
		}
	}()
	sc := vgsvg.New(w, h)
	paint(draw.New(sc))
	var sb bytes.Buffer
	if _, err := sc.WriteTo(&sb); err != nil {
		return nil, err
	}
	ic := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(pngDPI), vgimg.UseBackgroundColor(color.White))
	paint(draw.New(ic))
	var pb bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: ic}).WriteTo(&pb); err != nil {
		return nil, err
	}
	return &figureFiles{PNG: pb.Bytes(), SVG: svgFontFallback(sb.Bytes())}, nil
}

// svgFontFallbacks extends the font families vgsvg writes with their
// metric-compatible equivalents, so that an SVG viewed where the Liberation
// fonts are not installed keeps the text widths the layout was made with.
var svgFontFallbacks = strings.NewReplacer(
	"font-family:Liberation Sans;", "font-family:'Liberation Sans',Arial,Helvetica,sans-serif;",
	"font-family:Liberation Serif;", "font-family:'Liberation Serif','Times New Roman',Times,serif;",
	"font-family:Liberation Mono;", "font-family:'Liberation Mono','Courier New',Courier,monospace;",
)

func svgFontFallback(b []byte) []byte { return []byte(svgFontFallbacks.Replace(string(b))) }

// makeFigures renders every figure the document refers to.
func makeFigures(r *run, d *document) error {
	for _, s := range d.Sections {
		for _, b := range s.Blocks {
			f, ok := b.(*figure)
			if !ok {
				continue
			}
			var ff *figureFiles
			var err error
			switch {
			case f.Name == "schematic":
				ff, err = schematicFigure(r)
			case f.Name == "roc":
				ff, err = rocFigure(r)
			case strings.HasPrefix(f.Name, "curves_"):
				ff, err = curvesFigure(r, strings.TrimPrefix(f.Name, "curves_"))
			case f.Name == "qualitative":
				ff, err = qualitativeFigure(r)
			default:
				err = fmt.Errorf("unknown figure")
			}
			if err != nil {
				return fmt.Errorf("report: figure %s: %w", f.Name, err)
			}
			d.Figures[f.Name] = ff
		}
	}
	return nil
}

func sansFont(size vg.Length, bold bool) font.Font {
	f := font.Font{Typeface: "Liberation", Variant: "Sans", Size: size}
	if bold {
		f.Weight = 3 // golang.org/x/image/font.WeightBold (CSS 700), not imported here
	}
	return f
}

func textStyle(size vg.Length, bold bool) draw.TextStyle {
	return draw.TextStyle{Color: color.Black, Font: sansFont(size, bold), Handler: plot.DefaultTextHandler}
}

// wrap breaks s into lines no wider than w in the style's font.
func wrap(sty draw.TextStyle, s string, w vg.Length) []string {
	var lines []string
	for _, para := range strings.Split(s, "\n") {
		var words []string
		for _, wd := range strings.Fields(para) {
			words = append(words, splitWide(sty, wd, w)...)
		}
		cur := ""
		for _, wd := range words {
			try := wd
			if cur != "" {
				try = cur + " " + wd
			}
			if cur != "" && sty.Width(try) > w {
				lines = append(lines, cur)
				cur = wd
			} else {
				cur = try
			}
		}
		if cur != "" {
			lines = append(lines, cur)
		}
	}
	return lines
}

// splitWide splits a word wider than w after / _ . or, failing those,
// between characters, so that no piece is wider than w.
func splitWide(sty draw.TextStyle, wd string, w vg.Length) []string {
	var out []string
	for sty.Width(wd) > w {
		rs := []rune(wd)
		fit, natural := 1, 0
		for i := 1; i < len(rs) && sty.Width(string(rs[:i])) <= w; i++ {
			fit = i
			if strings.ContainsRune("/_.-", rs[i-1]) {
				natural = i
			}
		}
		cut := fit
		if natural > 0 {
			cut = natural
		}
		out = append(out, string(rs[:cut]))
		wd = string(rs[cut:])
	}
	return append(out, wd)
}

// shortStep takes the leading clause of a Describe sentence for the
// schematic: up to the first "(", ";" or ":".
func shortStep(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "(;:"); i > 0 {
		s = s[:i]
	}
	s = strings.TrimRight(strings.TrimSpace(s), ".,")
	if r := []rune(s); len(r) > maxStepChars {
		cut := strings.LastIndexByte(string(r[:maxStepChars]), ' ')
		if cut <= 0 {
			cut = len(string(r[:maxStepChars]))
		}
		s = strings.TrimRight(s[:cut], ",;") + " …"
	}
	return s
}

// maxStepChars bounds a step's text in the schematic; the full sentence is
// in the Preprocessing and Post-processing sections.
const maxStepChars = 64

// ---- schematic ----

func schematicFigure(r *run) (*figureFiles, error) {
	stages := r.stages()
	if len(stages) == 0 {
		return nil, fmt.Errorf("description.json has no tasks")
	}
	const (
		cols   = 5
		width  = 7.6 * vg.Inch
		margin = 0.1 * vg.Inch
		gap    = 0.28 * vg.Inch
		pad    = 4 * vg.Millimeter / 2
	)
	body := textStyle(7, false)
	head := textStyle(8, true)
	title := textStyle(9, true)
	lineH := body.FontExtents().Height * 1.15
	boxW := (width - 2*margin - gap*(cols-1)) / cols
	heads := []string{"Input", "Preprocessing", "Network", "Post-processing", "Output"}

	// Lay out the text of every box first, to size the rows.
	type row struct {
		label string
		boxes [cols][]string
		h     vg.Length
	}
	sizes := datasetSizes(r)
	var rows []row
	for _, st := range stages {
		t := st.T
		var rw row
		rw.label = st.Label
		in := orDash(t.Input)
		if sizes != "" {
			in += "\nimages " + sizes
		}
		var pre []string
		for _, p := range t.Preprocessing {
			pre = append(pre, "• "+shortStep(p))
		}
		if len(pre) == 0 {
			pre = append(pre, "none")
		}
		if len(t.InputSize) == 2 {
			pre = append(pre, fmt.Sprintf("→ %d×%d px", t.InputSize[0], t.InputSize[1]))
		}
		net := []string{orDash(t.Network.Arch)}
		if noNetwork(t.Network) {
			net = []string{"no network of its own", shortStep(t.Network.Sentence)}
		} else {
			if t.Network.BasedOn != "" {
				net = append(net, "based on "+t.Network.BasedOn)
			}
			net = append(net, fint(t.Network.TotalParams)+" parameters")
			if l := len(t.Network.Layers); l > 0 {
				net = append(net, fmt.Sprintf("%d layers, out %s", l, fshape(t.Network.Layers[l-1].OutShape)))
			}
		}
		var post []string
		for _, p := range t.Postprocessing {
			post = append(post, "• "+shortStep(p))
		}
		if len(post) == 0 {
			post = append(post, "none")
		}
		texts := [cols]string{in, strings.Join(pre, "\n"), strings.Join(net, "\n"), strings.Join(post, "\n"), orDash(t.Output)}
		n := 0
		for i, s := range texts {
			rw.boxes[i] = wrap(body, s, boxW-2*pad)
			n = max(n, len(rw.boxes[i]))
		}
		rw.h = vg.Length(n)*lineH + 2*pad
		rows = append(rows, rw)
	}
	titleH := title.FontExtents().Height * 1.6
	headH := head.FontExtents().Height * 1.8
	height := margin*2 + headH
	for _, rw := range rows {
		height += titleH + rw.h + 0.12*vg.Inch
	}
	paint := func(dc draw.Canvas) {
		top := dc.Max.Y - margin
		x0 := dc.Min.X + margin
		hs := head
		hs.XAlign = draw.XCenter
		hs.YAlign = draw.YTop
		for i, h := range heads {
			cx := x0 + vg.Length(i)*(boxW+gap) + boxW/2
			dc.FillText(hs, vg.Point{X: cx, Y: top}, h)
		}
		y := top - headH
		ts := title
		ts.YAlign = draw.YTop
		bs := body
		bs.YAlign = draw.YTop
		for _, rw := range rows {
			dc.FillText(ts, vg.Point{X: x0, Y: y}, rw.label)
			y -= titleH
			for i := 0; i < cols; i++ {
				bx := x0 + vg.Length(i)*(boxW+gap)
				rect := []vg.Point{{X: bx, Y: y}, {X: bx + boxW, Y: y}, {X: bx + boxW, Y: y - rw.h}, {X: bx, Y: y - rw.h}}
				dc.FillPolygon(colBox, rect)
				dc.StrokeLines(draw.LineStyle{Color: colBoxLine, Width: 0.8}, append(rect, rect[0]))
				ty := y - pad
				for _, ln := range rw.boxes[i] {
					dc.FillText(bs, vg.Point{X: bx + pad, Y: ty}, ln)
					ty -= lineH
				}
				if i < cols-1 {
					ay := y - rw.h/2
					ax0, ax1 := bx+boxW+1.5, bx+boxW+gap-1.5
					ls := draw.LineStyle{Color: colBoxLine, Width: 1.2}
					dc.StrokeLines(ls, []vg.Point{{X: ax0, Y: ay}, {X: ax1, Y: ay}})
					dc.FillPolygon(colBoxLine, []vg.Point{{X: ax1, Y: ay}, {X: ax1 - 5, Y: ay + 3}, {X: ax1 - 5, Y: ay - 3}})
				}
			}
			y -= rw.h + 0.12*vg.Inch
		}
	}
	return render(width, height, paint)
}

// datasetSizes lists the two most frequent image sizes over all sources.
func datasetSizes(r *run) string {
	all := map[string]int{}
	for _, d := range r.Desc.Datasets {
		for k, n := range d.Sizes {
			all[k] += n
		}
	}
	if len(all) == 0 {
		return ""
	}
	parts := strings.Split(countList(all), ", ")
	for i := range parts {
		if j := strings.Index(parts[i], " ("); j > 0 {
			parts[i] = parts[i][:j]
		}
	}
	if len(parts) > 2 {
		return strings.Join(parts[:2], ", ") + fmt.Sprintf(" +%d more", len(parts)-2)
	}
	return strings.Join(parts, ", ")
}

// ---- ROC ----

// rocSplits lists the splits with per-image classification scores of both
// classes, in split order.
func rocSplits(r *run) []string {
	var out []string
	for _, s := range r.splitOrder() {
		pos, neg := 0, 0
		for _, e := range r.Metrics[s].PerImage.Classification {
			if e.Label == 1 {
				pos++
			} else {
				neg++
			}
		}
		if pos > 0 && neg > 0 {
			out = append(out, s)
		}
	}
	return out
}

// rocPoints returns the ROC vertices (FPR, TPR) from (0,0) to (1,1); tied
// scores move diagonally, as in the trapezoid AUC with ties counted half.
func rocPoints(es []perImageClass) plotter.XYs {
	s := append([]perImageClass(nil), es...)
	sort.SliceStable(s, func(i, j int) bool { return s[i].Score > s[j].Score })
	pos, neg := 0, 0
	for _, e := range s {
		if e.Label == 1 {
			pos++
		} else {
			neg++
		}
	}
	pts := plotter.XYs{{X: 0, Y: 0}}
	tp, fp := 0, 0
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && s[j].Score == s[i].Score {
			if s[j].Label == 1 {
				tp++
			} else {
				fp++
			}
			j++
		}
		pts = append(pts, plotter.XY{X: float64(fp) / float64(neg), Y: float64(tp) / float64(pos)})
		i = j
	}
	return pts
}

// rocArea is the trapezoid area under ROC vertices.
func rocArea(pts plotter.XYs) float64 {
	a := 0.0
	for i := 1; i < len(pts); i++ {
		a += (pts[i].X - pts[i-1].X) * (pts[i].Y + pts[i-1].Y) / 2
	}
	return a
}

func rocFigure(r *run) (*figureFiles, error) {
	p := plot.New()
	p.Title.Text = "ROC, glaucoma classification"
	p.X.Label.Text = "1 - specificity (false positive rate)"
	p.Y.Label.Text = "sensitivity (true positive rate)"
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	p.Add(plotter.NewGrid())
	diag, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
	if err != nil {
		return nil, err
	}
	diag.Color = color.Gray{Y: 150}
	diag.Dashes = []vg.Length{4, 3}
	p.Add(diag)
	// The legend goes below the plot, where it can hide no curve.
	leg := plot.NewLegend()
	leg.Top = true
	leg.Left = true
	splits := rocSplits(r)
	for i, s := range splits {
		l, err := plotter.NewLine(rocPoints(r.Metrics[s].PerImage.Classification))
		if err != nil {
			return nil, fmt.Errorf("split %s: %w", s, err)
		}
		l.Color = palette[i%len(palette)]
		l.Width = 1.5
		p.Add(l)
		name := s
		if tm := r.Metrics[s].Tasks["classification"]; tm != nil {
			if v, ok := tm.num("auc"); ok {
				name = fmt.Sprintf("%s (AUC %s)", s, f4(v))
			}
		}
		leg.Add(name, l)
	}
	legH := vg.Length(len(splits))*leg.TextStyle.FontExtents().Height*1.3 + 14
	return render(4.2*vg.Inch, 4*vg.Inch+legH, func(dc draw.Canvas) {
		top := dc
		top.Min.Y += legH
		p.Draw(top)
		bottom := dc
		bottom.Max.Y = dc.Min.Y + legH - 8
		bottom.Min.X += 0.6 * vg.Inch
		leg.Draw(bottom)
	})
}

// ---- training curves ----

// logTasks lists the tasks present in log.jsonl, in task order.
func logTasks(r *run) []string {
	set := map[string]bool{}
	for _, e := range r.Log {
		set[e.Task] = true
	}
	return orderKeys(keys(set), []string{"classification", "segmentation", "fovea", "localizer"})
}

func (r *run) bestEpoch(task string) (int, bool) {
	var t *taskDesc
	if task == "localizer" {
		t = r.Desc.Localizer
	} else {
		t = r.Desc.Tasks[task]
	}
	if t == nil || len(t.Training.BestEpoch) == 0 {
		return 0, false
	}
	var n *int
	if json.Unmarshal(t.Training.BestEpoch, &n) != nil || n == nil {
		return 0, false
	}
	return *n, true
}

// epochTicks marks whole epochs only.
type epochTicks struct{}

// Ticks implements plot.Ticker.
func (epochTicks) Ticks(lo, hi float64) []plot.Tick {
	var out []plot.Tick
	labelled := 0
	for _, t := range (plot.DefaultTicks{}).Ticks(lo, hi) {
		if t.Value == math.Trunc(t.Value) {
			out = append(out, t)
			if t.Label != "" {
				labelled++
			}
		}
	}
	if labelled >= 2 {
		return out
	}
	out = out[:0]
	for e := math.Ceil(lo); e <= math.Floor(hi); e++ {
		out = append(out, plot.Tick{Value: e, Label: strconv.Itoa(int(e))})
	}
	return out
}

// maxCurvePanels bounds the validation panels per task.
const maxCurvePanels = 4

// curveMetrics lists the validation metrics of a task's log lines that get
// a panel of their own.
func curveMetrics(r *run, task string) []string {
	mset := map[string]bool{}
	for _, e := range r.Log {
		if e.Task == task {
			for k := range e.Val {
				mset[k] = true
			}
		}
	}
	metrics := orderKeys(keys(mset), metricOrder)
	if len(metrics) > maxCurvePanels {
		metrics = metrics[:maxCurvePanels]
	}
	return metrics
}

// Width of one training-curve panel and of the widest figure, in inches.
const (
	curvePanelIn = 2.6
	figureMaxIn  = 7.6
)

// curvesWidth is the width of a task's training-curve figure as a fraction
// of the widest figure.
func curvesWidth(r *run, task string) float64 {
	n := 1 + len(curveMetrics(r, task))
	return math.Min(1, curvePanelIn*float64(n)/figureMaxIn)
}

func curvesFigure(r *run, task string) (*figureFiles, error) {
	var es []logEntry
	for _, e := range r.Log {
		if e.Task == task {
			es = append(es, e)
		}
	}
	sort.SliceStable(es, func(i, j int) bool { return es[i].Epoch < es[j].Epoch })
	metrics := curveMetrics(r, task)
	best, hasBest := r.bestEpoch(task)

	newPlot := func(title, ylabel string) *plot.Plot {
		p := plot.New()
		p.Title.Text = title
		p.X.Label.Text = "epoch"
		p.X.Tick.Marker = epochTicks{}
		p.Y.Label.Text = ylabel
		p.Add(plotter.NewGrid())
		return p
	}
	addSeries := func(p *plot.Plot, xy plotter.XYs, col color.Color) error {
		if len(xy) == 0 {
			return nil
		}
		l, s, err := plotter.NewLinePoints(xy)
		if err != nil {
			return err
		}
		l.Color, s.Color = col, col
		s.Shape = draw.CircleGlyph{}
		s.Radius = 1.5
		p.Add(l, s)
		return nil
	}
	markBest := func(p *plot.Plot) error {
		if !hasBest {
			return nil
		}
		ymin, ymax := p.Y.Min, p.Y.Max
		if ymin == ymax {
			ymin, ymax = ymin-1, ymax+1
		}
		l, err := plotter.NewLine(plotter.XYs{{X: float64(best), Y: ymin}, {X: float64(best), Y: ymax}})
		if err != nil {
			return err
		}
		l.Color = color.Gray{Y: 110}
		l.Dashes = []vg.Length{3, 3}
		p.Add(l)
		return nil
	}

	var row []*plot.Plot
	loss := newPlot("training loss", "loss")
	var lxy plotter.XYs
	for _, e := range es {
		if e.TrainLoss != nil && !math.IsNaN(*e.TrainLoss) {
			lxy = append(lxy, plotter.XY{X: float64(e.Epoch), Y: *e.TrainLoss})
		}
	}
	if err := addSeries(loss, lxy, palette[0]); err != nil {
		return nil, err
	}
	if err := markBest(loss); err != nil {
		return nil, err
	}
	row = append(row, loss)
	for i, m := range metrics {
		name := m
		if h, ok := metricNames[m]; ok {
			name = h
		}
		p := newPlot("validation "+name, m)
		var xy plotter.XYs
		for _, e := range es {
			if v, ok := e.Val[m]; ok && !math.IsNaN(v) {
				xy = append(xy, plotter.XY{X: float64(e.Epoch), Y: v})
			}
		}
		if err := addSeries(p, xy, palette[(i+1)%len(palette)]); err != nil {
			return nil, err
		}
		if err := markBest(p); err != nil {
			return nil, err
		}
		row = append(row, p)
	}
	for _, p := range row {
		p.Title.TextStyle.Font.Size = 10
	}
	n := len(row)
	w := vg.Length(math.Min(figureMaxIn, curvePanelIn*float64(n))) * vg.Inch
	tiles := draw.Tiles{Rows: 1, Cols: n, PadX: 0.15 * vg.Inch, PadTop: 2, PadBottom: 2, PadLeft: 2, PadRight: 4}
	return render(w, 2.5*vg.Inch, func(dc draw.Canvas) {
		cs := plot.Align([][]*plot.Plot{row}, tiles, dc)
		for j, p := range row {
			p.Draw(cs[0][j])
		}
	})
}
