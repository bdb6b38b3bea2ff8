package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Number formats used throughout the report. Results (metrics.json values)
// always use f4; the test TestResultsNumbersEqualMetrics relies on it.

// f4 formats a metric value with 4 decimals.
func f4(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "n/a"
	}
	return strconv.FormatFloat(v, 'f', 4, 64)
}

// fint formats an integer with thousands separators (1,234,567).
func fint(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// fg formats a configuration number as short as exactly possible (0.001, 3e-05).
func fg(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// fsec formats seconds.
func fsec(v float64) string {
	if v >= 3600 {
		return fmt.Sprintf("%.1f s (%.2f h)", v, v/3600)
	}
	if v >= 60 {
		return fmt.Sprintf("%.1f s (%.1f min)", v, v/60)
	}
	return fmt.Sprintf("%.1f s", v)
}

// fshape formats a shape as 1×3×256×256.
func fshape(s []int) string {
	if len(s) == 0 {
		return "–"
	}
	parts := make([]string, len(s))
	for i, v := range s {
		parts[i] = strconv.Itoa(v)
	}
	return strings.Join(parts, "×")
}

// fpct formats n/total as a percentage with one decimal.
func fpct(n, total int) string {
	if total == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(total))
}

// plainValue renders a description value that may be a sentence, a number,
// a bool, a list or an object. Missing values (empty or null) give "".
func plainValue(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var v any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return string(raw)
	}
	return plainAny(v)
}

func plainAny(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		// The JSON text as written by the run (Go writes 0.001, 1e-05).
		return x.String()
	case bool:
		if x {
			return "yes"
		}
		return "no"
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = plainAny(e)
		}
		return strings.Join(parts, ", ")
	case map[string]any:
		ks := make([]string, 0, len(x))
		for k := range x {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		// A "name" key leads; the rest are its parameters.
		var head string
		var parts []string
		for _, k := range ks {
			if k == "name" {
				head = plainAny(x[k])
				continue
			}
			parts = append(parts, k+" "+plainAny(x[k]))
		}
		if head != "" && len(parts) > 0 {
			return head + " (" + strings.Join(parts, ", ") + ")"
		}
		if head != "" {
			return head
		}
		return strings.Join(parts, ", ")
	}
	return fmt.Sprint(v)
}

// countList renders a {key: n} map as "k1 (n1), k2 (n2)", largest first.
func countList(m map[string]int) string {
	type kv struct {
		k string
		n int
	}
	var l []kv
	for k, n := range m {
		l = append(l, kv{k, n})
	}
	sort.Slice(l, func(i, j int) bool {
		if l[i].n != l[j].n {
			return l[i].n > l[j].n
		}
		return l[i].k < l[j].k
	})
	parts := make([]string, len(l))
	for i, e := range l {
		parts[i] = fmt.Sprintf("%s (%s)", strings.ReplaceAll(e.k, "x", "×"), fint(e.n))
	}
	return strings.Join(parts, ", ")
}

// sentence makes sure s ends with a full stop.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	switch s[len(s)-1] {
	case '.', '!', '?', ':':
		return s
	}
	return s + "."
}

// maxSizesListed bounds the image sizes listed one by one.
const maxSizesListed = 6

// sizeSummary lists image sizes ("WxH": count) with their counts, or, for
// many distinct sizes, their number, range (by pixel count) and the most
// frequent ones.
func sizeSummary(m map[string]int) string {
	if len(m) <= maxSizesListed {
		return countList(m)
	}
	type sz struct {
		k    string
		area int
	}
	var l []sz
	total := 0
	for k, n := range m {
		var w, h int
		if _, err := fmt.Sscanf(k, "%dx%d", &w, &h); err != nil {
			return countList(m)
		}
		l = append(l, sz{k, w * h})
		total += n
	}
	sort.Slice(l, func(i, j int) bool {
		if l[i].area != l[j].area {
			return l[i].area < l[j].area
		}
		return l[i].k < l[j].k
	})
	x := func(s string) string { return strings.ReplaceAll(s, "x", "×") }
	out := fmt.Sprintf("%d distinct sizes over %s images, from %s to %s", len(m), fint(total), x(l[0].k), x(l[len(l)-1].k))
	var top []string
	for _, e := range strings.Split(countList(m), ", ")[:3] {
		if !strings.HasSuffix(e, " (1)") {
			top = append(top, e)
		}
	}
	if len(top) > 0 {
		out += "; most frequent " + strings.Join(top, ", ")
	}
	return out
}
