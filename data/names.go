package data

import (
	"fmt"
	"sort"
	"strings"
)

// Closest returns the known name nearest to name by edit distance (ties: the
// first in sorted order), or "" when known is empty.
func Closest(name string, known []string) string {
	best, bestD := "", -1
	sorted := append([]string(nil), known...)
	sort.Strings(sorted)
	for _, k := range sorted {
		d := levenshtein(strings.ToLower(name), strings.ToLower(k))
		if bestD < 0 || d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// UnknownNameError formats the standard error for an unknown registered
// name: what kind of piece, the name, the known names and the closest one.
func UnknownNameError(kind, name string, known []string) error {
	sorted := append([]string(nil), known...)
	sort.Strings(sorted)
	return fmt.Errorf("unknown %s %q (known: %s; did you mean %q?)", kind, name, strings.Join(sorted, ", "), Closest(name, known))
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
