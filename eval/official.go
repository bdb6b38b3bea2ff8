package eval

import (
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strings"

	"github.com/refugelab/refugelab/data"
)

// Official-style evaluation output files written by WriteOfficialCSVs.
const (
	ClassificationEvalFile = "classification_evaluation.csv"
	SegmentationEvalFile   = "segmentation_evaluation.csv"
	SegmentationTableFile  = "segmentation_per_image.csv"
	FoveaEvalFile          = "fovea_evaluation.csv"
	FoveaTableFile         = "fovea_per_image.csv"
)

// WriteOfficialCSVs writes the official-style result tables into dir, one
// set per task present in tm:
//
//	classification_evaluation.csv  AUC,Sensitivity
//	segmentation_evaluation.csv    Cup-Dice,Disc-Dice,AE-CDR (means over images)
//	segmentation_per_image.csv     Filename,Cup-Dice,Disc-Dice,AE-CDR (an undefined Dice is an empty cell)
//	fovea_evaluation.csv           Mean Euclidean distance
//	fovea_per_image.csv            Filename,Euclidean distance
//
// Numbers are written losslessly (shortest round-trip decimal); files are
// written atomically. It returns the paths written.
func WriteOfficialCSVs(dir string, tm *TaskMetrics) ([]string, error) {
	var written []string
	put := func(name string, rows [][]string) error {
		b, err := csvBytes(rows)
		if err != nil {
			return err
		}
		p := filepath.Join(dir, name)
		if err := data.WriteFileAtomic(p, b); err != nil {
			return err
		}
		written = append(written, p)
		return nil
	}
	if c := tm.Classification; c != nil {
		if err := put(ClassificationEvalFile, [][]string{{"AUC", "Sensitivity"}, {formatFloat(c.AUC), formatFloat(c.SensAtSpec)}}); err != nil {
			return written, err
		}
	}
	if s := tm.Segmentation; s != nil {
		if err := put(SegmentationEvalFile, [][]string{{"Cup-Dice", "Disc-Dice", "AE-CDR"}, {formatFloat(s.DiceCup), formatFloat(s.DiceDisc), formatFloat(s.VCDRMAE)}}); err != nil {
			return written, err
		}
		rows := [][]string{{"Filename", "Cup-Dice", "Disc-Dice", "AE-CDR"}}
		for _, r := range tm.PerImage.Segmentation {
			rows = append(rows, []string{r.Name, optFloat(r.DiceCup), optFloat(r.DiceDisc), formatFloat(r.VCDRAbsErr)})
		}
		if err := put(SegmentationTableFile, rows); err != nil {
			return written, err
		}
	}
	if f := tm.Fovea; f != nil {
		if err := put(FoveaEvalFile, [][]string{{"Mean Euclidean distance"}, {formatFloat(f.MeanDistance)}}); err != nil {
			return written, err
		}
		rows := [][]string{{"Filename", "Euclidean distance"}}
		for _, r := range tm.PerImage.Fovea {
			rows = append(rows, []string{r.Name, formatFloat(r.Distance)})
		}
		if err := put(FoveaTableFile, rows); err != nil {
			return written, err
		}
	}
	return written, nil
}

func optFloat(v *float64) string {
	if v == nil {
		return ""
	}
	return formatFloat(*v)
}

