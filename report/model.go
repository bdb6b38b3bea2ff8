package report

// The report is first built as a small format-neutral document (sections of
// blocks of spans); the Markdown, LaTeX and HTML writers only render it. So
// the three formats can never say different things, and every sentence and
// table row is one output line, which keeps diffs between two reports to
// exactly the lines that differ.

// spanKind says how a span of text is set.
type spanKind int

const (
	spanText spanKind = iota
	spanCode          // monospace (names, hashes, commands)
	spanBold
	spanLink // URL in Href
)

// span is a run of text with one style.
type span struct {
	Kind spanKind
	Text string
	Href string
}

func txt(s string) span  { return span{Kind: spanText, Text: s} }
func code(s string) span { return span{Kind: spanCode, Text: s} }
func bold(s string) span { return span{Kind: spanBold, Text: s} }
func link(text, href string) span {
	return span{Kind: spanLink, Text: text, Href: href}
}

// block is one element of a section: *para, *list, *table, *figure,
// *codeBlock or *heading.
type block interface{ isBlock() }

// para is a paragraph.
type para struct{ Spans []span }

// list is a bullet (or numbered) list; each item is one line.
type list struct {
	Ordered bool
	Items   [][]span
}

// table is a table. Align has one letter per column: l, r, c, or p (left
// aligned text that may wrap; LaTeX gets a paragraph column).
type table struct {
	Caption string
	Align   string
	Head    []string
	Rows    [][]cell
}

// cell is one table cell.
type cell struct{ Spans []span }

// figure is a figure stored as figures/<Name>.png and figures/<Name>.svg.
type figure struct {
	Name    string
	Caption string
	Width   float64 // fraction of the text width (LaTeX, HTML)
}

// codeBlock is preformatted text.
type codeBlock struct{ Text string }

// heading is a sub-section heading.
type heading struct{ Text string }

func (*para) isBlock()      {}
func (*list) isBlock()      {}
func (*table) isBlock()     {}
func (*figure) isBlock()    {}
func (*codeBlock) isBlock() {}
func (*heading) isBlock()   {}

// section is a numbered top-level section.
type section struct {
	Title  string
	Blocks []block
}

// document is the whole report.
type document struct {
	Title    string
	Subtitle []span   // team
	Authors  []string // one per line in the title block
	Meta     [][]span // run id, date, status lines under the title
	Sections []*section
	// figure files by name: png and svg bytes, filled by the figure makers.
	Figures map[string]*figureFiles
}

// figureFiles holds one figure's encodings.
type figureFiles struct {
	PNG, SVG []byte
}

func (s *section) add(b ...block) { s.Blocks = append(s.Blocks, b...) }

func (s *section) p(sp ...span) { s.add(&para{Spans: sp}) }

// cells makes a table row of plain text cells.
func cells(ss ...string) []cell {
	out := make([]cell, len(ss))
	for i, s := range ss {
		out[i] = cell{Spans: []span{txt(s)}}
	}
	return out
}

func c(sp ...span) cell { return cell{Spans: sp} }
