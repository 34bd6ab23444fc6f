package web

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/reboundhq/rebound/hub/state"
)

// login signs in through the real API and returns the session cookie and CSRF token.
func login(t *testing.T, base, user string) (cookie, csrf string) {
	t.Helper()
	resp, err := http.Post(base+"/api/v1/auth/login", "application/json", strings.NewReader(`{"username":"`+user+`","password":"`+testPassword+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("login %s: %d", user, resp.StatusCode)
	}
	var body struct {
		CSRFToken string `json:"csrfToken"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	for _, c := range resp.Cookies() {
		if c.Name == "rebound_session" {
			return c.Name + "=" + c.Value, body.CSRFToken
		}
	}
	t.Fatal("no session cookie")
	return "", ""
}

// TestEventsEndpoint checks /events through the real API's sessions: no
// session, no stream; a CSR of Acme hears Acme's lead changes and not
// Bright's.
func TestEventsEndpoint(t *testing.T) {
	h := startHub(t)
	resp, err := http.Get(h.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous /events: %d", resp.StatusCode)
	}

	cookie, _ := login(t, h.URL, "ana")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.URL+"/events", nil)
	req.Header.Set("Cookie", cookie)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("/events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if err := h.broker.waitSubscribers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	// Root changes a Bright lead, then an Acme lead.
	rootCookie, rootCSRF := login(t, h.URL, "root")
	for _, lead := range []string{h.leads["bright"], h.leads["lee"]} {
		r, _ := http.NewRequest(http.MethodPost, h.URL+"/api/v1/leads/"+lead+"/status", strings.NewReader(`{"status":"Lead - not able to save"}`))
		r.Header.Set("Cookie", rootCookie)
		r.Header.Set("X-CSRF-Token", rootCSRF)
		r.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("status change of %s: %d", lead, res.StatusCode)
		}
	}
	sr := &sseReader{bufio.NewReader(resp.Body)}
	f, err := sr.next()
	if err != nil {
		t.Fatal(err)
	}
	var d liveData
	if err := json.Unmarshal([]byte(f.data), &d); err != nil {
		t.Fatal(err)
	}
	if f.event != "lead" || d.LeadID != h.leads["lee"] || d.Status != "Lead - not able to save" || d.Kind != state.CmdLeadStatus {
		t.Fatalf("first event for Ana: %+v %+v (Bright's change must not reach her)", f, d)
	}
	// Reconnecting with the last id replays nothing more; with an earlier one
	// it replays the change.
	idx, pos, err := ParseEventID(f.id)
	if err != nil {
		t.Fatal(err)
	}
	s, replay, _ := h.broker.subscribe(Viewer{Tenants: map[string]map[string]bool{h.acme: {PermSCLView: true}}}, true, idx, pos)
	h.broker.unsubscribe(s)
	if len(replay) != 0 {
		t.Fatalf("replay after the last id: %d events", len(replay))
	}
}