// FormatTable renders the metrics as a readable plain-text table (for
// stdout), with n, missing images, confidence intervals when present, and a
// count of the problems found.
func FormatTable(tm *TaskMetrics) string {
	var b strings.Builder
	ci := func(c *CI95) string {
		if c == nil {
			return ""
		}
		return fmt.Sprintf("  [95%% CI %.4f, %.4f]", c[0], c[1])
	}
	ciPx := func(c *CI95) string {
		if c == nil {
			return ""
		}
		return fmt.Sprintf("  [95%% CI %.2f, %.2f] px", c[0], c[1])
	}
	if c := tm.Classification; c != nil {
		fmt.Fprintf(&b, "Classification  n=%d (%d glaucoma, %d normal), missing %d\n", c.N, c.Glaucoma, c.Normal, c.Missing)
		fmt.Fprintf(&b, "  AUC                        %.4f%s\n", c.AUC, ci(c.AUCCI))
		fmt.Fprintf(&b, "  Sensitivity @ spec %.2f    %.4f\n", c.Spec, c.SensAtSpec)
	}
	if s := tm.Segmentation; s != nil {
		fmt.Fprintf(&b, "Segmentation    n=%d, missing %d\n", s.N, s.Missing)
		fmt.Fprintf(&b, "  Disc Dice                  %.4f ± %.4f%s\n", s.DiceDisc, s.DiceDiscSD, ci(s.DiceDiscCI))
		fmt.Fprintf(&b, "  Cup Dice                   %.4f ± %.4f%s\n", s.DiceCup, s.DiceCupSD, ci(s.DiceCupCI))
		fmt.Fprintf(&b, "  vCDR MAE                   %.4f ± %.4f%s\n", s.VCDRMAE, s.VCDRMAESD, ci(s.VCDRMAECI))
		if s.DiceCupUndefined+s.DiceDiscUndefined > 0 {
			fmt.Fprintf(&b, "  (Dice undefined, excluded: disc %d, cup %d images with the structure in neither mask)\n", s.DiceDiscUndefined, s.DiceCupUndefined)
		}
	}
	if f := tm.Fovea; f != nil {
		fmt.Fprintf(&b, "Fovea           n=%d, missing %d\n", f.N, f.Missing)
		fmt.Fprintf(&b, "  Mean Euclidean distance    %.2f ± %.2f px%s\n", f.MeanDistance, f.SD, ciPx(f.CI))
	}
	if len(tm.Problems) > 0 {
		fmt.Fprintf(&b, "%d problem(s) found (tolerated in official mode; --strict fails on them):\n", len(tm.Problems))
		for i, p := range tm.Problems {
			if i == 20 {
				fmt.Fprintf(&b, "  ... %d more\n", len(tm.Problems)-20)
				break
			}
			b.WriteString("  " + p.String() + "\n")
		}
	}
	return b.String()
}

// RankWeights are the ranking weights. The REFUGE 2018 scheme
// (Refuge2018Weights): segmentation score = 0.35·rank(cup Dice) +
// 0.25·rank(disc Dice) + 0.40·rank(vCDR MAE); final score = 0.6·rank of the
// segmentation score + 0.4·rank(AUC); fovea ranked on its own. REFUGE2's
// weights are not published: pass your own.
type RankWeights struct {
	CupDice        float64 `yaml:"cup_dice" json:"cup_dice"`
	DiscDice       float64 `yaml:"disc_dice" json:"disc_dice"`
	VCDR           float64 `yaml:"vcdr" json:"vcdr"`
	Segmentation   float64 `yaml:"segmentation" json:"segmentation"`
	Classification float64 `yaml:"classification" json:"classification"`
}

// Refuge2018Weights returns the REFUGE 2018 weights.
func Refuge2018Weights() RankWeights {
	return RankWeights{CupDice: 0.35, DiscDice: 0.25, VCDR: 0.40, Segmentation: 0.6, Classification: 0.4}
}

// RankRow is one submission's place. Ranks are 1 = best; tied values share
// the mean of the ranks they span (fractional ranks).
type RankRow struct {
	Name          string  `json:"name"`
	AUC           float64 `json:"auc"`
	DiceCup       float64 `json:"dice_cup"`
	DiceDisc      float64 `json:"dice_disc"`
	VCDRMAE       float64 `json:"vcdr_mae"`
	RankAUC       float64 `json:"rank_auc"`
	RankCup       float64 `json:"rank_dice_cup"`
	RankDisc      float64 `json:"rank_dice_disc"`
	RankVCDR      float64 `json:"rank_vcdr_mae"`
	SegScore      float64 `json:"segmentation_score"`
	RankSeg       float64 `json:"rank_segmentation"`
	FinalScore    float64 `json:"final_score"`
	Rank          float64 `json:"rank"`
	HasFovea      bool    `json:"has_fovea"`
	FoveaDistance float64 `json:"mean_distance_px,omitempty"`
	RankFovea     float64 `json:"rank_fovea,omitempty"`
}

// fracRank returns fractional ranks (1 = best) of values, higher or lower
// being better; equal values share their mean rank.
func fracRank(v []float64, higherBetter bool) []float64 {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		if higherBetter {
			return v[idx[a]] > v[idx[b]]
		}
		return v[idx[a]] < v[idx[b]]
	})
	r := make([]float64, len(v))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && v[idx[j+1]] == v[idx[i]] {
			j++
		}
		mean := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			r[idx[k]] = mean
		}
		i = j + 1
	}
	return r
}

