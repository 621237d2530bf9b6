package streaming

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakePublication records what the test pattern writes, with the time of each write on the clock of the
// synctest bubble, counted from start.
type fakePublication struct {
	start   time.Time
	onWrite func(n int) // called after write n is recorded, when set

	mu     sync.Mutex
	writes []fakeWrite
	closes int
}

type fakeWrite struct {
	at, pts time.Duration
	au      [][]byte
}

var _ h264Publication = (*fakePublication)(nil)

func (f *fakePublication) WriteH264(pts time.Duration, au [][]byte) {
	f.mu.Lock()
	f.writes = append(f.writes, fakeWrite{at: time.Since(f.start), pts: pts, au: au})
	n := len(f.writes) - 1
	f.mu.Unlock()
	if f.onWrite != nil {
		f.onWrite(n)
	}
}

func (f *fakePublication) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closes++
}

func (f *fakePublication) recorded() (writes []fakeWrite, closes int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.writes), f.closes
}

// fakePreemptible is a publication that can be taken away: closing done takes it away.
type fakePreemptible struct {
	*fakePublication
	done chan struct{}
}

var _ preemptiblePublication = fakePreemptible{}

func (f fakePreemptible) Done() <-chan struct{} { return f.done }

// fakePublisher records the calls to publish, with their time counted from start, and answers call n
// (from 0) with next(n).
type fakePublisher struct {
	start time.Time
	next  func(n int) (h264Publication, error)

	mu    sync.Mutex
	calls []fakePublishCall
}

type fakePublishCall struct {
	at       time.Duration
	source   Source
	sps, pps []byte
}

func (f *fakePublisher) publish(source Source, sps, pps []byte) (h264Publication, error) {
	f.mu.Lock()
	f.calls = append(f.calls, fakePublishCall{at: time.Since(f.start), source: source, sps: sps, pps: pps})
	n := len(f.calls) - 1
	f.mu.Unlock()
	return f.next(n)
}

func (f *fakePublisher) recorded() []fakePublishCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

var errBusy = errors.New("stream busy")

func newTestTestPattern(t *testing.T) *TestPattern {
	t.Helper()
	p, err := NewTestPattern(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// runTestPattern starts p.Run in the bubble and returns a function that cancels it and returns what Run
// returned, failing the test when Run does not return at once.
func runTestPattern(t *testing.T, p *TestPattern, publish h264Publisher) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, publish) }()
	return func() error {
		t.Helper()
		cancel()
		synctest.Wait()
		select {
		case err := <-done:
			return err
		default:
			t.Fatal("Run did not return when its context was cancelled")
			return nil
		}
	}
}

func naluTypes(au [][]byte) []byte {
	types := make([]byte, len(au))
	for i, nalu := range au {
		types[i] = naluType(nalu)
	}
	return types
}

func TestTestPatternClip(t *testing.T) {
	clip := newTestTestPattern(t).clip
	if got, want := len(clip.aus), 120; got != want {
		t.Fatalf("the clip has %d access units, want %d (4 s at 30 fps)", got, want)
	}
	if diff := cmp.Diff([]byte{naluTypeSPS, naluTypePPS, naluTypeIDR}, naluTypes(clip.aus[0])); diff != "" {
		t.Errorf("NAL unit types of the first access unit (-want +got):\n%s", diff)
	}
	if !bytes.Equal(clip.sps, clip.aus[0][0]) || !bytes.Equal(clip.pps, clip.aus[0][1]) {
		t.Errorf("the clip's SPS and PPS are not the ones in front of its first IDR")
	}
	// profile_idc 66 (baseline) with constraint_set1_flag: constrained baseline, what every browser decodes.
	if len(clip.sps) < 4 || clip.sps[1] != 66 || clip.sps[2]&0x40 == 0 || clip.sps[3] != 31 {
		t.Errorf("SPS starts % x, want constrained baseline level 3.1 (67 42 c0 1f or 67 42 e0 1f)", clip.sps[:min(4, len(clip.sps))])
	}
	for i, au := range clip.aus {
		types := naluTypes(au)
		if got, want := slices.Contains(types, naluTypeIDR), i%30 == 0; got != want {
			t.Errorf("access unit %d: IDR %t, want %t (a keyframe every 30 frames)", i, got, want)
		}
		if i%30 == 0 && !slices.Equal(types, []byte{naluTypeSPS, naluTypePPS, naluTypeIDR}) {
			t.Errorf("access unit %d: NAL unit types %v, want SPS, PPS, IDR", i, types)
		}
		if i%30 != 0 && !slices.Equal(types, []byte{naluTypeSlice}) {
			t.Errorf("access unit %d: NAL unit types %v, want one non-IDR slice", i, types)
		}
	}
}

