package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/reboundhq/rebound/agent"
	"github.com/reboundhq/rebound/agent/samples"
	"github.com/reboundhq/rebound/hub"
	"github.com/reboundhq/rebound/hub/api"
	"github.com/reboundhq/rebound/hub/ingest"
	"github.com/reboundhq/rebound/hub/state"
	"github.com/reboundhq/rebound/recorder"
)

// cmdDemo starts a single-node hub and a site agent that replays the bundled
// sample calls through the real capture pipeline, seeds a demo account and
// classifies the answered calls as the CSRs would, through the API.
func cmdDemo(ctx context.Context, args []string, io stdio) error {
	fs := newFlagSet("demo", "demo [--data-dir DIR] [--http-addr ADDR] [--speed N]\n\n"+
		"Starts a single-node hub and a site agent that replays the bundled sample\n"+
		"calls (real SIP and espeak-ng RTP), signs in as the demo CSRs to classify\n"+
		"the answered calls, and prints the URL and the demo logins. Ctrl-C stops it.", io)
	dataDir := fs.String("data-dir", "", "directory for the hub and agent data (default: a temporary directory, removed on exit)")
	httpAddr := fs.String("http-addr", "127.0.0.1:8080", "HTTP listen address of the hub (web UI and API)")
	speed := fs.Float64("speed", 8, "replay speed: 1 is real time, 8 is eight times faster")
	acw := fs.Int("acw-minutes", -1, "After Call Work minutes (default: the demo seed's, 1)")
	verbose := fs.Bool("v", false, "also print the hub's and agent's logs")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *speed <= 0 {
		return errors.New("demo: --speed must be above 0")
	}
	seed := samples.DemoSeed()
	if *acw >= 0 {
		seed.Settings.ACWMinutes = *acw
	}
	d := &demo{out: io.Stdout, seed: seed, speed: *speed}
	level := slog.LevelError
	if *verbose {
		level = slog.LevelInfo
	}
	d.log = slog.New(slog.NewTextHandler(io.Stderr, &slog.HandlerOptions{Level: level}))
	dir := *dataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "rebound-demo-")
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		dir = tmp
		defer func() {
			os.RemoveAll(tmp)
			fmt.Fprintf(io.Stdout, "Removed %s.\n", tmp)
		}()
	} else if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("demo: --data-dir %s is not empty: the demo seeds a fresh hub (use `rebound hub --data-dir %s` to run it again)", dir, dir)
	}
	d.dir = dir
	return d.run(ctx, *httpAddr)
}

// demo is one run of the demo command.
type demo struct {
	out   io.Writer
	log   *slog.Logger
	seed  samples.Seed
	speed float64
	dir   string
	mu    sync.Mutex // guards out
}

func (d *demo) say(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	fmt.Fprintf(d.out, format+"\n", args...)
}

