package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/reboundhq/rebound/agent"
	"github.com/reboundhq/rebound/agent/calls"
	"github.com/reboundhq/rebound/agent/samples"
	"github.com/reboundhq/rebound/hub"
	"github.com/reboundhq/rebound/hub/api"
	"github.com/reboundhq/rebound/hub/ingest"
	"github.com/reboundhq/rebound/hub/state"
	"github.com/reboundhq/rebound/recorder"
	"github.com/reboundhq/rebound/sip/siptest"
)

// TestEndToEnd is issue 9's end-to-end run with real programs at both ends:
// a caller (sipp playing espeak-ng speech) calls a tracking number through
// kamailio, the PBX's proxy, to a CSR's phone (sipp, talking back); the site
// agent sniffs lo and ships the call over TLS to a three-node hub cluster on
// loopback; the CSR, in headless Chromium, classifies the call during After
// Call Work; after the window the lead appears in the Open tab with a
// playable recording, and the CSR dismisses it as not a lead. A caller who
// hangs up in the queue lands in Abandoned Calls; a voicemail does not.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end run with kamailio, sipp, chromium and a 3-node hub takes a few minutes; skipped under -short")
	}
	siptest.Peer(t, "kamailio")
	siptest.Peer(t, "sipp")
	siptest.Peer(t, "chromium")
	if os.Geteuid() != 0 {
		t.Skip("the agent sniffs lo with AF_PACKET and sipp plays audio with raw sockets: run as root (CAP_NET_RAW)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(&testWriter{t: t}, &slog.HandlerOptions{Level: slog.LevelError}))

	// A three-node hub cluster on loopback, TLS from one shared CA.
	hubs := startCluster(ctx, t, log)
	leader, follower := hubs[0], hubs[1]
	seed := samples.DemoSeed()
	adminPW := demoPassword()
	var admin samples.User
	for _, u := range seed.Users {
		if u.Role == "admin" {
			admin = u
		}
	}
	boot, err := api.Bootstrap(ctx, leader.srv.Node, seed.Tenant.Name, admin.Login, adminPW)
	if err != nil {
		t.Fatal(err)
	}
	// Everything else goes through a follower: writes are forwarded. Reads
	// on a follower may lag, so start once it has the bootstrap.
	waitFor(ctx, t, 30*time.Second, "the follower to apply the bootstrap", func() bool {
		return follower.srv.Node.AppliedIndex() >= leader.srv.Node.AppliedIndex()
	})
	base := "http://" + follower.srv.HTTPAddr()
	ac := newAPIClient(base)
	if err := ac.login(ctx, admin.Login, adminPW); err != nil {
		t.Fatal(err)
	}
	acct, err := seedDemo(ctx, ac, boot.TenantID, seed)
	if err != nil {
		t.Fatal(err)
	}
	var samPW string
	for _, l := range acct.Logins {
		if l.User.Extension == "201" {
			samPW = l.Password
		}
	}
	sam := newAPIClient(base)
	if err := sam.login(ctx, "sam@reboundplumbing.example", samPW); err != nil {
		t.Fatal(err)
	}

	// The site agent sniffing lo, connected to the cluster over TLS.
	agentDir := t.TempDir()
	tokenFile := filepath.Join(agentDir, "site.token")
	if err := os.WriteFile(tokenFile, []byte(acct.SiteToken), 0o600); err != nil {
		t.Fatal(err)
	}
	acfg := agent.Defaults()
	acfg.SiteID = acct.SiteID
	acfg.DataDir = filepath.Join(agentDir, "data")
	acfg.HTTPAddr = "127.0.0.1:0"
	// The agent's stream ends on the node that serves the CSR's browser:
	// a hub node fetches recordings (and sends click-to-call) only through
	// agent streams it holds itself, since there is no relay between hub
	// nodes yet. Records reach the leader through that follower's forwarding.
	addrs := []string{follower.srv.GRPCAddr()}
	acfg.Hub = agent.HubConfig{Addresses: addrs, TokenFile: tokenFile,
		TLS: agent.TLSConfig{CAFile: filepath.Join(hubs[0].certs, ingest.CAFile), ServerName: "localhost"}}
	acfg.Capture = agent.CaptureConfig{Sniff: agent.SniffConfig{Interface: "lo"}}
	acfg.Recordings = recorder.Config{Dir: filepath.Join(agentDir, "recordings")}
	acfg.Calls = calls.Config{
		Direction: &calls.Direction{TrunkPeers: []string{labTrunkNet}, AgentExtensions: []string{`^2\d\d$`}, Queues: []string{`^8\d\d$`}},
		Voicemail: &calls.Voicemail{Extensions: []string{`^9\d\d$`}},
	}
	actx, acancel := context.WithCancel(ctx)
	var awg sync.WaitGroup
	awg.Add(1)
	go func() {
		defer awg.Done()
		if err := agent.Run(actx, acfg, "e2e", log.With("component", "agent")); err != nil {
			t.Errorf("agent: %v", err)
		}
	}()
	defer awg.Wait()
	defer acancel()
	waitFor(ctx, t, 30*time.Second, "the agent to connect to the hub", func() bool {
		for _, h := range hubs {
			if len(h.srv.Ingest.Sessions()) > 0 {
				return true
			}
		}
		return false
	})

	// The CSR's browser.
	br := newBrowser(ctx, t)
	br.login(base, "sam@reboundplumbing.example", samPW)

	lab := startPBXLab(t)

	// 1. An answered call: the caller asks the price of a water heater.
	shopper := labCall{Sample: "price-shopper", Dialled: labAnswered, Name: "Derek Holloway", Number: "+15125550112",
		Answerer: "201", Ring: 2 * time.Second, Caller: samples.CallerSide, Answering: samples.AgentSide}
	res, err := lab.place(ctx, shopper)
	if err != nil {
		t.Fatal(err)
	}
	callEnd := res.Ended
	call := waitCall(ctx, t, sam, boot.TenantID, shopper.Number, "answered")
	if !call.ACWOpen {
		t.Fatalf("answered call %s has no open ACW window", call.ID)
	}
	if call.Agent != "201" {
		t.Errorf("answered call %s: agent extension %q, want 201 (the CSR's phone)", call.ID, call.Agent)
	}
	t.Logf("call %s arrived %.1fs after it ended (agent %q)", call.ID, time.Since(callEnd).Seconds(), call.Agent)

	// The CSR classifies it in My Calls: Unbooked, Price shopping.
	br.classify(base, call.ID, "Unbooked", "Price shopping")
	var after demoCall
	if err := sam.do(ctx, http.MethodGet, "/api/v1/calls/"+url.PathEscape(call.ID), nil, &after); err != nil {
		t.Fatal(err)
	}

	// A second tab watches the Open tab of Second Chance Leads from now on.
	scl := br.tab()
	scl.watchRow(base+"/scl", shopper.Number, shopper.Name)

	// 2. While the ACW window runs: a caller gives up in the queue, and
	// another leaves a voicemail.
	quitter := labCall{Sample: "abandoned-queue", Dialled: labQueue, Name: "Tanya Brooks", Number: "+15125550114",
		Answerer: "801", Ring: 300 * time.Millisecond, Caller: samples.CallerSide, Answering: samples.PBXSide}
	if _, err := lab.place(ctx, quitter); err != nil {
		t.Fatal(err)
	}
	vm := labCall{Sample: "voicemail", Dialled: labVoicemail, Name: "Dana Whitfield", Number: "+15125550118",
		Answerer: "901", Ring: 300 * time.Millisecond, Caller: samples.CallerSide, Answering: samples.VoicemailSide}
	if _, err := lab.place(ctx, vm); err != nil {
		t.Fatal(err)
	}
	abCall := waitCall(ctx, t, sam, boot.TenantID, quitter.Number, "abandoned")
	vmCall := waitCall(ctx, t, sam, boot.TenantID, vm.Number, "voicemail")
	if abCall.Outcome == "abandoned" {
		br.waitRow(base+"/abandoned", quitter.Number, quitter.Name, 2*time.Minute)
	}
	var ab struct {
		Items []struct{ Phone, CallID string } `json:"items"`
	}
	if err := sam.do(ctx, http.MethodGet, "/api/v1/abandoned?tab=open", nil, &ab); err != nil {
		t.Fatal(err)
	}
	foundAb := false
	for _, a := range ab.Items {
		if a.CallID == vmCall.ID {
			t.Errorf("the voicemail call %s is in Abandoned Calls", vmCall.ID)
		}
		foundAb = foundAb || a.CallID == abCall.ID
	}
	if !foundAb {
		t.Errorf("the queue abandon %s is not in the Abandoned Calls Open tab", abCall.ID)
	}

	// 3. After ACW the lead shows in the Open tab: speed to lead.
	leadVisible := scl.rowSeen("the lead in the Open tab", 3*time.Minute)
	speed := leadVisible.Sub(callEnd)
	t.Logf("SPEED TO LEAD: %.1f s from the caller's BYE to the lead visible in the CSR's Open tab (ACW window %d min)",
		speed.Seconds(), seed.Settings.ACWMinutes)
	fmt.Fprintf(os.Stderr, "e2e speed to lead: %.1fs (acw_minutes %d)\n", speed.Seconds(), seed.Settings.ACWMinutes)

	// The lead's recording plays in the browser.
	if d := scl.openRowAndPlay(shopper.Number, shopper.Name, 45*time.Second); d < 5 {
		t.Errorf("the lead's recording did not play in the browser (duration %.1fs)", d)
		// Which nodes can serve it: the hub fetches a recording from the
		// agent over the agent's stream, which one node holds.
		for i, h := range hubs {
			c := newAPIClient("http://" + h.srv.HTTPAddr())
			err := c.login(ctx, "sam@reboundplumbing.example", samPW)
			status, head := 0, ""
			if err == nil {
				status, head, err = rangeGet(ctx, c, "/api/v1/calls/"+url.PathEscape(call.ID)+"/recording")
			}
			t.Logf("recording via h%d (agent sessions here: %d): status %d %q err %v", i+1, len(h.srv.Ingest.Sessions()), status, head, err)
		}
	} else {
		t.Logf("the lead's recording plays in the browser: %.1f s", d)
	}
	// Dismiss -> not a lead.
	scl.dismissNotALead()
	var lead struct {
		Status string `json:"status"`
	}
	waitFor(ctx, t, 30*time.Second, "the lead to be Reviewed - not a lead", func() bool {
		var c demoCall
		if err := sam.do(ctx, http.MethodGet, "/api/v1/calls/"+url.PathEscape(call.ID), nil, &c); err != nil || c.LeadID == "" {
			return false
		}
		return sam.do(ctx, http.MethodGet, "/api/v1/leads/"+url.PathEscape(c.LeadID), nil, &lead) == nil && lead.Status == "Reviewed - not a lead"
	})
}

// rangeGet asks for the first 12 bytes of a resource.
func rangeGet(ctx context.Context, c *apiClient, path string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Range", "bytes=0-11")
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b := make([]byte, 200)
	n, _ := resp.Body.Read(b)
	return resp.StatusCode, string(b[:n]), nil
}

// e2eHub is one node of the test cluster.
type e2eHub struct {
	srv   *hub.Server
	certs string
}

func startCluster(ctx context.Context, t *testing.T, log *slog.Logger) []*e2eHub {
	t.Helper()
	certs := t.TempDir()
	if err := ingest.GenerateCerts(certs, []string{"localhost", "127.0.0.1"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(certs, "cluster.secret")
	if err := os.WriteFile(secret, []byte(demoPassword()), 0o600); err != nil {
		t.Fatal(err)
	}
	var hubs []*e2eHub
	var wg sync.WaitGroup
	hctx, cancel := context.WithCancel(ctx)
	t.Cleanup(func() {
		cancel()
		stopped := make(chan struct{})
		go func() { wg.Wait(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(30 * time.Second):
			// Seen: a follower left alone keeps campaigning and its Run
			// does not return. Not part of the user flow; reported.
			t.Logf("WARNING: a hub node did not shut down within 30s of cancel")
		}
	})
	for i := range 3 {
		cfg := hub.Defaults()
		cfg.DataDir = filepath.Join(t.TempDir(), fmt.Sprintf("h%d", i+1))
		cfg.NodeID = fmt.Sprintf("h%d", i+1)
		cfg.HTTPAddr, cfg.GRPCAddr = "127.0.0.1:0", "127.0.0.1:0"
		cfg.RaftAddr = fmt.Sprintf("127.0.0.1:%d", siptest.FreeTCPPort(t))
		cfg.ClusterSecretFile = secret
		cfg.TLS = hub.TLSConfig{CertFile: filepath.Join(certs, ingest.CertFile), KeyFile: filepath.Join(certs, ingest.KeyFile),
			CAFile: filepath.Join(certs, ingest.CAFile)}
		if i > 0 {
			cfg.Join = []string{hubs[0].srv.GRPCAddr()}
		}
		srv, err := hub.New(cfg, log.With("node", cfg.NodeID))
		if err != nil {
			t.Fatalf("hub %s: %v", cfg.NodeID, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Run(hctx); err != nil && hctx.Err() == nil {
				t.Errorf("hub %s: %v", cfg.NodeID, err)
			}
		}()
		hubs = append(hubs, &e2eHub{srv: srv, certs: certs})
		if i == 0 {
			waitFor(ctx, t, 30*time.Second, "h1 to lead", srv.Node.IsLeader)
		}
	}
	waitFor(ctx, t, 60*time.Second, "three voters", func() bool {
		st := hubs[0].srv.Node.Status()
		return len(st.Peers) == 3 && hubs[1].srv.Node.Status().LeaderID != "" && hubs[2].srv.Node.Status().LeaderID != ""
	})
	return hubs
}

// waitCall waits until the API lists the caller's call with the outcome.
func waitCall(ctx context.Context, t *testing.T, c *apiClient, tenant, caller, outcome string) demoCall {
	t.Helper()
	var found demoCall
	waitFor(ctx, t, 90*time.Second, fmt.Sprintf("the %s call from %s", outcome, caller), func() bool {
		var list struct {
			Items []demoCall `json:"items"`
		}
		if err := c.do(ctx, http.MethodGet, "/api/v1/calls?account="+url.QueryEscape(tenant)+"&limit=200", nil, &list); err != nil {
			return false
		}
		for _, it := range list.Items {
			if state.NormalizePhone(it.CallerNumber) == state.NormalizePhone(caller) {
				if it.Outcome != outcome {
					t.Errorf("call from %s is %q, want %q", caller, it.Outcome, outcome)
				}
				found = it
				return true
			}
		}
		return false
	})
	return found
}

func waitFor(ctx context.Context, t *testing.T, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// testWriter sends logs to t.Log.
type testWriter struct{ t *testing.T }

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// browser is the CSR's headless Chromium.
type browser struct {
	t   *testing.T
	ctx context.Context
	dir string
}

func newBrowser(ctx context.Context, t *testing.T) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(siptest.Peer(t, "chromium")),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("mute-audio", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancel := chromedp.NewContext(actx)
	// The first Run starts the browser: no deadline on it.
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		cancel()
		cancelA()
		t.Fatalf("start chromium: %v", err)
	}
	b := &browser{t: t, ctx: bctx, dir: t.TempDir()}
	if d := os.Getenv("REBOUND_SCREENSHOTS"); d != "" {
		b.dir = d
	}
	t.Cleanup(func() {
		if t.Failed() {
			b.screenshot("e2e-failure")
		}
		cancel()
		cancelA()
	})
	return b
}

// tab opens another tab of the same browser (same session cookie).
func (b *browser) tab() *browser {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		cancel()
		b.t.Fatalf("new tab: %v", err)
	}
	b.t.Cleanup(cancel)
	return &browser{t: b.t, ctx: ctx, dir: b.dir}
}

// watchRow opens a queue page and records, in the page, the moment a row
// for the caller first shows up (the page updates itself over SSE).
func (b *browser) watchRow(pageURL, e164, name string) {
	b.t.Helper()
	b.do(chromedp.Navigate(pageURL))
	b.wait("the queue page", `document.body.dataset.ready === '1'`, 30*time.Second)
	if _, err := js[bool](b, `(() => { window.__rowSeenAt = 0; setInterval(() => { if (!window.__rowSeenAt && [...document.querySelectorAll('#queue-table tbody tr')].some(`+rowMatch(e164, name)+`)) window.__rowSeenAt = Date.now(); }, 50); return true; })()`); err != nil {
		b.t.Fatal(err)
	}
}

// rowSeen waits for the row watchRow watches and returns when it appeared.
func (b *browser) rowSeen(what string, limit time.Duration) time.Time {
	b.t.Helper()
	b.wait(what, `window.__rowSeenAt > 0`, limit)
	ms, err := js[float64](b, `window.__rowSeenAt`)
	if err != nil {
		b.t.Fatal(err)
	}
	return time.UnixMilli(int64(ms))
}

func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

// js evaluates an expression (awaiting promises) and returns its result.
func js[T any](b *browser, expr string) (T, error) {
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// wait polls a JavaScript predicate until it holds, and returns when it did.
func (b *browser) wait(what, predicate string, limit time.Duration) time.Time {
	b.t.Helper()
	expr := "(() => { try { return !!(" + predicate + "); } catch (e) { return false; } })()"
	end := time.Now().Add(limit)
	for {
		ok, err := js[bool](b, expr)
		if err == nil && ok {
			return time.Now()
		}
		if time.Now().After(end) {
			page, _ := js[string](b, `location.href + "\n" + (document.body ? document.body.innerText.slice(0, 3000) : "")`)
			b.t.Fatalf("browser: waiting for %s: timed out after %v (last error %v)\npage:\n%s", what, limit, err, page)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (b *browser) screenshot(name string) {
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	p := filepath.Join(b.dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err == nil {
		b.t.Logf("screenshot: %s", p)
	}
}

func jsQuote(s string) string {
	q, _ := json.Marshal(s)
	return string(q)
}

func (b *browser) login(base, user, pw string) {
	b.t.Helper()
	b.do(chromedp.Navigate(base + "/login"))
	b.wait("the sign-in form", `document.body.dataset.ready === '1'`, 30*time.Second)
	b.do(
		chromedp.SendKeys(chromedp.CSS("#username"), user),
		chromedp.SendKeys(chromedp.CSS("#password"), pw),
		chromedp.Click(chromedp.CSS("#login-form button[type=submit]")),
	)
	b.wait("the queue after sign-in", `location.pathname === '/scl' && document.body.dataset.ready === '1'`, 30*time.Second)
}

// classify picks the call type and then the reason (which saves) on the
// call's card in My Calls. When the card is not among "my" calls, it says
// so and shows everyone's.
func (b *browser) classify(base, callID, typ, reason string) {
	b.t.Helper()
	card := `document.querySelector('div.card[data-call=' + ` + jsQuote(jsQuote(callID)) + ` + ']')`
	b.do(chromedp.Navigate(base + "/my-calls"))
	b.wait("My Calls", `document.body.dataset.ready === '1'`, 30*time.Second)
	if ok, _ := js[bool](b, "!!"+card); !ok {
		b.t.Errorf("the call is not under the CSR's own calls in My Calls (its agent extension is not 201); showing everyone's")
		if _, err := js[bool](b, `(() => { const c = document.querySelector('#only-mine'); if (c.checked) c.click(); return true; })()`); err != nil {
			b.t.Fatal(err)
		}
	}
	b.wait("the call's card", card, 30*time.Second)
	click := func(group, text string, prefix bool) {
		match := "b.textContent.trim() === " + jsQuote(text)
		if prefix {
			match = "b.textContent.trim().startsWith(" + jsQuote(text) + ")"
		}
		expr := `(() => { const b = [...` + card + `.querySelectorAll('[aria-label=` + jsQuote(group) + `] button')].find((b) => ` + match + `); if (!b) return false; b.click(); return true; })()`
		ok, err := js[bool](b, expr)
		if err != nil || !ok {
			b.t.Fatalf("browser: no %s button %q on the card (%v)", group, text, err)
		}
	}
	click("Call type", typ, false)
	click("Reason", reason, true)
	b.wait("the classification to save", card+`.textContent.includes('Saved')`, 30*time.Second)
}

// rowMatch is a JS predicate on a table row: it shows the phone number, or
// the name of the customer it was matched to.
func rowMatch(e164, name string) string {
	return `((tr) => tr.textContent.replace(/\D/g, '').includes(` + jsQuote(state.NormalizePhone(e164)) + `) || tr.textContent.includes(` + jsQuote(name) + `))`
}

// waitRow opens a queue page and waits until a row shows the caller (the
// page updates itself over SSE); it returns when the row appeared.
func (b *browser) waitRow(pageURL, e164, name string, limit time.Duration) time.Time {
	b.t.Helper()
	b.do(chromedp.Navigate(pageURL))
	b.wait("the queue page", `document.body.dataset.ready === '1'`, 30*time.Second)
	return b.wait("a row for "+e164+" on "+pageURL, `[...document.querySelectorAll('#queue-table tbody tr')].some(`+rowMatch(e164, name)+`)`, limit)
}

// openRowAndPlay opens the caller's row and waits until the browser has
// loaded the recording (the hub streams it after fetching it from the
// agent). It reports how long the recording plays, or 0 when it did not load.
func (b *browser) openRowAndPlay(e164, name string, limit time.Duration) float64 {
	b.t.Helper()
	ok, err := js[bool](b, `(() => { const tr = [...document.querySelectorAll('#queue-table tbody tr')].find(`+rowMatch(e164, name)+`); if (!tr) return false; tr.querySelector('button.link').click(); return true; })()`)
	if err != nil || !ok {
		b.t.Fatalf("browser: cannot open the row of %s (%v)", e164, err)
	}
	b.wait("the flyout's recording player", `!!document.querySelector('#flyout audio')`, 30*time.Second)
	end := time.Now().Add(limit)
	for time.Now().Before(end) {
		if d, err := js[float64](b, `(() => { const a = document.querySelector('#flyout audio'); return a && a.readyState >= 1 && a.duration > 0 ? a.duration : 0; })()`); err == nil && d > 0 {
			b.screenshot("e2e-lead-details")
			return d
		}
		time.Sleep(200 * time.Millisecond)
	}
	b.screenshot("e2e-lead-details-no-recording")
	return 0
}

// dismissNotALead uses the flyout's Dismiss dialog: "It's not a lead".
func (b *browser) dismissNotALead() {
	b.t.Helper()
	ok, err := js[bool](b, `(() => { const b = [...document.querySelectorAll('#flyout button')].find((b) => b.textContent.trim() === 'Dismiss'); if (!b) return false; b.click(); return true; })()`)
	if err != nil || !ok {
		b.t.Fatalf("browser: no Dismiss button (%v)", err)
	}
	b.wait("the dismiss dialog", `!!document.querySelector('#why-not')`, 10*time.Second)
	if _, err := js[bool](b, `(() => { document.querySelector('#why-not').click(); document.querySelector('form[aria-label="Dismiss lead"] button[type=submit]').click(); return true; })()`); err != nil {
		b.t.Fatal(err)
	}
}
