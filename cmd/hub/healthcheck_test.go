package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestHealthcheck(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "ok\n")
	}))
	defer ok.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
	}))
	defer failing.Close()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer slow.Close()
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()

	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string // "" for success
	}{
		{name: "200", args: []string{"-url", ok.URL + "/healthz"}},
		{name: "port from STAGELINK_ADDR", env: map[string]string{"STAGELINK_ADDR": strings.TrimPrefix(ok.URL, "http://")}},
		{name: "503", args: []string{"-url", failing.URL + "/healthz"}, wantErr: "503 Service Unavailable, want 200 OK"},
		{name: "404", args: []string{"-url", ok.URL + "/nothing"}, wantErr: "404"},
		{name: "refused", args: []string{"-url", gone.URL + "/healthz"}, wantErr: "refused"},
		{name: "slower than 2 s", args: []string{"-url", slow.URL + "/healthz"}, wantErr: "deadline exceeded"},
		{name: "bad url", args: []string{"-url", "::"}, wantErr: "-url"},
		{name: "extra argument", args: []string{"now"}, wantErr: "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), append([]string{"healthcheck"}, tt.args...), func(k string) string { return tt.env[k] },
				strings.NewReader(""), io.Discard, io.Discard)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("got %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("got %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestHealthzURL(t *testing.T) {
	tests := []struct{ addr, want string }{
		{"", "http://127.0.0.1:8080/healthz"},
		{":8080", "http://127.0.0.1:8080/healthz"},
		{":9000", "http://127.0.0.1:9000/healthz"},
		{"0.0.0.0:9000", "http://127.0.0.1:9000/healthz"},
		{"[::]:9000", "http://127.0.0.1:9000/healthz"},
		{"10.0.0.5:8080", "http://10.0.0.5:8080/healthz"},
		{"[::1]:8080", "http://[::1]:8080/healthz"},
		{"nonsense", "http://127.0.0.1:8080/healthz"},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			if got := healthzURL(tt.addr); got != tt.want {
				t.Errorf("healthzURL(%q) = %q, want %q", tt.addr, got, tt.want)
			}
		})
	}
}
