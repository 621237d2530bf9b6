package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// buildHub builds ./cmd/hub of the module that contains the working directory into dir.
func buildHub(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run loadtest inside the stagelink module, or pass -hub-bin")
	}
	bin := filepath.Join(dir, "hub")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/hub")
	cmd.Dir = filepath.Dir(mod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/hub: %w\n%s", err, out)
	}
	return bin, nil
}

// hubProc is a hub the tool started as a subprocess.
type hubProc struct {
	url    string
	pid    int
	cancel context.CancelFunc
	done   chan struct{} // closed when the process was waited for
	err    error         // its exit, after done
	stderr *tail
}

// startHub runs bin with args and waits until it says where it listens and /healthz answers. The hub
// gets the tool's environment without STAGELINK_* variables, so only args configure it. It is stopped
// with an interrupt (and killed 10 s later) when ctx ends or stop is called.
func startHub(ctx context.Context, bin string, args []string, stderr io.Writer) (*hubProc, error) {
	hctx, cancel := context.WithCancel(ctx)
	cmd := exec.CommandContext(hctx, bin, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "STAGELINK_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	listening := make(chan string, 1)
	cmd.Stdout = &urlWatcher{found: listening}
	h := &hubProc{cancel: cancel, done: make(chan struct{}), stderr: &tail{max: 32 << 10, also: stderr}}
	cmd.Stderr = h.stderr
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("start hub: %w", err)
	}
	h.pid = cmd.Process.Pid
	go func() {
		h.err = cmd.Wait()
		close(h.done)
	}()
	select {
	case h.url = <-listening:
	case <-h.done:
		cancel()
		return nil, fmt.Errorf("hub exited: %v\n%s", h.err, h.stderr.String())
	case <-time.After(30 * time.Second):
		h.stop()
		return nil, errors.New("hub did not say where it listens within 30 s")
	}
	if err := waitHealthy(ctx, h.url, 10*time.Second); err != nil {
		h.stop()
		return nil, err
	}
	return h, nil
}

// stop interrupts the hub and waits for it to exit.
func (h *hubProc) stop() {
	h.cancel()
	<-h.done
}

// waitHealthy polls GET /healthz until it answers 200.
func waitHealthy(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/healthz", nil)
		if err != nil {
			return err
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("hub at %s is not healthy", url)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// hubBanner starts the line a hub prints on stdout once it listens.
const hubBanner = "stagelink hub listening on "

// urlWatcher is the hub's stdout: it finds the banner line and sends its URL once.
type urlWatcher struct {
	mu    sync.Mutex
	buf   []byte
	found chan<- string
	sent  bool
}

func (w *urlWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.sent {
		return len(p), nil
	}
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			if len(w.buf) > 4096 {
				w.buf = w.buf[:0]
			}
			return len(p), nil
		}
		line := string(w.buf[:i])
		w.buf = w.buf[i+1:]
		if rest, ok := strings.CutPrefix(line, hubBanner); ok {
			w.found <- strings.TrimSpace(rest)
			w.sent, w.buf = true, nil
			return len(p), nil
		}
	}
}

// tail keeps the last max bytes written to it, and copies them to also when that is set.
type tail struct {
	max  int
	also io.Writer

	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.also != nil {
		t.also.Write(p)
	}
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// randomToken returns a fresh bridge token for a hub the tool starts.
func randomToken() string { return rand.Text() }
