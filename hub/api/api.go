// Package api owns the hub's JSON API under /api/v1: sessions and API tokens, CSRF
// protection, permission and tenant checks, and the routes for settings, users, queues
// (Second Chance Leads, Abandoned Calls), calls, customers and jobs. Every change is a
// command applied through the Store; reads run in a Store view.
package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/reboundhq/rebound/hub/state"
	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
	"go.etcd.io/bbolt"
	"golang.org/x/crypto/bcrypt"
)

// Store is what the API needs from the replicated state: hub/cluster's Node, or
// state.Local in tests and single-process tools.
type Store interface {
	Apply(ctx context.Context, cmds ...*reboundv1.Command) ([]*reboundv1.CommandOutcome, error)
	View(ctx context.Context, consistent bool, fn func(tx *bbolt.Tx) error) error
}

// Dialer sends click-to-call to the agent of a site. The result comes back later as a
// lead.dial_result / abandoned.dial_result command (see state.DialResultCommand).
type Dialer interface {
	Dial(ctx context.Context, siteID string, cmd *reboundv1.AgentCommand) error
}

// Recordings opens a call's recording for streaming (Range requests need a ReadSeeker).
type Recordings interface {
	Open(ctx context.Context, siteID, ref string) (io.ReadSeekCloser, time.Time, error)
}

// Config configures the API.
type Config struct {
	Store      Store
	Clock      func() time.Time
	Logger     *slog.Logger
	Dialer     Dialer     // optional: without it call-customer records the attempt only
	Recordings Recordings // optional
	// SessionTTL is how long a browser session lives. Default 12 h.
	SessionTTL time.Duration
	// SecureCookies marks the session cookie Secure (set when served over TLS).
	SecureCookies bool
	// BcryptCost for new password hashes. Default bcrypt.DefaultCost.
	BcryptCost int
}

// API serves /api/v1.
type API struct {
	cfg    Config
	log    *slog.Logger
	mux    *http.ServeMux
	routes []Route
	dummy  []byte

	dialMu sync.Mutex
	dials  map[string]pendingDial

	loginMu  sync.Mutex
	failures map[string]loginFailures
}

// loginFailures throttles password guessing per username on this node.
type loginFailures struct {
	count int
	last  time.Time
	until time.Time
}

// loginAllowed reports whether name may try a password now.
func (a *API) loginAllowed(name string, now time.Time) bool {
	a.loginMu.Lock()
	defer a.loginMu.Unlock()
	f, ok := a.failures[name]
	return !ok || !now.Before(f.until)
}

// loginFailed records a failure: from the fifth in a row, each locks the name out for a
// doubling time (1 min, 2 min, ... at most 15 min).
func (a *API) loginFailed(name string, now time.Time) {
	a.loginMu.Lock()
	defer a.loginMu.Unlock()
	if len(a.failures) > 10_000 {
		for k, f := range a.failures {
			if now.Sub(f.last) > time.Hour {
				delete(a.failures, k)
			}
		}
	}
	f := a.failures[name]
	if now.Sub(f.last) > time.Hour {
		f = loginFailures{}
	}
	f.count++
	f.last = now
	if f.count >= 5 {
		d := time.Minute << min(f.count-5, 4)
		f.until = now.Add(min(d, 15*time.Minute))
	}
	a.failures[name] = f
}

func (a *API) loginOK(name string) {
	a.loginMu.Lock()
	delete(a.failures, name)
	a.loginMu.Unlock()
}

// Route is one registered route; Routes() lets tests and docs check coverage.
type Route struct {
	Method  string
	Pattern string
}

// CookieName is the session cookie.
const CookieName = "rebound_session"

// New builds the API.
func New(cfg Config) *API {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.BcryptCost == 0 {
		cfg.BcryptCost = bcrypt.DefaultCost
	}
	a := &API{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux(), dials: map[string]pendingDial{}, failures: map[string]loginFailures{}}
	// A hash to compare against when the user does not exist, so a login's timing does
	// not tell whether a username exists.
	a.dummy, _ = bcrypt.GenerateFromPassword([]byte("no such user"), cfg.BcryptCost)
	a.register()
	return a
}

// Handler returns the http.Handler for /api/v1/.
func (a *API) Handler() http.Handler { return a.mux }

// Routes lists every registered route.
func (a *API) Routes() []Route { return append([]Route(nil), a.routes...) }

