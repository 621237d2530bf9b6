package printer

import "strings"

// Bytes the TM-T88IV sends back on its serial line besides status replies.
const (
	// XON (DC1) tells the host it may send again.
	XON byte = 0x11
	// XOFF (DC3) tells the host to stop sending: the receive buffer is nearly full or the printer went offline.
	XOFF byte = 0x13
)

// Status is what the printer last reported about itself, decoded from Automatic Status Back reports
// (`GS a n`), `DLE EOT n` real-time replies and `GS r 1` replies.
//
// Bit meanings follow the Epson ESC/POS reference for the TM-T88 family (DLE EOT, GS a, GS r):
// https://download4.epson.biz/sec_pubs/pos/reference_en/escpos/dle_eot.html
type Status struct {
	// Offline: the printer does not process data (paper end, cover open, error, feed button).
	Offline bool
	// CoverOpen: the roll paper cover is open.
	CoverOpen bool
	// PaperNearEnd: the near-end sensor sees little paper left; printing continues.
	PaperNearEnd bool
	// PaperEnd: no paper; printing has stopped.
	PaperEnd bool
	// Error: an auto-cutter, unrecoverable or auto-recoverable error.
	Error bool
	// NoResponse: the printer did not answer a real-time status request in time (off, unplugged).
	NoResponse bool
}

// Ready reports whether the printer can print: online, cover closed, paper present, no error, answering.
func (s Status) Ready() bool {
	return !s.Offline && !s.CoverOpen && !s.PaperEnd && !s.Error && !s.NoResponse
}

// String lists the set conditions, or "ready".
func (s Status) String() string {
	var parts []string
	for _, f := range []struct {
		on   bool
		name string
	}{
		{s.NoResponse, "no response"}, {s.Offline, "offline"}, {s.CoverOpen, "cover open"},
		{s.PaperEnd, "paper end"}, {s.Error, "error"}, {s.PaperNearEnd, "paper near end"},
	} {
		if f.on {
			parts = append(parts, f.name)
		}
	}
	if len(parts) == 0 {
		return "ready"
	}
	return strings.Join(parts, ", ")
}

// DecodeASB decodes a 4-byte Automatic Status Back report.
//
// Byte 1: bit 3 offline, bit 5 cover open. Byte 2: bit 2 recoverable error, bit 3 auto-cutter error,
// bit 5 unrecoverable error, bit 6 auto-recoverable error. Byte 3: bits 0–1 roll paper near end,
// bits 2–3 roll paper end. Byte 4 carries nothing we use.
func DecodeASB(r [4]byte) Status {
	return Status{
		Offline:      r[0]&0x08 != 0,
		CoverOpen:    r[0]&0x20 != 0,
		Error:        r[1]&0x6C != 0,
		PaperNearEnd: r[2]&0x03 != 0,
		PaperEnd:     r[2]&0x0C != 0,
	}
}

// ApplyRealtime returns s updated with the reply b to `DLE EOT n`.
//
// n=1 printer status: bit 3 offline. n=2 offline cause: bit 2 cover open, bit 5 printing stopped by paper end,
// bit 6 error. n=3 error cause: bits 2, 3, 5, 6 errors. n=4 roll paper sensor: bits 2–3 near end, bits 5–6
// paper end. Other n leave s unchanged.
func (s Status) ApplyRealtime(n, b byte) Status {
	switch n {
	case 1:
		s.Offline = b&0x08 != 0
	case 2:
		s.CoverOpen = b&0x04 != 0
		s.PaperEnd = b&0x20 != 0
		s.Error = b&0x40 != 0
	case 3:
		s.Error = b&0x6C != 0
	case 4:
		s.PaperNearEnd = b&0x0C != 0
		s.PaperEnd = b&0x60 != 0
	}
	return s
}

// StatusEventKind says what a byte or group of bytes from the printer was.
type StatusEventKind int

// The kinds of events a StatusParser finds.
const (
	// StatusXON is a flow-control XON byte.
	StatusXON StatusEventKind = iota + 1
	// StatusXOFF is a flow-control XOFF byte.
	StatusXOFF
	// StatusRealtime is the one-byte reply to a `DLE EOT n` request (Byte).
	StatusRealtime
	// StatusASB is a complete 4-byte Automatic Status Back report (ASB).
	StatusASB
	// StatusTransmit is the one-byte reply to `GS r n` (Byte); it is sent only once the printer has processed
	// every byte received before the command.
	StatusTransmit
)

// StatusEvent is one thing the printer said.
type StatusEvent struct {
	Kind StatusEventKind
	Byte byte    // StatusRealtime, StatusTransmit
	ASB  [4]byte // StatusASB
}

// StatusParser splits the byte stream coming back from the printer into events. It keeps state between
// calls, so status reports split across reads are reassembled. The zero value is ready to use.
//
// Classification (Epson "Appendix G": distinguishing ASB, real-time and GS r replies): XON/XOFF are 0x11 and
// 0x13 anywhere; a byte with b&0x93 == 0x12 is a `DLE EOT` reply; b&0x93 == 0x10 starts a 4-byte ASB
// report whose three following bytes have bits 4 and 7 clear; a byte with bits 4 and 7 clear outside an
// ASB report is a `GS r` reply. XOFF and real-time replies may arrive inside an ASB report; a new ASB
// header abandons an unfinished one. Other bytes are counted in Garbage and skipped.
type StatusParser struct {
	asb     [4]byte
	asbLen  int
	Garbage int // bytes that matched nothing
}

// Parse appends the events found in data to dst and returns it.
func (p *StatusParser) Parse(dst []StatusEvent, data []byte) []StatusEvent {
	for _, b := range data {
		switch {
		case b == XON:
			dst = append(dst, StatusEvent{Kind: StatusXON})
		case b == XOFF:
			dst = append(dst, StatusEvent{Kind: StatusXOFF})
		case b&0x93 == 0x12:
			dst = append(dst, StatusEvent{Kind: StatusRealtime, Byte: b})
		case b&0x93 == 0x10:
			if p.asbLen > 0 {
				p.Garbage += p.asbLen
			}
			p.asb = [4]byte{b}
			p.asbLen = 1
		case b&0x90 == 0 && p.asbLen > 0:
			p.asb[p.asbLen] = b
			p.asbLen++
			if p.asbLen == 4 {
				dst = append(dst, StatusEvent{Kind: StatusASB, ASB: p.asb})
				p.asbLen = 0
			}
		case b&0x90 == 0:
			dst = append(dst, StatusEvent{Kind: StatusTransmit, Byte: b})
		default:
			p.Garbage++
		}
	}
	return dst
}
