package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/stagelink/stagelink/printer"
	"github.com/stagelink/stagelink/printer/printertest"
)

// The end-to-end tests run the real printer binary, built once, against a fake TM-T88IV on the far end
// of a socat pty pair, kill it with SIGKILL in the middle of receipts and, on RabbitMQ, cut its broker
// connection, and check what came out on paper.

var bin struct {
	once      sync.Once
	dir, path string
	err       string
}

// printerBinary returns the path of the printer agent built for this test run (without -race: the
// agent only has to be fast; the test process runs with -race).
func printerBinary(t *testing.T) string {
	t.Helper()
	bin.once.Do(func() {
		dir, err := os.MkdirTemp("", "stagelink-printer-e2e-")
		if err != nil {
			bin.err = err.Error()
			return
		}
		bin.dir, bin.path = dir, filepath.Join(dir, "printer")
		out, err := exec.Command("go", "build", "-o", bin.path, "github.com/stagelink/stagelink/cmd/printer").CombinedOutput()
		if err != nil {
			bin.err = fmt.Sprintf("go build printer: %v\n%s", err, out)
		}
	})
	if bin.err != "" {
		t.Fatal(bin.err)
	}
	return bin.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bin.dir != "" {
		os.RemoveAll(bin.dir)
	}
	os.Exit(code)
}

const (
	e2eJobs       = 1000
	e2eWaitAll    = 2 * time.Minute  // bound on the whole run: fail rather than hang
	e2eWaitStep   = 20 * time.Second // bound on reaching the next kill or cut
	e2eMarkerText = "e2e job "
)

// e2eJob is job i: a web message whose text starts with its marker, of varying length so that receipts
// take one to three link chunks.
func e2eJob(i int) printer.Job {
	return printer.Job{
		ID:        fmt.Sprintf("e2e:%04d", i),
		Source:    printer.SourceWeb,
		Author:    "e2e",
		Text:      fmt.Sprintf("%s%04d ", e2eMarkerText, i) + strings.Repeat("zażółć gęślą jaźń ", i%80),
		CreatedAt: time.Unix(1700000000, 0),
	}
}

// e2eAction is what the test does to the agent once that many receipts are cut on the wire.
type e2eAction struct {
	after int
	kill  bool // SIGKILL the agent; otherwise cut its broker connection
}

// e2eQueue is one of the two queues under test.
type e2eQueue struct {
	// args are the agent's queue flags.
	args []string
	// publish queues the jobs before the agent starts.
	publish func(t *testing.T, jobs []printer.Job)
	// cut drops the agent's broker connection; nil when there is none.
	cut func() int
	// settled waits, while the agent runs, until it has acknowledged everything it printed.
	settled func(t *testing.T, deadline time.Time)
	// checkEmpty asserts, with the agent stopped, that nothing is left queued or dead.
	checkEmpty func(t *testing.T)
}