func TestParseH264Clip(t *testing.T) {
	var (
		aud   = []byte{0x09, 0xf0}
		sps   = []byte{0x67, 0x42, 0xc0, 0x1f, 0xaa}
		pps   = []byte{0x68, 0xce, 0x3c, 0x80}
		idr   = []byte{0x65, 0x88, 0x84, 0x00, 0x00, 0x03, 0x01} // ends in an emulation prevention byte
		slice = []byte{0x41, 0x9a, 0x00, 0x00, 0x03, 0x00, 0x21}
		sei   = []byte{0x06, 0x05, 0x01, 0x80}
	)
	annexB := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	sc3, sc4 := []byte{0, 0, 1}, []byte{0, 0, 0, 1}
	tests := []struct {
		name    string
		in      []byte
		want    h264Clip
		wantErr string
	}{{
		name: "four-byte start codes",
		in:   annexB(sc4, aud, sc4, sps, sc4, pps, sc4, idr, sc4, aud, sc4, slice),
		want: h264Clip{sps: sps, pps: pps, aus: [][][]byte{{sps, pps, idr}, {slice}}},
	}, {
		name: "three-byte start codes, leading and trailing zero bytes",
		in:   annexB([]byte{0, 0}, sc3, aud, sc3, sps, []byte{0}, sc3, pps, sc3, idr, []byte{0, 0}, sc4, aud, sc3, slice, []byte{0}),
		want: h264Clip{sps: sps, pps: pps, aus: [][][]byte{{sps, pps, idr}, {slice}}},
	}, {
		name: "SEI before the IDR",
		in:   annexB(sc4, aud, sc4, sps, sc4, pps, sc4, sei, sc4, idr),
		want: h264Clip{sps: sps, pps: pps, aus: [][][]byte{{sps, pps, sei, idr}}},
	}, {
		name:    "empty",
		in:      nil,
		wantErr: "no start code",
	}, {
		name:    "data in front of the first start code",
		in:      annexB([]byte{0, 7}, sc4, aud, sc4, sps, sc4, pps, sc4, idr),
		wantErr: "in front of the first start code",
	}, {
		name:    "no delimiters",
		in:      annexB(sc4, sps, sc4, pps, sc4, idr),
		wantErr: "does not start with an access unit delimiter",
	}, {
		name:    "empty NAL unit",
		in:      annexB(sc4, aud, sc4, sc4, sps, sc4, pps, sc4, idr),
		wantErr: "NAL unit 1 is empty",
	}, {
		name:    "forbidden bit",
		in:      annexB(sc4, aud, sc4, []byte{0xe7, 0x42}, sc4, pps, sc4, idr),
		wantErr: "forbidden_zero_bit",
	}, {
		name:    "access unit without a slice",
		in:      annexB(sc4, aud, sc4, sps, sc4, pps, sc4, idr, sc4, aud, sc4, aud, sc4, slice),
		wantErr: "access unit 1 has no slice",
	}, {
		name:    "first access unit not an IDR",
		in:      annexB(sc4, aud, sc4, sps, sc4, pps, sc4, slice, sc4, aud, sc4, idr),
		wantErr: "not an IDR",
	}, {
		name:    "IDR without SPS",
		in:      annexB(sc4, aud, sc4, pps, sc4, idr),
		wantErr: "no SPS and PPS",
	}, {
		name:    "IDR without PPS",
		in:      annexB(sc4, aud, sc4, sps, sc4, idr),
		wantErr: "no SPS and PPS",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseH264Clip(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(h264Clip{})); diff != "" {
				t.Errorf("clip (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParseH264Clip(f *testing.F) {
	f.Add(testPatternH264[:min(len(testPatternH264), 4096)])
	f.Add([]byte{0, 0, 0, 1, 0x09, 0xf0, 0, 0, 1, 0x67, 0x42, 0, 0, 1, 0x68, 0xce, 0, 0, 1, 0x65, 0x88})
	f.Fuzz(func(t *testing.T, in []byte) {
		clip, err := parseH264Clip(in)
		if err != nil {
			return
		}
		if !slices.Contains(naluTypes(clip.aus[0]), naluTypeIDR) || clip.sps == nil || clip.pps == nil {
			t.Errorf("parsed a clip that does not start with an IDR, SPS and PPS: %v", naluTypes(clip.aus[0]))
		}
		for i, au := range clip.aus {
			for _, nalu := range au {
				if len(nalu) == 0 || naluType(nalu) == naluTypeAUD || nalu[len(nalu)-1] == 0 {
					t.Fatalf("access unit %d holds NAL unit % x", i, nalu)
				}
			}
		}
	})
}

func TestTestPatternPacing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newTestTestPattern(t)
		start := time.Now()
		pub := &fakePublication{start: start}
		publisher := &fakePublisher{start: start, next: func(int) (h264Publication, error) { return pub, nil }}
		stop := runTestPattern(t, p, publisher.publish)

		time.Sleep(time.Second - time.Millisecond)
		synctest.Wait()
		if writes, _ := pub.recorded(); len(writes) != 30 {
			t.Errorf("%d access units written in the first second, want 30", len(writes))
		}

		time.Sleep(8 * time.Second) // two loops and a bit
		if err := stop(); err != nil {
			t.Errorf("Run returned %v, want nil", err)
		}
		writes, closes := pub.recorded()
		if closes != 1 {
			t.Errorf("publication closed %d times, want once", closes)
		}
		if len(writes) != 270 { // frames 0 to 269, up to 8.999 s
			t.Fatalf("%d access units written in 9 s, want 270", len(writes))
		}
		for n, w := range writes {
			want := time.Duration(n) * time.Second / 30
			if w.pts != want || w.at != want {
				t.Fatalf("access unit %d: presentation time %v, written at %v, want both %v", n, w.pts, w.at, want)
			}
			if !slices.EqualFunc(w.au, p.clip.aus[n%len(p.clip.aus)], bytes.Equal) {
				t.Fatalf("access unit %d is not access unit %d of the clip", n, n%len(p.clip.aus))
			}
		}
		if types := naluTypes(writes[120].au); !slices.Contains(types, naluTypeIDR) {
			t.Errorf("the second loop starts with NAL unit types %v, want an IDR", types)
		}
		calls := publisher.recorded()
		if len(calls) != 1 {
			t.Fatalf("publish called %d times, want once", len(calls))
		}
		want := fakePublishCall{source: Source{Kind: "test-pattern"}, sps: p.clip.sps, pps: p.clip.pps}
		if diff := cmp.Diff(want, calls[0], cmp.AllowUnexported(fakePublishCall{})); diff != "" {
			t.Errorf("publish call (-want +got):\n%s", diff)
		}
	})
}

func TestTestPatternCatchesUpAfterAStall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newTestTestPattern(t)
		start := time.Now()
		pub := &fakePublication{start: start, onWrite: func(n int) {
			if n == 10 {
				time.Sleep(5 * time.Second) // the machine sleeps, say
			}
		}}
		publisher := &fakePublisher{start: start, next: func(int) (h264Publication, error) { return pub, nil }}
		stop := runTestPattern(t, p, publisher.publish)
		time.Sleep(6 * time.Second)
		if err := stop(); err != nil {
			t.Errorf("Run returned %v, want nil", err)
		}
		writes, _ := pub.recorded()
		if len(writes) < 20 {
			t.Fatalf("%d access units written, want more than 20", len(writes))
		}
		resumed := writes[11].at
		if want := writes[10].at + 5*time.Second; resumed != want {
			t.Errorf("access unit 11 written at %v, want %v, right after the stall", resumed, want)
		}
		for n := 11; n < len(writes); n++ {
			w := writes[n]
			if want := time.Duration(n) * time.Second / 30; w.pts != want {
				t.Fatalf("access unit %d: presentation time %v, want %v", n, w.pts, want)
			}
			// Paced from where it resumed, not rushed to make up for the stall.
			if want := resumed + time.Duration(n)*time.Second/30 - 11*time.Second/30; w.at != want {
				t.Fatalf("access unit %d written at %v, want %v", n, w.at, want)
			}
		}
	})
}

