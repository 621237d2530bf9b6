package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/logging"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/stagelink/stagelink/streaming"
)

// videoReport is what -video measures: the hub's cost of fanning one stream out to many viewers.
type videoReport struct {
	Viewers          int     `json:"viewers"`
	Seconds          float64 `json:"duration"`
	StreamMbps       float64 `json:"stream_mbps"`           // what the publisher sent
	HubCPUPercent    float64 `json:"hub_cpu_pct"`           // of one core
	MsPerViewerMbps  float64 `json:"ms_per_viewer_mbps"`    // hub CPU ms per viewer-second per Mbit/s
	EgressMbpsPerCPU float64 `json:"egress_mbit_per_cpu_s"` // Mbit delivered to viewers per hub CPU-second
	LossPercent      float64 `json:"loss_pct"`              // packets viewers missed
	FirstFrameMs     float64 `json:"first_packet_ms_p50"`   // from the WHEP POST to the first packet
}

func (r videoReport) print(w io.Writer) {
	fmt.Fprintf(w, "video fan-out: %d viewers of a %.2f Mbit/s H.264 stream for %.0f s\n", r.Viewers, r.StreamMbps, r.Seconds)
	fmt.Fprintf(w, "  hub CPU                %.1f %% of a core\n", r.HubCPUPercent)
	fmt.Fprintf(w, "  per viewer             %.3f ms CPU per viewer-second per Mbit/s\n", r.MsPerViewerMbps)
	fmt.Fprintf(w, "  egress                 %.0f Mbit per CPU-second\n", r.EgressMbpsPerCPU)
	fmt.Fprintf(w, "  loss                   %.3f %%\n", r.LossPercent)
	fmt.Fprintf(w, "  first packet (median)  %.0f ms after the WHEP POST\n", r.FirstFrameMs)
}

// quietPion keeps pion's own logging out of the report.
type quietPion struct{}

func (quietPion) NewLogger(string) logging.LeveledLogger {
	return logging.NewDefaultLeveledLoggerForScope("", logging.LogLevelDisabled, io.Discard)
}

func newClientAPI() (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, ir); err != nil {
		return nil, err
	}
	se := webrtc.SettingEngine{LoggerFactory: quietPion{}}
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)), nil
}

// exchange posts pc's complete offer to url and applies the answer.
func exchange(ctx context.Context, pc *webrtc.PeerConnection, url, token string) error {
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return err
	}
	<-gathered
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(pc.LocalDescription().SDP))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/sdp")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("POST %s: %s %s", url, resp.Status, body)
	}
	return pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(body)})
}

// padded returns the test pattern with an SEI NAL unit of unregistered user data (which decoders skip) in
// each access unit, so that the stream runs at about bitrate. Filler data (type 12) would be simpler, but
// pion's packetizer drops it.
func padded(bitrate int) ([][]byte, int, error) {
	aus, fps, err := streaming.TestPatternFrames()
	if err != nil {
		return nil, 0, err
	}
	perFrame := bitrate / 8 / fps
	out := make([][]byte, len(aus))
	for i, au := range aus {
		var b bytes.Buffer
		for _, n := range au {
			b.Write([]byte{0, 0, 0, 1})
			b.Write(n)
		}
		if fill := perFrame - b.Len() - 32; fill > 0 {
			b.Write([]byte{0, 0, 0, 1, 0x06, 0x05}) // SEI, payload type 5: user_data_unregistered
			size := 16 + fill
			for ; size >= 255; size -= 255 {
				b.WriteByte(0xff)
			}
			b.WriteByte(byte(size))
			b.Write(bytes.Repeat([]byte{0x5a}, 16)) // the UUID
			b.Write(bytes.Repeat([]byte{0xaa}, fill))
			b.WriteByte(0x80) // rbsp trailing bits
		}
		out[i] = b.Bytes()
	}
	return out, fps, nil
}

// videoViewer counts what one WHEP viewer receives.
type videoViewer struct {
	pc      *webrtc.PeerConnection
	packets atomic.Int64
	bytes   atomic.Int64
	gaps    atomic.Int64
	first   atomic.Int64 // nanoseconds from the POST to the first packet
}

