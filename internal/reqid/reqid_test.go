package reqid

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	for _, tc := range []struct {
		sent, want string
		ok         bool
	}{
		{"req-abc", "req-abc", true},
		{"abc", "req-abc", true},
		{strings.Repeat("x", MaxLen+1), "", false},
		{"req-" + strings.Repeat("x", MaxLen-4), "req-" + strings.Repeat("x", MaxLen-4), true},
	} {
		got, ok := Normalize(tc.sent)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("Normalize(%q) = %q, %v; want %q, %v", tc.sent, got, ok, tc.want, tc.ok)
		}
	}
	a, _ := Normalize("")
	b, _ := Normalize("")
	if !strings.HasPrefix(a, "req-") || len(a) != len("req-")+36 || a == b {
		t.Errorf("new ids %q, %q", a, b)
	}
}

// TestAcrossHTTP: the id of a request's context goes out in its header
// and comes back into the server's context, and into its log records.
func TestAcrossHTTP(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(Handler(slog.NewTextHandler(&logs, nil))).With("component", "test")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.InfoContext(Inbound(r), "served")
	}))
	defer srv.Close()
	req, err := http.NewRequestWithContext(With(context.Background(), "req-42"), http.MethodGet, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	Outbound(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// Without an id nothing is added.
	log.InfoContext(context.Background(), "plain")
	got := logs.String()
	if !strings.Contains(got, "msg=served component=test request_id=req-42") {
		t.Errorf("served record: %s", got)
	}
	if strings.Count(got, "request_id") != 1 {
		t.Errorf("plain record has a request id: %s", got)
	}
	if Handler(log.Handler()) != log.Handler() {
		t.Error("Handler wraps a wrapped handler again")
	}
}
