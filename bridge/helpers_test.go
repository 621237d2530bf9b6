package bridge

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stagelink/stagelink/lighting"
)

// hostTransport sends each request straight to the handler of its host, without a network, so device
// tests can run inside a synctest bubble. before, when set, runs first: it may fail the request (a
// refused connection) or block until the request's context ends (a device that does not answer).
type hostTransport struct {
	hosts  map[string]http.Handler
	mu     sync.Mutex
	before func(*http.Request) error
}

func (t *hostTransport) setBefore(f func(*http.Request) error) {
	t.mu.Lock()
	t.before = f
	t.mu.Unlock()
}

func (t *hostTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.mu.Lock()
	before := t.before
	t.mu.Unlock()
	if before != nil {
		if err := before(r); err != nil {
			return nil, err
		}
	}
	return SimTransport(t.hosts).RoundTrip(r)
}

var errConnRefused = errors.New("dial tcp 192.0.2.1:80: connect: connection refused")

func refuseRequest(*http.Request) error { return errConnRefused }

// hang blocks like a device that never answers.
func hangRequest(r *http.Request) error {
	<-r.Context().Done()
	return r.Context().Err()
}

// statusLog collects reported statuses, and when they came.
type statusLog struct {
	mu   sync.Mutex
	list []Status
	at   []time.Time
}

func (l *statusLog) add(s Status) {
	l.mu.Lock()
	l.list = append(l.list, s)
	l.at = append(l.at, time.Now())
	l.mu.Unlock()
}

// timedStatus is a reported status and when it came.
type timedStatus struct {
	At time.Time
	Status
}

// details returns the statuses of zone that carried device details, with their times.
func (l *statusLog) details(zone string) []timedStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []timedStatus
	for i, s := range l.list {
		if s.Zone == zone && s.Device != nil {
			out = append(out, timedStatus{l.at[i], s})
		}
	}
	return out
}

func (l *statusLog) all() []Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Status(nil), l.list...)
}

func (l *statusLog) last(zone string) (Status, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.list) - 1; i >= 0; i-- {
		if l.list[i].Zone == zone {
			return l.list[i], true
		}
	}
	return Status{}, false
}

// fixture returns one part ("info", "effects", "state") of a /json dump in testdata/wled.
func fixture(t testing.TB, file, part string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "wled", file))
	if err != nil {
		t.Fatal(err)
	}
	var parts map[string]json.RawMessage
	if err := json.Unmarshal(b, &parts); err != nil {
		t.Fatal(err)
	}
	return parts[part]
}

func fixtureEffects(t testing.TB, file string) []string {
	t.Helper()
	var fx []string
	if err := json.Unmarshal(fixture(t, file, "effects"), &fx); err != nil {
		t.Fatal(err)
	}
	return fx
}

func testState(on bool, c lighting.Color, bri int, effect string) lighting.State {
	return lighting.State{On: on, Color: c, Brightness: bri, Effect: effect, Speed: 128, Intensity: 128}
}

// requestsTo returns the requests to method and path (without query).
func requestsTo(reqs []SimRequest, method, path string) []SimRequest {
	var out []SimRequest
	for _, r := range reqs {
		p := r.Path
		if i := len(path); len(p) >= i && p[:i] == path && (len(p) == i || p[i] == '?') && r.Method == method {
			out = append(out, r)
		}
	}
	return out
}

func gaps(reqs []SimRequest) []time.Duration {
	var out []time.Duration
	for i := 1; i < len(reqs); i++ {
		out = append(out, reqs[i].At.Sub(reqs[i-1].At))
	}
	return out
}
