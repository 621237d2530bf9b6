package web

import (
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stagelink/stagelink/lighting"
	"github.com/stagelink/stagelink/printer"
)

// The web layer's gauges, read from their sources at every scrape.
var (
	metricViewers = prometheus.NewDesc("stagelink_viewers",
		"Viewers connected over Socket.IO.", nil, nil)
	metricBridges = prometheus.NewDesc("stagelink_bridges",
		"Bridge agents connected over Socket.IO.", nil, nil)
	metricDashboards = prometheus.NewDesc("stagelink_dashboard_sessions",
		"Dashboard (/admin) sockets connected.", nil, nil)
	metricZones = prometheus.NewDesc("stagelink_zones",
		"Light zones the connected bridges announced, by whether their device is online.", []string{"state"}, nil)
	metricQueueDepth = prometheus.NewDesc("stagelink_print_queue_depth",
		"Print jobs waiting to be printed.", nil, nil)
	metricPrinterUp = prometheus.NewDesc("stagelink_printer_up",
		"1 while the printer answers and its agent reports (a report older than 90 s counts as down).", nil, nil)
	metricPaperOut = prometheus.NewDesc("stagelink_printer_paper_out",
		"1 while the printer reports that its paper ran out.", nil, nil)
	metricCoverOpen = prometheus.NewDesc("stagelink_printer_cover_open",
		"1 while the printer reports that its cover is open.", nil, nil)
)

// commandResults are the values of stagelink_light_commands_total's result label: "ok" and the refusal
// codes. "blocked" is the code of a blocked viewer.
var commandResults = []string{"ok",
	string(lighting.CodeBadRequest), string(lighting.CodeUnknownZone), string(lighting.CodeZoneOffline),
	string(lighting.CodeRateLimited), string(lighting.CodePaused), "blocked", string(lighting.CodeInternal)}

// printJobStates are the values of stagelink_print_jobs_total's state label; any other is counted as "other".
var printJobStates = []string{string(printer.JobQueued), string(printer.JobPrinted), string(printer.JobFailed), "refused", "other"}

// confirmBuckets spans click-to-device latency from 1 ms to 5 s, in seconds.
var confirmBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

// metricSources are the functions the gauges read at each scrape. They must be cheap and must not block.
// A nil source, or one that answers ok false, leaves its gauges out.
type metricSources struct {
	viewers    func() int64
	bridges    func() int64
	zones      func() []lighting.Zone
	queueDepth func() (int, bool)
	printer    func() (printer.PrinterState, bool)
}

// Metrics is the web layer's Prometheus collector: connected viewers, bridges and dashboards, light
// commands by result and their click-to-device latency, zones online and offline, the print queue and
// the printer, print jobs by state, and HTTP requests by route. The Server makes one (Server.Metrics);
// register it in the hub's registry.
type Metrics struct {
	src        metricSources
	dashboards atomic.Int64

	commands  *prometheus.CounterVec
	byResult  map[string]prometheus.Counter // commands' children, resolved once: command is on the hot path
	confirm   prometheus.Histogram
	printJobs *prometheus.CounterVec
	requests  *prometheus.CounterVec
	durations *prometheus.HistogramVec
}

var _ prometheus.Collector = (*Metrics)(nil)

func newMetrics(src metricSources) *Metrics {
	m := &Metrics{
		src: src,
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stagelink_light_commands_total",
			Help: `Light commands from viewers and the API, by result: "ok" or the refusal code.`,
		}, []string{"result"}),
		confirm: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "stagelink_light_confirm_seconds",
			Help:    "Click-to-device latency: from the hub accepting a command to its bridge confirming the device applied it.",
			Buckets: confirmBuckets,
		}),
		printJobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stagelink_print_jobs_total",
			Help: "Print jobs by the state they reached: queued, printed, failed, refused.",
		}, []string{"state"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stagelink_http_requests_total",
			Help: `HTTP requests by route (the pattern that served it, "unmatched" if none) and status code.`,
		}, []string{"route", "code"}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "stagelink_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests by route; a WebSocket upgrade counts until the upgrade.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
	}
	m.byResult = make(map[string]prometheus.Counter, len(commandResults))
	for _, r := range commandResults {
		m.byResult[r] = m.commands.WithLabelValues(r) // every result shows, at 0, from the start
	}
	for _, s := range printJobStates {
		m.printJobs.WithLabelValues(s)
	}
	return m
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{metricViewers, metricBridges, metricDashboards, metricZones,
		metricQueueDepth, metricPrinterUp, metricPaperOut, metricCoverOpen} {
		ch <- d
	}
	for _, c := range m.vectors() {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	if m.src.viewers != nil {
		gauge(metricViewers, float64(m.src.viewers()))
	}
	if m.src.bridges != nil {
		gauge(metricBridges, float64(m.src.bridges()))
	}
	gauge(metricDashboards, float64(m.dashboards.Load()))
	if m.src.zones != nil {
		var online, offline int
		for _, z := range m.src.zones() {
			if z.Online {
				online++
			} else {
				offline++
			}
		}
		gauge(metricZones, float64(online), "online")
		gauge(metricZones, float64(offline), "offline")
	}
	if m.src.queueDepth != nil {
		if n, ok := m.src.queueDepth(); ok {
			gauge(metricQueueDepth, float64(n))
		}
	}
	if m.src.printer != nil {
		if st, ok := m.src.printer(); ok {
			gauge(metricPrinterUp, bit(st.Online && !st.Stale))
			gauge(metricPaperOut, bit(st.PaperOut))
			gauge(metricCoverOpen, bit(st.CoverOpen))
		}
	}
	for _, c := range m.vectors() {
		c.Collect(ch)
	}
}

func (m *Metrics) vectors() []prometheus.Collector {
	return []prometheus.Collector{m.commands, m.confirm, m.printJobs, m.requests, m.durations}
}

func bit(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// AddDashboardSessions adds delta (1 on connect, -1 on disconnect) to the connected dashboard sockets.
func (m *Metrics) AddDashboardSessions(delta int64) { m.dashboards.Add(delta) }

// PrintJob counts a print job that reached state: "queued", "printed", "failed" (printer.JobState) or
// "refused" (by moderation). Any other state is counted as "other", so the label stays bounded.
func (m *Metrics) PrintJob(state string) {
	if !slices.Contains(printJobStates, state) {
		state = "other"
	}
	m.printJobs.WithLabelValues(state).Inc()
}

// command counts a light command: accepted (err nil) or refused.
func (m *Metrics) command(err error) {
	if err == nil {
		m.byResult["ok"].Inc()
		return
	}
	code := string(lighting.ErrorCode(err))
	c, ok := m.byResult[code]
	if !ok || code == "ok" { // a refusal is never counted as ok
		c = m.byResult[string(lighting.CodeInternal)]
	}
	c.Inc()
}

// confirmed records one click-to-device latency.
func (m *Metrics) confirmed(latency time.Duration) { m.confirm.Observe(latency.Seconds()) }

// request counts one HTTP request that route served.
func (m *Metrics) request(route string, status int, took time.Duration) {
	code := "other"
	if status >= 100 && status <= 599 {
		code = strconv.Itoa(status)
	}
	m.requests.WithLabelValues(route, code).Inc()
	m.durations.WithLabelValues(route).Observe(took.Seconds())
}
