package web

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/reboundhq/rebound/hub/state"
	"go.etcd.io/bbolt"
)

// TestBrowserWorkflow drives the UI in real Chromium against a real hub on
// loopback: the CSR flow end to end, a second session watching it live, a
// read-only user, and CSRF.
func TestBrowserWorkflow(t *testing.T) {
	if testing.Short() && os.Getenv("REBOUND_REQUIRE_PEERS") != "1" {
		// Keep -short fast on laptops; CI sets REBOUND_REQUIRE_PEERS=1 and runs it.
		t.Skip("browser test skipped under -short without REBOUND_REQUIRE_PEERS=1")
	}
	h := startHub(t)
	ana := newSession(t, "ana")
	ana.signIn(h.URL, "ana")

	// Ana belongs to Acme only: its four leads, never Bright's.
	ids := func(s *session) []string {
		return eval[[]string](s, `[...document.querySelectorAll('#queue-table tbody tr[data-id]')].map(r => r.dataset.id).sort()`)
	}
	if got := ids(ana); len(got) != 4 || strings.Contains(strings.Join(got, ","), h.leads["bright"]) {
		t.Fatalf("open tab rows %v, want Acme's four leads %v", got, h.leads)
	}
	ana.wait("tab counts", `document.querySelector('#count-open').textContent.trim() === '(4)'`, 5*time.Second)

	t.Run("filter by account and campaign", func(t *testing.T) {
		ana.t = t
		eval[bool](ana, fmt.Sprintf(`(() => { const s = document.querySelector('#f-account'); s.value = %s; s.dispatchEvent(new Event('change')); return true })()`, jsString(h.acme)))
		ana.wait("campaign filter enabled", `(() => { const s = document.querySelector('#f-campaign'); return s && !s.disabled && s.options.length > 2 })()`, 5*time.Second)
		eval[bool](ana, `(() => { const s = document.querySelector('#f-campaign'); s.value = [...s.options].find(o => o.text === 'Heat wave radio').value; s.dispatchEvent(new Event('change')); return true })()`)
		want := []string{h.leads["diaz"], h.leads["jane"], h.leads["lee"]}
		ana.wait("three Heat wave radio leads", fmt.Sprintf(`JSON.stringify([...document.querySelectorAll('#queue-table tbody tr[data-id]')].map(r => r.dataset.id).sort()) === %s`,
			jsString(fmt.Sprintf(`["%s"]`, strings.Join(sortStrings(want), `","`)))), 5*time.Second)
		ana.wait("side badge still counts the whole Open tab", `document.querySelector('#nav-scl').textContent === '4'`, 5*time.Second)
		if !strings.Contains(eval[string](ana, `location.search`), "campaign=") {
			t.Error("filters are not kept in the URL")
		}
		if os.Getenv("REBOUND_SCREENSHOTS") != "" {
			ana.screenshot("queue")
		}
	})

	t.Run("open a lead", func(t *testing.T) {
		ana.t = t
		ana.do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`#queue-table tbody tr[data-id="%s"] button`, h.leads["jane"]))))
		ana.wait("lead details", `!document.querySelector('#flyout').hidden && document.querySelector('#flyout .summary') !== null`, 5*time.Second)
		if bad := eval[[]string](ana, lowContrast); len(bad) > 0 {
			t.Errorf("lead details below AA contrast: %v", bad)
		}
		text := eval[string](ana, `document.querySelector('#flyout').innerText`)
		if os.Getenv("REBOUND_SCREENSHOTS") != "" {
			ana.screenshot("lead-details")
		}
		for _, want := range []string{"water heater", "Jane Roe", "12 Oak Lane", "North", "Price shopping", "Unbooked", "call-jane", "Quoted jane", "asked for a price", "(512) 555-0199"} {
			if !strings.Contains(text, want) {
				t.Errorf("lead details lack %q:\n%s", want, text)
			}
		}
	})

	t.Run("play the recording", func(t *testing.T) {
		ana.t = t
		got := eval[string](ana, `new Promise((resolve) => {
			const a = document.querySelector('#flyout audio');
			if (!a) return resolve('no audio element');
			if (a.readyState >= 3) return resolve('canplay');
			a.addEventListener('canplay', () => resolve('canplay'), { once: true });
			a.addEventListener('error', () => resolve('error ' + (a.error && a.error.code)), { once: true });
			a.preload = 'auto';
			a.load();
			setTimeout(() => resolve('timeout, readyState ' + a.readyState), 10000);
		})`)
		if got != "canplay" {
			t.Fatalf("audio: %s", got)
		}
		// Seeking works because the hub answers byte ranges.
		status := eval[string](ana, `fetch(document.querySelector('#flyout audio').src, { headers: { Range: 'bytes=100-199' } }).then(r => r.status + ' ' + r.headers.get('Content-Range'))`)
		if !strings.HasPrefix(status, "206 bytes 100-199/") {
			t.Fatalf("range request: %s", status)
		}
	})

	t.Run("search the transcript", func(t *testing.T) {
		ana.t = t
		ana.do(chromedp.SendKeys(chromedp.CSS("#transcript-search"), "water heater"))
		ana.wait("two highlighted matches", `document.querySelectorAll('#flyout .transcript mark').length === 2`, 5*time.Second)
		if s := eval[string](ana, `document.querySelector('#flyout .transcript').innerText`); !strings.Contains(s, "00:02") || !strings.Contains(s, "Caller:") || !strings.Contains(s, "Agent:") {
			t.Errorf("transcript lacks timestamps or speakers: %s", s)
		}
		dl := eval[string](ana, `fetch(document.querySelector('#flyout a[download]').href).then(r => r.text())`)
		if !strings.Contains(dl, "water heater") {
			t.Errorf("downloaded transcript: %q", dl)
		}
		if os.Getenv("REBOUND_SCREENSHOTS") != "" {
			ana.screenshot("lead-transcript")
		}
	})

	t.Run("add a note and copy it to the customer", func(t *testing.T) {
		ana.t = t
		ana.do(
			chromedp.Click(chromedp.CSS("#note-add")),
			chromedp.SendKeys(chromedp.CSS("#note-text"), "Left voicemail, gate code 1234"),
			chromedp.Click(chromedp.CSS("#note-save")),
		)
		ana.wait("the new note", `document.querySelector('#scl-notes').innerText.includes('gate code 1234')`, 5*time.Second)
		eval[bool](ana, `(() => { [...document.querySelectorAll('#scl-notes li button')].find(b => b.textContent === 'Copy to Customer notes').click(); return true })()`)
		ana.wait("copy confirmed", `[...document.querySelectorAll('#scl-notes li button')].some(b => b.textContent.startsWith('Copied to customer'))`, 5*time.Second)
		var notes string
		h.store.View(context.Background(), false, func(tx *bbolt.Tx) error {
			c, _, err := state.GetCustomer(tx, h.custs["Jane Roe"])
			if c != nil {
				notes = c.Notes
			}
			return err
		})
		if !strings.Contains(notes, "gate code 1234") {
			t.Fatalf("customer notes after copy: %q", notes)
		}
	})

	// Bob watches the Open tab in his own browser.
	bob := newSession(t, "bob")
	bob.signIn(h.URL, "bob")
	bob.wait("live stream", `document.body.dataset.live === 'on'`, 10*time.Second)
	bob.wait("Jane's lead as New", rowStatus(h.leads["jane"])+` === 'New'`, 5*time.Second)

	t.Run("call customer", func(t *testing.T) {
		ana.t, bob.t = t, t
		eval[bool](ana, `(() => { [...document.querySelectorAll('#flyout .actions button')].find(b => b.textContent === 'Call Customer').click(); return true })()`)
		ana.wait("status call back attempted", `(document.querySelector('#flyout .kv .status') || {}).textContent === 'Lead - call back attempted'`, 5*time.Second)
		ana.wait("the callback in the activity trail", `document.querySelector('#lead-activity').innerText.includes('Call back')`, 5*time.Second)
		start := time.Now()
		bob.wait("the change, live", rowStatus(h.leads["jane"])+` === 'Lead - call back attempted'`, 10*time.Second)
		t.Logf("second session saw the status change %v after the first one did", time.Since(start).Round(time.Millisecond))
	})

	t.Run("dismiss as not a lead", func(t *testing.T) {
		ana.t, bob.t = t, t
		eval[bool](ana, `(() => { [...document.querySelectorAll('#flyout .actions button')].find(b => b.textContent === 'Dismiss').click(); return true })()`)
		ana.do(chromedp.Click(chromedp.CSS("#why-not")))
		eval[bool](ana, `(() => { document.querySelector('#flyout form[aria-label="Dismiss lead"] button[type=submit]').click(); return true })()`)
		ana.wait("status Reviewed - not a lead", `(document.querySelector('#flyout .kv .status') || {}).textContent === 'Reviewed - not a lead'`, 5*time.Second)
		ana.wait("lead gone from Open", rowStatus(h.leads["jane"])+` === ''`, 5*time.Second)
		bob.wait("lead gone from Bob's Open, live", rowStatus(h.leads["jane"])+` === ''`, 10*time.Second)
		ana.do(chromedp.KeyEvent("\x1b")) // Esc closes the flyout
		ana.wait("flyout closed", `document.querySelector('#flyout').hidden`, 5*time.Second)
		ana.do(chromedp.Click(chromedp.CSS("#tab-done")))
		ana.wait("lead in Done", rowStatus(h.leads["jane"])+` === 'Reviewed - not a lead'`, 5*time.Second)
	})

	t.Run("new lead arrives live with a toast and a badge", func(t *testing.T) {
		bob.t = t
		before := eval[string](bob, `document.querySelector('#bell-count').textContent`)
		h.flagCall(t, "call-late", "+15125550188", "Wants a second quote for a sump pump.")
		bob.wait("the new row", `[...document.querySelectorAll('#queue-table tbody td')].some(td => td.textContent === '(512) 555-0188')`, 10*time.Second)
		bob.wait("a toast", `[...document.querySelectorAll('#toasts .toast')].some(t => t.textContent.includes('New Second Chance Lead'))`, 5*time.Second)
		bob.wait("the alerts badge", fmt.Sprintf(`Number(document.querySelector('#bell-count').textContent) === %s + 1 && !document.querySelector('#bell-count').hidden`, before), 5*time.Second)
	})

	t.Run("keyboard navigation", func(t *testing.T) {
		bob.t = t
		first := eval[string](bob, `document.querySelectorAll('#queue-table tbody tr[data-id]')[1].dataset.id`)
		bob.do(chromedp.KeyEvent("j"), chromedp.KeyEvent("j"))
		bob.wait("second row selected", fmt.Sprintf(`(document.querySelector('#queue-table tbody tr[aria-selected=true]') || {dataset: {}}).dataset.id === %s`, jsString(first)), 5*time.Second)
		bob.do(chromedp.KeyEvent("\r"))
		bob.wait("flyout for the selected lead", fmt.Sprintf(`!document.querySelector('#flyout').hidden && location.search.includes(%s)`, jsString(first)), 5*time.Second)
		bob.do(chromedp.KeyEvent("\x1b"))
		bob.wait("flyout closed", `document.querySelector('#flyout').hidden`, 5*time.Second)
	})

	t.Run("ambiguous customer match", func(t *testing.T) {
		bob.t = t
		bob.do(chromedp.Navigate(h.URL + "/scl?lead=" + h.leads["diaz"]))
		bob.wait("warning", `!document.querySelector('#flyout').hidden && document.querySelector('#flyout .warn') !== null`, 10*time.Second)
		if s := eval[string](bob, `document.querySelector('#flyout .warn').innerText`); !strings.Contains(s, "Change customer") {
			t.Fatalf("warning: %q", s)
		}
		custName := `[...document.querySelectorAll('#flyout section[aria-label=Customer] dt')].find(d => d.textContent === 'Customer').nextElementSibling.textContent`
		before := eval[string](bob, custName)
		eval[bool](bob, `(() => { [...document.querySelectorAll('#flyout .warn button')].find(b => b.textContent === 'Change customer').click(); return true })()`)
		bob.wait("candidates", `document.querySelectorAll('#flyout form[aria-label="Change customer"] input[name=cand]').length === 2`, 5*time.Second)
		other := eval[string](bob, `(() => { const f = document.querySelector('#flyout form[aria-label="Change customer"]');
			const i = [...f.querySelectorAll('input[name=cand]')].find(i => !i.checked); i.click();
			const name = f.querySelector('label[for="' + i.id + '"]').textContent; f.requestSubmit(); return name })()`)
		if other == before || other == "" {
			t.Fatalf("candidates: current %q, other %q", before, other)
		}
		bob.wait("the other customer", custName+` === `+jsString(other), 5*time.Second)
	})

	t.Run("edit status by hand", func(t *testing.T) {
		bob.t = t
		bob.do(chromedp.Click(chromedp.CSS("#status-edit")))
		eval[bool](bob, `(() => { document.querySelector('#status-select').value = 'Lead - not able to save'; document.querySelector('#status-save').click(); return true })()`)
		bob.wait("status saved", `(document.querySelector('#flyout .kv .status') || {}).textContent === 'Lead - not able to save'`, 5*time.Second)
		bob.wait("moved out of Open", rowStatus(h.leads["diaz"])+` === ''`, 5*time.Second)
		if eval[bool](bob, `[...document.querySelectorAll('#status-select option')].some(o => o.value.startsWith('Job booked'))`) {
			t.Fatal("a Job booked status is offered for manual selection")
		}
	})

	t.Run("viewer cannot change status", func(t *testing.T) {
		vic := newSession(t, "vic")
		vic.signIn(h.URL, "vic")
		vic.do(chromedp.Navigate(h.URL + "/scl?lead=" + h.leads["kim"]))
		vic.wait("lead details", `!document.querySelector('#flyout').hidden && document.querySelector('#flyout .summary') !== null`, 10*time.Second)
		hidden := eval[string](vic, `['#status-edit', '#note-add', '#click-to-call'].filter(s => document.querySelector(s)).join(',') +
			'|' + [...document.querySelectorAll('#flyout button')].map(b => b.textContent).filter(t => t === 'Call Customer' || t === 'Dismiss').join(',')`)
		if hidden != "|" {
			t.Fatalf("read-only user sees edit controls: %s", hidden)
		}
		got := eval[string](vic, fmt.Sprintf(`fetch('/api/v1/me').then(r => r.json()).then(me => fetch('/api/v1/leads/%s/status', {
			method: 'POST', headers: {'Content-Type': 'application/json', 'X-CSRF-Token': me.csrfToken},
			body: JSON.stringify({status: 'Lead - not able to save'})})).then(async r => r.status + ' ' + (await r.json()).error.code)`, h.leads["kim"]))
		if got != "403 forbidden" {
			t.Fatalf("status change by a viewer: %s", got)
		}
	})

	t.Run("CSRF-less POST is refused", func(t *testing.T) {
		ana.t = t
		got := eval[string](ana, fmt.Sprintf(`fetch('/api/v1/leads/%s/notes', {method: 'POST', headers: {'Content-Type': 'application/json'},
			body: JSON.stringify({text: 'forged'})}).then(async r => r.status + ' ' + (await r.json()).error.code)`, h.leads["kim"]))
		if got != "403 csrf" {
			t.Fatalf("POST without X-CSRF-Token: %s", got)
		}
	})
}

func sortStrings(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}
