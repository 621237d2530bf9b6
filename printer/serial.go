package printer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"go.bug.st/serial"
)

// ESC/POS commands the link sends on its own.
var (
	// serialCmdASB enables Automatic Status Back for online/offline (bit 1), errors (bit 2) and roll paper
	// sensors (bit 3): `GS a 14`.
	serialCmdASB = []byte{0x1D, 'a', 0x0E}
	// serialCmdMarker is `GS r 1`: executed only when the printer processes it out of its receive buffer,
	// so its reply confirms that everything sent before it has left the buffer.
	serialCmdMarker = []byte{0x1D, 'r', 1}
)

// serialPollQueries are the `DLE EOT n` requests of one status poll: printer, offline cause, roll paper.
var serialPollQueries = []byte{1, 2, 4}

// ErrDeviceGone is returned (wrapped) when the serial device stops working: unplugged, removed, closed.
// Open a new Link to retry.
var ErrDeviceGone = errors.New("printer: serial device gone")

// LinkConfig tunes the paced serial link. Zero fields take the defaults.
type LinkConfig struct {
	// Window is the most bytes sent but not yet confirmed drained by a `GS r 1` reply (default 3072). It must
	// stay below the printer's 4096-byte receive buffer; the difference is a margin for real-time requests.
	Window int
	// Chunk is the largest single write (default 512); each is followed by a `GS r 1` marker.
	Chunk int
	// PollInterval is how often the printer's status is polled with `DLE EOT` (default 1s).
	PollInterval time.Duration
	// ReplyTimeout is how long a `DLE EOT` reply may take before the printer counts as not answering
	// (default 1s).
	ReplyTimeout time.Duration
}

func (c LinkConfig) withDefaults() LinkConfig {
	if c.Window == 0 {
		c.Window = 3072
	}
	if c.Chunk == 0 {
		c.Chunk = 512
	}
	if c.PollInterval == 0 {
		c.PollInterval = time.Second
	}
	if c.ReplyTimeout == 0 {
		c.ReplyTimeout = time.Second
	}
	return c
}

// serialMinWindow is the smallest window that holds the largest command the encoder emits, an image band
// (8 + rasterBandBytes) or a QR code's data (5 + 3 + MaxQRData), with its marker.
const serialMinWindow = 8 + rasterBandBytes + 3

// Validate says what is wrong with c, after defaults.
func (c LinkConfig) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Window < serialMinWindow || c.Window > 4000:
		return fmt.Errorf("printer: link window %d out of range: use %d–4000 bytes (the TM-T88IV buffer is 4096)", c.Window, serialMinWindow)
	case c.Chunk < 1 || c.Chunk+len(serialCmdMarker) > c.Window:
		return fmt.Errorf("printer: link chunk %d must be at least 1 and fit the window %d with its marker", c.Chunk, c.Window)
	case c.PollInterval < 0 || c.ReplyTimeout < 0:
		return errors.New("printer: link poll interval and reply timeout must not be negative")
	}
	return nil
}

// DefaultBaud is the TM-T88IV's factory serial speed.
const DefaultBaud = 38400

