package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/stagelink/stagelink/lighting"
	"github.com/stagelink/stagelink/printer"
)

// scrape registers c in a fresh registry, serves /metrics from it and parses the text.
func scrape(t *testing.T, c prometheus.Collector) map[string]*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry() // also checks that Collect matches Describe
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}).
		ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics = %d: %s", rec.Code, rec.Body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return families
}

// series flattens a family into "name{label=value,…}" → value; histograms give _count and _sum.
func series(families map[string]*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			sort.Strings(labels)
			key := name
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case m.GetCounter() != nil:
				out[key] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				out[key] = m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				out[key+"_count"] = float64(m.GetHistogram().GetSampleCount())
				out[key+"_sum"] = m.GetHistogram().GetSampleSum()
			}
		}
	}
	return out
}

func TestMetrics(t *testing.T) {
	printerStatus := printer.PrinterState{Known: true, Online: true, PaperOut: true}
	srv, _ := newLoggedServer(t, Config{
		PrintQueueDepth: func() (int, bool) { return 7, true },
		PrinterStatus:   func() (printer.PrinterState, bool) { return printerStatus, true },
	})
	srv.lights.ZoneStatus(t.Context(), apiLink{}, "lamp", false, 0, "unreachable")

	o := lightObserver{srv.metrics, srv.history}
	ok := lighting.Entry{Version: 1}
	for range 3 {
		o.Command(lighting.Viewer{}, lighting.Command{}, ok, nil)
	}
	for _, err := range []error{
		&lighting.Error{Code: lighting.CodeRateLimited, Message: "slow down"},
		&lighting.Error{Code: lighting.CodeRateLimited, Message: "slow down"},
		&lighting.Error{Code: "blocked", Message: "blocked"},
		&lighting.Error{Code: "made_up_code", Message: "?"},
		&lighting.Error{Code: "ok", Message: "a refusal that calls itself ok"},
		errors.New("redis: connection pool timeout"),
	} {
		o.Command(lighting.Viewer{}, lighting.Command{}, lighting.Entry{}, err)
	}
	o.Confirmed("desk", 1, 0) // not accepted in this process: left out
	o.Confirmed("desk", 2, 30*time.Millisecond)
	o.Confirmed("desk", 3, 2*time.Second)
	srv.Metrics().AddDashboardSessions(2)
	srv.Metrics().AddDashboardSessions(-1)
	srv.Metrics().PrintJob("queued")
	srv.Metrics().PrintJob("printed")
	srv.Metrics().PrintJob("exploded")

	for _, target := range []string{"/healthz", "/healthz", "/api/v1/zones", "/no/such/page"} {
		srv.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", target, nil))
	}
	srv.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("DELETE", "/healthz", nil))

	got := series(scrape(t, srv.Metrics()))
	want := map[string]float64{
		"stagelink_viewers":                     0,
		"stagelink_bridges":                     0,
		"stagelink_dashboard_sessions":          1,
		"stagelink_zones{state=online}":         2,
		"stagelink_zones{state=offline}":        1,
		"stagelink_print_queue_depth":           7,
		"stagelink_printer_up":                  1,
		"stagelink_printer_paper_out":           1,
		"stagelink_printer_cover_open":          0,
		"stagelink_light_confirm_seconds_count": 2,
		"stagelink_light_confirm_seconds_sum":   2.03,

		"stagelink_light_commands_total{result=ok}":           3,
		"stagelink_light_commands_total{result=rate_limited}": 2,
		"stagelink_light_commands_total{result=blocked}":      1,
		"stagelink_light_commands_total{result=internal}":     3,
		"stagelink_light_commands_total{result=bad_request}":  0,
		"stagelink_light_commands_total{result=unknown_zone}": 0,
		"stagelink_light_commands_total{result=zone_offline}": 0,
		"stagelink_light_commands_total{result=paused}":       0,

		"stagelink_print_jobs_total{state=queued}":  1,
		"stagelink_print_jobs_total{state=printed}": 1,
		"stagelink_print_jobs_total{state=failed}":  0,
		"stagelink_print_jobs_total{state=refused}": 0,
		"stagelink_print_jobs_total{state=other}":   1,

		"stagelink_http_requests_total{code=200,route=GET /healthz}":             2,
		"stagelink_http_requests_total{code=200,route=GET /api/v1/zones}":        1,
		"stagelink_http_requests_total{code=404,route=GET /}":                    1,
		"stagelink_http_requests_total{code=405,route=unmatched}":                1,
		"stagelink_http_request_duration_seconds{route=GET /healthz}_count":      2,
		"stagelink_http_request_duration_seconds{route=GET /api/v1/zones}_count": 1,
		"stagelink_http_request_duration_seconds{route=GET /}_count":             1,
		"stagelink_http_request_duration_seconds{route=unmatched}_count":         1,
	}
	for k := range got {
		if strings.HasPrefix(k, "stagelink_http_request_duration_seconds") && strings.HasSuffix(k, "_sum") {
			delete(got, k) // real time
		}
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 })); diff != "" {
		t.Errorf("/metrics (-want +got):\n%s", diff)
	}
}

