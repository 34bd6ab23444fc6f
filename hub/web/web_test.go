package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func newUI(t *testing.T) *UI {
	t.Helper()
	u, err := New(Config{Broker: NewBroker(BrokerConfig{}, nil)})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestPagesRenderWithStrictCSP(t *testing.T) {
	u := newUI(t)
	inlineScript := regexp.MustCompile(`<script(?:[^>]*)>\s*[^<\s]`)
	handlerAttr := regexp.MustCompile(`\son[a-z]+\s*=`)
	for _, p := range pageList() {
		t.Run(p.Name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			u.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p.Path, nil))
			if rec.Code != 200 {
				t.Fatalf("status %d", rec.Code)
			}
			csp := rec.Header().Get("Content-Security-Policy")
			if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
				t.Fatalf("weak CSP %q", csp)
			}
			if rec.Header().Get("X-Content-Type-Options") != "nosniff" || rec.Header().Get("X-Frame-Options") != "DENY" {
				t.Fatalf("missing hardening headers: %v", rec.Header())
			}
			body := rec.Body.String()
			if inlineScript.MatchString(body) || handlerAttr.MatchString(body) {
				t.Fatalf("page has inline script: %s", body)
			}
			if !strings.Contains(body, `<script type="module" src="/static/js/main.js"></script>`) {
				t.Fatal("page does not load main.js")
			}
			if !strings.Contains(body, `data-page="`+p.Name+`"`) || !strings.Contains(body, "<title>"+p.Title) {
				t.Fatalf("page shell for %s wrong", p.Name)
			}
			if p.Nav != "" && !strings.Contains(body, `aria-current="page"`) {
				t.Fatal("no current nav entry")
			}
		})
	}
}

func TestEveryReferencedAssetIsEmbedded(t *testing.T) {
	u := newUI(t)
	imports := regexp.MustCompile(`(?:from|import\()\s*'(\./[a-z]+\.js)'`)
	for name, a := range u.assets {
		if !strings.HasSuffix(name, ".js") {
			continue
		}
		for _, m := range imports.FindAllStringSubmatch(string(a.body), -1) {
			dep := "/static/js/" + strings.TrimPrefix(m[1], "./")
			if _, ok := u.assets[dep]; !ok {
				t.Errorf("%s imports %s, which is not embedded", name, dep)
			}
		}
		if strings.Contains(string(a.body), "innerHTML") || strings.Contains(string(a.body), "eval(") {
			t.Errorf("%s builds markup from strings", name)
		}
	}
	for _, want := range []string{"/static/app.css", "/static/js/main.js", "/static/js/queue.js", "/static/js/lead.js"} {
		if _, ok := u.assets[want]; !ok {
			t.Errorf("%s not embedded", want)
		}
	}
}

func TestAssetsServeWithETag(t *testing.T) {
	u := newUI(t)
	srv := httptest.NewServer(u)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/static/js/main.js")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") || len(body) == 0 {
		t.Fatalf("main.js: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/static/js/main.js", nil)
	req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
	resp2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusNotModified {
		t.Fatalf("revalidation: %d", resp2.StatusCode)
	}
	for _, p := range []string{"/static/nope.js", "/static/../web.go"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
}

func TestRootRedirectsToQueue(t *testing.T) {
	u := newUI(t)
	rec := httptest.NewRecorder()
	u.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusFound || rec.Header().Get("Location") != "/scl" {
		t.Fatalf("got %d %q", rec.Code, rec.Header().Get("Location"))
	}
}