// HashPassword hashes a password for a user.create / bootstrap command.
func HashPassword(pw string, cost int) (string, error) {
	if len(pw) < 8 {
		return "", &apiError{status: 400, code: "invalid", field: "password", msg: "password must have at least 8 characters"}
	}
	if len(pw) > 72 {
		return "", &apiError{status: 400, code: "invalid", field: "password", msg: "password must have at most 72 bytes"}
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), cost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// Bootstrap creates the first tenant and network admin (rebound hub --init-admin, demo).
// It fails with a conflict once any user exists.
func Bootstrap(ctx context.Context, st Store, tenantName, username, password string) (state.BootstrapResult, error) {
	var res state.BootstrapResult
	h, err := HashPassword(password, bcrypt.DefaultCost)
	if err != nil {
		return res, err
	}
	b, _ := json.Marshal(state.BootstrapBody{TenantName: tenantName, Username: username, PasswordHash: h})
	outs, err := st.Apply(ctx, &reboundv1.Command{Type: state.CmdBootstrap, Actor: "system", Body: b, RequestId: randomToken(12)})
	if err != nil {
		return res, fmt.Errorf("bootstrap: %w", err)
	}
	if e := state.OutcomeError(outs[0]); e != nil {
		return res, fmt.Errorf("bootstrap: %w", e)
	}
	return res, json.Unmarshal(outs[0].Result, &res)
}

// apiError is an HTTP error with a stable code.
type apiError struct {
	status int
	code   string
	msg    string
	field  string
}

func (e *apiError) Error() string { return e.msg }

func errNotFound() error { return &apiError{404, "not_found", "not found", ""} }
func errForbidden() error {
	return &apiError{403, "forbidden", "you do not have permission to do this", ""}
}
func errBad(field, format string, a ...any) error {
	return &apiError{400, "invalid", fmt.Sprintf(format, a...), field}
}

func (a *API) writeErr(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	var se *state.Error
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &se):
		ae = &apiError{status: 500, code: se.Code, msg: se.Message, field: se.Field}
		switch se.Code {
		case state.CodeInvalid:
			ae.status = 400
		case state.CodeNotFound:
			ae.status = 404
		case state.CodeConflict:
			ae.status = 409
		case state.CodeForbidden:
			ae.status = 403
		default:
			a.log.Error("state error", "path", r.URL.Path, "err", se)
		}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		ae = &apiError{503, "unavailable", "the cluster did not answer in time; retry", ""}
	default:
		a.log.Error("api error", "path", r.URL.Path, "err", err)
		ae = &apiError{503, "unavailable", "the hub could not complete the request; retry", ""}
	}
	body := map[string]any{"code": ae.code, "message": ae.msg}
	if ae.field != "" {
		body["field"] = ae.field
	}
	writeJSON(w, ae.status, map[string]any{"error": body})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// reqCtx is the authenticated caller.
type reqCtx struct {
	user    *state.User
	session string // session hash when signed in by cookie
	csrf    string
	now     time.Time
}

type handler func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error

// handle registers an authenticated route.
func (a *API) handle(method, pattern string, h handler) {
	a.routes = append(a.routes, Route{method, pattern})
	a.mux.HandleFunc(method+" "+pattern, func(w http.ResponseWriter, r *http.Request) {
		rc, err := a.authenticate(r)
		if err == nil && r.Method != http.MethodGet && r.Method != http.MethodHead && rc.session != "" {
			got := r.Header.Get("X-CSRF-Token")
			if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(rc.csrf)) != 1 {
				err = &apiError{403, "csrf", "missing or wrong X-CSRF-Token header", ""}
			}
		}
		if err == nil {
			err = h(w, r, rc)
		}
		if err != nil {
			a.writeErr(w, r, err)
		}
	})
}

func (a *API) authenticate(r *http.Request) (*reqCtx, error) {
	unauth := &apiError{401, "unauthenticated", "sign in first", ""}
	rc := &reqCtx{now: a.cfg.Clock()}
	var token, kind string
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		token, kind = strings.TrimPrefix(h, "Bearer "), "bearer"
	} else if c, err := r.Cookie(CookieName); err == nil && c.Value != "" {
		token, kind = c.Value, "cookie"
	} else {
		return nil, unauth
	}
	hash := state.HashToken(token)
	lookup := func(tx *bbolt.Tx) error {
		var uid string
		if kind == "bearer" {
			t, ok, err := state.TokenByHash(tx, hash)
			if err != nil || !ok {
				return unauth
			}
			uid = t.UserID
		} else {
			s, ok, err := state.SessionByHash(tx, hash, rc.now)
			if err != nil || !ok {
				return unauth
			}
			uid, rc.session, rc.csrf = s.UserID, hash, s.CSRF
		}
		u, ok, err := state.GetUser(tx, uid)
		if err != nil || !ok || u.Disabled {
			return unauth
		}
		rc.user = u
		return nil
	}
	err := a.cfg.Store.View(r.Context(), false, lookup)
	if errors.Is(err, unauth) {
		// A session created a moment ago through the leader may not have reached this
		// follower yet: ask again at the leader's read index before refusing.
		err = a.cfg.Store.View(r.Context(), true, lookup)
	}
	if err != nil {
		return nil, err
	}
	return rc, nil
}

