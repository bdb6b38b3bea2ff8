package data

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one thing wrong with the data: the file (and row of a label
// file, 0 when not a row), what is wrong, and what was expected.
type Problem struct {
	File     string `json:"file"`
	Row      int    `json:"row,omitempty"`
	What     string `json:"what"`
	Expected string `json:"expected"`
}

// Error formats the problem as "FILE[:ROW]: WHAT (expected EXPECTED)".
func (p Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Row > 0 {
		fmt.Fprintf(&b, ": row %d", p.Row)
	}
	b.WriteString(": ")
	b.WriteString(p.What)
	if p.Expected != "" {
		b.WriteString(" (expected ")
		b.WriteString(p.Expected)
		b.WriteString(")")
	}
	return b.String()
}

// ProblemsError is an error carrying every problem found, so that callers
// can print them all (never only the first).
type ProblemsError struct {
	// Context says where the problems were found (e.g. `source "refuge"`).
	Context  string
	Problems []Problem
}

// Error lists the count and up to ten problems.
func (e *ProblemsError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d problem(s)", e.Context, len(e.Problems))
	for i, p := range e.Problems {
		if i == 10 {
			fmt.Fprintf(&b, "\n  ... and %d more", len(e.Problems)-10)
			break
		}
		b.WriteString("\n  ")
		b.WriteString(p.Error())
	}
	return b.String()
}

// sortProblems orders problems by file, row, then text, so that reports do
// not depend on map or scheduling order.
func sortProblems(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Row != b.Row {
			return a.Row < b.Row
		}
		return a.What < b.What
	})
}