// TestMetricsNotConfigured: without a print queue or a printer, their gauges are left out rather than
// reported as 0.
func TestMetricsNotConfigured(t *testing.T) {
	for _, cfg := range []Config{{}, {
		PrintQueueDepth: func() (int, bool) { return 0, false },
		PrinterStatus:   func() (printer.PrinterState, bool) { return printer.PrinterState{}, false },
	}} {
		srv, _ := newLoggedServer(t, cfg)
		families := scrape(t, srv.Metrics())
		for _, name := range []string{"stagelink_print_queue_depth", "stagelink_printer_up", "stagelink_printer_paper_out", "stagelink_printer_cover_open"} {
			if families[name] != nil {
				t.Errorf("%s reported without a source: %v", name, families[name])
			}
		}
		if families["stagelink_viewers"] == nil {
			t.Error("stagelink_viewers missing")
		}
	}
}

// TestMetricsCardinality: garbage refusal codes, print states, paths and methods add no label values
// beyond a small fixed set.
func TestMetricsCardinality(t *testing.T) {
	srv, _ := newLoggedServer(t, Config{})
	o := lightObserver{srv.metrics, srv.history}
	for i := range 200 {
		o.Command(lighting.Viewer{}, lighting.Command{}, lighting.Entry{}, &lighting.Error{Code: lighting.Code(fmt.Sprint("code-", i))})
		srv.Metrics().PrintJob(fmt.Sprint("state-", i))
		method := []string{"GET", "POST", "BREW", "PUT"}[i%4]
		srv.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(method, fmt.Sprintf("/x%d/y?z=%d", i, i), nil))
	}
	families := scrape(t, srv.Metrics())
	for name, most := range map[string]int{
		"stagelink_light_commands_total":          len(commandResults),
		"stagelink_print_jobs_total":              len(printJobStates),
		"stagelink_http_requests_total":           4,
		"stagelink_http_request_duration_seconds": 2,
	} {
		if n := len(families[name].GetMetric()); n == 0 || n > most {
			t.Errorf("%s has %d series after 200 garbage inputs, want 1 to %d", name, n, most)
		}
	}
}

// TestMetricsCountSockets: connected viewers and bridges show in the gauges, and leave them when they
// disconnect. (Zones are counted in TestMetrics: a bridge's hello is not needed here.)
func TestMetricsCountSockets(t *testing.T) {
	h := newHub(t, lighting.DefaultConfig())
	value := func(key string) float64 { return series(scrape(t, h.srv.Metrics()))[key] }
	// connect dials nsp until the gauge counts the connection: the Go client now and then loses a fresh
	// WebSocket under -race (see fakeBridge), and then the hub rightly counts it gone.
	connect := func(nsp, gauge string, auth map[string]any) *client {
		t.Helper()
		for range 3 {
			c, err := dial(t, h.url, nsp, auth)
			if err != nil {
				t.Fatal(err)
			}
			if poll(3*time.Second, func() bool { return value(gauge) == 1 }) {
				return c
			}
			c.sock.Disconnect()
			poll(5*time.Second, func() bool { return value(gauge) == 0 })
		}
		t.Fatalf("%s never counted one connection to %s", gauge, nsp)
		return nil
	}
	b := connect("/bridge", "stagelink_bridges", map[string]any{"token": testBridgeToken})
	v := connect("/", "stagelink_viewers", nil)
	v.sock.Disconnect()
	b.sock.Disconnect()
	eventually(t, "the viewer and the bridge gone", func() bool {
		return value("stagelink_viewers") == 0 && value("stagelink_bridges") == 0
	})
}

// poll reports whether cond became true within d.
func poll(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}
