// Package web owns the hub's browser UI: the server-rendered page shells
// (html/template), the hand-written CSS and JavaScript modules embedded in the
// binary, and the live event stream (server-sent events) fed from the raft
// log. The pages hold no data of their own: their scripts call the JSON API
// under /api/v1 with the browser's session cookie and CSRF header, so
// everything the UI does the API does too.
//
// # Live events
//
// GET /events is a text/event-stream for the signed-in user (session cookie
// or bearer token, checked through GET /api/v1/me). Every event has
//
//	id: <raft index>-<position>   (the same on every hub node)
//	event: lead | abandoned | call | settings | reset
//	data: {"kind":"lead.status","actor":"u_12_0","atMs":...,"id":"l_30_0",
//	       "leadId":"l_30_0","callId":"c-1","status":"...","created":true}
//
// and is sent only to users of the event's tenant who hold its permission
// (lead and call: scl.view; abandoned: abandoned.edit; settings: any member).
// A reconnecting EventSource sends Last-Event-ID (or ?last=ID) and gets what it
// missed from a bounded ring; when that is no longer possible it gets a
// "reset" event and reloads. Data names what changed and never carries
// secrets: screens refetch the rest through the API. A stream ends after
// BrokerConfig.MaxAge so the session is checked again on reconnect.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"strings"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// ContentSecurityPolicy is sent with every page: scripts, styles, media and
// fetches only from this origin and never inline, so an injected string can
// never run as script.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"media-src 'self'; connect-src 'self'; font-src 'self'; form-action 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'"

// Config wires the UI to the rest of the hub.
type Config struct {
	// API is the hub's JSON API handler. The UI uses it to learn who is
	// signed in when a live stream opens (GET /api/v1/me), through the same
	// code path a browser uses, so session rules live in one place.
	API http.Handler
	// Broker is the live event fan-out; nil disables /events.
	Broker *Broker
	Log    *slog.Logger
}

// UI serves the page shells, the static assets and the live stream.
type UI struct {
	cfg    Config
	log    *slog.Logger
	pages  map[string]*template.Template
	assets map[string]asset
	mux    *http.ServeMux
}

type asset struct {
	body  []byte
	etag  string
	ctype string
}

// page is one screen of the UI.
type page struct {
	Path  string
	Name  string // template and script name
	Title string
	Nav   string // nav entry to highlight
}

func pageList() []page {
	return []page{
		{"/login", "login", "Sign in", ""},
		{"/scl", "scl", "Second Chance Leads", "scl"},
		{"/abandoned", "abandoned", "Abandoned Calls", "abandoned"},
		{"/my-calls", "mycalls", "My Calls", "mycalls"},
		{"/booking", "booking", "Job Booking", "booking"},
		{"/admin", "admin", "Admin Settings", "admin"},
		{"/account", "account", "My Account", "account"},
	}
}

// New parses the embedded templates and indexes the embedded assets.
func New(cfg Config) (*UI, error) {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	u := &UI{cfg: cfg, log: log, pages: map[string]*template.Template{}, assets: map[string]asset{}, mux: http.NewServeMux()}
	base, err := template.ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("web: parse layout: %w", err)
	}
	for _, p := range pageList() {
		t, err := template.Must(base.Clone()).ParseFS(templateFS, "templates/"+p.Name+".html")
		if err != nil {
			return nil, fmt.Errorf("web: parse page %s: %w", p.Name, err)
		}
		u.pages[p.Name] = t
	}
	err = fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ct := mime.TypeByExtension(path.Ext(p))
		if strings.HasSuffix(p, ".js") {
			ct = "text/javascript; charset=utf-8"
		}
		u.assets["/"+p] = asset{body: b, etag: `"` + hex.EncodeToString(sum[:8]) + `"`, ctype: ct}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("web: index assets: %w", err)
	}
	for _, p := range pageList() {
		u.mux.HandleFunc("GET "+p.Path, u.servePage(p))
	}
	u.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/scl", http.StatusFound)
	})
	u.mux.HandleFunc("GET /static/", u.serveAsset)
	u.mux.HandleFunc("GET /events", u.serveEvents)
	return u, nil
}

