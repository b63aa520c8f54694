package manager

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// A client holding every connection the cap allows cannot make the feed
// server take one more: the next request is served only once one of them
// is released.
func TestFeedServerCapsConnections(t *testing.T) {
	release := make(chan struct{})
	var inHandler atomic.Int32
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inHandler.Add(1)
		if r.URL.Path == "/slow" {
			<-release
		}
		_, _ = io.WriteString(w, "ok")
	})
	ready := make(chan net.Addr, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := &feedServer{addr: "127.0.0.1:0", handler: handler, maxConns: 3, ready: ready}
	done := make(chan error, 1)
	go func() { done <- f.Start(ctx) }()
	addr := (<-ready).String()

	// Three slow requests take the three connections.
	tr := &http.Transport{MaxConnsPerHost: 0, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	for range 3 {
		go func() {
			if resp, err := client.Get("http://" + addr + "/slow"); err == nil {
				_ = resp.Body.Close()
			}
		}()
	}
	deadline := time.Now().Add(5 * time.Second)
	for inHandler.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if inHandler.Load() != 3 {
		t.Fatalf("%d slow requests reached the handler, want 3", inHandler.Load())
	}

	// A fourth is not served while they hold their connections...
	fast := make(chan error, 1)
	go func() {
		resp, err := client.Get("http://" + addr + "/fast")
		if err == nil {
			_ = resp.Body.Close()
		}
		fast <- err
	}()
	select {
	case <-fast:
		t.Fatal("a fourth connection was served past the cap of 3")
	case <-time.After(300 * time.Millisecond):
	}
	// ...and is served as soon as one is released.
	close(release)
	select {
	case err := <-fast:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the fourth request was never served after the slow ones ended")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