func (d *demo) run(ctx context.Context, httpAddr string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d.say("Rebound demo: data in %s", d.dir)

	// 1. A single-node hub on loopback; it bootstraps itself.
	raftPort, err := freePort()
	if err != nil {
		return err
	}
	hcfg := hub.Defaults()
	hcfg.DataDir = filepath.Join(d.dir, "hub")
	hcfg.NodeID = "demo"
	hcfg.HTTPAddr = httpAddr
	hcfg.GRPCAddr = "127.0.0.1:0"
	hcfg.RaftAddr = fmt.Sprintf("127.0.0.1:%d", raftPort)
	hcfg.TLS.SelfSigned = true // agents connect over TLS even in the demo
	srv, err := hub.New(hcfg, d.log.With("node", "demo"))
	if err != nil {
		return fmt.Errorf("demo: start hub: %w", err)
	}
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Run(ctx); err != nil && ctx.Err() == nil {
			errc <- fmt.Errorf("hub: %w", err)
		}
	}()
	defer wg.Wait()
	defer cancel()
	base := "http://" + dialable(srv.HTTPAddr())
	if err := waitLeader(ctx, srv, 30*time.Second); err != nil {
		return err
	}
	d.say("[1/5] Hub running (single node, raft leader): %s", base)

	// 2. The demo account, created through the API as its admin would.
	var admin samples.User
	for _, u := range d.seed.Users {
		if u.Role == "admin" {
			admin = u
		}
	}
	adminPW := demoPassword()
	boot, err := api.Bootstrap(ctx, srv.Node, d.seed.Tenant.Name, admin.Login, adminPW)
	if err != nil {
		return fmt.Errorf("demo: bootstrap: %w", err)
	}
	ac := newAPIClient(base)
	if err := ac.login(ctx, admin.Login, adminPW); err != nil {
		return fmt.Errorf("demo: admin login: %w", err)
	}
	acct, err := seedDemo(ctx, ac, boot.TenantID, d.seed)
	if err != nil {
		return fmt.Errorf("demo: seed: %w", err)
	}
	acct.Logins = append([]demoLogin{{User: admin, Password: adminPW}}, acct.Logins...)
	d.say("[2/5] Demo account %q: %d users, %d tracking numbers, %d reasons, scl_enabled, acw_minutes %d",
		d.seed.Tenant.Name, len(acct.Logins), len(d.seed.TrackingNumbers), len(d.seed.Reasons), d.seed.Settings.ACWMinutes)

	// 3. A site agent replaying the sample calls through the real capture
	// pipeline, shipping records to the hub over TLS with the site token.
	replay, names, err := d.writeReplay()
	if err != nil {
		return err
	}
	tokenFile := filepath.Join(d.dir, "agent", "site.token")
	if err := os.MkdirAll(filepath.Dir(tokenFile), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(tokenFile, []byte(acct.SiteToken+"\n"), 0o600); err != nil {
		return err
	}
	acfg := agent.Defaults()
	acfg.SiteID = acct.SiteID
	acfg.DataDir = filepath.Join(d.dir, "agent")
	acfg.HTTPAddr = "127.0.0.1:0"
	acfg.Hub = agent.HubConfig{Addresses: []string{srv.GRPCAddr()}, TokenFile: tokenFile,
		TLS: agent.TLSConfig{CAFile: filepath.Join(hcfg.DataDir, "tls", ingest.CAFile), ServerName: "localhost"}}
	acfg.Capture = agent.CaptureConfig{Pcap: []string{replay}, PcapSpeed: d.speed}
	acfg.Recordings = recorder.Config{Dir: filepath.Join(d.dir, "agent", "recordings")}
	acfg.Calls = samples.SampleSite().CallsConfig()
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := agent.Run(ctx, acfg, version, d.log.With("component", "agent")); err != nil && ctx.Err() == nil {
			errc <- fmt.Errorf("agent: %w", err)
		}
	}()
	d.say("[3/5] Site agent replaying %d sample calls at %gx (real SIP + espeak-ng RTP through the capture pipeline)", len(names), d.speed)

	// 4. Watch the calls arrive; classify the answered ones as their CSR.
	w := &watcher{d: d, admin: ac, tenant: boot.TenantID, acct: acct, base: base,
		seen: map[string]bool{}, classified: map[string]bool{}, leads: map[string]bool{}, abandoned: map[string]bool{},
		csr: map[string]*apiClient{}}
	done := make(chan struct{})
	go func() {
		if err := w.watch(ctx, done); err != nil && ctx.Err() == nil {
			errc <- err
		}
	}()
	select {
	case <-done:
	case err := <-errc:
		return err
	case <-ctx.Done():
		d.say("Stopping.")
		return nil
	}

	// 5. Ready.
	d.say("")
	d.say("[5/5] Ready. Open %s/ and sign in:", base)
	for _, l := range acct.Logins {
		d.say("  %-6s %-32s password %s", l.User.Role, l.User.Login, l.Password)
	}
	d.say("Second Chance Leads: %s/scl   Abandoned Calls: %s/abandoned", base, base)
	d.say("No transcription backend is configured, so calls have no transcripts (the UI says so).")
	d.say("Press Ctrl-C to stop.")
	select {
	case <-ctx.Done():
		d.say("Stopping.")
		return nil
	case err := <-errc:
		return err
	}
}

// writeReplay writes the sample calls as one capture in which they overlap,
// three seconds apart, as on a busy line. Timestamps are set so each call
// ends about when the replay reaches its end: the hub sees calls that just
// happened, and their ACW windows start now, whatever the speed.
func (d *demo) writeReplay() (string, []string, error) {
	const every = 3 * time.Second
	var names []string
	var span time.Duration
	for i, c := range samples.Calls() {
		names = append(names, c.Name)
		dur, err := samples.Duration(c.Name)
		if err != nil {
			return "", nil, err
		}
		span = max(span, time.Duration(i)*every+dur)
	}
	// The agent starts reading a moment after the file is written.
	start := time.Now().Add(time.Second).Add(-time.Duration(float64(span) * (1 - 1/d.speed)))
	path := filepath.Join(d.dir, "sample-calls.pcap")
	f, err := os.Create(path)
	if err != nil {
		return "", nil, err
	}
	if _, err := samples.Mix(f, start, every, names...); err != nil {
		f.Close()
		return "", nil, err
	}
	return path, names, f.Close()
}