func TestTestPatternWaitsWhileTheStreamIsBusy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newTestTestPattern(t)
		start := time.Now()
		pub := &fakePublication{start: start}
		publisher := &fakePublisher{start: start, next: func(n int) (h264Publication, error) {
			if n < 3 {
				return nil, errBusy
			}
			return pub, nil
		}}
		stop := runTestPattern(t, p, publisher.publish)
		time.Sleep(3*time.Second + 490*time.Millisecond)
		if err := stop(); err != nil {
			t.Errorf("Run returned %v, want nil", err)
		}
		var at []time.Duration
		for _, c := range publisher.recorded() {
			at = append(at, c.at)
		}
		if diff := cmp.Diff([]time.Duration{0, time.Second, 2 * time.Second, 3 * time.Second}, at); diff != "" {
			t.Errorf("publish called at (-want +got):\n%s", diff)
		}
		writes, closes := pub.recorded()
		if len(writes) != 15 {
			t.Fatalf("%d access units written, want 15", len(writes))
		}
		if writes[0].at != 3*time.Second || writes[0].pts != 0 {
			t.Errorf("first access unit written at %v with presentation time %v, want at 3s with 0", writes[0].at, writes[0].pts)
		}
		if closes != 1 {
			t.Errorf("publication closed %d times, want once", closes)
		}
	})
}

