package report

import (
	"fmt"
	"strings"
)

// renderMarkdown writes GitHub-flavoured Markdown. Figures are referenced as
// figures/<name>.png next to report.md (the SVG is linked).
func renderMarkdown(d *document) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", mdEsc(d.Title))
	if len(d.Subtitle) > 0 {
		fmt.Fprintf(&b, "**%s**\n\n", mdSpans(d.Subtitle))
	}
	if len(d.Authors) > 0 {
		fmt.Fprintf(&b, "%s\n\n", mdEsc(strings.Join(d.Authors, ", ")))
	}
	for _, m := range d.Meta {
		fmt.Fprintf(&b, "%s\n\n", mdSpans(m))
	}
	fig := 0
	tab := 0
	for i, s := range d.Sections {
		fmt.Fprintf(&b, "## %d %s\n\n", i+1, mdEsc(s.Title))
		for _, bl := range s.Blocks {
			switch x := bl.(type) {
			case *heading:
				fmt.Fprintf(&b, "### %s\n\n", mdEsc(x.Text))
			case *para:
				fmt.Fprintf(&b, "%s\n\n", mdSpans(x.Spans))
			case *list:
				for j, it := range x.Items {
					if x.Ordered {
						fmt.Fprintf(&b, "%d. %s\n", j+1, mdSpans(it))
					} else {
						fmt.Fprintf(&b, "- %s\n", mdSpans(it))
					}
				}
				b.WriteString("\n")
			case *table:
				tab++
				fmt.Fprintf(&b, "**Table %d.** %s\n\n", tab, mdEsc(x.Caption))
				b.WriteString("|")
				for _, h := range x.Head {
					fmt.Fprintf(&b, " %s |", mdEsc(h))
				}
				b.WriteString("\n|")
				for j := range x.Head {
					a := byte('l')
					if j < len(x.Align) {
						a = x.Align[j]
					}
					switch a {
					case 'r':
						b.WriteString("---:|")
					case 'c':
						b.WriteString(":---:|")
					default:
						b.WriteString("---|")
					}
				}
				b.WriteString("\n")
				for _, row := range x.Rows {
					b.WriteString("|")
					for _, cl := range row {
						fmt.Fprintf(&b, " %s |", mdSpans(cl.Spans))
					}
					b.WriteString("\n")
				}
				b.WriteString("\n")
			case *figure:
				fig++
				fmt.Fprintf(&b, "![%s](figures/%s.png)\n\n", mdEsc(x.Caption), x.Name)
				fmt.Fprintf(&b, "**Figure %d.** %s ([SVG](figures/%s.svg))\n\n", fig, mdEsc(x.Caption), x.Name)
			case *codeBlock:
				fence := "```"
				for strings.Contains(x.Text, fence) {
					fence += "`"
				}
				fmt.Fprintf(&b, "%s\n%s\n%s\n\n", fence, x.Text, fence)
			}
		}
	}
	return []byte(b.String())
}

func mdSpans(sp []span) string {
	var b strings.Builder
	for _, s := range sp {
		switch s.Kind {
		case spanCode:
			b.WriteString(mdCode(s.Text))
		case spanBold:
			b.WriteString("**" + mdEsc(s.Text) + "**")
		case spanLink:
			fmt.Fprintf(&b, "[%s](<%s>)", mdEsc(s.Text), strings.NewReplacer("<", "%3C", ">", "%3E", " ", "%20").Replace(s.Href))
		default:
			b.WriteString(mdEsc(s.Text))
		}
	}
	return b.String()
}

// mdCode wraps s in a code span, with enough backticks; pipes are escaped
// because GitHub splits table cells on them even inside code spans.
func mdCode(s string) string {
	if s == "" {
		return ""
	}
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	s = strings.ReplaceAll(s, "|", `\|`)
	pad := ""
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		pad = " "
	}
	return fence + pad + s + pad + fence
}

var mdReplacer = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`,
	"<", "&lt;", ">", "&gt;", "|", `\|`, "#", `\#`, "~", `\~`, "$", `\$`,
)

// mdEsc escapes Markdown syntax in plain text. A line never starts a list
// or heading by accident: "#" is always escaped and "1." / "-" / "+" at the
// start are escaped.
func mdEsc(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	s = mdReplacer.Replace(s)
	if len(s) > 1 && (s[0] == '-' || s[0] == '+') && s[1] == ' ' {
		s = `\` + s
	}
	// "12. text" at the start would become a numbered list.
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i > 0 && i+1 < len(s) && (s[i] == '.' || s[i] == ')') && s[i+1] == ' ' {
		s = s[:i] + `\` + s[i:]
	}
	return s
}
