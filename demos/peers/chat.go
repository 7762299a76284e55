// chat.go: the Go peer of demos/chat_server.c, the same chat server with a
// reader goroutine and a writer goroutine per connection.
//
// usage: chat_go PORT
//
// Listens on 127.0.0.1:PORT and prints "ready" once listening. The protocol
// is the C server's byte for byte:
//
//   - on connect a client is greeted with "welcome <id>\n" (ids count from 1
//     in accept order);
//   - every line a client sends ("\n"-terminated, a trailing "\r" dropped,
//     lines longer than 1024 bytes cut into pieces of 1024, a last line
//     without "\n" dropped at EOF) goes into a shared log as "<id>: <line>\n";
//   - each writer relays every message of the log that came after its
//     greeting, except its own client's, at most 4096 bytes per write;
//   - the log is a ring of 1024 messages: a writer that falls a whole ring
//     behind (a client that does not read) first sends
//     "*** missed <n> messages\n" and then goes on with the oldest message
//     the ring still holds.
//
// As in C, the log is one ring under one sync.Mutex with one sync.Cond that
// every append broadcasts; the reader goroutine appends, the writer goroutine
// waits on the Cond, copies out under the lock and writes outside it. The
// first of the pair to finish shuts the socket down (both directions) and
// wakes the other; the last one closes it. Plain standard library only, so it
// builds offline with `go build chat.go listen.go` (listen.go: the start-up
// and accept loop all the peers share).
package main

import (
	"net"
	"strconv"
	"sync"
	"syscall"
)

const (
	logSlots = 1024 // messages kept for slow writers
	lineMax  = 1024 // longer lines are cut into pieces of this size
	outSize  = 4096 // a writer sends at most this much per write
)

// One message in the log.
type msg struct {
	from uint64 // id of the client that sent it
	text []byte // "<id>: <line>\n", owned by the log
}

// One connected client, shared by its reader and writer goroutines.
type client struct {
	conn *net.TCPConn
	id   uint64 // number shown to other clients
	done bool   // set when either goroutine finishes; under logLock
	refs int    // goroutines still using this client; under logLock
}

var (
	logLock sync.Mutex
	logCond = sync.NewCond(&logLock)
	logRing [logSlots]msg // message seq is at seq % logSlots; under logLock
	logNext uint64        // seq of the next message; under logLock
	nextID  uint64        // under logLock
)

// logAppend appends one line to the log and wakes every writer.
func logAppend(c *client, line []byte) {
	text := make([]byte, 0, len(line)+32)
	text = strconv.AppendUint(text, c.id, 10)
	text = append(text, ": "...)
	text = append(text, line...)
	text = append(text, '\n')
	logLock.Lock()
	logRing[logNext%logSlots] = msg{from: c.id, text: text}
	logNext++
	logCond.Broadcast()
	logLock.Unlock()
}

// shutdown is shutdown(fd, SHUT_RDWR) on the socket, as the C server does:
// it wakes the partner out of a Read or Write with EOF or EPIPE.
func shutdown(conn *net.TCPConn) {
	if rc, err := conn.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) {
			syscall.Shutdown(int(fd), syscall.SHUT_RDWR)
		})
	}
}

// release marks c finished, wakes its partner, and closes the socket if this
// was the last user.
func release(c *client) {
	logLock.Lock()
	if !c.done {
		c.done = true
		shutdown(c.conn)    // wakes the partner out of Read or Write ...
		logCond.Broadcast() // ... or out of the Cond wait.
	}
	c.refs--
	last := c.refs == 0
	logLock.Unlock()
	if last {
		c.conn.Close()
	}
}

func reader(c *client) {
	buf := make([]byte, 4096)
	line := make([]byte, 0, lineMax)
	for {
		n, err := c.conn.Read(buf)
		for _, b := range buf[:n] {
			if b == '\n' || len(line) == lineMax {
				if len(line) > 0 && line[len(line)-1] == '\r' {
					line = line[:len(line)-1]
				}
				logAppend(c, line)
				line = line[:0]
				if b == '\n' {
					continue
				}
			}
			line = append(line, b)
		}
		if err != nil {
			break
		}
	}
	release(c)
}

func writer(c *client) {
	defer release(c)
	out := make([]byte, 0, outSize)
	// A new client sees what comes after it connected, the messages added
	// while its greeting is being written included.
	logLock.Lock()
	next := logNext
	logLock.Unlock()
	if _, err := c.conn.Write([]byte("welcome " + strconv.FormatUint(c.id, 10) + "\n")); err != nil {
		return
	}
	logLock.Lock()
	for {
		for next == logNext && !c.done {
			logCond.Wait()
		}
		if c.done {
			break
		}
		out = out[:0]
		if logNext-next > logSlots {
			out = append(out, "*** missed "...)
			out = strconv.AppendUint(out, logNext-next-logSlots, 10)
			out = append(out, " messages\n"...)
			next = logNext - logSlots
		}
		for ; next < logNext; next++ {
			m := &logRing[next%logSlots]
			if m.from == c.id {
				continue
			}
			if len(out)+len(m.text) > outSize {
				break
			}
			out = append(out, m.text...)
		}
		logLock.Unlock()
		if len(out) > 0 {
			if _, err := c.conn.Write(out); err != nil {
				return
			}
		}
		logLock.Lock()
	}
	logLock.Unlock()
}

func main() {
	ln := listenReady("chat_go", portArg("PORT"))
	acceptEach("chat_go", ln, func(conn *net.TCPConn) {
		conn.SetNoDelay(true) // Go's default; the C server sets it too
		c := &client{conn: conn, refs: 2}
		logLock.Lock()
		nextID++
		c.id = nextID
		logLock.Unlock()
		go writer(c)
		go reader(c)
	})
}
