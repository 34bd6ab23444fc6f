package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/reboundhq/rebound/hub/api"
	"github.com/reboundhq/rebound/hub/state"
	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
	"github.com/reboundhq/rebound/sip/siptest"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// testHub is a real hub on loopback: the real state machine over a bbolt
// file, the real JSON API, this package's UI and live stream.
type testHub struct {
	URL    string
	store  *state.Local
	broker *Broker
	now    time.Time
	acme   string // tenant ids
	bright string
	root   string            // admin user id
	leads  map[string]string // name -> lead id
	custs  map[string]string // name -> customer id
}

// dirRecordings serves recordings from files on disk by reference; it stands
// in for the agent-side store the hub fetches from in production.
type dirRecordings map[string]string

func (d dirRecordings) Open(ctx context.Context, siteID, ref string) (io.ReadSeekCloser, time.Time, error) {
	p, ok := d[ref]
	if !ok {
		return nil, time.Time{}, fmt.Errorf("recording %q: %w", ref, os.ErrNotExist)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, time.Time{}, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, time.Time{}, err
	}
	return f, st.ModTime(), nil
}

// speech makes a real WAV of spoken text with espeak-ng.
func speech(t testing.TB, text string) string {
	t.Helper()
	bin := siptest.Peer(t, "espeak-ng")
	p := filepath.Join(t.TempDir(), "call.wav")
	if out, err := exec.Command(bin, "-w", p, "-s", "170", text).CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng: %v: %s", err, out)
	}
	return p
}

const testPassword = "correct horse battery"

