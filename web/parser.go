package web

import (
	"errors"
	"sync/atomic"

	"github.com/zishang520/engine.io/v2/events"
	"github.com/zishang520/socket.io-go-parser/v2/parser"
)

// strictParser is socket.io's default parser with a check the server lacks. socket.io v2.5.0 type-asserts
// the payload of every EVENT and ACK packet without looking (socket.go onevent, onack), and its decoder
// passes an EVENT or ACK without a payload ("42", "43"): one such packet from anyone panics a library
// goroutine and takes the whole hub down. The strict decoder refuses those packets, which closes that
// client's connection as any protocol violation does.
type strictParser struct{ parser.Parser }

var _ parser.Parser = strictParser{}

// errMalformed is the protocol violation the strict decoder reports.
var errMalformed = errors.New("socket.io packet without a valid payload")

func (p strictParser) NewDecoder() parser.Decoder {
	d := &strictDecoder{EventEmitter: events.New(), inner: p.Parser.NewDecoder()}
	d.inner.On("decoded", func(args ...any) {
		if len(args) > 0 {
			if pkt, ok := args[0].(*parser.Packet); ok && wellFormed(pkt) {
				d.Emit("decoded", pkt)
				return
			}
		}
		d.refused.Store(true)
	})
	return d
}

// strictDecoder forwards only well-formed packets of the decoder it wraps.
type strictDecoder struct {
	events.EventEmitter
	inner   parser.Decoder
	refused atomic.Bool
}

func (d *strictDecoder) Add(data any) error {
	if err := d.inner.Add(data); err != nil {
		return err
	}
	if d.refused.Swap(false) {
		return errMalformed
	}
	return nil
}

func (d *strictDecoder) Destroy() { d.inner.Destroy() }

// wellFormed reports whether the server can handle p without a panic.
func wellFormed(p *parser.Packet) bool {
	if p == nil {
		return false
	}
	switch p.Type {
	case parser.EVENT, parser.BINARY_EVENT:
		args, ok := p.Data.([]any)
		if !ok || len(args) == 0 {
			return false
		}
		_, ok = args[0].(string)
		return ok
	case parser.ACK, parser.BINARY_ACK:
		_, ok := p.Data.([]any)
		return ok && p.Id != nil
	}
	return true
}
