package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/reboundhq/rebound/hub/scheduler"
	"github.com/reboundhq/rebound/hub/state"
	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
	"go.etcd.io/bbolt"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// clock is the injected time: tests move it by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// dialLog records the AgentCommands the API hands to the site's agent.
type dialLog struct {
	mu   sync.Mutex
	sent []sentDial
}

type sentDial struct {
	site string
	cmd  *reboundv1.AgentCommand
}

func (d *dialLog) Dial(_ context.Context, site string, cmd *reboundv1.AgentCommand) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sent = append(d.sent, sentDial{site, proto.Clone(cmd).(*reboundv1.AgentCommand)})
	return nil
}

// memRecordings serves recordings from memory, keyed by site + ref.
type memRecordings map[string][]byte

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

func (m memRecordings) Open(_ context.Context, site, ref string) (io.ReadSeekCloser, time.Time, error) {
	b, ok := m[site+"/"+ref]
	if !ok {
		return nil, time.Time{}, io.ErrUnexpectedEOF
	}
	return nopCloser{bytes.NewReader(b)}, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), nil
}

type env struct {
	t     *testing.T
	clk   *clock
	store *state.Local
	api   *API
	srv   *httptest.Server
	dials *dialLog
	sched *scheduler.Scheduler

	logMu sync.Mutex
	log   [][]*reboundv1.Command // every applied batch, for replay checks
}

