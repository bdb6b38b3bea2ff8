package nn

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// parallelFor runs f(0..n-1) on up to GOMAXPROCS goroutines. Callers make
// every f(i) write only its own outputs, so results never depend on the
// number of threads or on scheduling.
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
