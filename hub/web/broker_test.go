package web

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// sseFrame is one parsed server-sent event.
type sseFrame struct{ id, event, data string }

// sseReader parses a text/event-stream the way EventSource does (fields we use).
type sseReader struct{ r *bufio.Reader }

func (s *sseReader) next() (sseFrame, error) {
	var f sseFrame
	var data []string
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return f, err
		}
		line = strings.TrimRight(line, "\n")
		if line == "" {
			if f.event == "" && len(data) == 0 {
				continue // retry-only or comment block
			}
			f.data = strings.Join(data, "\n")
			return f, nil
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		k, v, _ := strings.Cut(line, ":")
		v = strings.TrimPrefix(v, " ")
		switch k {
		case "id":
			f.id = v
		case "event":
			f.event = v
		case "data":
			data = append(data, v)
		}
	}
}

// streamServer serves b with the viewer chosen by the ?as= query parameter.
func streamServer(t testing.TB, b *Broker, viewers map[string]Viewer) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, ok := viewers[r.URL.Query().Get("as")]
		if !ok {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		b.Serve(w, r, v)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func connect(t testing.TB, ctx context.Context, url, lastID string) (*sseReader, io.Closer) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("connect %s: status %d", url, resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	return &sseReader{bufio.NewReader(resp.Body)}, resp.Body
}

func ev(idx uint64, pos int, tenant, perm, typ, data string) Event {
	return Event{Index: idx, Pos: pos, Tenant: tenant, Perm: perm, Type: typ, Data: []byte(data)}
}

func TestBrokerFiltersByTenantAndPermission(t *testing.T) {
	b := NewBroker(BrokerConfig{}, nil)
	srv := streamServer(t, b, map[string]Viewer{
		"a-scl":  {Tenants: map[string]map[string]bool{"a": {"scl.view": true}}},
		"a-none": {Tenants: map[string]map[string]bool{"a": {}}},
		"b-scl":  {Tenants: map[string]map[string]bool{"b": {"scl.view": true}}},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	readers := map[string]*sseReader{}
	for _, who := range []string{"a-scl", "a-none", "b-scl"} {
		r, c := connect(t, ctx, srv.URL+"?as="+who, "")
		defer c.Close()
		readers[who] = r
	}
	if err := b.waitSubscribers(ctx, 3); err != nil {
		t.Fatal(err)
	}
	b.Publish(
		ev(10, 0, "a", "scl.view", "lead", `{"n":1}`),
		ev(10, 1, "b", "scl.view", "lead", `{"n":2}`),
		ev(11, 0, "a", "", "settings", `{"n":3}`),
	)
	want := map[string][]string{
		"a-scl":  {"10-0 lead {\"n\":1}", "11-0 settings {\"n\":3}"},
		"a-none": {"11-0 settings {\"n\":3}"},
		"b-scl":  {"10-1 lead {\"n\":2}"},
	}
	for who, frames := range want {
		for _, w := range frames {
			f, err := readers[who].next()
			if err != nil {
				t.Fatalf("%s: %v", who, err)
			}
			if got := f.id + " " + f.event + " " + f.data; got != w {
				t.Errorf("%s got %q want %q", who, got, w)
			}
		}
	}
}

func TestBrokerReplaysAfterLastEventID(t *testing.T) {
	b := NewBroker(BrokerConfig{Ring: 8}, nil)
	srv := streamServer(t, b, map[string]Viewer{"a": {Tenants: map[string]map[string]bool{"a": nil}}})
	for i := 1; i <= 5; i++ {
		b.Publish(ev(uint64(i), 0, "a", "", "lead", fmt.Sprintf(`{"i":%d}`, i)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, c := connect(t, ctx, srv.URL+"?as=a", "3-0")
	defer c.Close()
	for _, want := range []string{"4-0", "5-0"} {
		f, err := r.next()
		if err != nil {
			t.Fatal(err)
		}
		if f.id != want {
			t.Fatalf("replay got %q want %q", f.id, want)
		}
	}
	// A live event after the replay follows without a gap.
	if err := b.waitSubscribers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	b.Publish(ev(6, 0, "a", "", "lead", `{}`))
	f, err := r.next()
	if err != nil || f.id != "6-0" {
		t.Fatalf("live after replay: %+v %v", f, err)
	}
}

func TestBrokerResumesFromLastQueryParameter(t *testing.T) {
	b := NewBroker(BrokerConfig{}, nil)
	srv := streamServer(t, b, map[string]Viewer{"a": {Tenants: map[string]map[string]bool{"a": nil}}})
	for i := 1; i <= 3; i++ {
		b.Publish(ev(uint64(i), 0, "a", "", "lead", `{}`))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A new EventSource cannot set Last-Event-ID; the page passes ?last=.
	r, c := connect(t, ctx, srv.URL+"?as=a&last=2-0", "")
	defer c.Close()
	f, err := r.next()
	if err != nil || f.id != "3-0" {
		t.Fatalf("resume from ?last=2-0: %+v %v", f, err)
	}
}

func TestBrokerResetWhenRingLostEvents(t *testing.T) {
	b := NewBroker(BrokerConfig{Ring: 3}, nil)
	srv := streamServer(t, b, map[string]Viewer{"a": {Tenants: map[string]map[string]bool{"a": nil}}})
	for i := 1; i <= 6; i++ {
		b.Publish(ev(uint64(i), 0, "a", "", "lead", `{}`))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tests := []struct {
		last      string
		wantReset bool
		wantFirst string
	}{
		{"1-0", true, "4-0"},  // 2 and 3 are gone
		{"3-0", false, "4-0"}, // everything after 3 is still kept
		{"5-0", false, "6-0"},
	}
	for _, tc := range tests {
		r, c := connect(t, ctx, srv.URL+"?as=a", tc.last)
		f, err := r.next()
		if err != nil {
			t.Fatal(err)
		}
		if tc.wantReset {
			if f.event != "reset" {
				t.Fatalf("last %s: want reset first, got %+v", tc.last, f)
			}
			f, err = r.next()
			if err != nil {
				t.Fatal(err)
			}
		}
		if f.id != tc.wantFirst {
			t.Errorf("last %s: first replayed %q want %q", tc.last, f.id, tc.wantFirst)
		}
		c.Close()
	}
}

func TestBrokerIgnoresReplayedHookCalls(t *testing.T) {
	b := NewBroker(BrokerConfig{}, nil)
	b.Publish(ev(5, 0, "a", "", "x", `{}`), ev(5, 1, "a", "", "x", `{}`))
	b.Publish(ev(5, 1, "a", "", "x", `{}`), ev(4, 0, "a", "", "x", `{}`), ev(6, 0, "a", "", "x", `{}`))
	s, replay, _ := b.subscribe(Viewer{Tenants: map[string]map[string]bool{"a": nil}}, true, 0, 0)
	defer b.unsubscribe(s)
	var ids []string
	for _, e := range replay {
		ids = append(ids, e.ID())
	}
	if got := strings.Join(ids, ","); got != "5-0,5-1,6-0" {
		t.Fatalf("ring holds %s", got)
	}
}

func TestBrokerDropsSlowSubscriber(t *testing.T) {
	b := NewBroker(BrokerConfig{Buffer: 2}, nil)
	s, _, _ := b.subscribe(Viewer{Tenants: map[string]map[string]bool{"a": nil}}, false, 0, 0)
	for i := 1; i <= 3; i++ {
		b.Publish(ev(uint64(i), 0, "a", "", "x", `{}`))
	}
	select {
	case <-s.dropped:
	default:
		t.Fatal("subscriber that lagged past its buffer was not dropped")
	}
	if n := b.Subscribers(); n != 0 {
		t.Fatalf("subscribers = %d after drop", n)
	}
	b.unsubscribe(s) // idempotent
}

func TestBrokerRejectsBadLastEventID(t *testing.T) {
	b := NewBroker(BrokerConfig{}, nil)
	srv := streamServer(t, b, map[string]Viewer{"a": {Tenants: map[string]map[string]bool{"a": nil}}})
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"?as=a", nil)
	req.Header.Set("Last-Event-ID", "garbage")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

func TestParseEventID(t *testing.T) {
	tests := []struct {
		in      string
		idx     uint64
		pos     int
		wantErr bool
	}{
		{"12-3", 12, 3, false},
		{" 7-0 ", 7, 0, false},
		{"18446744073709551615-0", 18446744073709551615, 0, false},
		{"12", 0, 0, true},
		{"-1", 0, 0, true},
		{"a-b", 0, 0, true},
		{"1--1", 0, 0, true},
		{"", 0, 0, true},
	}
	for _, tc := range tests {
		idx, pos, err := ParseEventID(tc.in)
		if (err != nil) != tc.wantErr || idx != tc.idx || pos != tc.pos {
			t.Errorf("ParseEventID(%q) = %d,%d,%v", tc.in, idx, pos, err)
		}
	}
}

func FuzzParseEventID(f *testing.F) {
	for _, s := range []string{"1-0", "99-12", "", "x", "1-", "-", "18446744073709551616-0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		idx, pos, err := ParseEventID(s)
		if err != nil {
			return
		}
		e := Event{Index: idx, Pos: pos}
		i2, p2, err := ParseEventID(e.ID())
		if err != nil || i2 != idx || p2 != pos {
			t.Fatalf("round trip %q -> %q failed", s, e.ID())
		}
	})
}
