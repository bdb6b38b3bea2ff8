// Command bench measures the training step (forward, backward, optimizer
// step) of refugelab's two reference networks on this machine and, when a
// Python with torch is available, of an equivalent PyTorch script
// (bench/peer/peer.py) in the same invocation (issue 9, DESIGN §6):
//
//	go run ./bench [--threads 2] [--steps 5] [--warmup 1] [--rounds 1] [--nets unet,cnn] [--quick] [--python PATH]
//	go run ./bench --pipeline [--pipeline-configs configs/demo.yaml,...] [--pipeline-max N] [--pipeline-examples 256]
//
// --pipeline measures the data pipeline instead: see bench/pipeline.go.
//
// Networks: the U-Net (base 16, depth 4, batch norm) at 256², batch 8,
// three classes, dice-ce loss; the 5-stage VGG-style classifier (base 16,
// batch norm) at 224², batch 16, one logit, bce loss; both with Adam.
//
// Each network and engine runs in its own child process (this binary
// re-executed with --child, or python3 peer.py), so each peak RSS is the
// child's own maximum resident set size (getrusage ru_maxrss) and one
// run's memory does not inflate the next. Reported per run: ms/step (the
// median of --steps timed steps after --warmup untimed ones), images/s
// (batch / median step time), GFLOP/s (the analytic training FLOPs of
// trainFLOPs divided by the median step time; the same count is used for
// both engines) and peak RSS; then the ratios refugelab / PyTorch for
// time and RSS. The fastest step and its ratio are printed too: on a
// machine shared with other work (see the load averages printed) the
// median is pessimistic and noisy. The Go child uses GOMAXPROCS =
// --threads, the peer torch.set_num_threads(--threads) and
// set_num_interop_threads(1).
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// result is what one child run reports (as one JSON line on stdout) plus
// what the parent measures about it.
type result struct {
	Engine string    `json:"engine"`
	Net    string    `json:"net"`
	Params int       `json:"params"`
	Ms     []float64 `json:"ms"`
	// Version is the engine's version string (Go or torch).
	Version string `json:"version"`
	Threads int    `json:"threads"`
	// MaxRSSKiB is the child's peak resident set size (filled by the parent).
	MaxRSSKiB int64  `json:"-"`
	Err       string `json:"-"`
}

// fastest is the shortest timed step: on a machine shared with other
// work, the closest figure to an uncontended step.
func (r *result) fastest() float64 {
	if len(r.Ms) == 0 {
		return 0
	}
	m := r.Ms[0]
	for _, v := range r.Ms[1:] {
		m = min(m, v)
	}
	return m
}

// median is the median timed step in ms.
func (r *result) median() float64 {
	s := append([]float64(nil), r.Ms...)
	sort.Float64s(s)
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

type options struct {
	threads, steps, warmup int
	rounds                 int
	nets                   []string
	quick                  bool
	python                 string
	child                  string
	cpuprofile             string
	// pipeline: measure the data pipeline instead (bench/pipeline.go).
	pipeline     bool
	pipeConfigs  string
	pipeMax      int
	pipeExamples int
}

func main() {
	var o options
	var nets string
	flag.IntVar(&o.threads, "threads", 2, "threads for both engines (GOMAXPROCS / torch.set_num_threads)")
	flag.IntVar(&o.steps, "steps", 5, "timed training steps per network (median reported)")
	flag.IntVar(&o.warmup, "warmup", 1, "untimed warm-up steps before timing")
	flag.IntVar(&o.rounds, "rounds", 1, "child processes per network and engine, alternating engines; steps of all rounds pooled")
	flag.StringVar(&nets, "nets", "unet,cnn", "comma-separated networks to run (unet, cnn)")
	flag.BoolVar(&o.quick, "quick", false, "small inputs and batches (64², batch 2) for a smoke test")
	flag.StringVar(&o.python, "python", "", "Python interpreter for the PyTorch peer (default: first of $PYTHON, python3, /usr/bin/python3 that imports torch)")
	flag.StringVar(&o.child, "child", "", "internal: run one network in this process and print its JSON result")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "with --child: write a CPU profile of the timed steps to this file (go tool pprof)")
	flag.BoolVar(&o.pipeline, "pipeline", false, "measure the data pipeline (decode, preprocess, augment) of --pipeline-configs against the training rate of their networks, instead of the reference networks")
	flag.StringVar(&o.pipeConfigs, "pipeline-configs", "configs/demo.yaml,configs/sample-real.yaml", "with --pipeline: comma-separated experiment configs (one whose data is absent is skipped)")
	flag.IntVar(&o.pipeMax, "pipeline-max", 0, "with --pipeline: keep this many samples of each source, evenly spaced (0: all)")
	flag.IntVar(&o.pipeExamples, "pipeline-examples", 256, "with --pipeline: Example calls timed per task")
	flag.Parse()
	if o.threads < 1 || o.steps < 1 || o.rounds < 1 || o.warmup < 0 {
		fmt.Fprintf(os.Stderr, "bench: --threads %d, --steps %d and --rounds %d must be >= 1, --warmup %d >= 0\n", o.threads, o.steps, o.rounds, o.warmup)
		os.Exit(2)
	}
	if o.pipeline {
		if o.pipeExamples < 1 {
			fmt.Fprintf(os.Stderr, "bench: --pipeline-examples %d must be >= 1\n", o.pipeExamples)
			os.Exit(2)
		}
		os.Exit(runPipeline(o, os.Stdout))
	}
	all := referenceNets(o.quick)
	for _, n := range strings.Split(nets, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if _, ok := findNet(all, n); !ok {
			fmt.Fprintf(os.Stderr, "bench: --nets: unknown network %q (known: unet, cnn)\n", n)
			os.Exit(2)
		}
		o.nets = append(o.nets, n)
	}
	if o.child != "" {
		os.Exit(runChild(o, all))
	}
	os.Exit(runParent(o, all))
}

