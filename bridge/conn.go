package bridge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxReplyBytes bounds every response body read from a device. The largest expected reply, WLED's
// /json/eff, is under 4 KB; ESPEasy's /json grows with its sensors.
const maxReplyBytes = 64 << 10

// maxRetryAfter caps a device's Retry-After so a bogus header cannot park a device for hours.
const maxRetryAfter = time.Minute

// BusyError is a device's "busy, try later" answer (WLED's 503). RetryAfter is the delay the device
// asked for in its Retry-After header, or 0 when it sent none; the scheduler waits at least that long.
type BusyError struct {
	RetryAfter time.Duration
}

// Error implements error.
func (e *BusyError) Error() string {
	if e.RetryAfter > 0 {
		return fmt.Sprintf("device busy, retry after %s", e.RetryAfter)
	}
	return "device busy"
}

// rejectedError is a device's refusal of a request it understood to be wrong (WLED 400/413, ESPEasy's
// "Command unknown"). The device is up; sending the same request again would not help.
type rejectedError struct{ msg string }

func (e *rejectedError) Error() string { return e.msg }

func rejected(format string, args ...any) error {
	return &rejectedError{msg: fmt.Sprintf(format, args...)}
}

// unreachableError is a request that got no answer from the device: it could not be sent, or no reply
// (or only part of one) came back in time.
type unreachableError struct{ msg string }

func (e *unreachableError) Error() string { return e.msg }

// answered reports whether err came with an answer of the device (one it refused, could not be read as
// expected, or was too large): the device is up, though the request failed. Busy answers are not counted:
// the scheduler handles them on their own.
func answered(err error) bool {
	var u *unreachableError
	var b *BusyError
	return err != nil && !errors.As(err, &u) && !errors.As(err, &b)
}

// reply is a device's answer, its body bounded by maxReplyBytes.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// conn sends requests to one device, spaced at least interval apart (start to start), each within timeout.
// It is used by one goroutine only, the device's worker, so it sends at most one request at a time.
type conn struct {
	base     string // URL without trailing slash
	client   *http.Client
	interval time.Duration
	timeout  time.Duration
	close    bool // send Connection: close (ESPEasy)
	next     time.Time
}

// do waits for the device's rate limit, then sends one request and reads its bounded reply.
func (c *conn) do(ctx context.Context, method, path string, body []byte) (reply, error) {
	if err := c.wait(ctx); err != nil {
		return reply{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return reply{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.close {
		req.Close = true // sets Connection: close
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return reply{}, &unreachableError{fmt.Sprintf("%s %s: %s", method, path, describeNetError(ctx, err, c.timeout))}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes+1))
	if err != nil {
		return reply{}, &unreachableError{fmt.Sprintf("%s %s: read reply: %s", method, path, describeNetError(ctx, err, c.timeout))}
	}
	if len(b) > maxReplyBytes {
		return reply{}, fmt.Errorf("%s %s: reply larger than %d bytes", method, path, maxReplyBytes)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// wait blocks until the next request may start and books the slot after it.
func (c *conn) wait(ctx context.Context) error {
	now := time.Now()
	if d := c.next.Sub(now); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		now = time.Now()
	}
	c.next = now.Add(c.interval)
	return nil
}

// describeNetError turns a client error into a short message for logs and zone:status.
func describeNetError(ctx context.Context, err error, timeout time.Duration) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("no reply within %s", timeout)
	}
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 && strings.Contains(s, "connect:") {
		return s[i+2:] // "connection refused", "no route to host"
	}
	return s
}

// retryAfter parses a Retry-After header: delay-seconds or an HTTP date (RFC 9110 §10.2.3).
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0
		}
		d = time.Duration(min(n, int(maxRetryAfter/time.Second))) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return max(0, min(d, maxRetryAfter))
}
