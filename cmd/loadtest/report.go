package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// report is what one run measured. Its JSON form is the -json line.
type report struct {
	Viewers             int            `json:"viewers"`
	Connected           int            `json:"connected"`
	ConnectFailed       int            `json:"connect_failed"`
	ConnectRetries      int64          `json:"connect_retries"`
	ConnectSeconds      float64        `json:"connect_s"`
	Dropped             int            `json:"dropped"` // connected viewers whose connection ended early
	Zones               int            `json:"zones"`
	Clickers            int            `json:"clickers"`
	ClicksSent          int            `json:"clicks_sent"`
	ClicksAcked         int            `json:"clicks_acked"`
	ClicksOK            int            `json:"clicks_ok"`
	ClicksRefused       map[string]int `json:"clicks_refused"`
	DeviceRequests      int            `json:"device_requests"`
	ReachedDevice       int            `json:"reached_device"`
	Ack                 pct            `json:"ack_ms"`
	ClickToDevice       pct            `json:"click_to_device_ms"`
	Broadcast           pct            `json:"broadcast_ms"`
	BroadcastMissing    int            `json:"broadcast_missing"` // (click, viewer) pairs never delivered
	ViewersMissingFinal int            `json:"viewers_missing_final"`
	FinalUnconfirmed    int            `json:"final_unconfirmed_zones"`
	RSSBeforeMB         float64        `json:"rss_before_mb"`
	RSSAfterMB          float64        `json:"rss_after_mb"`
	KBPerViewer         float64        `json:"kb_per_viewer"`
	RSSEndMB            float64        `json:"rss_end_mb"`   // after clicking and settling, viewers still connected
	HubCPU              float64        `json:"hub_cpu_pct"`  // hub CPU while clicking, % of one core (all hubs)
	ToolCPU             float64        `json:"tool_cpu_pct"` // this tool's CPU while clicking
	Duration            float64        `json:"duration"`     // seconds of clicking
	WallSeconds         float64        `json:"wall_s"`
	Hubs                []hubFigures   `json:"hubs,omitempty"` // each hub, with -hubs 2 or more
}

// hubFigures is one hub of a cluster: the viewers nginx gave it, its memory and its CPU.
type hubFigures struct {
	URL         string  `json:"url"`
	Viewers     int     `json:"viewers"` // its stagelink_viewers gauge, once all viewers are connected
	RSSBeforeMB float64 `json:"rss_before_mb"`
	RSSAfterMB  float64 `json:"rss_after_mb"`
	KBPerViewer float64 `json:"kb_per_viewer"`
	CPU         float64 `json:"cpu_pct"` // while clicking, % of one core
}

// pct summarises latencies in milliseconds.
type pct struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// percentiles sorts ms and takes nearest-rank percentiles.
func percentiles(ms []float64) pct {
	if len(ms) == 0 {
		return pct{}
	}
	slices.Sort(ms)
	rank := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(ms)))) - 1
		return round2(ms[max(0, min(i, len(ms)-1))])
	}
	return pct{N: len(ms), P50: rank(0.50), P99: rank(0.99), Max: round2(ms[len(ms)-1])}
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// measure fills the click, device, broadcast and final-state figures of r.
func (r *report) measure(clicks []click, dev []*arrivals, viewers []*viewer, final []hubZone) {
	r.ClicksRefused = map[string]int{}
	var acks, toDevice, broadcast []float64
	for seq, c := range clicks {
		if c.sendErr {
			continue
		}
		r.ClicksSent++
		if !c.acked {
			continue
		}
		r.ClicksAcked++
		acks = append(acks, ms(c.ackAt-c.sent))
		if !c.ok {
			r.ClicksRefused[c.code]++
			continue
		}
		r.ClicksOK++
		if at, ok := dev[c.zone].firstArrival(colorOf(seq)); ok {
			r.ReachedDevice++
			toDevice = append(toDevice, ms(at-c.sent))
		}
		for _, v := range viewers {
			at, ok := v.firstAtLeast(c.zone, c.version)
			if !ok {
				r.BroadcastMissing++
				continue
			}
			broadcast = append(broadcast, ms(max(0, at-c.ackAt)))
		}
	}
	for _, d := range dev {
		r.DeviceRequests += d.requests()
	}
	r.Ack, r.ClickToDevice, r.Broadcast = percentiles(acks), percentiles(toDevice), percentiles(broadcast)

	for _, z := range final {
		if !z.Confirmed {
			r.FinalUnconfirmed++
		}
	}
	for _, v := range viewers {
		for i, z := range final {
			got, confirmed := v.final(i)
			if got != z.Version || (z.Confirmed && confirmed < z.Version) {
				r.ViewersMissingFinal++
				break
			}
		}
	}
}

