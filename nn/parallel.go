package nn

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// ParallelFor runs f(0..n-1) on up to GOMAXPROCS goroutines and returns
// when all are done. Callers make every f(i) write only its own outputs
// (and reduce partial results in index order afterwards), so results never
// depend on the number of threads or on scheduling.
func ParallelFor(n int, f func(i int)) { parallelFor(n, f) }

func parallelFor(n int, f func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := 0; i < n; i++ {
			f(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				f(i)
			}
		}()
	}
	wg.Wait()
}
