// Package printertest holds what the printer tests share across packages: a TCP proxy that cuts broker
// connections on demand, and a socat pty pair that stands in for the serial cable to the printer.
package printertest

import (
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Proxy forwards TCP connections to a target (the broker) and can cut all of them mid-stream, the way a
// flaky network or a restarted load balancer would, without touching the broker itself.
type Proxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// NewProxy listens on 127.0.0.1:0 and forwards every connection to target until the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		ln.Close()
		p.Cut()
		p.wg.Wait()
	})
	return p
}

// Addr is the proxy's address, host:port, to dial instead of the target.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		b, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[b] = struct{}{}, struct{}{}
		p.mu.Unlock()
		for _, pair := range [][2]net.Conn{{c, b}, {b, c}} {
			p.wg.Go(func() {
				io.Copy(pair[0], pair[1])
				pair[0].Close()
				pair[1].Close()
				p.mu.Lock()
				delete(p.conns, pair[0])
				delete(p.conns, pair[1])
				p.mu.Unlock()
			})
		}
	}
}

// Cut closes every forwarded connection at once and returns how many sockets it closed (two per
// connection). New connections are still accepted.
func (p *Proxy) Cut() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for c := range p.conns {
		c.Close()
		n++
	}
	return n
}

// NeedSocat skips the test when socat is not installed, or fails it in CI, where .ci/run installs it.
func NeedSocat(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("socat"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("socat is required in CI for the serial tests: install socat")
		}
		t.Skip("socat not installed: skipping tests over a pty pair (apt-get install socat)")
	}
}

// SocatPair starts `socat -d -d pty,raw,echo=0,link=A pty,raw,echo=0,link=B` and returns the paths of the
// two ends: host for the printer agent, printer for the fake printer. socat keeps both ptys open, so
// either side may close its end and open it again (an agent killed and restarted) without breaking the
// pair. It stops when the test ends. Call NeedSocat first.
func SocatPair(t testing.TB) (host, printer string) {
	t.Helper()
	dir := t.TempDir()
	host, printer = filepath.Join(dir, "ttyA"), filepath.Join(dir, "ttyB")
	cmd := exec.Command("socat", "-d", "-d", "pty,raw,echo=0,link="+host, "pty,raw,echo=0,link="+printer)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start socat: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, errA := os.Stat(host)
		_, errB := os.Stat(printer)
		if errA == nil && errB == nil {
			return host, printer
		}
		if time.Now().After(deadline) {
			t.Fatal("socat did not create the pty links in 5 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