// print writes the human-readable summary.
func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "viewers        %d connected of %d (%d failed, %d connect retries, %d dropped) in %.1f s\n",
		r.Connected, r.Viewers, r.ConnectFailed, r.ConnectRetries, r.Dropped, r.ConnectSeconds)
	refused := "none"
	if len(r.ClicksRefused) > 0 {
		var parts []string
		for _, code := range slices.Sorted(maps.Keys(r.ClicksRefused)) {
			parts = append(parts, fmt.Sprintf("%s %d", code, r.ClicksRefused[code]))
		}
		refused = strings.Join(parts, ", ")
	}
	fmt.Fprintf(w, "clicks         %d sent by %d viewers over %d zones in %.1f s, %d acked, %d ok; refused: %s\n",
		r.ClicksSent, r.Clickers, r.Zones, r.Duration, r.ClicksAcked, r.ClicksOK, refused)
	fmt.Fprintf(w, "ack            p50 %.1f ms  p99 %.1f ms  max %.1f ms\n", r.Ack.P50, r.Ack.P99, r.Ack.Max)
	fmt.Fprintf(w, "click→device   p50 %.1f ms  p99 %.1f ms  max %.1f ms  (%d of %d ok clicks reached a device; %d device requests)\n",
		r.ClickToDevice.P50, r.ClickToDevice.P99, r.ClickToDevice.Max, r.ReachedDevice, r.ClicksOK, r.DeviceRequests)
	fmt.Fprintf(w, "broadcast      p50 %.1f ms  p99 %.1f ms  max %.1f ms  (%d deliveries, %d never delivered)\n",
		r.Broadcast.P50, r.Broadcast.P99, r.Broadcast.Max, r.Broadcast.N, r.BroadcastMissing)
	fmt.Fprintf(w, "final state    %d viewers missing the final confirmed state (%d zones unconfirmed at the hub)\n",
		r.ViewersMissingFinal, r.FinalUnconfirmed)
	if r.RSSBeforeMB > 0 {
		fmt.Fprintf(w, "hub memory     %.1f MB before, %.1f MB with %d idle viewers: %.1f KB per viewer\n",
			r.RSSBeforeMB, r.RSSAfterMB, r.Connected, r.KBPerViewer)
		fmt.Fprintf(w, "               %.1f MB after clicking and settling: %.1f KB per viewer\n",
			r.RSSEndMB, 1024*(r.RSSEndMB-r.RSSBeforeMB)/float64(max(1, r.Connected)))
		fmt.Fprintf(w, "cpu            hub %.0f%%, loadtest %.0f%% of one core while clicking\n", r.HubCPU, r.ToolCPU)
		for i, h := range r.Hubs {
			fmt.Fprintf(w, "hub %d          %d viewers, %.1f → %.1f MB: %.1f KB per viewer; cpu %.0f%% of one core while clicking (%s)\n",
				i+1, h.Viewers, h.RSSBeforeMB, h.RSSAfterMB, h.KBPerViewer, h.CPU, h.URL)
		}
	} else {
		fmt.Fprintf(w, "hub memory     not measured (pass -hub-pid with -hub)\n")
	}
}

// writeJSON writes r as one JSON line.
func (r *report) writeJSON(w io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