// measureVideo publishes a stream of cfg.videoBitrate to the hub and plays it to cfg.videoViewers
// viewers, then measures the hub's CPU time over cfg.duration.
func measureVideo(ctx context.Context, cfg config, hubURL, token string, pid int, log *slog.Logger) (*videoReport, error) {
	if pid <= 0 {
		return nil, errors.New("-video needs the hub's process id: start the hub with the tool, or pass -hub-pid")
	}
	api, err := newClientAPI()
	if err != nil {
		return nil, err
	}
	frames, fps, err := padded(cfg.videoBitrate)
	if err != nil {
		return nil, err
	}

	pub, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	defer pub.Close()
	track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
	}, "video", "loadtest")
	if err != nil {
		return nil, err
	}
	if _, err := pub.AddTrack(track); err != nil {
		return nil, err
	}
	for _, tr := range pub.GetTransceivers() {
		var h264 []webrtc.RTPCodecParameters
		for _, c := range tr.Sender().GetParameters().Codecs {
			if c.MimeType == webrtc.MimeTypeH264 {
				h264 = append(h264, c)
			}
		}
		_ = tr.SetCodecPreferences(h264)
	}
	if err := exchange(ctx, pub, hubURL+"/whip/live", token); err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	var sentBytes atomic.Int64
	pctx, stopPublishing := context.WithCancel(ctx)
	var publishing sync.WaitGroup
	publishing.Go(func() {
		tick := time.NewTicker(time.Second / time.Duration(fps))
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-pctx.Done():
				return
			case <-tick.C:
			}
			f := frames[i%len(frames)]
			if track.WriteSample(media.Sample{Data: f, Duration: time.Second / time.Duration(fps)}) == nil {
				sentBytes.Add(int64(len(f)))
			}
		}
	})
	defer func() { stopPublishing(); publishing.Wait() }()
	time.Sleep(time.Second)

	viewers := make([]*videoViewer, cfg.videoViewers)
	for i := range viewers {
		v := &videoViewer{}
		if v.pc, err = api.NewPeerConnection(webrtc.Configuration{}); err != nil {
			return nil, err
		}
		defer v.pc.Close()
		if _, err := v.pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			return nil, err
		}
		posted := time.Now()
		v.pc.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
			var last uint16
			for n := 0; ; n++ {
				pkt, _, err := t.ReadRTP()
				if err != nil {
					return
				}
				if n == 0 {
					v.first.Store(int64(time.Since(posted)))
				} else if gap := pkt.SequenceNumber - last - 1; gap > 0 && gap < 1000 {
					v.gaps.Add(int64(gap))
				}
				last = pkt.SequenceNumber
				v.packets.Add(1)
				v.bytes.Add(int64(len(pkt.Payload)))
			}
		})
		if err := exchange(ctx, v.pc, hubURL+"/whep/live", ""); err != nil {
			return nil, fmt.Errorf("viewer %d: %w", i, err)
		}
		viewers[i] = v
	}
	log.Info("viewers connected; warming up", "viewers", len(viewers))
	time.Sleep(3 * time.Second)

	sum := func() (packets, bytes, gaps int64) {
		for _, v := range viewers {
			packets += v.packets.Load()
			bytes += v.bytes.Load()
			gaps += v.gaps.Load()
		}
		return
	}
	cpu0, err := cpuTime(pid)
	if err != nil {
		return nil, err
	}
	p0, b0, g0 := sum()
	s0, t0 := sentBytes.Load(), time.Now()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(cfg.duration):
	}
	cpu1, err := cpuTime(pid)
	if err != nil {
		return nil, err
	}
	p1, b1, g1 := sum()
	secs := time.Since(t0).Seconds()
	cpu := (cpu1 - cpu0).Seconds()
	mbps := float64(sentBytes.Load()-s0) * 8 / 1e6 / secs
	r := &videoReport{
		Viewers:       len(viewers),
		Seconds:       round2(secs),
		StreamMbps:    round2(mbps),
		HubCPUPercent: round2(100 * cpu / secs),
	}
	if mbps > 0 {
		r.MsPerViewerMbps = round3(1000 * cpu / (float64(len(viewers)) * secs * mbps))
	}
	if cpu > 0 {
		r.EgressMbpsPerCPU = round2(float64(b1-b0) * 8 / 1e6 / cpu)
	}
	if got, lost := p1-p0, g1-g0; got+lost > 0 {
		r.LossPercent = round3(100 * float64(lost) / float64(got+lost))
	}
	var firsts []float64
	for _, v := range viewers {
		if f := v.first.Load(); f > 0 {
			firsts = append(firsts, float64(f)/1e6)
		}
	}
	r.FirstFrameMs = percentiles(firsts).P50
	return r, nil
}

func (r videoReport) writeJSON(w io.Writer) error { return json.NewEncoder(w).Encode(r) }
