// listen.go: the start-up the Go peers share (echo.go, http.go, chat.go),
// compiled into each: `go build -o echo_go echo.go listen.go`. Checks the
// command line, raises RLIMIT_NOFILE, listens on 127.0.0.1:PORT, prints
// "ready", and accepts connections. Plain standard library only.
package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// portArg checks that the command line holds the arguments named in args
// ("PORT" or "PORT DIR"), PORT first and a valid port number, and returns
// PORT; otherwise it prints "usage: PROGRAM ARGS" and exits with status 2.
func portArg(args string) int {
	if len(os.Args) != 1+len(strings.Fields(args)) {
		fmt.Fprintf(os.Stderr, "usage: %s %s\n", os.Args[0], args)
		os.Exit(2)
	}
	port, err := strconv.Atoi(os.Args[1])
	if err != nil || port <= 0 || port > 65535 {
		fmt.Fprintf(os.Stderr, "usage: %s %s\n", os.Args[0], args)
		os.Exit(2)
	}
	return port
}

// listenReady raises the soft RLIMIT_NOFILE to the hard limit, listens on
// 127.0.0.1:port (the backlog is the kernel's somaxconn, which Go always
// asks for) and prints "ready". If it cannot listen it prints "NAME: <error>"
// and exits with status 1.
func listenReady(name string, port int) *net.TCPListener {
	// Go 1.19 already raises the soft limit at start; do it explicitly
	// anyway, as the C servers do.
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil && rl.Cur < rl.Max {
		rl.Cur = rl.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
	fmt.Println("ready")
	return ln
}

// acceptEach hands every connection ln accepts to handle, forever. An accept
// error (out of fds or similar) is printed as "NAME: accept: <error>" and
// followed by a pause of 100 ms instead of spinning.
func acceptEach(name string, ln *net.TCPListener, handle func(*net.TCPConn)) {
	for {
		conn, err := ln.AcceptTCP()
		if err != nil {
			fmt.Fprintln(os.Stderr, name+": accept:", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		handle(conn)
	}
}
