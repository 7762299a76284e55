// bench/go/chan_switch.go: the Go peer of bench/pthread_switch.c: ns per
// hand-off of a token that two goroutines pass over one unbuffered channel,
// at default settings (GOMAXPROCS = the CPUs there are, no pinning), one run.
// Usage: chan_switch [switches]   (default 200000)
// Prints: chan_switch_ns <ns per switch>
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

func main() {
	n := 200000
	if len(os.Args) > 1 {
		v, err := strconv.Atoi(os.Args[1])
		if err != nil || v < 2 {
			fmt.Fprintf(os.Stderr, "chan_switch: bad count %q\n", os.Args[1])
			os.Exit(2)
		}
		n = v &^ 1
	}
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
	fmt.Printf("chan_switch_ns %.1f\n", float64(time.Since(start).Nanoseconds())/float64(n))
}