func findNet(all []benchNet, key string) (benchNet, bool) {
	for _, b := range all {
		if b.Key == key {
			return b, true
		}
	}
	return benchNet{}, false
}

// runChild measures one network in this process and prints its result.
func runChild(o options, all []benchNet) int {
	runtime.GOMAXPROCS(o.threads)
	b, ok := findNet(all, o.child)
	if !ok {
		fmt.Fprintf(os.Stderr, "bench: --child: unknown network %q\n", o.child)
		return 2
	}
	step, params, err := buildGo(b)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %s: %v\n", b.Key, err)
		return 1
	}
	r := result{Engine: "refugelab", Net: b.Key, Params: params, Version: runtime.Version(), Threads: runtime.GOMAXPROCS(0)}
	for i := 0; i < o.warmup+o.steps; i++ {
		if i == o.warmup && o.cpuprofile != "" {
			stop, err := startProfile(o.cpuprofile)
			if err != nil {
				fmt.Fprintf(os.Stderr, "bench: --cpuprofile: %v\n", err)
				return 1
			}
			defer stop()
		}
		t0 := time.Now()
		if err := step(); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %s step %d: %v\n", b.Key, i, err)
			return 1
		}
		if i >= o.warmup {
			r.Ms = append(r.Ms, float64(time.Since(t0).Microseconds())/1000)
		}
	}
	return printJSON(r)
}

func printJSON(r result) int {
	bs, err := json.Marshal(r)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	fmt.Println(string(bs))
	return 0
}

// merge adds round r of an engine to res[i]: timed steps pooled, the
// largest peak RSS kept, the first error kept.
func merge(res []result, i int, r result) []result {
	if i >= len(res) {
		return append(res, r)
	}
	p := &res[i]
	if p.Err != "" {
		return res
	}
	if r.Err != "" {
		p.Err = r.Err
		return res
	}
	p.Ms = append(p.Ms, r.Ms...)
	p.MaxRSSKiB = max(p.MaxRSSKiB, r.MaxRSSKiB)
	return res
}

// runChildProcess runs cmd, parses the last JSON line of its stdout and
// records its peak RSS from getrusage.
func runChildProcess(cmd *exec.Cmd, engine, net string) result {
	var out, errb bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &errb
	err := cmd.Run()
	r := result{Engine: engine, Net: net}
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			r.MaxRSSKiB = ru.Maxrss // KiB on Linux
		}
	}
	if err != nil {
		r.Err = fmt.Sprintf("%v: %s", err, strings.TrimSpace(lastLines(errb.String(), 5)))
		return r
	}
	var line string
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		if t := strings.TrimSpace(sc.Text()); strings.HasPrefix(t, "{") {
			line = t
		}
	}
	if line == "" {
		r.Err = "no JSON result on stdout: " + strings.TrimSpace(lastLines(errb.String(), 5))
		return r
	}
	rss := r.MaxRSSKiB
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		r.Err = fmt.Sprintf("bad JSON result %q: %v", line, err)
	}
	r.MaxRSSKiB = rss
	return r
}

