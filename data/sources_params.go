package data

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// srcParams reads a source's generic params (values as decoded from YAML:
// float64, int, string, bool, []any) with documented defaults. Errors name
// "<format>.<param>".
type srcParams struct {
	piece string
	m     map[string]any
}

// newSrcParams rejects unknown keys up front, listing the known ones and the
// closest.
func newSrcParams(piece string, m map[string]any, known []string) (*srcParams, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		found := false
		for _, kn := range known {
			if k == kn {
				found = true
			}
		}
		if !found {
			sorted := append([]string(nil), known...)
			sort.Strings(sorted)
			msg := fmt.Sprintf("%s.%s: unknown parameter (known: %s)", piece, k, strings.Join(sorted, ", "))
			if len(known) > 0 {
				msg += fmt.Sprintf("; did you mean %q?", Closest(k, known))
			}
			return nil, fmt.Errorf("%s", msg)
		}
	}
	return &srcParams{piece: piece, m: m}, nil
}

func (p *srcParams) has(key string) bool {
	_, ok := p.m[key]
	return ok
}

func (p *srcParams) str(key, def string, allowed ...string) (string, error) {
	v, ok := p.m[key]
	if !ok || v == nil {
		return def, nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s.%s: expected a string, got %T (%v)", p.piece, key, v, v)
	}
	if len(allowed) > 0 {
		for _, a := range allowed {
			if s == a {
				return s, nil
			}
		}
		return "", fmt.Errorf("%s.%s: %q is not allowed (expected one of: %s)", p.piece, key, s, strings.Join(allowed, ", "))
	}
	return s, nil
}

func (p *srcParams) boolean(key string, def bool) (bool, error) {
	v, ok := p.m[key]
	if !ok || v == nil {
		return def, nil
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("%s.%s: expected true or false, got %T (%v)", p.piece, key, v, v)
	}
	return b, nil
}

func (p *srcParams) integer(key string, def, minV int) (int, error) {
	v, ok := p.m[key]
	if !ok || v == nil {
		return def, nil
	}
	f, ok := toFloat(v)
	if !ok || f != math.Trunc(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%s.%s: expected an integer, got %T (%v)", p.piece, key, v, v)
	}
	if int(f) < minV {
		return 0, fmt.Errorf("%s.%s: %d is below the minimum %d", p.piece, key, int(f), minV)
	}
	return int(f), nil
}

func (p *srcParams) float(key string, def, lo, hi float64) (float64, error) {
	v, ok := p.m[key]
	if !ok || v == nil {
		return def, nil
	}
	f, ok := toFloat(v)
	if !ok || math.IsNaN(f) {
		return 0, fmt.Errorf("%s.%s: expected a number, got %T (%v)", p.piece, key, v, v)
	}
	if f < lo || f > hi {
		return 0, fmt.Errorf("%s.%s: %v is outside [%v, %v]", p.piece, key, f, lo, hi)
	}
	return f, nil
}

func (p *srcParams) strList(key string) ([]string, error) {
	v, ok := p.m[key]
	if !ok || v == nil {
		return nil, nil
	}
	switch x := v.(type) {
	case []string:
		return append([]string(nil), x...), nil
	case []any:
		out := make([]string, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("%s.%s[%d]: expected a string, got %T (%v)", p.piece, key, i, e, e)
			}
			out[i] = s
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s.%s: expected a list of strings, got %T (%v)", p.piece, key, v, v)
}

// binaryRule reads the mask_polarity and mask_threshold params into a binary
// mask rule; set tells whether either was given (no defaults exist).
func (p *srcParams) binaryRule() (rule MaskRule, set bool, err error) {
	pol, err := p.str("mask_polarity", "", PolarityBright, PolarityDark)
	if err != nil {
		return rule, false, err
	}
	thr, err := p.str("mask_threshold", "", ThresholdHalf, ThresholdNonzero)
	if err != nil {
		return rule, false, err
	}
	return MaskRule{Convention: ConventionBinary, Polarity: pol, Threshold: thr}, pol != "" || thr != "", nil
}
