package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// pool is the set of viewers the tool holds open; it owns their read loops.
type pool struct {
	wg      sync.WaitGroup
	viewers []*viewer // connected ones, in connection order
	retries atomic.Int64
	failed  int
	lastErr error
}

// connect opens n viewers, at most concurrency dials at a time, each tried up to attempts times: a
// viewer whose CONNECT reply does not arrive (errNoConnectAck) or whose dial fails is dialled again.
func (p *pool) connect(ctx context.Context, d dialer, n, concurrency, attempts int, log *slog.Logger) {
	var (
		mu   sync.Mutex
		got  = make([]*viewer, n)
		errs = make([]error, n)
		sem  = make(chan struct{}, concurrency)
		wg   sync.WaitGroup
	)
	progress := time.NewTicker(5 * time.Second)
	defer progress.Stop()
	var done atomic.Int64
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			errs[i] = ctx.Err()
			continue
		}
		select {
		case <-progress.C:
			log.Info("connecting viewers", "done", done.Load(), "of", n, "retries", p.retries.Load())
		default:
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done(); done.Add(1) }()
			v, err := p.dialRetry(ctx, d, fmt.Sprintf("load-%d", i), attempts)
			mu.Lock()
			got[i], errs[i] = v, err
			mu.Unlock()
		}()
	}
	wg.Wait()
	for i, v := range got {
		if v == nil {
			p.failed++
			p.lastErr = errs[i]
			continue
		}
		p.viewers = append(p.viewers, v)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			v.read()
		}()
	}
}

func (p *pool) dialRetry(ctx context.Context, d dialer, name string, attempts int) (*viewer, error) {
	var err error
	for a := range attempts {
		if a > 0 {
			p.retries.Add(1)
			if !errors.Is(err, errNoConnectAck) { // a refused dial: give the hub a moment
				select {
				case <-ctx.Done():
					return nil, ctx.Err()
				case <-time.After(time.Duration(a) * 200 * time.Millisecond):
				}
			}
		}
		var v *viewer
		if v, err = d.dial(ctx, name); err == nil {
			return v, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	return nil, err
}

// close closes every connection and waits for the read loops to end.
func (p *pool) close() {
	for _, v := range p.viewers {
		v.conn.Close()
	}
	p.wg.Wait()
}

// dropped counts connected viewers whose connection ended before close, and returns one reason.
func (p *pool) dropped() (int, error) {
	n := 0
	var last error
	for _, v := range p.viewers {
		v.mu.Lock()
		if v.err != nil {
			n++
			last = v.err
		}
		v.mu.Unlock()
	}
	return n, last
}