// Rank ranks submissions by the weighted scheme. Every submission needs
// classification and segmentation metrics; fovea is ranked among those that
// have it (RankFovea 0 otherwise). Rows come sorted by final rank, then name.
func Rank(subs map[string]*TaskMetrics, w RankWeights) ([]RankRow, error) {
	for _, x := range []struct {
		n string
		v float64
	}{{"cup_dice", w.CupDice}, {"disc_dice", w.DiscDice}, {"vcdr", w.VCDR}, {"segmentation", w.Segmentation}, {"classification", w.Classification}} {
		if x.v < 0 || math.IsNaN(x.v) {
			return nil, fmt.Errorf("rank: weight %s = %v; expected a number >= 0", x.n, x.v)
		}
	}
	names := sortedKeys(subs)
	if len(names) == 0 {
		return nil, fmt.Errorf("rank: no submissions")
	}
	rows := make([]RankRow, len(names))
	var auc, cup, disc, vcdr []float64
	for i, n := range names {
		tm := subs[n]
		if tm == nil || tm.Classification == nil || tm.Segmentation == nil {
			return nil, fmt.Errorf("rank: submission %q lacks classification or segmentation metrics; both are needed for the final rank", n)
		}
		rows[i] = RankRow{Name: n, AUC: tm.Classification.AUC, DiceCup: tm.Segmentation.DiceCup,
			DiceDisc: tm.Segmentation.DiceDisc, VCDRMAE: tm.Segmentation.VCDRMAE}
		auc = append(auc, rows[i].AUC)
		cup = append(cup, rows[i].DiceCup)
		disc = append(disc, rows[i].DiceDisc)
		vcdr = append(vcdr, rows[i].VCDRMAE)
	}
	ra, rc, rd, rv := fracRank(auc, true), fracRank(cup, true), fracRank(disc, true), fracRank(vcdr, false)
	seg := make([]float64, len(rows))
	for i := range rows {
		rows[i].RankAUC, rows[i].RankCup, rows[i].RankDisc, rows[i].RankVCDR = ra[i], rc[i], rd[i], rv[i]
		seg[i] = w.CupDice*rc[i] + w.DiscDice*rd[i] + w.VCDR*rv[i]
		rows[i].SegScore = seg[i]
	}
	rs := fracRank(seg, false)
	final := make([]float64, len(rows))
	for i := range rows {
		rows[i].RankSeg = rs[i]
		final[i] = w.Segmentation*rs[i] + w.Classification*ra[i]
		rows[i].FinalScore = final[i]
	}
	rf := fracRank(final, false)
	var fi []int
	var fd []float64
	for i, n := range names {
		rows[i].Rank = rf[i]
		if f := subs[n].Fovea; f != nil {
			rows[i].HasFovea, rows[i].FoveaDistance = true, f.MeanDistance
			fi = append(fi, i)
			fd = append(fd, f.MeanDistance)
		}
	}
	for k, r := range fracRank(fd, false) {
		rows[fi[k]].RankFovea = r
	}
	sort.SliceStable(rows, func(a, b int) bool {
		if rows[a].Rank != rows[b].Rank {
			return rows[a].Rank < rows[b].Rank
		}
		return rows[a].Name < rows[b].Name
	})
	return rows, nil
}

// FormatRanking renders ranking rows as a plain-text table.
func FormatRanking(rows []RankRow, w RankWeights) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Weights: segmentation = %.2f·rank(cup Dice) + %.2f·rank(disc Dice) + %.2f·rank(vCDR MAE); final = %.2f·segmentation rank + %.2f·classification rank\n",
		w.CupDice, w.DiscDice, w.VCDR, w.Segmentation, w.Classification)
	fmt.Fprintf(&b, "%-5s %-24s %8s %8s %8s %8s %8s %8s %8s %10s\n", "rank", "submission", "AUC", "cupDice", "discDice", "vCDRMAE", "segRank", "clsRank", "final", "fovea(px)")
	for _, r := range rows {
		fov := "-"
		if r.HasFovea {
			fov = fmt.Sprintf("%.2f (%g)", r.FoveaDistance, r.RankFovea)
		}
		fmt.Fprintf(&b, "%-5g %-24s %8.4f %8.4f %8.4f %8.4f %8g %8g %8.3f %10s\n", r.Rank, r.Name, r.AUC, r.DiceCup, r.DiceDisc, r.VCDRMAE, r.RankSeg, r.RankAUC, r.FinalScore, fov)
	}
	return b.String()
}