// OpenSerial opens device at baud (DefaultBaud when 0), 8N1, no hardware or software flow control (the
// Link paces itself).
func OpenSerial(device string, baud int) (serial.Port, error) {
	if baud == 0 {
		baud = DefaultBaud
	}
	p, err := serial.Open(device, &serial.Mode{BaudRate: baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
	if err != nil {
		return nil, fmt.Errorf("printer: open serial %s: %w", device, err)
	}
	return p, nil
}

// ModemLines is access to a serial port's modem lines. serial.Port has it; a pty fails these calls with
// "inappropriate ioctl for device", which a Link tolerates.
type ModemLines interface {
	SetDTR(bool) error
	SetRTS(bool) error
	GetModemStatusBits() (*serial.ModemStatusBits, error)
}

var _ ModemLines = serial.Port(nil)

// Link is a paced, status-aware connection to a TM-T88IV on a serial port.
//
// Pacing: every chunk (at most Chunk bytes) is followed by `GS r 1`, whose reply the printer sends only
// after it has taken everything before it out of its receive buffer. The link never has more than Window
// bytes unconfirmed, so however slowly the printer prints, its 4 KB buffer cannot overflow. `DLE EOT`
// replies are not used for pacing: they are answered on reception and confirm only the line. The link
// also stops writing at XOFF until XON, and while the printer reports paper end, cover open, offline or an
// error (from ASB reports, enabled at start, and `DLE EOT` polls).
//
// Run must be running for Print to make progress.
type Link struct {
	cfg      LinkConfig
	log      *slog.Logger
	port     io.ReadWriteCloser
	onStatus func(Status)

	// printTok and writeTok are one-slot semaphores (channels, so waiting on them is ctx-aware and a
	// durable block under testing/synctest): one Print at a time; writes in the order of their offsets.
	printTok chan struct{}
	writeTok chan struct{}

	mu         sync.Mutex
	changed    chan struct{} // closed and replaced at every state change
	xoff       bool
	status     Status
	known      bool
	sent       int64   // bytes written so far
	confirmed  int64   // stream offset confirmed drained
	markers    []int64 // offsets just after each outstanding `GS r 1`
	rtPending  []byte  // n of each `DLE EOT n` awaiting its reply
	rtSince    time.Time
	pollsSent  uint64
	pollsDone  uint64
	lastPoll   time.Time
	err        error
	runStarted bool
	statusOut  []Status   // changes not yet reported
	notifyMu   sync.Mutex // keeps reports in order
}

// NewLink returns a link over port (usually from OpenSerial). onStatus, if not nil, is called from the
// link's reader with every status change; it must not block. The Link owns port and closes it when Run
// returns.
func NewLink(port io.ReadWriteCloser, cfg LinkConfig, logger *slog.Logger, onStatus func(Status)) (*Link, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Link{
		cfg:      cfg.withDefaults(),
		log:      logger.With("component", "printer-link"),
		port:     port,
		onStatus: onStatus,
		changed:  make(chan struct{}),
		printTok: make(chan struct{}, 1),
		writeTok: make(chan struct{}, 1),
	}, nil
}

// Status returns the last known printer status and whether any report has arrived yet.
func (l *Link) Status() (Status, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.status, l.known
}

// ModemStatus reads DSR and CTS when the port has modem lines. On a pty it returns an error.
func (l *Link) ModemStatus() (dsr, cts bool, err error) {
	m, ok := l.port.(ModemLines)
	if !ok {
		return false, false, errors.New("printer: port has no modem lines")
	}
	bits, err := m.GetModemStatusBits()
	if err != nil {
		return false, false, fmt.Errorf("printer: modem lines: %w", err)
	}
	return bits.DSR, bits.CTS, nil
}

// Run reads the printer's replies, enables ASB and polls status until ctx ends or the device fails. It
// closes the port before returning. The error wraps ErrDeviceGone when the device failed.
func (l *Link) Run(ctx context.Context) error {
	l.mu.Lock()
	if l.runStarted {
		l.mu.Unlock()
		return errors.New("printer: link Run called twice")
	}
	l.runStarted = true
	l.mu.Unlock()

	if m, ok := l.port.(ModemLines); ok {
		// Assert DTR and RTS so a printer set to DTR/DSR handshaking sees us ready. A pty refuses: fine.
		if err := errors.Join(m.SetDTR(true), m.SetRTS(true)); err != nil {
			l.log.Debug("modem lines unavailable", "err", err)
		}
	}

	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		l.serialReadLoop()
	}()

	err := l.serialRunLoop(ctx)
	_ = l.port.Close()
	<-readerDone
	l.mu.Lock()
	if l.err == nil {
		l.err = fmt.Errorf("printer: link stopped: %w", err)
	}
	l.serialNotifyLocked()
	l.mu.Unlock()
	return err
}

func (l *Link) serialRunLoop(ctx context.Context) error {
	if err := l.serialWriteRaw(serialCmdASB, false); err != nil {
		return err
	}
	if err := l.serialPoll(); err != nil {
		return err
	}
	tick := time.NewTicker(l.cfg.PollInterval / 4)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-l.serialChanged():
			if err := l.serialErr(); err != nil {
				return err
			}
		case now := <-tick.C:
			l.mu.Lock()
			if len(l.rtPending) > 0 && now.Sub(l.rtSince) > l.cfg.ReplyTimeout {
				l.log.Warn("printer does not answer status requests", "pending", len(l.rtPending))
				l.rtPending = nil
				l.pollsDone = l.pollsSent
				l.serialSetStatusLocked(Status{NoResponse: true})
			}
			due := len(l.rtPending) == 0 && now.Sub(l.lastPoll) >= l.cfg.PollInterval
			l.serialNotifyLocked()
			l.mu.Unlock()
			l.serialFlushStatus()
			if due {
				if err := l.serialPoll(); err != nil {
					return err
				}
			}
		}
	}
}

