package report

import (
	"encoding/base64"
	"fmt"
	"html"
	"strings"
)

// renderHTML writes one self-contained HTML file: styles inline, figures
// embedded as PNG data: URIs.
func renderHTML(d *document) []byte {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
	fmt.Fprintf(&b, "<title>%s</title>\n", html.EscapeString(d.Title))
	b.WriteString(`<style>
body{font-family:Georgia,'Times New Roman',serif;max-width:60em;margin:2em auto;padding:0 1em;line-height:1.45;color:#111}
h1{font-size:1.7em;margin-bottom:.2em}h2{margin-top:1.6em;border-bottom:1px solid #ccc}h3{font-size:1.05em}
code,pre{font-family:Menlo,Consolas,monospace;font-size:.88em;overflow-wrap:break-word}
pre{background:#f5f5f5;padding:.6em;white-space:pre-wrap}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}
th,td{border-top:1px solid #bbb;border-bottom:1px solid #bbb;padding:.2em .6em;vertical-align:top}
th{background:#f0f0f0}td.r,th.r{text-align:right;white-space:nowrap}td.c,th.c{text-align:center}
caption{caption-side:top;text-align:left;font-style:italic;padding-bottom:.3em}
figure{margin:1.2em 0;text-align:center}figure img{max-width:100%}figcaption{font-style:italic;text-align:left}
.meta{color:#444}
</style>
</head>
<body>
`)
	fmt.Fprintf(&b, "<h1>%s</h1>\n", html.EscapeString(d.Title))
	if len(d.Subtitle) > 0 {
		fmt.Fprintf(&b, "<p><strong>%s</strong></p>\n", htmlSpans(d.Subtitle))
	}
	if len(d.Authors) > 0 {
		fmt.Fprintf(&b, "<p>%s</p>\n", html.EscapeString(strings.Join(d.Authors, ", ")))
	}
	for _, m := range d.Meta {
		fmt.Fprintf(&b, "<p class=\"meta\">%s</p>\n", htmlSpans(m))
	}
	// Contents, one line.
	var toc []string
	for i, s := range d.Sections {
		toc = append(toc, fmt.Sprintf("<a href=\"#s%d\">%d %s</a>", i+1, i+1, html.EscapeString(s.Title)))
	}
	fmt.Fprintf(&b, "<p class=\"meta\">Contents: %s</p>\n", strings.Join(toc, " · "))
	fig, tab := 0, 0
	for i, s := range d.Sections {
		fmt.Fprintf(&b, "<h2 id=\"s%d\">%d %s</h2>\n", i+1, i+1, html.EscapeString(s.Title))
		for _, bl := range s.Blocks {
			switch x := bl.(type) {
			case *heading:
				fmt.Fprintf(&b, "<h3>%s</h3>\n", html.EscapeString(x.Text))
			case *para:
				fmt.Fprintf(&b, "<p>%s</p>\n", htmlSpans(x.Spans))
			case *list:
				tag := "ul"
				if x.Ordered {
					tag = "ol"
				}
				fmt.Fprintf(&b, "<%s>\n", tag)
				for _, it := range x.Items {
					fmt.Fprintf(&b, "<li>%s</li>\n", htmlSpans(it))
				}
				fmt.Fprintf(&b, "</%s>\n", tag)
			case *table:
				tab++
				fmt.Fprintf(&b, "<table>\n<caption>Table %d. %s</caption>\n<tr>", tab, html.EscapeString(x.Caption))
				for j, h := range x.Head {
					fmt.Fprintf(&b, "<th%s>%s</th>", alignClass(x.Align, j), html.EscapeString(h))
				}
				b.WriteString("</tr>\n")
				for _, row := range x.Rows {
					b.WriteString("<tr>")
					for j, cl := range row {
						fmt.Fprintf(&b, "<td%s>%s</td>", alignClass(x.Align, j), htmlSpans(cl.Spans))
					}
					b.WriteString("</tr>\n")
				}
				b.WriteString("</table>\n")
			case *figure:
				fig++
				b.WriteString("<figure>\n")
				ff := d.Figures[x.Name]
				// PNG, not SVG: an SVG's text is set in whatever fonts the
				// reader's browser has, which can overflow the boxes drawn
				// around it; the PNG looks the same everywhere.
				if ff == nil {
					fmt.Fprintf(&b, "<p>(figure %s was not produced)</p>\n", html.EscapeString(x.Name))
				} else {
					fmt.Fprintf(&b, "<img style=\"width:%.0f%%\" alt=\"%s\" src=\"data:image/png;base64,%s\">\n", 100*x.Width, html.EscapeString(x.Caption), base64.StdEncoding.EncodeToString(ff.PNG))
				}
				fmt.Fprintf(&b, "<figcaption>Figure %d. %s</figcaption>\n</figure>\n", fig, html.EscapeString(x.Caption))
			case *codeBlock:
				fmt.Fprintf(&b, "<pre>%s</pre>\n", html.EscapeString(x.Text))
			}
		}
	}
	b.WriteString("</body>\n</html>\n")
	return []byte(b.String())
}

func alignClass(align string, j int) string {
	if j < len(align) {
		switch align[j] {
		case 'r':
			return ` class="r"`
		case 'c':
			return ` class="c"`
		}
	}
	return ""
}

func htmlSpans(sp []span) string {
	var b strings.Builder
	for _, s := range sp {
		switch s.Kind {
		case spanCode:
			b.WriteString("<code>" + html.EscapeString(s.Text) + "</code>")
		case spanBold:
			b.WriteString("<strong>" + html.EscapeString(s.Text) + "</strong>")
		case spanLink:
			fmt.Fprintf(&b, "<a href=\"%s\">%s</a>", html.EscapeString(s.Href), html.EscapeString(s.Text))
		default:
			b.WriteString(html.EscapeString(s.Text))
		}
	}
	return b.String()
}
