// bench/go/switch.go: the Go peer of bench/switch.c, ns per switch between
// two goroutines on one P (GOMAXPROCS=1) and one core.
//
// switch_ns is ns per hand-off of a token that two goroutines pass back and
// forth over one unbuffered channel; each hand-off (a send that the other
// goroutine receives) counts as one switch.
//
// gosched_ns is ns per runtime.Gosched when two goroutines each call it in a
// loop; each call yields to the other, so one call counts as one switch.
//
// Like the C program, it pins every thread of the process to CPU 0 itself.
// Usage: switch [switches per repetition]   (default 1000000)
// Prints both figures, each the median of 5 repetitions.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

const reps = 5

// pinProcessCPU0 pins every thread of the process (the Go runtime has started
// several before main) to CPU 0; threads started later inherit the mask.
func pinProcessCPU0() error {
	var mask [16]uint64 // a cpu_set_t of 1024 CPUs
	mask[0] = 1
	dir, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, e := range dir {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		_, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY,
			uintptr(tid), unsafe.Sizeof(mask), uintptr(unsafe.Pointer(&mask)))
		if errno != 0 && errno != syscall.ESRCH {
			return errno
		}
	}
	return nil
}

func median(v []float64) float64 {
	sort.Float64s(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// channel returns ns per hand-off over n hand-offs (n even).
func channel(n int) float64 {
	ch := make(chan int)
	var wg sync.WaitGroup
	wg.Add(2)
	start := time.Now()
	go func() {
		defer wg.Done()
		for i := 0; i < n/2; i++ {
			ch <- i
			<-ch
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < n/2; i++ {
			v := <-ch
			ch <- v
		}
	}()
	wg.Wait()
	return float64(time.Since(start).Nanoseconds()) / float64(n)
}

// gosched returns ns per runtime.Gosched over n calls split between two goroutines.
func gosched(n int) float64 {
	var wg sync.WaitGroup
	wg.Add(2)
	start := time.Now()
	for g := 0; g < 2; g++ {
		go func() {
			defer wg.Done()
			for i := 0; i < n/2; i++ {
				runtime.Gosched()
			}
		}()
	}
	wg.Wait()
	return float64(time.Since(start).Nanoseconds()) / float64(n)
}

func main() {
	n := 1000000
	if len(os.Args) > 1 {
		v, err := strconv.Atoi(os.Args[1])
		if err != nil || v < 2 {
			fmt.Fprintf(os.Stderr, "switch: bad count %q\n", os.Args[1])
			os.Exit(2)
		}
		n = v &^ 1
	}
	runtime.GOMAXPROCS(1)
	if err := pinProcessCPU0(); err != nil {
		fmt.Fprintf(os.Stderr, "switch: pinning to CPU 0 failed: %v (not pinned)\n", err)
	}
	channel(10000) // warm-up
	gosched(10000)
	ch := make([]float64, reps)
	gs := make([]float64, reps)
	for r := 0; r < reps; r++ {
		ch[r] = channel(n)
		gs[r] = gosched(n)
		fmt.Fprintf(os.Stderr, "switch: repetition %d: %.1f ns per channel hand-off, %.1f ns per Gosched\n",
			r, ch[r], gs[r])
	}
	fmt.Printf("switch_ns %.1f\n", median(ch))
	fmt.Printf("gosched_ns %.1f\n", median(gs))
}