// serialPoll sends one round of `DLE EOT` requests. When the line is idle and not stopped by XOFF it adds a
// `GS r 1` marker, so that idle polls are themselves confirmed and never eat into the window.
func (l *Link) serialPoll() error {
	l.writeTok <- struct{}{}
	defer func() { <-l.writeTok }()
	l.mu.Lock()
	if len(l.rtPending) > 0 {
		l.mu.Unlock()
		return nil
	}
	msg := make([]byte, 0, 3*len(serialPollQueries)+len(serialCmdMarker))
	for _, n := range serialPollQueries {
		msg = append(msg, 0x10, 0x04, n)
	}
	marker := !l.xoff && l.sent-l.confirmed+int64(len(msg)+len(serialCmdMarker)) <= int64(l.cfg.Window)
	if marker {
		msg = append(msg, serialCmdMarker...)
	}
	l.rtPending = append(l.rtPending, serialPollQueries...)
	l.rtSince = time.Now()
	l.lastPoll = l.rtSince
	l.pollsSent++
	l.sent += int64(len(msg))
	if marker {
		l.markers = append(l.markers, l.sent)
	}
	l.mu.Unlock()
	return l.serialWrite(msg)
}

// serialWriteRaw writes b counted in the window, with a marker after it when marker is set.
func (l *Link) serialWriteRaw(b []byte, marker bool) error {
	l.writeTok <- struct{}{}
	defer func() { <-l.writeTok }()
	return l.serialWriteCounted(b, marker)
}

// serialWriteCounted is serialWriteRaw for a caller holding writeTok.
func (l *Link) serialWriteCounted(b []byte, marker bool) error {
	msg := b
	if marker {
		msg = append(append(make([]byte, 0, len(b)+3), b...), serialCmdMarker...)
	}
	l.mu.Lock()
	l.sent += int64(len(msg))
	if marker {
		l.markers = append(l.markers, l.sent)
	}
	l.mu.Unlock()
	return l.serialWrite(msg)
}

// serialWrite writes msg; the caller holds writeTok.
func (l *Link) serialWrite(msg []byte) error {
	for len(msg) > 0 {
		n, err := l.port.Write(msg)
		if err == nil && n == 0 {
			err = io.ErrShortWrite
		}
		if err != nil {
			err = fmt.Errorf("%w: write: %v", ErrDeviceGone, err)
			l.serialFail(err)
			return err
		}
		msg = msg[n:]
	}
	if d, ok := l.port.(serialDrainer); ok {
		// Wait until the OS has put the bytes on the wire, so that at XOFF at most one chunk is still
		// queued below us (bytes handed to the OS cannot be recalled).
		if err := d.Drain(); err != nil {
			l.log.Debug("drain failed", "err", err)
		}
	}
	return nil
}

