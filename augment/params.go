package augment

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/refugelab/refugelab/data"
)

// paramReader decodes the generic Params map of one Spec, records the
// resolved value of every parameter (defaults filled) and reports the first
// problem as an error naming the key "augment[i].params.<name>".
type paramReader struct {
	idx      int
	name     string
	params   map[string]any
	known    []string
	resolved map[string]any
	err      error
}

func newParamReader(idx int, name string, params map[string]any) *paramReader {
	return &paramReader{idx: idx, name: name, params: params, resolved: map[string]any{}}
}

// key returns the config key of a parameter.
func (pr *paramReader) key(k string) string {
	return fmt.Sprintf("augment[%d].params.%s", pr.idx, k)
}

func (pr *paramReader) fail(k, format string, args ...any) {
	if pr.err == nil {
		pr.err = fmt.Errorf("%s: %s (transform %s)", pr.key(k), fmt.Sprintf(format, args...), pr.name)
	}
}

// lookup registers k as a known parameter and returns its raw value.
func (pr *paramReader) lookup(k string) (any, bool) {
	pr.known = append(pr.known, k)
	v, ok := pr.params[k]
	return v, ok
}

// toFloat and toList are package data's shared conversions of decoded
// parameter values.
func toFloat(v any) (float64, bool) { return data.ParamNumber(v) }

func toList(v any) ([]any, bool) { return data.ParamList(v) }

// bounds is the admissible interval of a parameter value.
type bounds struct {
	lo, hi       float64
	loOpen       bool // value must be > lo rather than >= lo
	what         string
	symmetricOne bool // a single number v means [-v, v] (else [v, v])
}

func (b bounds) check(v float64) bool {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return false
	}
	if b.loOpen {
		if v <= b.lo {
			return false
		}
	} else if v < b.lo {
		return false
	}
	return v <= b.hi
}

func (b bounds) describe() string {
	l := "["
	if b.loOpen {
		l = "("
	}
	hi := fmtNum(b.hi)
	if math.IsInf(b.hi, 1) {
		hi = "inf"
	}
	return fmt.Sprintf("%s (in %s%s, %s])", b.what, l, fmtNum(b.lo), hi)
}

// rangeParam reads a [min, max] range. A single number v means [-v, v] when
// b.symmetricOne is set, otherwise the fixed value [v, v].
func (pr *paramReader) rangeParam(k string, def [2]float64, b bounds) [2]float64 {
	raw, ok := pr.lookup(k)
	r := def
	if ok {
		if f, isNum := toFloat(raw); isNum {
			if b.symmetricOne {
				if f < 0 || math.IsNaN(f) {
					pr.fail(k, "a single number v means the range [-v, v], so it must be >= 0, got %s", fmtNum(f))
					return def
				}
				r = [2]float64{-f, f}
			} else {
				r = [2]float64{f, f}
			}
		} else if l, isList := toList(raw); isList {
			if len(l) != 2 {
				pr.fail(k, "expected a range [min, max] of two numbers, got %d values", len(l))
				return def
			}
			for i := 0; i < 2; i++ {
				f, isNum := toFloat(l[i])
				if !isNum {
					pr.fail(k, "expected a range [min, max] of two numbers, element %d is %v (%T)", i, l[i], l[i])
					return def
				}
				r[i] = f
			}
		} else {
			pr.fail(k, "expected a number or a range [min, max], got %v (%T)", raw, raw)
			return def
		}
	}
	for i := 0; i < 2; i++ {
		if !b.check(r[i]) {
			pr.fail(k, "value %s outside the admissible range: expected %s", fmtNum(r[i]), b.describe())
			return def
		}
	}
	if r[0] > r[1] {
		pr.fail(k, "min %s > max %s: expected [min, max] with min <= max", fmtNum(r[0]), fmtNum(r[1]))
		return def
	}
	pr.resolved[k] = []any{r[0], r[1]}
	return r
}