// watcher follows the demo account through the API and acts as its CSRs.
type watcher struct {
	d          *demo
	admin      *apiClient
	tenant     string
	acct       demoAccount
	base       string
	seen       map[string]bool // call ids printed
	classified map[string]bool
	leads      map[string]bool
	abandoned  map[string]bool
	csr        map[string]*apiClient // by extension
}

func (w *watcher) watch(ctx context.Context, done chan<- struct{}) error {
	want := map[string]samples.Call{}
	for _, c := range samples.Calls() {
		want[state.NormalizePhone(c.CallerNumber)] = c
	}
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	reported := false
	start := time.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		var calls struct {
			Items []demoCall `json:"items"`
		}
		if err := w.admin.do(ctx, http.MethodGet, "/api/v1/calls?limit=200&account="+url.QueryEscape(w.tenant), nil, &calls); err != nil {
			w.d.log.Warn("list calls", "err", err)
			continue
		}
		sort.Slice(calls.Items, func(i, j int) bool { return calls.Items[i].EndedAt.Before(calls.Items[j].EndedAt) })
		pending := 0
		for _, c := range calls.Items {
			s, ok := want[state.NormalizePhone(c.CallerNumber)]
			if !ok {
				continue
			}
			if !w.seen[c.ID] {
				w.seen[c.ID] = true
				w.d.say("  call %s  %-28s %s", s.CallerNumber, c.Outcome+c.who(), s.Title)
			}
			if s.ACW != nil && !w.classified[c.ID] {
				if c.ACWOpen {
					if err := w.classify(ctx, c, s); err != nil {
						w.d.say("  ! could not classify %s: %v", c.CallerNumber, err)
						w.classified[c.ID] = true
					}
				} else if c.Reviewed {
					w.classified[c.ID] = true // window closed before we got to it
				}
			}
			if c.ACWOpen {
				pending++
			}
		}
		if err := w.queues(ctx); err != nil {
			w.d.log.Warn("queues", "err", err)
		}
		if !reported && len(w.seen) >= len(want) && pending == 0 {
			reported = true
			w.d.say("[4/5] All %d calls in: %d Second Chance Leads, %d Abandoned Calls (%s)", len(want), len(w.leads), len(w.abandoned),
				time.Since(start).Round(time.Second))
			close(done)
		}
		if !reported && time.Since(start) > 5*time.Minute {
			reported = true
			w.d.say("  ! only %d of %d calls arrived after 5 minutes; see the agent with -v", len(w.seen), len(want))
			close(done)
		}
	}
}

// classify signs in as the call's CSR and records the ACW classification.
func (w *watcher) classify(ctx context.Context, c demoCall, s samples.Call) error {
	cl, err := w.csrClient(ctx, c.Agent)
	if err != nil {
		return err
	}
	body := map[string]string{"type": s.ACW.Type, "notes": s.ACW.Notes}
	if s.ACW.Reason != "" {
		body["reasonId"] = w.acct.Reasons[s.ACW.Reason]
	}
	if err := cl.do(ctx, http.MethodPut, "/api/v1/calls/"+url.PathEscape(c.ID)+"/classification", body, nil); err != nil {
		return err
	}
	w.classified[c.ID] = true
	who := c.AgentName
	if who == "" {
		who = c.Agent
	}
	what := s.ACW.Type
	if s.ACW.Reason != "" {
		what += " / " + s.ACW.Reason
	}
	w.d.say("    %s classified %s as %s", who, s.CallerNumber, what)
	if s.ACW.Type == "Booked" {
		job := map[string]string{"phone": c.CallerNumber, "externalId": "FSM-" + state.NormalizePhone(c.CallerNumber),
			"scheduledAt": time.Now().Add(3 * time.Hour).UTC().Format(time.RFC3339)}
		if err := cl.do(ctx, http.MethodPost, "/api/v1/tenants/"+url.PathEscape(w.tenant)+"/jobs", job, nil); err != nil {
			return fmt.Errorf("book job: %w", err)
		}
		w.d.say("    %s booked a job for %s", who, s.CallerNumber)
	}
	return nil
}

func (w *watcher) csrClient(ctx context.Context, ext string) (*apiClient, error) {
	if c := w.csr[ext]; c != nil {
		return c, nil
	}
	for _, l := range w.acct.Logins {
		if l.User.Extension == ext && ext != "" {
			c := newAPIClient(w.base)
			if err := c.login(ctx, l.User.Login, l.Password); err != nil {
				return nil, err
			}
			w.csr[ext] = c
			return c, nil
		}
	}
	return nil, fmt.Errorf("no demo CSR at extension %q", ext)
}