// ServeHTTP serves the UI routes: "/", the pages, "/static/..." and "/events".
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	u.mux.ServeHTTP(w, r)
}

func (u *UI) servePage(p page) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		if err := u.pages[p.Name].ExecuteTemplate(&buf, "layout", p); err != nil {
			u.log.Error("render page", "page", p.Name, "err", err)
			http.Error(w, "render failed", http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		w.Write(buf.Bytes())
	}
}

func (u *UI) serveAsset(w http.ResponseWriter, r *http.Request) {
	a, ok := u.assets[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("ETag", a.etag)
	// Revalidate every time: assets change with the binary and the check
	// costs one 304 on loopback-fast hub links.
	h.Set("Cache-Control", "no-cache")
	if r.Header.Get("If-None-Match") == a.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", a.ctype)
	w.Write(a.body)
}

// meBody is the part of GET /api/v1/me (docs/api.md) the stream needs.
type meBody struct {
	User struct {
		ID           string `json:"id"`
		NetworkAdmin bool   `json:"networkAdmin"`
	} `json:"user"`
	Memberships []struct {
		TenantID    string   `json:"tenantId"`
		Permissions []string `json:"permissions"`
	} `json:"memberships"`
}

// viewer asks the API who the request's session belongs to.
func (u *UI) viewer(r *http.Request) (Viewer, int) {
	if u.cfg.API == nil {
		return Viewer{}, http.StatusServiceUnavailable
	}
	get := func(p string, into any) int {
		req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, p, nil)
		if err != nil {
			return http.StatusInternalServerError
		}
		req.RemoteAddr = r.RemoteAddr
		req.Host = r.Host
		for _, k := range []string{"Cookie", "Authorization", "X-Forwarded-For", "User-Agent"} {
			if v := r.Header.Values(k); len(v) > 0 {
				req.Header[k] = v
			}
		}
		rec := &bufferedResponse{code: http.StatusOK, header: http.Header{}}
		u.cfg.API.ServeHTTP(rec, req)
		if rec.code != http.StatusOK {
			return rec.code
		}
		if err := json.Unmarshal(rec.body.Bytes(), into); err != nil {
			u.log.Error("events: decode "+p, "err", err)
			return http.StatusInternalServerError
		}
		return http.StatusOK
	}
	var me meBody
	if code := get("/api/v1/me", &me); code != http.StatusOK {
		return Viewer{}, code
	}
	v := Viewer{User: me.User.ID, Tenants: map[string]map[string]bool{}}
	for _, m := range me.Memberships {
		perms := map[string]bool{}
		for _, p := range m.Permissions {
			perms[p] = true
		}
		v.Tenants[m.TenantID] = perms
	}
	if me.User.NetworkAdmin {
		// A network admin acts as Admin in every tenant (docs/api.md).
		var ts struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
		}
		if code := get("/api/v1/tenants", &ts); code == http.StatusOK {
			for _, t := range ts.Items {
				v.Tenants[t.ID] = allPerms()
			}
		}
	}
	return v, http.StatusOK
}

// allPerms is the permission set of a network admin.
func allPerms() map[string]bool {
	return map[string]bool{
		PermSCLView: true, PermSCLEdit: true, PermAbandonedEdit: true, "features.manage": true,
		"settings.edit": true, "phone.edit": true, "users.admin": true,
	}
}

func (u *UI) serveEvents(w http.ResponseWriter, r *http.Request) {
	if u.cfg.Broker == nil {
		http.Error(w, "live events are not enabled", http.StatusServiceUnavailable)
		return
	}
	v, code := u.viewer(r)
	if code != http.StatusOK {
		http.Error(w, http.StatusText(code), code)
		return
	}
	u.cfg.Broker.Serve(w, r, v)
}

// bufferedResponse collects an in-process API answer.
type bufferedResponse struct {
	code   int
	header http.Header
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header         { return b.header }
func (b *bufferedResponse) Write(p []byte) (int, error) { return b.body.Write(p) }
func (b *bufferedResponse) WriteHeader(code int)        { b.code = code }
