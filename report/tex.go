package report

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// renderLaTeX writes a standalone article that compiles with pdflatex using
// only standard packages (inputenc, geometry, graphicx, longtable, array,
// float, hyperref). Figures are included as figures/<name>.png and placed
// where they are referenced ([H]).
func renderLaTeX(d *document) []byte {
	var b strings.Builder
	b.WriteString(`% Written by refugelab (package report) from a run folder; do not edit.
% Compile with: pdflatex report.tex && pdflatex report.tex (the second pass
% settles the widths of the long tables). Figures: figures/*.png.
\documentclass[11pt,a4paper]{article}
\usepackage[utf8]{inputenc}
\usepackage[margin=2.2cm]{geometry}
\usepackage{graphicx}
\usepackage{longtable}
\usepackage{array}
\usepackage{float}
\usepackage[hidelinks]{hyperref}
\setlength{\parindent}{0pt}
\setlength{\parskip}{0.5em}
\renewcommand{\arraystretch}{1.15}
\sloppy
`)
	fmt.Fprintf(&b, "\\title{%s}\n", texEsc(d.Title))
	var auth []string
	if len(d.Subtitle) > 0 {
		auth = append(auth, texSpans(d.Subtitle))
	}
	for _, a := range d.Authors {
		auth = append(auth, texEsc(a))
	}
	fmt.Fprintf(&b, "\\author{%s}\n", strings.Join(auth, ` \\ `))
	b.WriteString("\\date{}\n\\begin{document}\n\\maketitle\n")
	for _, m := range d.Meta {
		fmt.Fprintf(&b, "%s\n\n", texSpans(m))
	}
	for _, s := range d.Sections {
		fmt.Fprintf(&b, "\\section{%s}\n", texEsc(s.Title))
		for _, bl := range s.Blocks {
			switch x := bl.(type) {
			case *heading:
				fmt.Fprintf(&b, "\\subsection*{%s}\n", texEsc(x.Text))
			case *para:
				fmt.Fprintf(&b, "%s\n\n", texSpans(x.Spans))
			case *list:
				env := "itemize"
				if x.Ordered {
					env = "enumerate"
				}
				fmt.Fprintf(&b, "\\begin{%s}\n", env)
				for _, it := range x.Items {
					fmt.Fprintf(&b, "\\item %s\n", texSpans(it))
				}
				fmt.Fprintf(&b, "\\end{%s}\n", env)
			case *table:
				writeTexTable(&b, x)
			case *figure:
				fmt.Fprintf(&b, "\\begin{figure}[H]\n\\centering\n\\includegraphics[width=%.2f\\linewidth]{figures/%s.png}\n\\caption{%s}\n\\end{figure}\n",
					x.Width, x.Name, texEsc(x.Caption))
			case *codeBlock:
				fmt.Fprintf(&b, "\\begin{quote}\\small\\ttfamily\\raggedright %s\\end{quote}\n", texBreakable(x.Text))
			}
		}
	}
	b.WriteString("\\end{document}\n")
	return []byte(b.String())
}

// texLinePt is the text width of the document in points (A4, 2.2 cm margins).
const texLinePt = 472.0

// Rough metrics of \small text, used only to share the line between columns.
const (
	texCharPt = 5.2  // average character width of a cell
	texHeadPt = 6.2  // average character width of a bold header
	texColSep = 12.0 // inter-column space (2 \tabcolsep)
)

func writeTexTable(b *strings.Builder, t *table) {
	n := len(t.Head)
	align := func(i int) byte {
		if i < len(t.Align) {
			return t.Align[i]
		}
		return 'l'
	}
	// Multi-word headers of wide tables are stacked one word per line.
	stack := n > 4
	headW := func(h string) int {
		if !stack {
			return utf8.RuneCountInString(h)
		}
		m := 0
		for _, w := range strings.Fields(h) {
			m = max(m, utf8.RuneCountInString(w))
		}
		return m
	}
	// Estimate natural widths; paragraph columns share what is left.
	fixed, np := 0.0, 0
	var pw []float64
	for i := 0; i < n; i++ {
		if align(i) == 'p' {
			np++
			continue
		}
		w := float64(headW(t.Head[i])) * texHeadPt
		for _, row := range t.Rows {
			if i < len(row) {
				w = max(w, float64(spansLen(row[i].Spans))*texCharPt)
			}
		}
		fixed += w + texColSep
	}
	if np > 0 {
		each := (texLinePt - fixed) / float64(np)
		if each < 0.15*texLinePt {
			each = 0.15 * texLinePt
		}
		pw = append(pw, each-texColSep)
	}
	var spec strings.Builder
	for i := 0; i < n; i++ {
		if a := align(i); a == 'p' {
			fmt.Fprintf(&spec, ">{\\raggedright\\arraybackslash}p{%.0fpt}", pw[0])
		} else {
			spec.WriteByte(a)
		}
	}
	fmt.Fprintf(b, "{\\small\n\\begin{longtable}{%s}\n\\caption{%s}\\\\\n\\hline\n", spec.String(), texEsc(t.Caption))
	heads := make([]string, n)
	for i, h := range t.Head {
		if stack && strings.Contains(h, " ") && align(i) != 'p' {
			words := strings.Fields(h)
			for j := range words {
				words[j] = texEsc(words[j])
			}
			heads[i] = "\\textbf{\\begin{tabular}[b]{@{}" + string(align(i)) + "@{}}" + strings.Join(words, "\\\\") + "\\end{tabular}}"
			continue
		}
		heads[i] = "\\textbf{" + texEsc(h) + "}"
	}
	fmt.Fprintf(b, "%s \\\\\n\\hline\n\\endhead\n", strings.Join(heads, " & "))
	for _, row := range t.Rows {
		cs := make([]string, len(row))
		for i, cl := range row {
			cs[i] = texSpans(cl.Spans)
		}
		fmt.Fprintf(b, "%s \\\\\n", strings.Join(cs, " & "))
	}
	b.WriteString("\\hline\n\\end{longtable}\n}\n")
}