func startHub(t testing.TB) *testHub {
	t.Helper()
	h := &testHub{now: time.Now().UTC().Truncate(time.Second), leads: map[string]string{}, custs: map[string]string{}}
	clock := func() time.Time { return time.Now().UTC() }
	st, err := state.OpenLocal(filepath.Join(t.TempDir(), "state.db"), state.New(nil), clock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h.store = st
	h.broker = NewBroker(BrokerConfig{}, nil)
	st.OnApplied(h.broker.Hook())

	wav := speech(t, "Hello, I would like a price for a new water heater install. Fifty gallons. I will think about it and call back.")
	a := api.New(api.Config{Store: st, Clock: clock, BcryptCost: bcrypt.MinCost,
		Recordings: dirRecordings{"rec-1": wav, "rec-2": wav, "rec-3": wav, "rec-4": wav, "rec-5": wav}})
	ui, err := New(Config{API: a.Handler(), Broker: h.broker, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", a.Handler())
	mux.Handle("/", ui)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	h.URL = srv.URL
	h.seed(t)
	return h
}

func (h *testHub) apply(t testing.TB, typ, tenant string, body any, out any) {
	t.Helper()
	h.applyAt(t, time.Time{}, typ, tenant, body, out)
}

// applyAt applies a command stamped at a given time (zero: now), as the
// leader would have stamped it then.
func (h *testHub) applyAt(t testing.TB, at time.Time, typ, tenant string, body any, out any) {
	t.Helper()
	var ms int64
	if !at.IsZero() {
		ms = at.UnixMilli()
	}
	var raw []byte
	if b, ok := body.([]byte); ok {
		raw = b
	} else {
		raw, _ = json.Marshal(body)
	}
	outs, err := h.store.Apply(context.Background(), &reboundv1.Command{Type: typ, TenantId: tenant, Actor: h.root, Body: raw, AtUnixMs: ms})
	if err != nil {
		t.Fatal(err)
	}
	if e := state.OutcomeError(outs[0]); e != nil {
		t.Fatalf("seed %s: %v", typ, e)
	}
	if out != nil {
		if err := json.Unmarshal(outs[0].Result, out); err != nil {
			t.Fatalf("seed %s result: %v", typ, err)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// seed builds two accounts with campaigns, users of three roles, customers
// (one phone shared by two customers), answered calls with recordings and
// transcripts reviewed into leads, and abandoned calls.
func (h *testHub) seed(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	br, err := api.Bootstrap(ctx, h.store, "Acme Plumbing", "root", testPassword)
	if err != nil {
		t.Fatal(err)
	}
	h.acme, h.root = br.TenantID, br.UserID
	var bright state.Tenant
	h.apply(t, state.CmdTenantCreate, "", state.TenantBody{Name: "Bright HVAC"}, &bright)
	h.bright = bright.ID
	hash, _ := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
	for _, u := range []struct{ name, display, role, ext string }{
		{"ana", "Ana Ortiz", "CSR", "201"}, {"bob", "Bob Lee", "CSR", "202"}, {"vic", "Vic Viewer", "Viewer", "203"},
	} {
		h.apply(t, state.CmdUserCreate, h.acme, state.UserBody{Username: u.name, DisplayName: ptr(u.display),
			PasswordHash: string(hash), Role: u.role, Extension: ptr(u.ext)}, nil)
	}
	on := true
	for _, ten := range []string{h.acme, h.bright} {
		// A long ACW window lets the seed classify calls that ended hours ago.
		h.apply(t, state.CmdSettingsUpdate, ten, state.SettingsPatch{SCLEnabled: &on, ACWMinutes: ptr(1440)}, nil)
	}
	var heat, spring, brightCamp state.Campaign
	h.apply(t, state.CmdCampaignCreate, h.acme, state.NamedBody{Name: "Heat wave radio"}, &heat)
	h.apply(t, state.CmdCampaignCreate, h.acme, state.NamedBody{Name: "Spring mailer"}, &spring)
	h.apply(t, state.CmdCampaignCreate, h.bright, state.NamedBody{Name: "Yard signs"}, &brightCamp)
	h.apply(t, state.CmdTrackingPut, h.acme, state.TrackingNumber{Number: "+15125550111", CampaignID: heat.ID, Kind: "tracking"}, nil)
	h.apply(t, state.CmdTrackingPut, h.acme, state.TrackingNumber{Number: "+15125550112", CampaignID: spring.ID, Kind: "tracking"}, nil)
	h.apply(t, state.CmdTrackingPut, h.bright, state.TrackingNumber{Number: "+17375550100", CampaignID: brightCamp.ID, Kind: "tracking"}, nil)
	var price state.Reason
	h.apply(t, state.CmdReasonCreate, h.acme, state.ReasonBody{Name: "Price shopping", IsLead: true}, &price)
	h.apply(t, state.CmdReasonCreate, h.acme, state.ReasonBody{Name: "Renter, cannot authorise", IsLead: false}, nil)

	customer := func(name, phone, addr, zone string) {
		var c state.Customer
		h.apply(t, state.CmdCustomerCreate, h.acme, state.CustomerBody{Name: ptr(name), Phones: ptr([]string{phone})}, &c)
		h.apply(t, state.CmdLocationCreate, h.acme, state.LocationBody{CustomerID: c.ID, Address: ptr(addr), Zone: ptr(zone)}, nil)
		h.custs[name] = c.ID
	}
	customer("Jane Roe", "+15125550199", "12 Oak Lane, Austin TX", "North")
	customer("Sam Diaz", "+15125550177", "4 Elm St, Austin TX", "South")
	customer("Sara Diaz", "+15125550177", "9 Pine Rd, Austin TX", "East")

	base := h.now.Add(-2 * time.Hour)
	type call struct {
		name, id, caller, dialled string
		offset                    time.Duration
		talk                      time.Duration
		outcome                   reboundv1.Outcome
		summary                   string
	}
	calls := []call{
		{"jane", "call-jane", "+15125550199", "+15125550111", 0, 3 * time.Minute, reboundv1.Outcome_OUTCOME_ANSWERED, "Asked for a price on a 50 gallon water heater install; wants to think about it."},
		{"diaz", "call-diaz", "+15125550177", "+15125550111", 10 * time.Minute, 2 * time.Minute, reboundv1.Outcome_OUTCOME_ANSWERED, "Drain keeps clogging; could not find a time that worked."},
		{"kim", "call-kim", "+15125550155", "+15125550112", 20 * time.Minute, 4 * time.Minute, reboundv1.Outcome_OUTCOME_ANSWERED, "Wants a quote for a whole-house repipe after the spring mailer."},
		{"lee", "call-lee", "+15125550144", "+15125550111", 30 * time.Minute, 90 * time.Second, reboundv1.Outcome_OUTCOME_ANSWERED, "Asked whether tankless heaters qualify for the heat wave offer."},
		{"bright", "call-bright", "+17375550188", "+17375550100", 40 * time.Minute, 2 * time.Minute, reboundv1.Outcome_OUTCOME_ANSWERED, "AC not cooling; asked for the service fee."},
	}
	for i, c := range calls {
		start := base.Add(c.offset)
		rec := &reboundv1.CallRecord{RecordId: c.id + "-r1", CallId: c.id, Revision: 1, Direction: reboundv1.Direction_DIRECTION_INBOUND,
			CallerNumber: c.caller, DialledNumber: c.dialled, StartedAt: timestamppb.New(start),
			AgentAnsweredAt: timestamppb.New(start.Add(15 * time.Second)),
			EndedAt:         timestamppb.New(start.Add(15*time.Second + c.talk)), Outcome: c.outcome, TalkMs: c.talk.Milliseconds(),
			WaitMs: 15_000, AgentExtension: "201", Queue: "Service",
			Recording: &reboundv1.Recording{Ref: fmt.Sprintf("rec-%d", i+1), Codec: "PCMU", SampleRate: 8000, Channels: 2},
			Transcript: &reboundv1.Transcript{Status: reboundv1.Transcript_STATUS_DONE, Backend: "openai", Segments: []*reboundv1.TranscriptSegment{
				{Channel: reboundv1.Channel_CHANNEL_AGENT, StartMs: 0, EndMs: 2500, Text: "Thanks for calling Acme Plumbing, this is Ana."},
				{Channel: reboundv1.Channel_CHANNEL_CALLER, StartMs: 2600, EndMs: 7000, Text: "Hi, how much for a new water heater install? Fifty gallons."},
				{Channel: reboundv1.Channel_CHANNEL_AGENT, StartMs: 7100, EndMs: 11000, Text: "A fifty gallon water heater installed starts at eleven hundred."},
				{Channel: reboundv1.Channel_CHANNEL_CALLER, StartMs: 11100, EndMs: 13000, Text: "Let me think about it and call you back."},
			}}}
		raw, _ := proto.Marshal(rec)
		var ing state.IngestResult
		h.apply(t, state.CmdCallIngest, "", raw, &ing)
		tenant := ing.TenantID
		if tenant == h.acme {
			h.apply(t, state.CmdCallClassify, tenant, state.ClassifyBody{CallID: c.id, Type: "Unbooked", ReasonID: price.ID, Notes: "Quoted " + c.name + "; wants to compare prices"}, nil)
		}
		var rr state.ReviewResult
		h.apply(t, state.CmdCallReview, tenant, state.ReviewBody{CallID: c.id, Probability: 0.8 - float64(i)*0.05, Flagged: true,
			Summary: c.summary, Reviewer: "builtin",
			Signals: []state.Signal{{Text: "asked for a price", Quote: "how much for a new water heater install"}, {Text: "said they would call back", Quote: "let me think about it"}}}, &rr)
		if rr.LeadID == "" {
			t.Fatalf("call %s was not flagged: %+v", c.id, rr)
		}
		h.leads[c.name] = rr.LeadID
	}
	// A call that just ended and is still in Ana's After Call Work window.
	fresh := &reboundv1.CallRecord{RecordId: "call-fresh-r1", CallId: "call-fresh", Revision: 1, Direction: reboundv1.Direction_DIRECTION_INBOUND,
		CallerNumber: "+15125550166", DialledNumber: "+15125550111", StartedAt: timestamppb.New(h.now.Add(-4 * time.Minute)),
		AgentAnsweredAt: timestamppb.New(h.now.Add(-230 * time.Second)), EndedAt: timestamppb.New(h.now.Add(-time.Minute)),
		Outcome: reboundv1.Outcome_OUTCOME_ANSWERED, TalkMs: 170_000, WaitMs: 10_000, AgentExtension: "201", Queue: "Service",
		Transcript: &reboundv1.Transcript{Status: reboundv1.Transcript_STATUS_NONE, Reason: "no transcription backend configured"}}
	raw, _ := proto.Marshal(fresh)
	h.apply(t, state.CmdCallIngest, "", raw, nil)
	for i, caller := range []string{"+15125550133", "+15125550122"} {
		start := base.Add(time.Duration(50+i) * time.Minute)
		rec := &reboundv1.CallRecord{RecordId: fmt.Sprintf("ab-%d-r1", i), CallId: fmt.Sprintf("ab-%d", i), Revision: 1,
			Direction: reboundv1.Direction_DIRECTION_INBOUND, CallerNumber: caller, DialledNumber: "+15125550111",
			StartedAt: timestamppb.New(start), EndedAt: timestamppb.New(start.Add(35 * time.Second)),
			Outcome: reboundv1.Outcome_OUTCOME_ABANDONED, WaitMs: 35_000, Queue: "Service"}
		raw, _ := proto.Marshal(rec)
		h.apply(t, state.CmdCallIngest, "", raw, nil)
	}
}

// session is one browser with its own profile (cookies), so two sessions
// are two different users.
type session struct {
	ctx  context.Context
	name string
	t    *testing.T
	dir  string
}

func newSession(t *testing.T, name string) *session {
	t.Helper()
	bin := siptest.Peer(t, "chromium")
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 720),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	s := &session{ctx: ctx, name: name, t: t}
	// Start the browser now, without a deadline (a deadline on the first
	// Run would bound the whole browser's life).
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank"), chromedp.EmulateViewport(1280, 720)); err != nil {
		cancel()
		cancelA()
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			s.screenshot("failure-" + name)
		}
		cancel()
		cancelA()
	})
	return s
}

// screenshot saves a PNG of the viewport into REBOUND_SCREENSHOTS when set,
// else into a temporary directory that outlives the test (t.TempDir would
// be removed before anyone could look at a failure) and returns its path.
func (s *session) screenshot(name string) string {
	dir := os.Getenv("REBOUND_SCREENSHOTS")
	if dir == "" {
		if s.dir == "" {
			d, err := os.MkdirTemp("", "rebound-browser-")
			if err != nil {
				s.t.Logf("screenshot %s: %v", name, err)
				return ""
			}
			s.dir = d
		}
		dir = s.dir
	}
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		s.t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		s.t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	s.t.Logf("screenshot: %s", p)
	return p
}

// do runs browser steps with a deadline.
func (s *session) do(steps ...chromedp.Action[chromedp.Void]) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		s.t.Fatalf("%s: %v", s.name, err)
	}
}