func TestTestPatternStopsWhileTheStreamIsBusy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newTestTestPattern(t)
		publisher := &fakePublisher{start: time.Now(), next: func(int) (h264Publication, error) { return nil, errBusy }}
		stop := runTestPattern(t, p, publisher.publish)
		time.Sleep(5*time.Second + 500*time.Millisecond)
		if err := stop(); err != nil {
			t.Errorf("Run returned %v, want nil", err)
		}
		if got := len(publisher.recorded()); got != 6 {
			t.Errorf("publish called %d times in 5.5 s, want 6, once a second", got)
		}
	})
}

func TestTestPatternGivesWayWhenTakenAway(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newTestTestPattern(t)
		start := time.Now()
		first := fakePreemptible{fakePublication: &fakePublication{start: start}, done: make(chan struct{})}
		second := &fakePublication{start: start}
		publisher := &fakePublisher{start: start, next: func(n int) (h264Publication, error) {
			switch n {
			case 0:
				return first, nil
			case 1:
				return nil, errBusy // the WHIP publisher that took the stream still holds it
			default:
				return second, nil
			}
		}}
		stop := runTestPattern(t, p, publisher.publish)

		time.Sleep(1500*time.Millisecond + time.Millisecond)
		close(first.done) // a WHIP publisher takes the stream
		synctest.Wait()
		writes, closes := first.recorded()
		if closes != 1 {
			t.Errorf("taken-away publication closed %d times, want once", closes)
		}
		if len(writes) != 46 { // frames 0 to 45, up to 1.5 s
			t.Errorf("%d access units written before the stream was taken away, want 46", len(writes))
		}

		time.Sleep(3*time.Second - 10*time.Millisecond) // the WHIP publisher leaves in between
		if err := stop(); err != nil {
			t.Errorf("Run returned %v, want nil", err)
		}
		if writes, _ := first.recorded(); len(writes) != 46 {
			t.Errorf("%d access units written into the taken-away publication, want still 46", len(writes))
		}
		var at []time.Duration
		for _, c := range publisher.recorded() {
			at = append(at, c.at)
		}
		want := []time.Duration{0, 2501 * time.Millisecond, 3501 * time.Millisecond}
		if diff := cmp.Diff(want, at); diff != "" {
			t.Errorf("publish called at (-want +got):\n%s", diff)
		}
		writes, closes = second.recorded()
		if len(writes) != 30 { // from 3.501 s to 4.491 s
			t.Fatalf("%d access units written into the new publication, want 30", len(writes))
		}
		if writes[0].pts != 0 {
			t.Errorf("the new publication starts at presentation time %v, want 0", writes[0].pts)
		}
		if closes != 1 {
			t.Errorf("new publication closed %d times, want once", closes)
		}
	})
}