// spansLen is the number of characters of the spans' text.
func spansLen(sp []span) int {
	n := 0
	for _, s := range sp {
		n += utf8.RuneCountInString(s.Text)
	}
	return n
}

func texSpans(sp []span) string {
	var b strings.Builder
	for _, s := range sp {
		switch s.Kind {
		case spanCode:
			b.WriteString("\\texttt{" + texBreakable(s.Text) + "}")
		case spanBold:
			b.WriteString("\\textbf{" + texEsc(s.Text) + "}")
		case spanLink:
			fmt.Fprintf(&b, "\\href{%s}{\\texttt{%s}}", texURL(s.Href), texBreakable(s.Text))
		default:
			b.WriteString(texEsc(s.Text))
		}
	}
	return b.String()
}

// texUnicode maps the non-ASCII characters that refugelab's sentences use
// to commands available with the default OT1 fonts.
var texUnicode = map[rune]string{
	'×': `$\times$`, '→': `$\rightarrow$`, '←': `$\leftarrow$`, '±': `$\pm$`, '≤': `$\le$`, '≥': `$\ge$`,
	'≈': `$\approx$`, '∞': `$\infty$`, '·': `$\cdot$`, '°': `$^\circ$`, '²': `$^2$`, '³': `$^3$`,
	'µ': `$\mu$`, 'μ': `$\mu$`, 'σ': `$\sigma$`, 'α': `$\alpha$`, 'β': `$\beta$`, 'γ': `$\gamma$`,
	'λ': `$\lambda$`, 'ε': `$\varepsilon$`, 'θ': `$\theta$`, 'π': `$\pi$`, 'Δ': `$\Delta$`,
	'–': `--`, '—': `---`, '‘': "`", '’': `'`, '“': "``", '”': `''`, '…': `\ldots{}`, ' ': `~`,
	'√': `$\surd$`, '∑': `$\sum$`, '−': `$-$`, '⌊': `$\lfloor$`, '⌋': `$\rfloor$`,
}

// texEsc escapes LaTeX's special characters (\ { } $ & # % _ ~ ^ and < > |
// which OT1 fonts lack) and maps non-ASCII characters; characters with no
// mapping are written as [U+XXXX] (brackets braced) so the document always
// compiles.
func texEsc(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\\':
			b.WriteString(`\textbackslash{}`)
		case '{', '}', '$', '&', '#', '%', '_':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '~':
			b.WriteString(`$\sim$`)
		case '^':
			b.WriteString(`\^{}`)
		case '<', '>', '|':
			b.WriteString("$" + string(r) + "$")
		case '[', ']':
			// Braced, so that text after \\ or \item is never read as an
			// optional argument.
			b.WriteString("{" + string(r) + "}")
		case '\n', '\r', '\t':
			b.WriteByte(' ')
		default:
			if r < utf8.RuneSelf {
				b.WriteRune(r)
			} else if m, ok := texUnicode[r]; ok {
				b.WriteString(m)
			} else if r >= 0xC0 && r <= 0x17F && r != 0xD7 && r != 0xF7 {
				b.WriteRune(r) // accented Latin letters: inputenc composes them
			} else {
				fmt.Fprintf(&b, "{[}U+%04X{]}", r)
			}
		}
	}
	return b.String()
}

// texBreakable escapes s and allows line breaks after / _ - . , = : and,
// inside tokens longer than 12 characters (hashes, paths), after every 8
// characters without another break opportunity.
func texBreakable(s string) string {
	var b strings.Builder
	for i, word := range strings.Split(s, " ") {
		if i > 0 {
			b.WriteByte(' ')
		}
		long := utf8.RuneCountInString(word) > 12
		run := 0
		for _, r := range word {
			switch r {
			case '~', '^', '<', '>', '|':
				// The typewriter font has these ASCII glyphs in place.
				fmt.Fprintf(&b, "{\\char%d}", r)
			default:
				b.WriteString(texEsc(string(r)))
			}
			run++
			if strings.ContainsRune("/_-.,=:", r) || long && run >= 8 {
				b.WriteString(`\allowbreak{}`)
				run = 0
			}
		}
	}
	return b.String()
}

// texURL escapes a URL for \href.
func texURL(u string) string {
	r := strings.NewReplacer(`\`, "%5C", "{", "%7B", "}", "%7D", "#", `\#`, "%", `\%`, " ", "%20")
	return r.Replace(u)
}
