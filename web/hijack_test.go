package web

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestHijackWriterForgets: after the WebSocket upgrade hijacks the connection, the writer the Engine.IO
// library keeps no longer holds net/http's response (and its buffers).
func TestHijackWriterForgets(t *testing.T) {
	var hw *hijackWriter
	srv := httptest.NewServer(releaseOnHijack(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hw = w.(*hijackWriter)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		conn.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
		conn.Close()
	})))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if hw.inner() != nil {
		t.Error("the writer still holds net/http's ResponseWriter after the hijack")
	}
	if _, err := hw.Write([]byte("x")); !errors.Is(err, http.ErrHijacked) {
		t.Errorf("Write after hijack = %v, want ErrHijacked", err)
	}
	hw.Header().Set("X", "y") // must not panic
	if _, _, err := hw.Hijack(); !errors.Is(err, http.ErrHijacked) {
		t.Errorf("second Hijack = %v, want ErrHijacked", err)
	}
}
