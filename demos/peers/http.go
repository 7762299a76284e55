// http.go: the Go peer of demos/http_server.c, one goroutine per connection.
//
// usage: http_go PORT DIR
//
// Listens on 127.0.0.1:PORT, prints "ready" once listening, and serves GET
// and HEAD of regular files under DIR ("/" and ".../" mean index.html) with
// Content-Length, keeping connections alive as HTTP/1.1 says, the way the C
// server does with a thread per connection: net/http runs each connection in
// its own goroutine. Like the C server it refuses targets holding a ".."
// segment (400), answers other methods with 405 and a missing file with 404,
// and sends no Last-Modified, ranges or directory listings. Plain standard
// library only, so it builds offline with `go build http.go listen.go`
// (listen.go: the start-up all the peers share). The listen backlog is the
// kernel's somaxconn (4096 here), which Go always asks for.
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

var types = map[string]string{
	".html": "text/html; charset=utf-8",
	".htm":  "text/html; charset=utf-8",
	".txt":  "text/plain; charset=utf-8",
	".css":  "text/css",
	".js":   "text/javascript",
	".json": "application/json",
	".png":  "image/png",
	".jpg":  "image/jpeg",
	".svg":  "image/svg+xml",
}

func contentType(p string) string {
	if t, ok := types[strings.ToLower(filepath.Ext(p))]; ok {
		return t
	}
	return "application/octet-stream"
}

type fileServer struct{ root string }

func fail(w http.ResponseWriter, code int) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	fmt.Fprintf(w, "%d %s\n", code, http.StatusText(code))
}

func (s fileServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Server", "demo-http")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Connection", "close")
		fail(w, http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	if !strings.HasPrefix(p, "/") || strings.ContainsRune(p, 0) {
		fail(w, http.StatusBadRequest)
		return
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			fail(w, http.StatusBadRequest)
			return
		}
	}
	if strings.HasSuffix(p, "/") {
		p += "index.html"
	}
	f, err := os.Open(filepath.Join(s.root, filepath.FromSlash(p)))
	if err != nil {
		if os.IsPermission(err) {
			fail(w, http.StatusForbidden)
		} else {
			fail(w, http.StatusNotFound)
		}
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		fail(w, http.StatusNotFound)
		return
	}
	h := w.Header()
	h.Set("Content-Type", contentType(p))
	h.Set("Content-Length", strconv.FormatInt(st.Size(), 10))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		io.CopyN(w, f, st.Size())
	}
}

func main() {
	port := portArg("PORT DIR")
	if st, err := os.Stat(os.Args[2]); err != nil || !st.IsDir() {
		fmt.Fprintf(os.Stderr, "http_go: %s: not a directory\n", os.Args[2])
		os.Exit(1)
	}
	ln := listenReady("http_go", port)
	srv := &http.Server{
		Handler:        fileServer{root: os.Args[2]},
		MaxHeaderBytes: 8192, // the C server's request buffer
	}
	// Serve backs off and retries on temporary accept errors (out of fds);
	// it returns only on a fatal one, having closed the listener.
	err := srv.Serve(ln)
	fmt.Fprintln(os.Stderr, "http_go: serve:", err)
	os.Exit(1)
}