// serialDrainer waits until written bytes have left the port (tcdrain); serial.Port has it.
type serialDrainer interface{ Drain() error }

var _ serialDrainer = serial.Port(nil)

func (l *Link) serialFail(err error) {
	l.mu.Lock()
	if l.err == nil {
		l.err = err
	}
	l.serialNotifyLocked()
	l.mu.Unlock()
}

func (l *Link) serialErr() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

func (l *Link) serialChanged() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.changed
}

func (l *Link) serialNotifyLocked() {
	close(l.changed)
	l.changed = make(chan struct{})
}

// serialSetStatusLocked records s and reports a change.
func (l *Link) serialSetStatusLocked(s Status) {
	if l.known && s == l.status {
		return
	}
	l.status, l.known = s, true
	l.statusOut = append(l.statusOut, s)
}

// serialFlushStatus logs and reports the status changes recorded since the last call. Only the reader and
// Run's loop call it, so reports keep their order.
func (l *Link) serialFlushStatus() {
	l.notifyMu.Lock()
	defer l.notifyMu.Unlock()
	l.mu.Lock()
	out := l.statusOut
	l.statusOut = nil
	l.mu.Unlock()
	for _, s := range out {
		l.log.Info("printer status", "status", s.String())
		if l.onStatus != nil {
			l.onStatus(s)
		}
	}
}

func (l *Link) serialReadLoop() {
	var parser StatusParser
	buf := make([]byte, 256)
	var events []StatusEvent
	for {
		n, err := l.port.Read(buf)
		if n > 0 {
			events = parser.Parse(events[:0], buf[:n])
			l.mu.Lock()
			for _, ev := range events {
				l.serialApplyLocked(ev)
			}
			l.serialNotifyLocked()
			l.mu.Unlock()
			l.serialFlushStatus()
		}
		if err == nil && n == 0 {
			// go.bug.st/serial returns 0, nil when the port is closed or the read timed out.
			err = io.EOF
		}
		if err != nil {
			l.serialFail(fmt.Errorf("%w: read: %v", ErrDeviceGone, err))
			return
		}
	}
}

func (l *Link) serialApplyLocked(ev StatusEvent) {
	switch ev.Kind {
	case StatusXON:
		l.xoff = false
	case StatusXOFF:
		l.xoff = true
	case StatusASB:
		l.serialSetStatusLocked(DecodeASB(ev.ASB))
	case StatusRealtime:
		if len(l.rtPending) == 0 {
			l.log.Debug("unsolicited real-time status", "byte", ev.Byte)
			return
		}
		n := l.rtPending[0]
		l.rtPending = l.rtPending[1:]
		s := l.status.ApplyRealtime(n, ev.Byte)
		s.NoResponse = false
		if len(l.rtPending) == 0 {
			l.pollsDone = l.pollsSent
		}
		l.serialSetStatusLocked(s)
	case StatusTransmit:
		if len(l.markers) == 0 {
			l.log.Debug("unsolicited GS r reply", "byte", ev.Byte)
			return
		}
		l.confirmed = l.markers[0]
		l.markers = l.markers[1:]
		s := l.status
		s.PaperNearEnd = ev.Byte&0x03 != 0
		l.serialSetStatusLocked(s)
	}
}

// serialWait blocks until cond (called with mu held) is true, the link fails, or ctx ends.
func (l *Link) serialWait(ctx context.Context, cond func() bool) error {
	for {
		l.mu.Lock()
		if l.err != nil {
			err := l.err
			l.mu.Unlock()
			return err
		}
		if cond() {
			l.mu.Unlock()
			return nil
		}
		ch := l.changed
		l.mu.Unlock()
		select {
		case <-ctx.Done():
			return fmt.Errorf("printer: print interrupted: %w", ctx.Err())
		case <-ch:
		}
	}
}