// eval evaluates JavaScript (awaiting promises) and decodes the result.
func eval[T any](s *session, js string) T {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		s.t.Fatalf("%s: eval %q: %v", s.name, js, err)
	}
	return v
}

// wait polls a JavaScript predicate until it is truthy or the deadline. It
// evaluates afresh each time, so navigations in between do not break it.
func (s *session) wait(what, predicate string, deadline time.Duration) {
	s.t.Helper()
	// Deadlines are generous on purpose: CI machines are shared and slow.
	deadline = max(deadline, 15*time.Second)
	end := time.Now().Add(deadline)
	expr := "(() => { try { return !!(" + predicate + "); } catch (e) { return false; } })()"
	var lastErr error
	for time.Now().Before(end) {
		ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		cancel()
		if err == nil && ok {
			return
		}
		lastErr = err
		time.Sleep(50 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? location.href + "\n" + document.body.innerText.slice(0, 3000) : ''`))
	s.t.Fatalf("%s: waiting for %s (%s): timed out after %v (last error %v)\npage:\n%s", s.name, what, predicate, deadline, lastErr, body)
}

func (s *session) signIn(base, user string) {
	s.t.Helper()
	s.do(chromedp.Navigate(base + "/login"))
	s.wait("sign-in form", `document.body.dataset.ready === '1'`, 10*time.Second)
	s.do(
		chromedp.SendKeys(chromedp.CSS("#username"), user),
		chromedp.SendKeys(chromedp.CSS("#password"), testPassword),
		chromedp.Click(chromedp.CSS("#login-form button[type=submit]")),
	)
	s.wait("the queue after sign-in", `location.pathname === '/scl' && document.body.dataset.ready === '1' && !!document.querySelector('#queue-table tbody tr')`, 15*time.Second)
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// rowStatus is a JS expression: the status text of a lead's row, or "".
func rowStatus(leadID string) string {
	return fmt.Sprintf(`(document.querySelector('#queue-table tbody tr[data-id=%s] .status') || {}).textContent || ''`, jsString(leadID))
}

// flagCall ingests a just-ended answered Acme call and reviews it into a lead,
// as the scheduler would when its ACW window closes.
func (h *testHub) flagCall(t testing.TB, id, caller, summary string) string {
	t.Helper()
	return h.flagCallAt(t, time.Now().UTC().Add(-time.Minute), id, caller, summary)
}

// flagCallAt does the same for a call that ended at end, with the commands
// stamped then (so the lead's last activity is then too).
func (h *testHub) flagCallAt(t testing.TB, end time.Time, id, caller, summary string) string {
	t.Helper()
	rec := &reboundv1.CallRecord{RecordId: id + "-r1", CallId: id, Revision: 1, Direction: reboundv1.Direction_DIRECTION_INBOUND,
		CallerNumber: caller, DialledNumber: "+15125550111", StartedAt: timestamppb.New(end.Add(-2 * time.Minute)),
		EndedAt: timestamppb.New(end), Outcome: reboundv1.Outcome_OUTCOME_ANSWERED, TalkMs: 110_000, WaitMs: 10_000,
		AgentExtension: "202", Queue: "Service"}
	raw, _ := proto.Marshal(rec)
	at := end.Add(time.Second)
	if time.Since(end) < 2*time.Minute {
		at = time.Time{}
	}
	h.applyAt(t, at, state.CmdCallIngest, "", raw, nil)
	var rr state.ReviewResult
	h.applyAt(t, at, state.CmdCallReview, h.acme, state.ReviewBody{CallID: id, Probability: 0.7, Flagged: true, Summary: summary, Reviewer: "builtin"}, &rr)
	if rr.LeadID == "" {
		t.Fatalf("call %s not flagged", id)
	}
	return rr.LeadID
}

// abandon ingests an Acme call whose caller hung up in the queue.
func (h *testHub) abandon(t testing.TB, id, caller string) {
	t.Helper()
	end := time.Now().UTC().Add(-10 * time.Second)
	rec := &reboundv1.CallRecord{RecordId: id + "-r1", CallId: id, Revision: 1, Direction: reboundv1.Direction_DIRECTION_INBOUND,
		CallerNumber: caller, DialledNumber: "+15125550111", StartedAt: timestamppb.New(end.Add(-40 * time.Second)),
		EndedAt: timestamppb.New(end), Outcome: reboundv1.Outcome_OUTCOME_ABANDONED, WaitMs: 40_000, Queue: "Service"}
	raw, _ := proto.Marshal(rec)
	h.apply(t, state.CmdCallIngest, "", raw, nil)
}