// numParam reads one number.
func (pr *paramReader) numParam(k string, def float64, b bounds) float64 {
	raw, ok := pr.lookup(k)
	v := def
	if ok {
		f, isNum := toFloat(raw)
		if !isNum {
			pr.fail(k, "expected a number, got %v (%T)", raw, raw)
			return def
		}
		v = f
	}
	if !b.check(v) {
		pr.fail(k, "value %s outside the admissible range: expected %s", fmtNum(v), b.describe())
		return def
	}
	pr.resolved[k] = v
	return v
}

// intListParam reads a non-empty list of integers in [lo, hi] (a single
// integer is a one-element list); duplicates are rejected.
func (pr *paramReader) intListParam(k string, def []int, lo, hi int) []int {
	raw, ok := pr.lookup(k)
	vals := def
	if ok {
		var l []any
		if _, isNum := toFloat(raw); isNum {
			l = []any{raw}
		} else if ll, isList := toList(raw); isList {
			l = ll
		} else {
			pr.fail(k, "expected a list of integers in [%d, %d], got %v (%T)", lo, hi, raw, raw)
			return def
		}
		if len(l) == 0 {
			pr.fail(k, "expected a non-empty list of integers in [%d, %d]", lo, hi)
			return def
		}
		vals = nil
		seen := map[int]bool{}
		for i, e := range l {
			f, isNum := toFloat(e)
			if !isNum || f != math.Trunc(f) || f < float64(lo) || f > float64(hi) {
				pr.fail(k, "element %d is %v: expected an integer in [%d, %d]", i, e, lo, hi)
				return def
			}
			n := int(f)
			if seen[n] {
				pr.fail(k, "element %d repeats the value %d", i, n)
				return def
			}
			seen[n] = true
			vals = append(vals, n)
		}
	}
	out := make([]any, len(vals))
	for i, v := range vals {
		out[i] = v
	}
	pr.resolved[k] = out
	return vals
}

// sizeParam reads an optional [width, height] in pixels (nil when absent).
func (pr *paramReader) sizeParam(k string) []int {
	raw, ok := pr.lookup(k)
	if !ok || raw == nil {
		return nil
	}
	var l []any
	if _, isNum := toFloat(raw); isNum {
		l = []any{raw, raw}
	} else if ll, isList := toList(raw); isList && len(ll) == 2 {
		l = ll
	} else {
		pr.fail(k, "expected a size [width, height] in pixels or one number for a square, got %v", raw)
		return nil
	}
	s := make([]int, 2)
	for i := range s {
		f, isNum := toFloat(l[i])
		if !isNum || f != math.Trunc(f) || f < 1 || f > 1<<16 {
			pr.fail(k, "element %d is %v: expected a positive integer number of pixels", i, l[i])
			return nil
		}
		s[i] = int(f)
	}
	pr.resolved[k] = []any{s[0], s[1]}
	return s
}

// finish reports unknown parameter keys (sorted, first one named).
func (pr *paramReader) finish() error {
	if pr.err != nil {
		return pr.err
	}
	var unknown []string
	for k := range pr.params {
		if !contains(pr.known, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		known := append([]string(nil), pr.known...)
		sort.Strings(known)
		list := strings.Join(known, ", ")
		if len(known) == 0 {
			list = "none: " + pr.name + " takes no parameters"
		}
		return fmt.Errorf("%s: unknown parameter of transform %s (known: %s)", pr.key(unknown[0]), pr.name, list)
	}
	return nil
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// fmtNum formats a number in its shortest exact form ("0.5", "-15", "1e-05"),
// or with 4 significant digits when that form is long (4/3 -> "1.333").
func fmtNum(v float64) string {
	s := strconv.FormatFloat(v, 'g', -1, 64)
	if len(s) > 8 {
		s = strconv.FormatFloat(v, 'g', 4, 64)
	}
	return s
}

// fmtRange formats [lo, hi] with an optional unit suffix on each bound.
func fmtRange(r [2]float64, unit string) string {
	return "[" + fmtNum(r[0]) + unit + ", " + fmtNum(r[1]) + unit + "]"
}
