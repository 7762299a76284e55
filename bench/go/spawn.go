// bench/go/spawn.go: the Go peer of bench/spawn.c, the cost of starting
// goroutines and waiting for them (GOMAXPROCS left at its default, as the C
// program leaves the number of CPUs alone).
//
// spawn_join_ns is ns per go func + sync.WaitGroup wait of a goroutine that
// returns at once, one after the other.
//
// spawn_batch_ns is ns per goroutine when 10,000 such goroutines are started
// and then waited for all together. One batch takes a few ms, so each
// repetition averages batchRounds batches to be as long as the C program's.
//
// Usage: spawn [sequential count] [batch size]   (defaults 200000, 10000)
// Prints both figures, each the median of 5 repetitions.
package main

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"
)

const (
	reps        = 5
	batchRounds = 20
)

func median(v []float64) float64 {
	sort.Float64s(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func seq(n int) float64 {
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() { wg.Done() }()
		wg.Wait()
	}
	return float64(time.Since(start).Nanoseconds()) / float64(n)
}

func batch(n int) float64 {
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() { wg.Done() }()
	}
	wg.Wait()
	return float64(time.Since(start).Nanoseconds()) / float64(n)
}

func arg(i, def int) int {
	if len(os.Args) <= i {
		return def
	}
	v, err := strconv.Atoi(os.Args[i])
	if err != nil || v <= 0 {
		fmt.Fprintf(os.Stderr, "spawn: bad count %q\n", os.Args[i])
		os.Exit(2)
	}
	return v
}

func main() {
	nseq, nbatch := arg(1, 200000), arg(2, 10000)
	seq(1000) // warm-up: goroutine free lists, heap
	batch(nbatch)
	s := make([]float64, reps)
	b := make([]float64, reps)
	for r := 0; r < reps; r++ {
		s[r] = seq(nseq)
		b[r] = 0
		for k := 0; k < batchRounds; k++ {
			b[r] += batch(nbatch) / batchRounds
		}
		fmt.Fprintf(os.Stderr, "spawn: repetition %d: %.1f ns per spawn+wait, %.1f ns per goroutine in a batch of %d\n",
			r, s[r], b[r], nbatch)
	}
	fmt.Printf("spawn_join_ns %.1f\n", median(s))
	fmt.Printf("spawn_batch_ns %.1f\n", median(b))
}
