// echo.go: the Go peer of demos/echo_server.c, one goroutine per connection.
//
// usage: echo_go PORT
//
// Listens on 127.0.0.1:PORT, prints "ready" once listening, and echoes each
// connection through a 4 KiB buffer in its own goroutine, the way the C
// server does with a thread. Plain standard library only, so it builds
// offline with `go build echo.go listen.go` (listen.go: the start-up and
// accept loop all the peers share). The listen backlog is the kernel's
// somaxconn (4096 here), which Go always asks for.
package main

import "net"

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
	ln := listenReady("echo_go", portArg("PORT"))
	acceptEach("echo_go", ln, func(c *net.TCPConn) { go serve(c) })
}