// queues prints leads and abandoned calls as they appear.
func (w *watcher) queues(ctx context.Context) error {
	var leads struct {
		Items []struct {
			ID          string  `json:"id"`
			Phone       string  `json:"phone"`
			Summary     string  `json:"summary"`
			Probability float64 `json:"probability"`
			Reason      string  `json:"reason"`
		} `json:"items"`
	}
	if err := w.admin.do(ctx, http.MethodGet, "/api/v1/leads?tab=open&limit=200", nil, &leads); err != nil {
		return err
	}
	for _, l := range leads.Items {
		if !w.leads[l.ID] {
			w.leads[l.ID] = true
			w.d.say("  Second Chance Lead   %s  p=%.2f  %s", e164(l.Phone), l.Probability, l.Summary)
		}
	}
	var ab struct {
		Items []struct {
			ID    string `json:"id"`
			Phone string `json:"phone"`
		} `json:"items"`
	}
	if err := w.admin.do(ctx, http.MethodGet, "/api/v1/abandoned?tab=open&limit=200", nil, &ab); err != nil {
		return err
	}
	for _, a := range ab.Items {
		if !w.abandoned[a.ID] {
			w.abandoned[a.ID] = true
			w.d.say("  Abandoned Call       %s", e164(a.Phone))
		}
	}
	return nil
}

// demoCall is the part of the API's Call the demo reads.
type demoCall struct {
	ID           string    `json:"id"`
	CallerNumber string    `json:"callerNumber"`
	Outcome      string    `json:"outcome"`
	Agent        string    `json:"agent"`
	AgentName    string    `json:"agentName"`
	Queue        string    `json:"queue"`
	EndedAt      time.Time `json:"endedAt"`
	ACWOpen      bool      `json:"acwOpen"`
	Reviewed     bool      `json:"reviewed"`
	LeadID       string    `json:"leadId"`
	AbandonedID  string    `json:"abandonedId"`
}

func (c demoCall) who() string {
	switch {
	case c.AgentName != "":
		return " (" + c.AgentName + ")"
	case c.Agent != "":
		return " (" + c.Agent + ")"
	}
	return ""
}

// e164 shows a North American number the hub stores as ten digits in the
// form the sample scripts use.
func e164(digits string) string {
	if len(digits) == 10 && !strings.HasPrefix(digits, "+") {
		return "+1" + digits
	}
	return digits
}

