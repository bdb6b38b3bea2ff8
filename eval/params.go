package eval

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/refugelab/refugelab/data"
)

// params reads a piece's generic parameters (values decoded from YAML:
// float64, int, string, bool, []any), checking names and types. Every read
// key is remembered so that unknown keys can be reported with the known ones.
type params struct {
	piece string
	raw   map[string]any
	known []string
	err   error
}

func newParams(piece string, raw map[string]any) *params { return &params{piece: piece, raw: raw} }

func (p *params) fail(key, format string, a ...any) {
	if p.err == nil {
		p.err = fmt.Errorf("%s.%s: %s", p.piece, key, fmt.Sprintf(format, a...))
	}
}

func (p *params) get(key string) (any, bool) {
	p.known = append(p.known, key)
	v, ok := p.raw[key]
	return v, ok
}

// float reads a number (int or float) with a default.
func (p *params) float(key string, def float64) float64 {
	v, ok := p.get(key)
	if !ok {
		return def
	}
	if f, ok := data.ParamNumber(v); ok {
		return f
	}
	p.fail(key, "expected a number, got %T %v", v, v)
	return def
}

// int reads an integer (a float with an integral value is accepted).
func (p *params) int(key string, def int) int {
	v, ok := p.get(key)
	if !ok {
		return def
	}
	switch x := v.(type) {
	case int:
		return x
	case int64:
		return int(x)
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<31 {
			return int(x)
		}
	}
	p.fail(key, "expected an integer, got %T %v", v, v)
	return def
}

// str reads a string.
func (p *params) str(key, def string) string {
	v, ok := p.get(key)
	if !ok {
		return def
	}
	if s, ok := v.(string); ok {
		return s
	}
	p.fail(key, "expected a string, got %T %v", v, v)
	return def
}

// strs reads a list of strings; a single string is a one-element list and a
// comma-separated string is split.
func (p *params) strs(key string, def []string) []string {
	v, ok := p.get(key)
	if !ok {
		return def
	}
	switch x := v.(type) {
	case string:
		var out []string
		for _, s := range strings.Split(x, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return out
	case []string:
		return x
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				p.fail(key, "expected a list of strings, got element %T %v", e, e)
				return def
			}
			out = append(out, s)
		}
		return out
	}
	p.fail(key, "expected a string or a list of strings, got %T %v", v, v)
	return def
}

// done reports the first type error, else the first unknown key (sorted).
func (p *params) done() error {
	if p.err != nil {
		return p.err
	}
	known := map[string]bool{}
	for _, k := range p.known {
		known[k] = true
	}
	var unknown []string
	for k := range p.raw {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	ks := append([]string(nil), p.known...)
	sort.Strings(ks)
	list := strings.Join(ks, ", ")
	if list == "" {
		list = "none"
	}
	return fmt.Errorf("%s.%s: unknown parameter (known: %s)", p.piece, unknown[0], list)
}