// WaitReady blocks until the printer has reported its status and it is ready (online, cover closed,
// paper present, no error, answering), the link fails (the error wraps ErrDeviceGone), or ctx ends.
func (l *Link) WaitReady(ctx context.Context) error {
	err := l.serialWait(ctx, func() bool { return l.known && l.status.Ready() })
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("printer: waiting for the printer to be ready: %w", ctx.Err())
	}
	return err
}

// Print sends data to the printer, paced, and returns once all of it has been taken out of the printer's
// receive buffer and a status poll after that reported no error. While the printer reports paper end,
// cover open, offline or an error it waits, keeping the rest of the job, and goes on by itself when the
// condition clears. It returns ctx's error if ctx ends first (part of data may have been sent), and an error
// wrapping ErrDeviceGone if the device fails.
//
// Chunks end only between commands (escposUnitLen), so data must consist of the commands the encoder
// emits and text; anything else, or a command longer than the window, is refused with ErrNotPaceable
// before a byte is sent.
func (l *Link) Print(ctx context.Context, data []byte) error {
	if err := l.checkPaceable(data); err != nil {
		return err
	}
	select {
	case l.printTok <- struct{}{}:
		defer func() { <-l.printTok }()
	case <-ctx.Done():
		return fmt.Errorf("printer: print interrupted: %w", ctx.Err())
	}
	for off := 0; off < len(data); {
		n, err := escposChunkLen(data[off:], l.cfg.Chunk)
		if err != nil {
			return err // checkPaceable walked the same units
		}
		want := n + len(serialCmdMarker)
		err = l.serialWait(ctx, func() bool {
			return !l.xoff && l.known && l.status.Ready() && l.sent-l.confirmed+int64(want) <= int64(l.cfg.Window)
		})
		if err != nil {
			return err
		}
		l.writeTok <- struct{}{}
		l.mu.Lock()
		fits := !l.xoff && l.sent-l.confirmed+int64(want) <= int64(l.cfg.Window)
		l.mu.Unlock()
		if !fits { // a poll took the room, or XOFF came, meanwhile
			<-l.writeTok
			continue
		}
		err = l.serialWriteCounted(data[off:off+n], true)
		<-l.writeTok
		if err != nil {
			return err
		}
		off += n
	}
	// Everything was taken out of the buffer: wait for the last marker.
	l.mu.Lock()
	end := l.sent
	l.mu.Unlock()
	if err := l.serialWait(ctx, func() bool { return l.confirmed >= end }); err != nil {
		return err
	}
	// Then a fresh status poll must report no error.
	for {
		if err := l.serialWait(ctx, func() bool { return len(l.rtPending) == 0 }); err != nil {
			return err
		}
		if err := l.serialPoll(); err != nil {
			return err
		}
		l.mu.Lock()
		seq := l.pollsSent
		l.mu.Unlock()
		if err := l.serialWait(ctx, func() bool { return l.pollsDone >= seq }); err != nil {
			return err
		}
		l.mu.Lock()
		ok := l.status.Ready()
		l.mu.Unlock()
		if ok {
			return nil
		}
		if err := l.serialWait(ctx, func() bool { return l.status.Ready() }); err != nil {
			return err
		}
	}
}

// ErrNotPaceable means Print was given bytes it cannot send safely: a command it does not know, one cut
// short, or one larger than the window.
var ErrNotPaceable = errors.New("printer: data cannot be paced")

// checkPaceable walks data before anything is sent: every chunk must end between commands, and every
// command must fit the window with its marker.
func (l *Link) checkPaceable(data []byte) error {
	for off := 0; off < len(data); {
		n, err := escposUnitLen(data[off:])
		if err != nil {
			return fmt.Errorf("%w: at byte %d: %v", ErrNotPaceable, off, err)
		}
		if n+len(serialCmdMarker) > l.cfg.Window {
			return fmt.Errorf("%w: the command at byte %d is %d bytes, more than the window of %d", ErrNotPaceable, off, n, l.cfg.Window)
		}
		off += n
	}
	return nil
}
