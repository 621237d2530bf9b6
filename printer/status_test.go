package printer

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestStatusParser(t *testing.T) {
	asbPaperOut := [4]byte{0x18, 0x00, 0x0C, 0x00}
	tests := []struct {
		name   string
		chunks [][]byte
		want   []StatusEvent
	}{
		{"flow control", [][]byte{{XOFF, XON}}, []StatusEvent{{Kind: StatusXOFF}, {Kind: StatusXON}}},
		{"realtime replies", [][]byte{{0x12, 0x16, 0x72}}, []StatusEvent{
			{Kind: StatusRealtime, Byte: 0x12}, {Kind: StatusRealtime, Byte: 0x16}, {Kind: StatusRealtime, Byte: 0x72}}},
		{"asb whole", [][]byte{asbPaperOut[:]}, []StatusEvent{{Kind: StatusASB, ASB: asbPaperOut}}},
		{"asb split across reads", [][]byte{{0x18}, {0x00, 0x0C}, {0x00}}, []StatusEvent{{Kind: StatusASB, ASB: asbPaperOut}}},
		{"xoff and realtime inside asb", [][]byte{{0x18, 0x00, XOFF}, {0x12, 0x0C, 0x00, XON}}, []StatusEvent{
			{Kind: StatusXOFF}, {Kind: StatusRealtime, Byte: 0x12}, {Kind: StatusASB, ASB: asbPaperOut}, {Kind: StatusXON}}},
		{"gs r reply outside asb", [][]byte{{0x00, 0x03}}, []StatusEvent{
			{Kind: StatusTransmit, Byte: 0x00}, {Kind: StatusTransmit, Byte: 0x03}}},
		{"gs r reply after asb", [][]byte{{0x10, 0, 0, 0, 0x03}}, []StatusEvent{
			{Kind: StatusASB, ASB: [4]byte{0x10}}, {Kind: StatusTransmit, Byte: 0x03}}},
		{"new header abandons partial asb", [][]byte{{0x18, 0x00}, {0x10, 0, 0, 0}}, []StatusEvent{
			{Kind: StatusASB, ASB: [4]byte{0x10}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p StatusParser
			var got []StatusEvent
			for _, c := range tt.chunks {
				got = p.Parse(got, c)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStatusDecode(t *testing.T) {
	tests := []struct {
		name string
		got  Status
		want Status
	}{
		{"asb ready", DecodeASB([4]byte{0x10, 0, 0, 0}), Status{}},
		{"asb paper end", DecodeASB([4]byte{0x18, 0, 0x0C, 0}), Status{Offline: true, PaperEnd: true}},
		{"asb cover open", DecodeASB([4]byte{0x38, 0, 0, 0}), Status{Offline: true, CoverOpen: true}},
		{"asb near end", DecodeASB([4]byte{0x10, 0, 0x03, 0}), Status{PaperNearEnd: true}},
		{"asb autocutter error", DecodeASB([4]byte{0x18, 0x08, 0, 0}), Status{Offline: true, Error: true}},
		{"dle eot 1 offline", Status{}.ApplyRealtime(1, 0x1A), Status{Offline: true}},
		{"dle eot 2 cover", Status{}.ApplyRealtime(2, 0x16), Status{CoverOpen: true}},
		{"dle eot 2 paper stop", Status{}.ApplyRealtime(2, 0x32), Status{PaperEnd: true}},
		{"dle eot 3 unrecoverable", Status{}.ApplyRealtime(3, 0x32), Status{Error: true}},
		{"dle eot 4 near end and end", Status{}.ApplyRealtime(4, 0x7E), Status{PaperNearEnd: true, PaperEnd: true}},
		{"dle eot 4 clears paper end", Status{PaperEnd: true}.ApplyRealtime(4, 0x12), Status{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.got); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
		})
	}
	if got, want := (Status{PaperEnd: true, Offline: true}).String(), "offline, paper end"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if !(Status{PaperNearEnd: true}).Ready() {
		t.Error("near end must still be ready")
	}
}

// FuzzStatusParser checks that any byte stream, split anywhere, parses without panicking and gives the same
// events as when parsed in one piece.
func FuzzStatusParser(f *testing.F) {
	f.Add([]byte{0x18, 0x00, 0x0C, 0x00, XOFF, 0x12, XON}, uint8(2))
	f.Add([]byte{0x10, 0x13, 0x00, 0x12, 0x00, 0x00, 0x03}, uint8(1))
	f.Add([]byte{0xFF, 0x80, 0x10, 0x10, 0x90}, uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, split uint8) {
		var whole StatusParser
		want := whole.Parse(nil, data)
		var parts StatusParser
		var got []StatusEvent
		at := min(int(split), len(data))
		got = parts.Parse(got, data[:at])
		got = parts.Parse(got, data[at:])
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("split at %d changes events (-whole +split):\n%s", at, diff)
		}
		for _, ev := range got {
			if ev.Kind == StatusASB {
				_ = DecodeASB(ev.ASB).String()
			}
		}
	})
}
