// echo.go: the Go peer of demos/echo_server.c, one goroutine per connection.
//
// usage: echo_go PORT
//
// Listens on 127.0.0.1:PORT, prints "ready" once listening, and echoes each
// connection through a 4 KiB buffer in its own goroutine, the way the C
// server does with a thread. Plain standard library only, so it builds
// offline with `go build echo.go`. The listen backlog is the kernel's
// somaxconn (4096 here), which Go always asks for.
package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"
)

func serve(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintf(os.Stderr, "usage: %s PORT\n", os.Args[0])
		os.Exit(2)
	}
	port, err := strconv.Atoi(os.Args[1])
	if err != nil || port <= 0 || port > 65535 {
		fmt.Fprintf(os.Stderr, "usage: %s PORT\n", os.Args[0])
		os.Exit(2)
	}
	// Go 1.19 already raises the soft limit at start; do it explicitly
	// anyway, as the C servers do.
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil && rl.Cur < rl.Max {
		rl.Cur = rl.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo_go:", err)
		os.Exit(1)
	}
	fmt.Println("ready")
	for {
		c, err := ln.Accept()
		if err != nil {
			// Out of fds or similar: back off instead of spinning.
			fmt.Fprintln(os.Stderr, "echo_go: accept:", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		go serve(c)
	}
}
