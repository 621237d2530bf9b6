package web

import (
	"context"
	"errors"
	"math"
	"net/http"
	"time"
)

const (
	// checkTimeout bounds each dependency check of /readyz.
	checkTimeout = 2 * time.Second
	// checkGrace is how much longer /readyz waits for a check than its deadline, so that a check which
	// heeds its context reports its own error; one that does not is reported as not answering.
	checkGrace = 250 * time.Millisecond
	// maxCheckError bounds the error text of a check.
	maxCheckError = 300
)

// readyMsg is the /readyz answer.
type readyMsg struct {
	Ready  bool                   `json:"ready"`
	Checks map[string]checkResult `json:"checks"`
}

// checkResult is one dependency's part of /readyz.
type checkResult struct {
	OK    bool    `json:"ok"`
	Ms    float64 `json:"ms"`              // how long the check took, in milliseconds
	Error string  `json:"error,omitempty"` // why it failed, without credentials
}

// readyz answers whether the hub can serve: 200 when every dependency answered well, 503 otherwise or
// while it shuts down, with each dependency's result.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	msg := readyMsg{Ready: true, Checks: runChecks(r.Context(), s.cfg.Checks, checkTimeout)}
	if s.closing.Load() {
		msg.Checks["hub"] = checkResult{Error: "shutting down"}
	}
	for name, c := range msg.Checks {
		if !c.OK {
			msg.Ready = false
			s.requestLog(r).Debug("not ready", "check", name, "err", c.Error)
		}
	}
	status := http.StatusOK
	if !msg.Ready {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, msg)
}

// runChecks runs every check at once, each with its own timeout, and returns their results by name. It
// returns within timeout+checkGrace even if a check ignores its context; that check's goroutine ends
// when the check does.
func runChecks(ctx context.Context, checks []Check, timeout time.Duration) map[string]checkResult {
	type done struct {
		name string
		res  checkResult
	}
	results := make(chan done, len(checks)) // buffered: a late check never blocks
	out := make(map[string]checkResult, len(checks))
	start := time.Now()
	for _, c := range checks {
		out[c.Name] = checkResult{Error: "no answer within " + timeout.String()}
		go func() {
			cctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			err := errors.New("no check function")
			if c.Check != nil {
				err = c.Check(cctx)
			}
			res := checkResult{OK: err == nil, Ms: millis(time.Since(start))}
			if err != nil {
				res.Error = truncate(redactSecrets(err.Error()), maxCheckError)
				if cctx.Err() != nil {
					res.Error = "no answer within " + timeout.String() + ": " + res.Error
				}
			}
			results <- done{c.Name, res}
		}()
	}
	wait := time.NewTimer(timeout + checkGrace)
	defer wait.Stop()
	answered := make(map[string]bool, len(checks))
	for range checks {
		select {
		case d := <-results:
			out[d.name], answered[d.name] = d.res, true
		case <-wait.C:
			for name, res := range out {
				if !answered[name] {
					res.Ms = millis(time.Since(start))
					out[name] = res
				}
			}
			return out
		}
	}
	return out
}

// millis is d in milliseconds, to a tenth.
func millis(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Millisecond)*10) / 10
}