// waitLeader waits until the single node has elected itself.
func waitLeader(ctx context.Context, srv *hub.Server, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for !srv.Node.IsLeader() {
		if time.Now().After(deadline) {
			return errors.New("demo: the hub did not become raft leader")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago (raft
// needs a concrete address to advertise).
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("demo: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// dialable turns a bound address such as "[::]:8080" into one a browser can open.
func dialable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if host == "" || host == "::" || host == "0.0.0.0" {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// apiClient talks to the hub's JSON API the way the web UI does: a session
// cookie from /auth/login and the CSRF token on every mutating request. The
// demo and the end-to-end test act as users through it, never behind the
// API's back.
type apiClient struct {
	base string
	hc   *http.Client
	csrf string
}

// apiError is the API's error body with its HTTP status.
type apiError struct {
	Status  int
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field"`
}

func (e *apiError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%d %s: %s (field %s)", e.Status, e.Code, e.Message, e.Field)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
}

func newAPIClient(base string) *apiClient {
	jar, _ := cookiejar.New(nil) // never fails with nil options
	return &apiClient{base: strings.TrimRight(base, "/"), hc: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

// do sends in as JSON (when not nil) and decodes a 2xx answer into out
// (when not nil).
func (c *apiClient) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if method != http.MethodGet && c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error apiError `json:"error"`
		}
		_ = json.Unmarshal(data, &e)
		e.Error.Status = resp.StatusCode
		if e.Error.Code == "" {
			e.Error.Message = strings.TrimSpace(string(data))
		}
		return fmt.Errorf("%s %s: %w", method, path, &e.Error)
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decode: %w", method, path, err)
		}
	}
	return nil
}

// login opens a session and keeps its CSRF token.
func (c *apiClient) login(ctx context.Context, username, password string) error {
	var out struct {
		CSRFToken string `json:"csrfToken"`
	}
	if err := c.do(ctx, http.MethodPost, "/api/v1/auth/login", map[string]string{"username": username, "password": password}, &out); err != nil {
		return err
	}
	c.csrf = out.CSRFToken
	return nil
}

// demoPassword makes a fresh random demo password.
func demoPassword() string {
	return "demo-" + strings.ToLower(rand.Text()[:12])
}

// demoAccount is what seeding created.
type demoAccount struct {
	SiteID    string
	SiteToken string
	Reasons   map[string]string // name -> id
	Logins    []demoLogin
}

type demoLogin struct {
	User     samples.User
	Password string
}

// created is the id (and token, for sites) of a created object.
type created struct {
	ID    string `json:"id"`
	Token string `json:"token"`
}

// seedDemo fills the bootstrapped tenant with the demo seed through the API,
// as its admin: settings, campaigns, tracking numbers, reasons, CSR users,
// known customers with their open job, and the site the agent uses.
func seedDemo(ctx context.Context, admin *apiClient, tenant string, seed samples.Seed) (demoAccount, error) {
	acct := demoAccount{Reasons: map[string]string{}}
	tp := "/api/v1/tenants/" + url.PathEscape(tenant)
	settings := map[string]any{
		"scl_enabled": seed.Settings.SCLEnabled, "acw_minutes": seed.Settings.ACWMinutes,
		"cold_lead_days": seed.Settings.ColdDays, "banner_days": seed.Settings.BannerDays,
		"timezone": seed.Tenant.Timezone, "outbound_caller_id": seed.Settings.CallerIDOut,
		"callback_number": seed.Settings.CallerIDOut,
	}
	if err := admin.do(ctx, http.MethodPut, tp+"/settings", settings, nil); err != nil {
		return acct, fmt.Errorf("settings: %w", err)
	}
	campaigns := map[string]string{}
	for _, name := range seed.Campaigns {
		var c created
		if err := admin.do(ctx, http.MethodPost, tp+"/campaigns", map[string]string{"name": name}, &c); err != nil {
			return acct, fmt.Errorf("campaign %q: %w", name, err)
		}
		campaigns[name] = c.ID
	}
	for _, n := range seed.TrackingNumbers {
		body := map[string]string{"number": n.Number, "campaignId": campaigns[n.Campaign], "kind": "tracking"}
		if err := admin.do(ctx, http.MethodPost, tp+"/tracking-numbers", body, nil); err != nil {
			return acct, fmt.Errorf("tracking number %s: %w", n.Number, err)
		}
	}
	for _, r := range seed.Reasons {
		var out created
		if err := admin.do(ctx, http.MethodPost, tp+"/reasons", map[string]any{"name": r.Name, "isLead": r.IsLead}, &out); err != nil {
			return acct, fmt.Errorf("reason %q: %w", r.Name, err)
		}
		acct.Reasons[r.Name] = out.ID
	}
	for _, u := range seed.Users {
		if u.Role == "admin" {
			continue // the bootstrap admin
		}
		pw := demoPassword()
		body := map[string]string{"username": u.Login, "password": pw, "displayName": u.Name, "role": "CSR", "extension": u.Extension}
		if err := admin.do(ctx, http.MethodPost, tp+"/users", body, nil); err != nil {
			return acct, fmt.Errorf("user %s: %w", u.Login, err)
		}
		acct.Logins = append(acct.Logins, demoLogin{User: u, Password: pw})
	}
	for _, c := range seed.Customers {
		var cu, loc created
		if err := admin.do(ctx, http.MethodPost, tp+"/customers", map[string]any{"name": c.Name, "phones": []string{c.Phone}}, &cu); err != nil {
			return acct, fmt.Errorf("customer %s: %w", c.Name, err)
		}
		if err := admin.do(ctx, http.MethodPost, "/api/v1/customers/"+url.PathEscape(cu.ID)+"/locations",
			map[string]string{"address": c.Address, "zone": c.Zone}, &loc); err != nil {
			return acct, fmt.Errorf("location of %s: %w", c.Name, err)
		}
		if c.OpenJob != "" {
			job := map[string]string{"phone": c.Phone, "customerId": cu.ID, "locationId": loc.ID, "externalId": c.OpenJob,
				"createdAt":   time.Now().Add(-26 * time.Hour).UTC().Format(time.RFC3339),
				"scheduledAt": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}
			if err := admin.do(ctx, http.MethodPost, tp+"/jobs", job, nil); err != nil {
				return acct, fmt.Errorf("job of %s: %w", c.Name, err)
			}
		}
	}
	var site created
	if err := admin.do(ctx, http.MethodPost, tp+"/sites", map[string]string{"name": "Sample PBX (bundled calls)"}, &site); err != nil {
		return acct, fmt.Errorf("site: %w", err)
	}
	if site.Token == "" {
		return acct, errors.New("site: the hub returned no token")
	}
	acct.SiteID, acct.SiteToken = site.ID, site.Token
	return acct, nil
}
