package bridge

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
)

// maxSimResponse bounds a response SimTransport buffers; the simulators' largest, GET /json, is a few KB.
const maxSimResponse = 1 << 20

// SimTransport is an http.RoundTripper that hands each request to the simulated device registered for
// its host ("wled-desk" for http://wled-desk), in process and without sockets, so the demo can drive
// simulated devices through the real drivers: DeviceOptions{Client: &http.Client{Transport: SimTransport{…}}}.
// A host with no handler fails like an unreachable device.
type SimTransport map[string]http.Handler

// RoundTrip implements http.RoundTripper.
func (t SimTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	h := t[r.URL.Host]
	if h == nil {
		if r.Body != nil {
			_ = r.Body.Close()
		}
		return nil, fmt.Errorf("dial tcp %s: no simulated device at this host", r.URL.Host)
	}
	sr := r.Clone(r.Context())
	sr.RequestURI = r.URL.RequestURI()
	sr.RemoteAddr = "127.0.0.1:40000"
	if sr.Body == nil {
		sr.Body = http.NoBody
	}
	w := &simResponse{header: http.Header{}}
	h.ServeHTTP(w, sr)
	if r.Body != nil {
		_ = r.Body.Close()
	}
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", w.status, http.StatusText(w.status)),
		StatusCode:    w.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        w.header,
		Body:          io.NopCloser(bytes.NewReader(w.body.Bytes())),
		ContentLength: int64(w.body.Len()),
		Request:       r,
	}, nil
}

// simResponse buffers a simulated device's response.
type simResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *simResponse) Header() http.Header { return w.header }

func (w *simResponse) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *simResponse) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	if w.body.Len()+len(b) > maxSimResponse {
		return 0, fmt.Errorf("simulated response larger than %d bytes", maxSimResponse)
	}
	return w.body.Write(b)
}
