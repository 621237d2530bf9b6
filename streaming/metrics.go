package streaming

import "github.com/prometheus/client_golang/prometheus"

// The streams' metrics, labelled by stream.
var (
	metricLive = prometheus.NewDesc("stagelink_stream_live",
		"1 while a source publishes the stream.", []string{"stream", "source"}, nil)
	metricViewers = prometheus.NewDesc("stagelink_stream_viewers",
		"WebRTC viewers of the stream.", []string{"stream"}, nil)
	metricBitrate = prometheus.NewDesc("stagelink_stream_bitrate_bits_per_second",
		"The publication's bitrate over the last second.", []string{"stream"}, nil)
	metricFPS = prometheus.NewDesc("stagelink_stream_frames_per_second",
		"The publication's video frame rate over the last second.", []string{"stream"}, nil)
	metricSent = prometheus.NewDesc("stagelink_stream_packets_sent_total",
		"RTP packets sent to the stream's viewers.", []string{"stream"}, nil)
	metricDropped = prometheus.NewDesc("stagelink_stream_packets_dropped_total",
		"RTP packets viewers lost by falling behind or waiting for a keyframe.", []string{"stream"}, nil)
)

var _ prometheus.Collector = (*Server)(nil)

// Describe implements prometheus.Collector.
func (s *Server) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{metricLive, metricViewers, metricBitrate, metricFPS, metricSent, metricDropped} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: one sample of every stream's status.
func (s *Server) Collect(ch chan<- prometheus.Metric) {
	for _, st := range s.Status() {
		live, source := 0.0, ""
		if st.Live {
			live, source = 1, st.Source.Kind
		}
		ch <- prometheus.MustNewConstMetric(metricLive, prometheus.GaugeValue, live, st.Name, source)
		ch <- prometheus.MustNewConstMetric(metricViewers, prometheus.GaugeValue, float64(st.Viewers), st.Name)
		ch <- prometheus.MustNewConstMetric(metricBitrate, prometheus.GaugeValue, float64(st.Bitrate), st.Name)
		ch <- prometheus.MustNewConstMetric(metricFPS, prometheus.GaugeValue, st.FPS, st.Name)
		ch <- prometheus.MustNewConstMetric(metricSent, prometheus.CounterValue, float64(st.Sent), st.Name)
		ch <- prometheus.MustNewConstMetric(metricDropped, prometheus.CounterValue, float64(st.Dropped), st.Name)
	}
}