// assertReplay re-applies every batch to a fresh state file, as a raft follower or a
// restarted node does, and requires byte-identical state.
func (e *env) assertReplay(t *testing.T) {
	t.Helper()
	fresh, err := state.OpenLocal(filepath.Join(t.TempDir(), "replay.db"), state.New(nil), func() time.Time {
		t.Fatal("replay needed the clock: a command was not stamped")
		return time.Time{}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	fresh.DB().NoSync = true
	e.logMu.Lock()
	batches := e.log
	e.logMu.Unlock()
	for _, b := range batches {
		if _, err := fresh.Apply(context.Background(), b...); err != nil {
			t.Fatal(err)
		}
	}
	dump := func(l *state.Local) string {
		var buf bytes.Buffer
		_ = l.View(context.Background(), false, func(tx *bbolt.Tx) error {
			return tx.ForEach(func(name []byte, b *bbolt.Bucket) error {
				return b.ForEach(func(k, v []byte) error {
					fmt.Fprintf(&buf, "%s|%x|%x\n", name, k, v)
					return nil
				})
			})
		})
		return buf.String()
	}
	if a, b := dump(e.store), dump(fresh); a != b {
		t.Fatalf("replayed state differs (%d vs %d bytes of dump)", len(a), len(b))
	}
}

func newEnv(t testing.TB) *env { return newEnvFrom(t, nil) }

// newEnvFrom starts an env on a copy of a state file (nil: an empty one).
func newEnvFrom(t testing.TB, template []byte) *env {
	t.Helper()
	clk := &clock{t: time.Date(2026, 6, 15, 14, 0, 0, 0, time.UTC)}
	path := filepath.Join(t.TempDir(), "state.db")
	if template != nil {
		if err := os.WriteFile(path, template, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	st, err := state.OpenLocal(path, state.New(nil), clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	st.DB().NoSync = true
	e := &env{clk: clk, store: st, dials: &dialLog{}}
	if tt, ok := t.(*testing.T); ok {
		e.t = tt
	}
	e.api = New(Config{Store: st, Clock: clk.Now, Dialer: e.dials, BcryptCost: bcrypt.MinCost,
		Recordings: memRecordings{"s1/rec-1.wav": bytes.Repeat([]byte("RIFFdata"), 64)}})
	e.srv = httptest.NewServer(e.api.Handler())
	e.sched = scheduler.New(scheduler.Config{Store: st, Clock: clk.Now})
	st.OnApplied(func(_ uint64, cmds []*reboundv1.Command, _ []*reboundv1.CommandOutcome) {
		batch := make([]*reboundv1.Command, len(cmds))
		for i, c := range cmds {
			batch[i] = proto.Clone(c).(*reboundv1.Command)
		}
		e.logMu.Lock()
		e.log = append(e.log, batch)
		e.logMu.Unlock()
	})
	t.Cleanup(func() {
		e.srv.Close()
		st.Close()
	})
	return e
}

// client is a signed-in API user: a browser session (cookie + CSRF) or a bearer token.
type client struct {
	e      *env
	hc     *http.Client
	csrf   string
	bearer string
}

func (e *env) login(t testing.TB, user, pw string) *client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &client{e: e, hc: &http.Client{Jar: jar}}
	var me meView
	c.must(t, "POST", "/api/v1/auth/login", map[string]string{"username": user, "password": pw}, 200, &me)
	if me.CSRFToken == "" {
		t.Fatal("login returned no CSRF token")
	}
	c.csrf = me.CSRFToken
	return c
}

func (e *env) bearer(tok string) *client {
	return &client{e: e, hc: http.DefaultClient, bearer: tok}
}

type apiErr struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"error"`
}

func (c *client) do(t testing.TB, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.e.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// must asserts the status and decodes the body into out.
func (c *client) must(t testing.TB, method, path string, body any, status int, out any) {
	t.Helper()
	got, b := c.do(t, method, path, body)
	if got != status {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, got, status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

// fails asserts an error status and code (and field when given).
func (c *client) fails(t testing.TB, method, path string, body any, status int, code, field string) {
	t.Helper()
	got, b := c.do(t, method, path, body)
	var e apiErr
	_ = json.Unmarshal(b, &e)
	if got != status || e.Error.Code != code || (field != "" && e.Error.Field != field) {
		t.Fatalf("%s %s: got %d %s/%s, want %d %s/%s: %s", method, path, got, e.Error.Code, e.Error.Field, status, code, field, b)
	}
}

// callSpec describes a call the site agent reports.
type callSpec struct {
	id, caller, name, dialled, agent, queue, site string
	outcome                                       reboundv1.Outcome
	direction                                     reboundv1.Direction
	start                                         time.Time
	talk, wait                                    time.Duration
	transcript                                    []*reboundv1.TranscriptSegment
	recording                                     string
	revision                                      uint32
}

func (s callSpec) record() *reboundv1.CallRecord {
	if s.revision == 0 {
		s.revision = 1
	}
	if s.direction == 0 {
		s.direction = reboundv1.Direction_DIRECTION_INBOUND
	}
	end := s.start.Add(s.wait + s.talk)
	r := &reboundv1.CallRecord{RecordId: s.id + "-rev" + string(rune('0'+s.revision)), CallId: s.id, Revision: s.revision,
		SiteId: s.site, Direction: s.direction, CallerNumber: s.caller, CallerName: s.name, DialledNumber: s.dialled,
		StartedAt: timestamppb.New(s.start), EndedAt: timestamppb.New(end), Outcome: s.outcome,
		TalkMs: s.talk.Milliseconds(), WaitMs: s.wait.Milliseconds(), AgentExtension: s.agent, Queue: s.queue}
	if s.outcome == reboundv1.Outcome_OUTCOME_ANSWERED {
		r.AgentAnsweredAt = timestamppb.New(s.start.Add(s.wait))
	}
	if s.transcript != nil {
		r.Transcript = &reboundv1.Transcript{Status: reboundv1.Transcript_STATUS_DONE, Backend: "test", Segments: s.transcript}
	}
	if s.recording != "" {
		r.Recording = &reboundv1.Recording{Ref: s.recording, Codec: "pcm_s16le", SampleRate: 8000, Channels: 2}
	}
	return r
}

// ingest applies a call record the way hub/ingest does.
func (e *env) ingest(t testing.TB, tenant string, s callSpec) state.IngestResult {
	t.Helper()
	b, err := proto.Marshal(s.record())
	if err != nil {
		t.Fatal(err)
	}
	outs, err := e.store.Apply(context.Background(), &reboundv1.Command{Type: state.CmdCallIngest, TenantId: tenant, Actor: "site:" + s.site, Body: b})
	if err != nil {
		t.Fatal(err)
	}
	if er := state.OutcomeError(outs[0]); er != nil {
		t.Fatalf("ingest %s: %v", s.id, er)
	}
	var res state.IngestResult
	if err := json.Unmarshal(outs[0].Result, &res); err != nil {
		t.Fatal(err)
	}
	return res
}

// command applies a state command directly (fixtures).
func (e *env) command(t testing.TB, typ, tenant, actor string, body, out any) {
	t.Helper()
	var b []byte
	if raw, ok := body.([]byte); ok {
		b = raw
	} else {
		b, _ = json.Marshal(body)
	}
	outs, err := e.store.Apply(context.Background(), &reboundv1.Command{Type: typ, TenantId: tenant, Actor: actor, Body: b})
	if err != nil {
		t.Fatal(err)
	}
	if er := state.OutcomeError(outs[0]); er != nil {
		t.Fatalf("%s: %v", typ, er)
	}
	if out != nil {
		if err := json.Unmarshal(outs[0].Result, out); err != nil {
			t.Fatal(err)
		}
	}
}
