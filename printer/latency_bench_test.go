package printer

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stagelink/stagelink/printer/printertest"
)

// BenchmarkLatency measures, with the printer idle, the time from Publish to the first byte of the job's
// receipt arriving at the printer: one job at a time, each printed and acknowledged before the next. The
// agent prints through a Link over a socat pty pair (an in-process pipe when socat is missing; the log
// says which) to a FakePrinter with the TM-T88IV's defaults (38400 baud, 4 KB buffer). It reports the
// median and the 99th percentile in milliseconds.
//
//	STAGELINK_TEST_AMQP=amqp://guest:guest@127.0.0.1:5672/ go test -run '^$' -bench Latency -benchtime 50x -count 3 ./printer
func BenchmarkLatency(b *testing.B) {
	b.Run("disk", func(b *testing.B) {
		q, err := OpenDiskQueue(DiskQueueConfig{Dir: b.TempDir()}, queueTestLogger(b))
		if err != nil {
			b.Fatal(err)
		}
		defer q.Close()
		benchmarkLatency(b, q)
	})
	b.Run("rabbitmq", func(b *testing.B) {
		brokerURL := queueTestAMQPURL(b)
		q, _ := queueTestRabbitOpen(b, RabbitQueueConfig{URL: brokerURL, Prefix: queueTestRabbitPrefix(b, brokerURL)})
		benchmarkLatency(b, q)
	})
}

func benchmarkLatency(b *testing.B, q Queue) {
	log := serialTestLogger(b)
	var host, far io.ReadWriteCloser
	if _, err := exec.LookPath("socat"); err == nil {
		hostTTY, printerTTY := printertest.SocatPair(b)
		h, err := OpenSerial(hostTTY, 0)
		if err != nil {
			b.Fatal(err)
		}
		f, err := OpenSerial(printerTTY, 0)
		if err != nil {
			h.Close()
			b.Fatal(err)
		}
		host, far = h, f
	} else {
		b.Log("socat missing: the link runs over an in-process pipe, not a pty")
		host, far = serialTestPipe()
	}
	tap := &latencyTap{ReadWriteCloser: far, starts: make(chan time.Time, 16)}
	fake := NewFakePrinter(tap, FakePrinterConfig{}, log)
	link, err := NewLink(host, LinkConfig{}, log, nil)
	if err != nil {
		b.Fatal(err)
	}
	printed, err := OpenPrintedLog(filepath.Join(b.TempDir(), "printed.log"), 0)
	if err != nil {
		b.Fatal(err)
	}
	defer printed.Close()
	agent := NewAgent(q, link, printed, LayoutConfig{}, log)

	ctx, cancel := context.WithCancel(b.Context())
	events, err := q.Events(ctx)
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{}, 3)
	for _, run := range []func(context.Context) error{fake.Run, link.Run, agent.Run} {
		go func() { run(ctx); done <- struct{}{} }()
	}
	defer func() {
		cancel()
		for range 3 {
			<-done
		}
	}()

	// printOne publishes a job and returns how long its receipt took to start arriving at the printer,
	// after waiting for the agent to report it printed.
	printOne := func(id string) time.Duration {
		start := time.Now()
		if err := q.Publish(ctx, queueTestJob(id)); err != nil {
			b.Fatalf("Publish %s: %v", id, err)
		}
		timeout := time.After(30 * time.Second)
		var first time.Time
		select {
		case first = <-tap.starts:
		case <-timeout:
			b.Fatalf("job %s: no receipt on the wire within 30 s", id)
		}
		for {
			select {
			case ev := <-events:
				if ev.JobID != id || ev.Kind == EventPrinting {
					continue
				}
				if ev.Kind != EventPrinted {
					b.Fatalf("job %s: got event %s (%s), want printed", id, ev.Kind, ev.Reason)
				}
				return first.Sub(start)
			case <-timeout:
				b.Fatalf("job %s: no printed event within 30 s", id)
			}
		}
	}
	printOne("latency-warmup") // the link learns the printer's status first

	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		lat = append(lat, printOne(fmt.Sprintf("latency-%d", i)))
	}
	b.StopTimer()
	if st := fake.Stats(); st.Dropped != 0 {
		b.Errorf("the printer dropped %d bytes", st.Dropped)
	}
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(lat[(len(lat)-1)/2]), "ms-p50")
	b.ReportMetric(ms(lat[(len(lat)*99+99)/100-1]), "ms-p99")
}

// latencyTap passes the printer's side of the line through and reports when each receipt (ESC @) starts
// arriving.
type latencyTap struct {
	io.ReadWriteCloser
	starts chan time.Time
	last   byte // only the fake's reader touches it
}

func (w *latencyTap) Read(p []byte) (int, error) {
	n, err := w.ReadWriteCloser.Read(p)
	now := time.Now()
	for _, c := range p[:n] {
		if w.last == 0x1B && c == '@' {
			select {
			case w.starts <- now:
			default: // nobody waiting for it: not a receipt this benchmark published
			}
		}
		w.last = c
	}
	return n, err
}