// TestE2EDiskQueueKill9 prints 1,000 jobs from the embedded disk queue through kill -9 of the agent in the
// middle of receipts.
func TestE2EDiskQueueKill9(t *testing.T) {
	printertest.NeedSocat(t)
	data := t.TempDir()
	queueDir := filepath.Join(data, "queue")
	listQueue := func(sub string) []string {
		ents, _ := os.ReadDir(filepath.Join(queueDir, sub))
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		return names
	}
	q := e2eQueue{
		args: []string{"-data", data},
		publish: func(t *testing.T, jobs []printer.Job) {
			publish(t, data, jobs...)
		},
		settled: func(t *testing.T, deadline time.Time) {
			for len(listQueue("pending"))+len(listQueue("inflight")) > 0 {
				if time.Now().After(deadline) {
					t.Fatalf("queue not settled: pending %v, inflight %v", listQueue("pending"), listQueue("inflight"))
				}
				time.Sleep(20 * time.Millisecond)
			}
		},
		checkEmpty: func(t *testing.T) {
			for _, sub := range []string{"pending", "inflight", "dead", "tmp"} {
				if got := listQueue(sub); len(got) != 0 {
					t.Errorf("queue %s/ holds %v, want it empty", sub, got)
				}
			}
			dq, err := printer.OpenDiskQueue(printer.DiskQueueConfig{Dir: queueDir}, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			defer dq.Close()
			if dead, err := dq.DeadLetters(t.Context(), 10); err != nil || len(dead) != 0 {
				t.Errorf("DeadLetters: got %v, %v, want none", dead, err)
			}
		},
	}
	testE2E(t, q, data, []e2eAction{{after: 150, kill: true}, {after: 450, kill: true}, {after: 800, kill: true}})
}

// TestE2ERabbitMQKill9AndCuts prints 1,000 jobs from RabbitMQ through kill -9 of the agent in the middle of
// receipts and through cuts of its broker connection (by a proxy; the shared broker keeps running).
func TestE2ERabbitMQKill9AndCuts(t *testing.T) {
	brokerURL := printertest.AMQPURL(t)
	printertest.NeedSocat(t)
	prefix := printertest.RabbitPrefix(t, brokerURL)
	u, err := url.Parse(brokerURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := printertest.NewProxy(t, u.Host)
	u.Host = proxy.Addr()

	// The test's own queue talks to the broker directly: it publishes, and hears the agent's events.
	tq, err := printer.NewRabbitQueue(printer.RabbitQueueConfig{URL: brokerURL, Prefix: prefix}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	runDone := make(chan error, 1)
	go func() { runDone <- tq.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-runDone; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	events, err := tq.Events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var evMu sync.Mutex
	printedEvents := map[string]int{}
	evDone := make(chan struct{})
	go func() {
		defer close(evDone)
		for ev := range events {
			switch ev.Kind {
			case printer.EventPrinted:
				evMu.Lock()
				printedEvents[ev.JobID]++
				evMu.Unlock()
			case printer.EventPrinting, printer.EventRetrying, printer.EventStatus:
			default:
				t.Errorf("event %+v, want only printing, retrying, printed and status reports", ev)
			}
		}
	}()
	defer func() { cancel(); <-evDone }()

	data := t.TempDir()
	q := e2eQueue{
		args: []string{"-data", data, "-amqp", u.String(), "-amqp-prefix", prefix},
		publish: func(t *testing.T, jobs []printer.Job) {
			for _, j := range jobs {
				if err := tq.Publish(ctx, j); err != nil {
					t.Fatalf("Publish %s: %v", j.ID, err)
				}
			}
		},
		cut: proxy.Cut,
		settled: func(t *testing.T, deadline time.Time) {
			// The agent acknowledges a job before it publishes the job's printed event.
			for {
				evMu.Lock()
				var missing []int
				for i := range e2eJobs {
					if printedEvents[e2eJob(i).ID] == 0 {
						missing = append(missing, i)
					}
				}
				evMu.Unlock()
				if len(missing) == 0 {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("no printed event for jobs %s", e2eRanges(missing))
				}
				time.Sleep(20 * time.Millisecond)
			}
		},
		checkEmpty: func(t *testing.T) {
			conn, err := amqp.Dial(brokerURL)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			ch, err := conn.Channel()
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{prefix + ".jobs", prefix + ".dead"} {
				st, err := ch.QueueDeclarePassive(name, true, false, false, false, amqp.Table{"x-queue-type": "quorum"})
				if err != nil {
					t.Fatalf("passive declare %s: %v", name, err)
				}
				if st.Messages != 0 {
					t.Errorf("queue %s holds %d messages, want 0", name, st.Messages)
				}
			}
		},
	}
	testE2E(t, q, data, []e2eAction{
		{after: 120, kill: true}, {after: 250}, {after: 400, kill: true},
		{after: 550}, {after: 700, kill: true}, {after: 850},
	})
}

// testE2E publishes e2eJobs jobs, runs the agent on a pty to a fake printer, applies the actions (each at
// the start of a receipt on the wire), restarts the agent after every kill, and checks the paper.
func testE2E(t *testing.T, q e2eQueue, data string, actions []e2eAction) {
	start := time.Now()
	jobs := make([]printer.Job, e2eJobs)
	for i := range jobs {
		jobs[i] = e2eJob(i)
	}
	q.publish(t, jobs)
	t.Logf("published %d jobs in %v", len(jobs), time.Since(start).Round(time.Millisecond))

	hostTTY, printerTTY := printertest.SocatPair(t)
	far, err := printer.OpenSerial(printerTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	tap := &e2eWireTap{ReadWriteCloser: far}
	// A pty has no baud rate: the fake imposes one, fast enough for 1,000 receipts in seconds, with the
	// real 4 KB receive buffer so that bad pacing shows as dropped bytes.
	fake := printer.NewFakePrinter(tap, printer.FakePrinterConfig{LineRate: 400_000, PrintRate: 200_000},
		slog.New(slog.DiscardHandler))
	fakeCtx, stopFake := context.WithCancel(context.Background())
	fakeDone := make(chan error, 1)
	go func() { fakeDone <- fake.Run(fakeCtx) }()
	defer func() { stopFake(); <-fakeDone }()

	args := append([]string{"-serial", hostTTY, "-log-level", "warn"}, q.args...)
	agent := startAgent(t, args)
	deadline := start.Add(e2eWaitAll)

	var killedAt []int64 // the wire's receipt number (1-based) being received at each kill
	kills, cuts := 0, 0
	for _, a := range actions {
		stepEnd := time.Now().Add(e2eWaitStep)
		for tap.cuts.Load() < int64(a.after) {
			if time.Now().After(stepEnd) {
				t.Fatalf("only %d receipts cut on the wire after %v, waiting for %d", tap.cuts.Load(), e2eWaitStep, a.after)
			}
			time.Sleep(5 * time.Millisecond)
		}
		fired := make(chan int64, 1)
		p := agent
		act := func(n int64) {
			if a.kill {
				p.cmd.Process.Signal(syscall.SIGKILL)
			} else {
				q.cut()
			}
			fired <- n
		}
		tap.onStart.Store(&act)
		var n int64
		select {
		case n = <-fired:
		case <-time.After(e2eWaitStep):
			t.Fatalf("no receipt started within %v after %d receipts", e2eWaitStep, a.after)
		}
		if a.kill {
			<-p.done
			kills++
			killedAt = append(killedAt, n)
			t.Logf("kill -9 while receipt %d started on the wire (%d cut so far)", n, tap.cuts.Load())
			agent = startAgent(t, args)
		} else {
			cuts++
			t.Logf("cut the broker connection while receipt %d started on the wire", n)
		}
	}

	// Wait until every job is on paper.
	var rs e2eReceipts
	for {
		if tap.cuts.Load() >= e2eJobs {
			rs = e2eSplit(fake.Printed())
			if len(rs.missing()) == 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			rs = e2eSplit(fake.Printed())
			t.Fatalf("after %v, %d complete receipts; jobs never printed: %s", e2eWaitAll, len(rs.complete), e2eRanges(rs.missing()))
		}
		time.Sleep(50 * time.Millisecond)
	}
	q.settled(t, deadline)
	agent.stop(t)
	elapsed := time.Since(start)

	// Each kill hit a receipt whose bytes the agent had written, in part or (usually: a receipt fits the
	// link's window, so it is written at once) in full; what was written still reaches the printer. A
	// receipt cut short is a fragment; one that was whole prints a second time after the restart, since
	// the agent died before recording it: the "at most twice" of a crash.
	mayRepeat := map[int]bool{}
	for _, n := range killedAt {
		if n > int64(len(rs.all)) {
			t.Errorf("receipt %d was on the wire at a kill, but only %d reached paper", n, len(rs.all))
			continue
		}
		r := rs.all[n-1]
		desc := "whole, so printed again after the restart"
		if !r.cut {
			desc = "cut short (a fragment)"
		}
		t.Logf("receipt %d at the kill: job %d, %d bytes, %s", n, r.job, len(r.data), desc)
		if r.job >= 0 {
			mayRepeat[r.job] = true
		}
	}
	for _, r := range rs.fragments {
		t.Logf("fragment of %d bytes (job %d) discarded", len(r.data), r.job)
	}
	if rs.stray != 0 {
		t.Errorf("%d bytes on paper outside any receipt, want none", rs.stray)
	}
	if len(rs.fragments) > kills {
		t.Errorf("%d fragments, want at most one per kill (%d)", len(rs.fragments), kills)
	}

	counts := map[int]int{}
	reprintOf := map[int]bool{} // whether the job's last complete copy is marked as a reprint
	var order []int             // first complete print of each job, in paper order
	for _, r := range rs.complete {
		if r.job < 0 {
			t.Errorf("complete receipt without a job marker: %q", printer.DecodePC852(r.data))
			continue
		}
		if counts[r.job] == 0 && !mayRepeat[r.job] {
			order = append(order, r.job)
		}
		counts[r.job]++
		// The copy printed after a kill says it is a reprint; no other receipt does.
		marked := bytes.Contains(r.data, printer.EncodePC852(printer.ReprintMark))
		reprintOf[r.job] = marked
		if marked && !mayRepeat[r.job] {
			t.Errorf("job %d is marked as a reprint, but no kill interrupted it", r.job)
		}
	}
	for job := range mayRepeat {
		if !reprintOf[job] {
			t.Errorf("job %d was on the wire at a kill, but its copy printed after the restart is not marked as a reprint", job)
		}
	}
	repeated := 0
	for i := range e2eJobs {
		switch c := counts[i]; {
		case c == 0:
			// reported below
		case c == 2 && mayRepeat[i]:
			repeated++
		case c != 1:
			t.Errorf("job %d printed %d times, want once", i, c)
		}
	}
	if missing := rs.missing(); len(missing) > 0 {
		t.Errorf("jobs never printed: %s", e2eRanges(missing))
	}
	for i := 1; i < len(order); i++ {
		if order[i] < order[i-1] {
			t.Errorf("job %d printed after job %d: want queue order apart from jobs retried after a kill", order[i], order[i-1])
		}
	}
	if st := fake.Stats(); st.Dropped != 0 {
		t.Errorf("the printer dropped %d bytes, want 0", st.Dropped)
	} else {
		t.Logf("printer received %d bytes, buffer at most %d of 4096", st.Received, st.MaxFill)
	}
	q.checkEmpty(t)
	t.Logf("%d jobs in %v: %d kills, %d broker cuts, %d fragments, %d jobs printed twice by a kill",
		e2eJobs, elapsed.Round(time.Millisecond), kills, cuts, len(rs.fragments), repeated)
}

// e2eWireTap sits between the serial port and the fake printer and watches the bytes on the wire: it
// counts receipts started (ESC @) and cut (GS V), and runs a one-shot action when the next receipt starts,
// from the fake's reader, so that the action lands while the printer is receiving that receipt.
type e2eWireTap struct {
	io.ReadWriteCloser
	starts, cuts atomic.Int64
	onStart      atomic.Pointer[func(receipt int64)]
	last         byte // only the fake's reader touches it
}

func (w *e2eWireTap) Read(p []byte) (int, error) {
	n, err := w.ReadWriteCloser.Read(p)
	for _, b := range p[:n] {
		switch {
		case w.last == 0x1B && b == '@':
			s := w.starts.Add(1)
			if f := w.onStart.Swap(nil); f != nil {
				(*f)(s)
			}
		case w.last == 0x1D && b == 'V':
			w.cuts.Add(1)
		}
		w.last = b
	}
	return n, err
}

// e2eReceipt is one receipt on paper: from ESC @ up to the next ESC @.
type e2eReceipt struct {
	data []byte
	job  int  // from the marker; -1 when there is none
	cut  bool // ends with GS V: complete
}

type e2eReceipts struct {
	all, complete, fragments []e2eReceipt
	stray                    int // bytes before the first ESC @
}

var e2eMarker = regexp.MustCompile(e2eMarkerText + `(\d{4})`)

// e2eSplit splits what the fake printed into receipts.
func e2eSplit(paper []byte) e2eReceipts {
	var rs e2eReceipts
	init, cut := []byte{0x1B, '@'}, []byte{0x1D, 'V'}
	first := bytes.Index(paper, init)
	if first < 0 {
		rs.stray = len(paper)
		return rs
	}
	rs.stray = first
	rest := paper[first:]
	for len(rest) > 0 {
		end := bytes.Index(rest[len(init):], init)
		if end < 0 {
			end = len(rest)
		} else {
			end += len(init)
		}
		r := e2eReceipt{data: rest[:end], job: -1}
		if i := bytes.LastIndex(r.data, cut); i >= 0 && i+4 == len(r.data) {
			r.cut = true
		}
		if m := e2eMarker.FindStringSubmatch(printer.DecodePC852(r.data)); m != nil {
			r.job, _ = strconv.Atoi(m[1])
		}
		rs.all = append(rs.all, r)
		if r.cut {
			rs.complete = append(rs.complete, r)
		} else {
			rs.fragments = append(rs.fragments, r)
		}
		rest = rest[end:]
	}
	return rs
}

// missing lists the jobs without a complete receipt.
func (rs e2eReceipts) missing() []int {
	seen := make([]bool, e2eJobs)
	for _, r := range rs.complete {
		if r.job >= 0 && r.job < e2eJobs {
			seen[r.job] = true
		}
	}
	var out []int
	for i, ok := range seen {
		if !ok {
			out = append(out, i)
		}
	}
	return out
}

// e2eRanges writes job numbers as ranges: "3, 7-9".
func e2eRanges(ns []int) string {
	var parts []string
	for i := 0; i < len(ns); {
		j := i
		for j+1 < len(ns) && ns[j+1] == ns[j]+1 {
			j++
		}
		if i == j {
			parts = append(parts, strconv.Itoa(ns[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", ns[i], ns[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}

// agentProcess is a running printer binary whose log goes to the test log.
type agentProcess struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func startAgent(t *testing.T, args []string) *agentProcess {
	t.Helper()
	cmd := exec.Command(printerBinary(t), args...)
	cmd.Env = []string{} // no STAGELINK_PRINTER_* from the environment
	cmd.Stdout = e2eLogWriter{t}
	cmd.Stderr = e2eLogWriter{t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &agentProcess{cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
	})
	return p
}

// stop sends SIGINT and waits for a clean exit.
func (p *agentProcess) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
		if code := p.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("printer exited with %d after SIGINT, want 0", code)
		}
	case <-time.After(15 * time.Second):
		t.Errorf("printer did not stop within 15 s of SIGINT")
	}
}

type e2eLogWriter struct{ t *testing.T }

func (w e2eLogWriter) Write(b []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		w.t.Logf("printer: %s", line)
	}
	return len(b), nil
}

// TestE2ESplit checks the decoding of the paper: a receipt cut short by a kill has no cut and is followed
// by the next ESC @; it is a fragment, not a print.
func TestE2ESplit(t *testing.T) {
	render := func(i int) []byte {
		b, err := printer.Render(e2eJob(i), printer.LayoutConfig{})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var paper []byte
	paper = append(paper, render(7)...)
	paper = append(paper, render(8)[:150]...) // the kill
	paper = append(paper, render(8)...)
	paper = append(paper, render(9)...)
	rs := e2eSplit(paper)
	var got []string
	for _, r := range rs.all {
		got = append(got, fmt.Sprintf("%d/%v", r.job, r.cut))
	}
	if want := "7/true 8/false 8/true 9/true"; strings.Join(got, " ") != want {
		t.Errorf("receipts (job/cut): got %q, want %q", strings.Join(got, " "), want)
	}
	if len(rs.complete) != 3 || len(rs.fragments) != 1 || rs.stray != 0 {
		t.Errorf("got %d complete, %d fragments, %d stray bytes, want 3, 1, 0", len(rs.complete), len(rs.fragments), rs.stray)
	}
	if got := e2eRanges([]int{1, 3, 4, 5, 9}); got != "1, 3-5, 9" {
		t.Errorf("e2eRanges: got %q, want %q", got, "1, 3-5, 9")
	}
}
