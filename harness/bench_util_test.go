package harness_test

import (
	"sync"
	"time"
)

func nowNanos() int64 { return time.Now().UnixNano() }

// interleave runs n operations of each of fns (fn(m) runs m of them), in alternating slices
// of at most slice operations, so that a change of load on a shared machine weighs on every
// fn alike, and returns the nanoseconds per operation of each. A ratio of two of its results
// is the figure to trust on a busy machine, not either absolute time.
func interleave(n, slice int, fns ...func(m int)) []float64 {
	spent := make([]time.Duration, len(fns))
	for done := 0; done < n; done += slice {
		m := min(slice, n-done)
		for i, fn := range fns {
			start := time.Now()
			fn(m)
			spent[i] += time.Since(start)
		}
	}
	out := make([]float64, len(fns))
	for i := range out {
		out[i] = float64(spent[i].Nanoseconds()) / float64(max(n, 1))
	}
	return out
}

// senders is a pool of k goroutines that send on command, so that a benchmark slice does not
// pay for starting them: run(n) makes them send n messages between them and waits.
type senders struct {
	work []chan int
	done sync.WaitGroup
}

// newSenders starts k goroutines; each calls mk once for its send function (with its own
// buffers) and then send() once per message.
func newSenders(k int, mk func() (send func())) *senders {
	s := &senders{work: make([]chan int, k)}
	for i := range s.work {
		s.work[i] = make(chan int)
		go func(work chan int) {
			send := mk()
			for cnt := range work {
				for j := 0; j < cnt; j++ {
					send()
				}
				s.done.Done()
			}
		}(s.work[i])
	}
	return s
}

func (s *senders) run(n int) {
	k := len(s.work)
	s.done.Add(k)
	for i, w := range s.work {
		cnt := n / k
		if i == 0 {
			cnt += n % k
		}
		w <- cnt
	}
	s.done.Wait()
}

func (s *senders) close() {
	for _, w := range s.work {
		close(w)
	}
}