func lastLines(s string, n int) string {
	ls := strings.Split(strings.TrimSpace(s), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, " | ")
}

// findPython returns the first interpreter that imports torch, or "" and
// why none did.
func findPython(flagged string) (string, string) {
	cands := []string{flagged}
	if flagged == "" {
		cands = []string{os.Getenv("PYTHON"), "python3", "/usr/bin/python3"}
	}
	var why []string
	for _, c := range cands {
		if c == "" {
			continue
		}
		p, err := exec.LookPath(c)
		if err != nil {
			why = append(why, fmt.Sprintf("%s: not found", c))
			continue
		}
		out, err := exec.Command(p, "-c", "import torch; print(torch.__version__)").CombinedOutput()
		if err != nil {
			why = append(why, fmt.Sprintf("%s: cannot import torch (%s)", p, lastLines(string(out), 1)))
			continue
		}
		return p, ""
	}
	return "", strings.Join(why, "; ")
}

// peerScript locates bench/peer/peer.py from the working directory (the
// module root under `go run ./bench`, or bench/).
func peerScript() (string, error) {
	tried := []string{filepath.Join("bench", "peer", "peer.py"), filepath.Join("peer", "peer.py")}
	for _, p := range tried {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("peer script not found (tried %s; run from the module root)", strings.Join(tried, ", "))
}

func runParent(o options, all []benchNet) int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: cannot locate own executable:", err)
		return 1
	}
	goVer := runtime.Version()
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVer = bi.GoVersion
	}
	fmt.Printf("refugelab bench  %s  %s/%s  %s  threads %d  %d round(s) of %d timed steps after %d warm-up (median of all)\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.GOOS, runtime.GOARCH, goVer, o.threads, o.rounds, o.steps, o.warmup)
	fmt.Printf("cpu: %s (%d logical CPUs); load average before: %s\n", cpuModel(), runtime.NumCPU(), loadAvg())
	py, why := findPython(o.python)
	script, serr := peerScript()
	if py != "" && serr != nil {
		py, why = "", serr.Error()
	}
	if py == "" {
		fmt.Printf("peer skipped: no Python with torch (%s); install Debian's python3-torch (apt-get install -y python3-torch)\n", why)
	}
	fmt.Println("FLOPs: analytic, per image per training step = 3 × 2 × MACs of the conv and dense layers (forward 2·MACs, backward 2 × that); norm, pooling, activations, loss and optimizer not counted")
	type row struct {
		b     benchNet
		flops int64
		res   []result
	}
	var rows []row
	for _, key := range o.nets {
		b, _ := findNet(all, key)
		ls, err := analyticLayers(b.Spec, 3, b.Size, b.OutC)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
		f, aparams := trainFLOPs(ls)
		rw := row{b: b, flops: f * int64(b.Batch)}
		fmt.Printf("\n== %s: %d params (analytic), %.2f GFLOP per image per step, %.2f GFLOP per step\n", b.Title, aparams, float64(f)/1e9, float64(rw.flops)/1e9)
		args := []string{"--child", key, "--threads", strconv.Itoa(o.threads), "--steps", strconv.Itoa(o.steps), "--warmup", strconv.Itoa(o.warmup)}
		if o.quick {
			args = append(args, "--quick")
		}
		var pargs []string
		if py != "" {
			pargs = []string{script, "--net", b.Spec.Arch, "--size", strconv.Itoa(b.Size), "--batch", strconv.Itoa(b.Batch),
				"--base", strconv.Itoa(b.Spec.Base), "--depth", strconv.Itoa(b.Spec.Depth), "--out", strconv.Itoa(b.OutC),
				"--threads", strconv.Itoa(o.threads), "--steps", strconv.Itoa(o.steps), "--warmup", strconv.Itoa(o.warmup)}
		}
		// Rounds alternate the engines so that both see the machine's
		// load changes alike; each round is a fresh child process.
		for round := 0; round < o.rounds; round++ {
			cmd := exec.Command(exe, args...)
			cmd.Env = append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(o.threads))
			rg := runChildProcess(cmd, "refugelab", key)
			if rg.Err == "" && rg.Params != aparams {
				rg.Err = fmt.Sprintf("engine has %d params, the analytic layer list %d: FLOP model out of date", rg.Params, aparams)
			}
			rw.res = merge(rw.res, 0, rg)
			if py != "" {
				pc := exec.Command(py, pargs...)
				pc.Env = append(os.Environ(), "OMP_NUM_THREADS="+strconv.Itoa(o.threads), "MKL_NUM_THREADS="+strconv.Itoa(o.threads))
				rp := runChildProcess(pc, "pytorch", key)
				if rp.Err == "" && rp.Params != aparams {
					rp.Err = fmt.Sprintf("peer has %d params, refugelab %d: architectures differ", rp.Params, aparams)
				}
				rw.res = merge(rw.res, 1, rp)
			}
		}
		for _, r := range rw.res {
			printResult(r, b, rw.flops)
		}
		if len(rw.res) == 2 && rw.res[0].Err == "" && rw.res[1].Err == "" {
			g, p := rw.res[0], rw.res[1]
			fmt.Printf("  ratio refugelab/PyTorch: time %.2f (fastest steps %.2f)  peak RSS %.2f\n", g.median()/p.median(), g.fastest()/p.fastest(), float64(g.MaxRSSKiB)/float64(p.MaxRSSKiB))
		}
		rows = append(rows, rw)
	}
	fmt.Printf("\nload average after: %s\n", loadAvg())
	fmt.Printf("summary (threads %d; ratio = refugelab / PyTorch for ms/step and peak RSS)\n", o.threads)
	fmt.Printf("%-44s %-9s %10s %9s %9s %10s %12s\n", "network", "engine", "ms/step", "img/s", "GFLOP/s", "peakRSS", "fastest ms")
	failed := false
	for _, rw := range rows {
		for _, r := range rw.res {
			if r.Err != "" {
				failed = true
				fmt.Printf("%-44s %-9s failed: %s\n", rw.b.Title, r.Engine, r.Err)
				continue
			}
			m := r.median()
			fmt.Printf("%-44s %-9s %10.1f %9.2f %9.2f %6.0f MiB %12.1f\n", rw.b.Title, r.Engine, m, float64(rw.b.Batch)/(m/1000), float64(rw.flops)/(m/1000)/1e9, float64(r.MaxRSSKiB)/1024, r.fastest())
		}
		if len(rw.res) == 2 && rw.res[0].Err == "" && rw.res[1].Err == "" {
			g, p := rw.res[0], rw.res[1]
			fmt.Printf("%-44s %-9s %10.2f %9s %9s %10.2f %12.2f\n", rw.b.Title, "ratio", g.median()/p.median(), "", "", float64(g.MaxRSSKiB)/float64(p.MaxRSSKiB), g.fastest()/p.fastest())
		}
	}
	if failed {
		return 1
	}
	return 0
}

func printResult(r result, b benchNet, flops int64) {
	if r.Err != "" {
		fmt.Printf("  %-9s failed: %s\n", r.Engine, r.Err)
		return
	}
	m := r.median()
	ms := make([]string, len(r.Ms))
	for i, v := range r.Ms {
		ms[i] = strconv.FormatFloat(v, 'f', 1, 64)
	}
	fmt.Printf("  %-9s %s, %d threads: %.1f ms/step (steps: %s), %.2f images/s, %.2f GFLOP/s, peak RSS %.0f MiB\n",
		r.Engine, r.Version, r.Threads, m, strings.Join(ms, " "), float64(b.Batch)/(m/1000), float64(flops)/(m/1000)/1e9, float64(r.MaxRSSKiB)/1024)
}

// cpuModel is the first "model name" of /proc/cpuinfo, or "unknown".
func cpuModel() string {
	bs, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(bs), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// loadAvg is the 1, 5 and 15 minute load averages of /proc/loadavg: a
// load near or above the CPU count means other work shared the cores and
// the timings are pessimistic.
func loadAvg() string {
	bs, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(bs))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// startProfile starts a CPU profile written to path; the returned function
// stops it and closes the file.
func startProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