// apply runs one command as the caller and decodes its result into out.
func (a *API) apply(ctx context.Context, rc *reqCtx, typ, tenant string, body any, out any) error {
	var b []byte
	if raw, ok := body.([]byte); ok {
		b = raw
	} else {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return err
		}
	}
	actor := "system"
	if rc != nil && rc.user != nil {
		actor = rc.user.ID
	}
	cmd := &reboundv1.Command{Version: 1, Type: typ, TenantId: tenant, Actor: actor, Body: b, RequestId: randomToken(12)}
	var outs []*reboundv1.CommandOutcome
	var err error
	// An error leaves the outcome unknown; the request id makes a retry exactly-once.
	for try := 0; try < 3; try++ {
		if outs, err = a.cfg.Store.Apply(ctx, cmd); err == nil || ctx.Err() != nil {
			break
		}
		a.log.Warn("apply failed; retrying with the same request id", "type", typ, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(100*(try+1)) * time.Millisecond):
		}
	}
	if err != nil {
		return err
	}
	if len(outs) != 1 {
		return fmt.Errorf("apply %s: %d outcomes", typ, len(outs))
	}
	if e := state.OutcomeError(outs[0]); e != nil {
		return e
	}
	if out != nil && len(outs[0].Result) > 0 {
		return json.Unmarshal(outs[0].Result, out)
	}
	return nil
}

func (a *API) view(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	return a.cfg.Store.View(ctx, false, fn)
}

// need checks that rc's user may see tenant (404 otherwise) and holds one of perms (403).
func need(tx *bbolt.Tx, rc *reqCtx, tenant string, perms ...string) error {
	if !state.IsMember(tx, rc.user, tenant) {
		return errNotFound()
	}
	if len(perms) == 0 {
		return nil
	}
	for _, p := range perms {
		if state.Can(tx, rc.user, tenant, p) {
			return nil
		}
	}
	return errForbidden()
}

// needTenant runs need in its own view.
func (a *API) needTenant(r *http.Request, rc *reqCtx, tenant string, perms ...string) error {
	return a.view(r.Context(), func(tx *bbolt.Tx) error { return need(tx, rc, tenant, perms...) })
}

func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return errBad(ute.Field, "%s has the wrong type", ute.Field)
		}
		if errors.Is(err, io.EOF) {
			return errBad("body", "a JSON body is required")
		}
		msg := err.Error()
		if strings.HasPrefix(msg, "json: unknown field ") {
			f := strings.Trim(strings.TrimPrefix(msg, "json: unknown field "), `"`)
			return errBad(f, "unknown field %s", f)
		}
		return errBad("body", "bad JSON: %v", err)
	}
	return nil
}

// pendingDial remembers which lead or abandoned call a dial was for, until its result.
type pendingDial struct {
	tenant, item string
	at           time.Time
}

func (a *API) rememberDial(id, tenant, item string) {
	a.dialMu.Lock()
	defer a.dialMu.Unlock()
	now := a.cfg.Clock()
	for k, p := range a.dials {
		if now.Sub(p.at) > time.Hour {
			delete(a.dials, k)
		}
	}
	a.dials[id] = pendingDial{tenant: tenant, item: item, at: now}
}

// DialResult records an agent's answer to a click-to-call this API sent (hub wiring
// passes ingest's OnResult here). Results for unknown command ids are ignored: they were
// for another node's dial or are not dials.
func (a *API) DialResult(ctx context.Context, res *reboundv1.CommandResult) error {
	a.dialMu.Lock()
	p, ok := a.dials[res.GetCommandId()]
	delete(a.dials, res.GetCommandId())
	a.dialMu.Unlock()
	if !ok {
		return nil
	}
	result := strings.ToLower(strings.TrimPrefix(res.GetDialOutcome().String(), "DIAL_OUTCOME_"))
	if !res.GetOk() && res.GetError() != "" {
		result += ": " + res.GetError()
	}
	outs, err := a.cfg.Store.Apply(ctx, state.DialResultCommand(p.tenant, p.item, res.GetCommandId(), result))
	if err != nil {
		return fmt.Errorf("record dial result: %w", err)
	}
	if e := state.OutcomeError(outs[0]); e != nil {
		return fmt.Errorf("record dial result: %w", e)
	}
	return nil
}

// FetchedRecordings adapts a whole-file fetch from the site agent (hub/ingest's
// FetchRecording) to Recordings, so the API can serve Range requests from memory.
type FetchedRecordings struct {
	Fetch func(ctx context.Context, siteID, ref string, max int64) ([]byte, error)
	// Max bounds one recording (default 64 MiB).
	Max int64
}

type memFile struct{ *bytes.Reader }

func (memFile) Close() error { return nil }

// Open fetches the recording.
func (f FetchedRecordings) Open(ctx context.Context, siteID, ref string) (io.ReadSeekCloser, time.Time, error) {
	max := f.Max
	if max <= 0 {
		max = 64 << 20
	}
	b, err := f.Fetch(ctx, siteID, ref, max)
	if err != nil {
		return nil, time.Time{}, err
	}
	return memFile{bytes.NewReader(b)}, time.Time{}, nil
}
