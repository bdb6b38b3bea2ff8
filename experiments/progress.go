package experiments

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/cheggaaa/pb/v3"
)

// progress reports a counted stage: a pb/v3 bar on a terminal, plain
// periodic lines otherwise, nothing when quiet.
type progress struct {
	mu    sync.Mutex
	bar   *pb.ProgressBar
	w     io.Writer
	name  string
	n     int
	done  int
	last  time.Time
	start time.Time
	quiet bool
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func newProgress(name string, n int, o RunOptions) *progress {
	p := &progress{w: o.stderr(), name: name, n: n, quiet: o.Quiet, start: time.Now(), last: time.Now()}
	if !o.Quiet && isTerminal(p.w) {
		p.bar = pb.New(n)
		p.bar.SetWriter(p.w)
		p.bar.SetTemplateString(`{{string . "prefix"}} {{counters . }} {{bar . }} {{percent . }} {{etime . }} ETA {{rtime . "%s"}}`)
		p.bar.Set("prefix", name)
		p.bar.Start()
	}
	return p
}

// Increment counts one finished item.
func (p *progress) Increment() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	if p.bar != nil {
		p.bar.Increment()
		return
	}
	if p.quiet {
		return
	}
	if time.Since(p.last) >= 10*time.Second {
		p.last = time.Now()
		el := time.Since(p.start)
		eta := time.Duration(float64(el) / float64(p.done) * float64(p.n-p.done))
		fmt.Fprintf(p.w, "%s: %d/%d (%.0f%%), ETA %s\n", p.name, p.done, p.n, 100*float64(p.done)/float64(max(p.n, 1)), eta.Round(time.Second))
	}
}

// Finish ends the bar.
func (p *progress) Finish() {
	if p.bar != nil {
		p.bar.Finish()
	}
}
