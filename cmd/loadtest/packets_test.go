package main

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stagelink/stagelink/lighting"
)

type scanned struct {
	ID        string
	Version   int64
	Confirmed bool
}

func scanAll(b []byte) ([]scanned, bool) {
	var got []scanned
	ok := scanZones(b, func(id []byte, v int64, c bool) { got = append(got, scanned{string(id), v, c}) })
	return got, ok
}

func TestScanZones(t *testing.T) {
	st := lighting.DefaultState()
	st.By = `sneaky "id":"x","version":99,"confirmed":true`
	st.Effect = "Chase 2"
	msg := struct {
		Zones []lighting.Update `json:"zones"`
	}{[]lighting.Update{
		{ID: "loadtest-0", State: st, Version: 12, Confirmed: true},
		{ID: "loadtest-1", State: lighting.DefaultState(), Version: 3},
	}}
	b, err := json.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := scanAll(b)
	want := []scanned{{"loadtest-0", 12, true}, {"loadtest-1", 3, false}}
	if diff := cmp.Diff(want, got); !ok || diff != "" {
		t.Errorf("scanZones(%s) ok=%v, diff (-want +got):\n%s", b, ok, diff)
	}

	hello, _ := json.Marshal(struct {
		Zones []lighting.Zone `json:"zones"`
	}{[]lighting.Zone{{ID: "z", Name: "Zed", Kind: lighting.KindPixels, Effects: []string{"Solid"}, State: st, Version: 7, Confirmed: true}}})
	got, ok = scanAll(hello)
	if diff := cmp.Diff([]scanned{{"z", 7, true}}, got); !ok || diff != "" {
		t.Errorf("scanZones(hello) ok=%v, diff (-want +got):\n%s", ok, diff)
	}
}

func TestPackets(t *testing.T) {
	if got, want := string(setPacket(7, "loadtest-1", "#00002a")), `427["light:set",{"zone":"loadtest-1","color":"#00002a"}]`; got != want {
		t.Errorf("setPacket = %s, want %s", got, want)
	}
	if got, want := string(connectPacket(`a"b`)), `40{"name":"a\"b"}`; got != want {
		t.Errorf("connectPacket = %s, want %s", got, want)
	}
	for _, tc := range []struct {
		in      string
		id      int64
		want    ack
		wantErr bool
	}{
		{in: `12[{"ok":true,"version":5}]`, id: 12, want: ack{OK: true, Version: 5}},
		{in: `3[{"ok":false,"error":{"code":"rate_limited","message":"m","retryAfterMs":40}}]`, id: 3,
			want: ack{Error: &struct {
				Code string `json:"code"`
			}{"rate_limited"}}},
		{in: `[{"ok":true}]`, wantErr: true},
		{in: `x[{}]`, wantErr: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			id, a, err := parseAck([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("parseAck err = %v, want error %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if id != tc.id || fmt.Sprint(a.OK, a.Version) != fmt.Sprint(tc.want.OK, tc.want.Version) ||
				(a.Error == nil) != (tc.want.Error == nil) || (a.Error != nil && a.Error.Code != tc.want.Error.Code) {
				t.Errorf("parseAck = %d %+v, want %d %+v", id, a, tc.id, tc.want)
			}
		})
	}
	name, rest, ok := eventName([]byte(`["lights",{"zones":[]}]`))
	if !ok || string(name) != "lights" || string(rest) != `{"zones":[]}]` {
		t.Errorf("eventName = %q %q %v", name, rest, ok)
	}
	if _, err := parseOpen([]byte(`0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":262144}`)); err != nil {
		t.Errorf("parseOpen: %v", err)
	}
}

// FuzzScanZones checks that packets from the hub never crash the scanner.
func FuzzScanZones(f *testing.F) {
	f.Add([]byte(`{"zones":[{"id":"a","state":{"on":true},"version":3,"confirmed":true}]}`))
	f.Add([]byte(`{"zones":[{"id":"a","version":`))
	f.Add([]byte(`"id":"`))
	f.Fuzz(func(t *testing.T, b []byte) {
		scanZones(b, func([]byte, int64, bool) {})
		eventName(b)
		parseAck(b)
		parseOpen(b)
	})
}
