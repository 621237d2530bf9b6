package web

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/stagelink/stagelink/lighting"
)

func TestReadyz(t *testing.T) {
	ok := Check{Name: "redis", Check: func(context.Context) error { return nil }}
	failing := Check{Name: "mysql", Check: func(context.Context) error { return errors.New("dial tcp 127.0.0.1:3306: connection refused") }}
	leaky := Check{Name: "amqp", Check: func(context.Context) error {
		return errors.New(`dial amqp://stagelink:hunter2@rabbit:5672/: no route; dsn "root:hunter2@tcp(db:3306)/x"`)
	}}
	tests := []struct {
		name       string
		checks     []Check
		wantStatus int
		want       readyMsg
	}{
		{"no checks", nil, http.StatusOK, readyMsg{Ready: true, Checks: map[string]checkResult{}}},
		{"all ok", []Check{ok}, http.StatusOK, readyMsg{Ready: true, Checks: map[string]checkResult{"redis": {OK: true}}}},
		{"one failing", []Check{ok, failing}, http.StatusServiceUnavailable, readyMsg{Checks: map[string]checkResult{
			"redis": {OK: true}, "mysql": {Error: "dial tcp 127.0.0.1:3306: connection refused"}}}},
		{"secrets redacted", []Check{leaky}, http.StatusServiceUnavailable, readyMsg{Checks: map[string]checkResult{
			"amqp": {Error: `dial amqp://[redacted]@rabbit:5672/: no route; dsn [redacted]@tcp(db:3306)/x"`}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newAPIHub(t, Config{Checks: tt.checks}, lighting.DefaultConfig())
			resp, body := do(t, "GET", h.url+"/readyz", "", "")
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("GET /readyz = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if strings.Contains(body, "hunter2") {
				t.Errorf("GET /readyz body %s shows a password", body)
			}
			got := decodeJSON[readyMsg](t, body)
			for name, c := range got.Checks {
				if c.Ms < 0 || c.Ms > 2000 {
					t.Errorf("check %s took %v ms, want 0–2000", name, c.Ms)
				}
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreFields(checkResult{}, "Ms")); diff != "" {
				t.Errorf("GET /readyz body (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("closing", func(t *testing.T) {
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		lights := lighting.NewService(lighting.DefaultConfig(), lighting.NewMemoryStore(), lighting.NewMemoryLimiter(), log)
		srv := New(Config{Checks: []Check{ok}}, lights, log)
		srv.Close()
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
		if rec.Code != http.StatusServiceUnavailable {
			t.Errorf("GET /readyz while closing = %d, want 503", rec.Code)
		}
		want := readyMsg{Checks: map[string]checkResult{"redis": {OK: true}, "hub": {Error: "shutting down"}}}
		if diff := cmp.Diff(want, decodeJSON[readyMsg](t, rec.Body.String()), cmpopts.IgnoreFields(checkResult{}, "Ms")); diff != "" {
			t.Errorf("GET /readyz while closing (-want +got):\n%s", diff)
		}
	})
}

// TestRunChecks: checks run at once, each under its own deadline; one that ignores its deadline does not
// hold up the answer; errors lose their credentials. Fake time makes the durations exact.
func TestRunChecks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		sleep := func(d time.Duration) func(context.Context) error {
			return func(context.Context) error { time.Sleep(d); return nil }
		}
		checks := []Check{
			{Name: "fast", Check: sleep(100 * time.Millisecond)},
			{Name: "slow", Check: sleep(1500 * time.Millisecond)},
			{Name: "also slow", Check: sleep(1500 * time.Millisecond)},
			{Name: "failing", Check: func(context.Context) error {
				return errors.New("connect amqp://guest:s3cret@10.0.0.5:5672/ refused")
			}},
			{Name: "heeds deadline", Check: func(ctx context.Context) error {
				if _, ok := ctx.Deadline(); !ok {
					return errors.New("no deadline")
				}
				<-ctx.Done()
				return ctx.Err()
			}},
			{Name: "ignores deadline", Check: func(context.Context) error { <-release; return nil }},
			{Name: "no function"},
		}
		start := time.Now()
		got := runChecks(t.Context(), checks, 2*time.Second)
		took := time.Since(start)
		close(release)
		synctest.Wait() // the check that ignored its deadline returns into the buffered channel

		want := map[string]checkResult{
			"fast":             {OK: true, Ms: 100},
			"slow":             {OK: true, Ms: 1500},
			"also slow":        {OK: true, Ms: 1500},
			"failing":          {Error: "connect amqp://[redacted]@10.0.0.5:5672/ refused"},
			"heeds deadline":   {Error: "no answer within 2s: context deadline exceeded", Ms: 2000},
			"ignores deadline": {Error: "no answer within 2s", Ms: 2250},
			"no function":      {Error: "no check function"},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("runChecks (-want +got):\n%s", diff)
		}
		if want := 2*time.Second + checkGrace; took != want {
			t.Errorf("runChecks took %v, want %v: one timeout and its grace, not the sum of the checks", took, want)
		}
	})
}

func TestRedactSecrets(t *testing.T) {
	tests := []struct{ in, want string }{
		{"dial tcp 127.0.0.1:3306: connect: connection refused", "dial tcp 127.0.0.1:3306: connect: connection refused"},
		{"dial tcp [::1]:6379: i/o timeout", "dial tcp [::1]:6379: i/o timeout"},
		{"amqp://guest:guest@127.0.0.1:5672/", "amqp://[redacted]@127.0.0.1:5672/"},
		{"redis://:p4ss@redis:6379/0 unreachable", "redis://[redacted]@redis:6379/0 unreachable"},
		{"redis://token@redis:6379", "redis://[redacted]@redis:6379"},
		{"root:pw@tcp(127.0.0.1:3306)/test", "[redacted]@tcp(127.0.0.1:3306)/test"},
		{"amqp://u:p@ss:w@rd@host/vhost", "amqp://[redacted]@host/vhost"},
		{"Error 1045 (28000): Access denied for user 'root'@'172.17.0.1' (using password: YES)",
			"Error 1045 (28000): Access denied for user 'root'@'172.17.0.1' (using password: YES)"},
		{"host=db password=hunter2 sslmode=off", "host=db password=[redacted] sslmode=off"},
		{"ERR wrong number of arguments", "ERR wrong number of arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := redactSecrets(tt.in); got != tt.want {
				t.Errorf("redactSecrets(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
