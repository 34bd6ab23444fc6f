package web

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/reboundhq/rebound/hub/state"
	"go.etcd.io/bbolt"
)

// unlabelled is a JS expression listing form controls without an accessible name.
const unlabelled = `[...document.querySelectorAll('input, select, textarea')].filter(el => el.type !== 'hidden' &&
	!(el.id && document.querySelector('label[for="' + el.id + '"]')) && !el.closest('label') &&
	!el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby')).map(el => el.outerHTML.slice(0, 80))`

// lowContrast is a JS expression listing visible text whose colour against
// its nearest opaque background is below WCAG AA (4.5:1, 3:1 for large text).
const lowContrast = `(() => {
	const rgb = (c) => { const m = c.match(/[\d.]+/g).map(Number); return { r: m[0], g: m[1], b: m[2], a: m.length > 3 ? m[3] : 1 }; };
	const lum = (c) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }; return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
	const bg = (el) => { for (; el; el = el.parentElement) { const c = rgb(getComputedStyle(el).backgroundColor); if (c.a >= 1) return c; } return { r: 255, g: 255, b: 255 }; };
	const bad = [];
	for (const el of document.querySelectorAll('body *')) {
		if (![...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
		const r = el.getBoundingClientRect();
		if (!r.width || !r.height || el.closest('[hidden]')) continue;
		const st = getComputedStyle(el);
		if (st.visibility === 'hidden' || el.disabled || el.closest(':disabled')) continue;
		const a = lum(rgb(st.color)), b = lum(bg(el));
		const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
		const large = parseFloat(st.fontSize) >= 24 || (parseFloat(st.fontSize) >= 18.66 && Number(st.fontWeight) >= 700);
		if (ratio < (large ? 3 : 4.5)) bad.push(el.tagName + ' "' + el.textContent.trim().slice(0, 30) + '" ' + ratio.toFixed(2));
	}
	return bad;
})()`

// TestBrowserScreens covers the other screens in real Chromium: Abandoned
// Calls, My Calls (ACW), Job Booking, Admin, and the narrow layout.
func TestBrowserScreens(t *testing.T) {
	if testing.Short() && os.Getenv("REBOUND_REQUIRE_PEERS") != "1" {
		t.Skip("browser test skipped under -short without REBOUND_REQUIRE_PEERS=1")
	}
	h := startHub(t)
	ana := newSession(t, "ana")
	ana.signIn(h.URL, "ana")
	if bad := eval[[]string](ana, unlabelled); len(bad) > 0 {
		t.Errorf("queue controls without a label: %v", bad)
	}
	if bad := eval[[]string](ana, lowContrast); len(bad) > 0 {
		t.Errorf("queue text below AA contrast: %v", bad)
	}
	// The check itself must catch a pale grey on white.
	eval[bool](ana, `(() => { const p = document.createElement('p'); p.id = 'pale'; p.textContent = 'pale text'; p.style.color = '#bbbbbb'; p.style.background = '#ffffff'; document.querySelector('main').append(p); return true })()`)
	if bad := eval[[]string](ana, lowContrast); len(bad) != 1 || !strings.Contains(bad[0], "pale text") {
		t.Errorf("contrast check missed a 1.9:1 text: %v", bad)
	}
	eval[bool](ana, `(() => { document.querySelector('#pale').remove(); return true })()`)

	t.Run("abandoned calls", func(t *testing.T) {
		ana.t = t
		ana.do(chromedp.Navigate(h.URL + "/abandoned"))
		ana.wait("two abandoned calls", `document.querySelectorAll('#queue-table tbody tr[data-id]').length === 2`, 10*time.Second)
		if bad := eval[[]string](ana, unlabelled); len(bad) > 0 {
			t.Errorf("controls without a label: %v", bad)
		}
		head := eval[string](ana, `document.querySelector('#queue-table thead').innerText`)
		for _, col := range []string{"Status", "Age", "Duration", "Account", "Customer", "Queue"} {
			if !strings.Contains(head, col) {
				t.Errorf("abandoned table lacks column %s: %q", col, head)
			}
		}
		id := eval[string](ana, `document.querySelector('#queue-table tbody tr[data-id]').dataset.id`)
		ana.do(chromedp.Click(chromedp.CSS(`#queue-table tbody tr[data-id] button`)))
		ana.wait("details", `!document.querySelector('#flyout').hidden && !!document.querySelector('#ab-status')`, 5*time.Second)
		if bad := eval[[]string](ana, lowContrast); len(bad) > 0 {
			t.Errorf("abandoned call details below AA contrast: %v", bad)
		}
		eval[bool](ana, `(() => { [...document.querySelectorAll('#flyout button')].find(b => b.textContent === 'Call back').click(); return true })()`)
		ana.wait("Callback Attempted", rowStatus(id)+` === 'Callback Attempted'`, 5*time.Second)
		eval[bool](ana, `(() => { const s = document.querySelector('#ab-status'); s.value = 'Follow-up Needed'; [...document.querySelectorAll('#flyout button')].find(b => b.textContent === 'Save status').click(); return true })()`)
		ana.wait("Follow-up Needed", rowStatus(id)+` === 'Follow-up Needed'`, 5*time.Second)
	})

	t.Run("my calls: classify in two clicks", func(t *testing.T) {
		ana.t = t
		ana.do(chromedp.Navigate(h.URL + "/my-calls"))
		ana.wait("the fresh call", `!!document.querySelector('[data-call="call-fresh"]')`, 10*time.Second)
		ana.wait("countdown running", `/^\d+:\d\d$/.test(document.querySelector('[data-call="call-fresh"] .countdown').textContent)`, 5*time.Second)
		if bad := eval[[]string](ana, unlabelled); len(bad) > 0 {
			t.Errorf("controls without a label: %v", bad)
		}
		eval[bool](ana, `(() => { const c = document.querySelector('[data-call="call-fresh"]');
			[...c.querySelectorAll('.chips button')].find(b => b.textContent === 'Unbooked').click();
			[...c.querySelectorAll('.chips button')].find(b => b.textContent.startsWith('Price shopping')).click(); return true })()`)
		ana.wait("saved", `document.querySelector('[data-call="call-fresh"]').innerText.includes('Saved')`, 5*time.Second)
		var cl *state.Classification
		h.store.View(context.Background(), false, func(tx *bbolt.Tx) error {
			c, _, err := state.GetCall(tx, "call-fresh")
			if c != nil {
				cl = c.Classification
			}
			return err
		})
		if cl == nil || cl.Type != "Unbooked" || cl.ReasonID == "" || cl.Default {
			t.Fatalf("classification after two clicks: %+v", cl)
		}
	})

	t.Run("job booking banner and booking", func(t *testing.T) {
		ana.t = t
		ana.do(chromedp.Navigate(h.URL + "/booking"))
		ana.wait("form", `document.body.dataset.ready === '1'`, 10*time.Second)
		ana.do(chromedp.SendKeys(chromedp.CSS("#lookup-phone"), "+15125550155"), chromedp.Click(chromedp.CSS(`#lookup-form button`)))
		ana.wait("SCL banner", `!!document.querySelector('#scl-banner')`, 5*time.Second)
		if s := eval[string](ana, `document.querySelector('#scl-banner').innerText`); !strings.Contains(s, "repipe") {
			t.Errorf("banner: %q", s)
		}
		ana.do(chromedp.Click(chromedp.CSS(`form[aria-label="Book a job"] button[type=submit]`)))
		ana.wait("lead closed", `document.querySelector('#booking-result').innerText.includes('Job booked elsewhere')`, 5*time.Second)
		var st string
		h.store.View(context.Background(), false, func(tx *bbolt.Tx) error {
			l, _, err := state.GetLead(tx, h.leads["kim"])
			if l != nil {
				st = l.Status
			}
			return err
		})
		if st != "Job booked elsewhere" {
			t.Fatalf("lead after booking: %q", st)
		}
		ana.do(chromedp.SendKeys(chromedp.CSS("#lookup-phone"), "\b\b\b\b\b\b\b\b\b\b\b\b+15125550100"), chromedp.Click(chromedp.CSS(`#lookup-form button`)))
		ana.wait("no banner for an unknown number", `!!document.querySelector('#no-banner')`, 5*time.Second)
	})

	t.Run("admin settings with validation and warnings", func(t *testing.T) {
		root := newSession(t, "root")
		root.signIn(h.URL, "root")
		root.do(chromedp.Navigate(h.URL + "/admin"))
		root.wait("settings", `document.querySelector('#acw_minutes') && document.querySelector('#site-name') && document.querySelector('#reason-name')`, 10*time.Second)
		if bad := eval[[]string](root, unlabelled); len(bad) > 0 {
			t.Errorf("admin controls without a label: %v", bad)
		}
		if bad := eval[[]string](root, lowContrast); len(bad) > 0 {
			t.Errorf("admin text below AA contrast: %v", bad)
		}
		if !eval[bool](root, `document.querySelector('#scl_enabled').checked`) {
			t.Error("Enable Second Chance Leads is off after the seed turned it on")
		}
		eval[bool](root, `(() => { const i = document.querySelector('#acw_minutes'); i.value = '-1'; i.dispatchEvent(new Event('input')); return true })()`)
		root.wait("inline validation", `document.querySelector('#acw_minutes-note').textContent.includes('whole number')`, 5*time.Second)
		eval[bool](root, `(() => { const i = document.querySelector('#acw_minutes'); i.value = '90'; i.dispatchEvent(new Event('input')); return true })()`)
		root.wait("inline warning", `document.querySelector('#acw_minutes-note').textContent.includes('60 minutes')`, 5*time.Second)
		root.do(chromedp.Click(chromedp.CSS(`form[aria-label="Follow up settings"] button[type=submit]`)))
		root.wait("server warning", `document.querySelector('form[aria-label="Follow up settings"] .warn') !== null`, 5*time.Second)
		var acw int
		h.store.View(context.Background(), false, func(tx *bbolt.Tx) error {
			s, err := state.GetSettings(tx, h.acme)
			acw = s.ACWMinutes
			return err
		})
		if acw != 90 {
			t.Fatalf("acw_minutes = %d after save", acw)
		}
		root.do(chromedp.SendKeys(chromedp.CSS("#site-name"), "Austin PBX"))
		eval[bool](root, `(() => { document.querySelector('#site-name').form.requestSubmit(); return true })()`)
		root.wait("one-time site token", `(document.querySelector('#site-token') || {}).textContent?.startsWith('rbs_')`, 5*time.Second)

		root.do(chromedp.Navigate(h.URL + "/account"))
		root.wait("password form", `!!document.querySelector('#pw-new')`, 10*time.Second)
		root.do(
			chromedp.SendKeys(chromedp.CSS("#pw-current"), testPassword),
			chromedp.SendKeys(chromedp.CSS("#pw-new"), "a brand new secret"),
			chromedp.SendKeys(chromedp.CSS("#pw-again"), "a brand new secret"),
			chromedp.Click(chromedp.CSS(`form[aria-label="Change password"] button[type=submit]`)),
		)
		root.wait("password changed", `document.querySelector('form[aria-label="Change password"]').innerText.includes('Password changed')`, 5*time.Second)
		resp, err := http.Post(h.URL+"/api/v1/auth/login", "application/json", strings.NewReader(`{"username":"root","password":"a brand new secret"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("sign in with the new password: %d", resp.StatusCode)
		}

		// Email and SMS channels live on the hub, not in the browser.
		root.wait("channels form", `!!document.querySelector('#notify-email')`, 5*time.Second)
		root.do(
			chromedp.SendKeys(chromedp.CSS("#notify-email"), "root@example.com"),
			chromedp.Click(chromedp.CSS(`form[aria-label="Notification channels"] button[type=submit]`)),
		)
		root.wait("channels saved", `document.querySelector('form[aria-label="Notification channels"]').innerText.includes('Channels saved')`, 5*time.Second)
		root.do(chromedp.Reload())
		root.wait("channels reloaded from the hub", `(document.querySelector('#notify-email') || {}).value === 'root@example.com'`, 10*time.Second)
	})

	t.Run("narrow laptop screen", func(t *testing.T) {
		ana.t = t
		ana.do(chromedp.EmulateViewport(1024, 600), chromedp.Navigate(h.URL+"/scl"))
		ana.wait("queue", `!!document.querySelector('#queue-table tbody tr[data-id]')`, 10*time.Second)
		if w := eval[string](ana, `document.documentElement.scrollWidth + ' ' + window.innerWidth`); func() bool {
			var sw, iw int
			fmt.Sscan(w, &sw, &iw)
			return sw > iw
		}() {
			t.Fatalf("page scrolls sideways at 1024 px: %s", w)
		}
	})

	t.Run("cold tab, paging and sort", func(t *testing.T) {
		ana.t = t
		// Four days without activity: Cold (cold_lead_days is 3).
		old := h.flagCallAt(t, time.Now().UTC().Add(-96*time.Hour), "call-old", "+15125550101", "Asked about a water softener.")
		for i := range 50 {
			h.flagCall(t, fmt.Sprintf("call-bulk-%02d", i), fmt.Sprintf("+1512555%04d", 2000+i), "Bulk lead for paging.")
		}
		ana.do(chromedp.EmulateViewport(1280, 720), chromedp.Navigate(h.URL+"/scl?tab=cold"))
		ana.wait("the cold lead", rowStatus(old)+` === 'New' && document.querySelectorAll('#queue-table tbody tr[data-id]').length === 1`, 10*time.Second)
		ana.wait("tab counts", `document.querySelector('#count-cold').textContent.trim() === '(1)' && document.querySelector('#count-open').textContent.trim() === '(53)'`, 10*time.Second)
		ana.do(chromedp.Click(chromedp.CSS("#tab-open")))
		ana.wait("first page of 50", `document.querySelectorAll('#queue-table tbody tr[data-id]').length === 50`, 10*time.Second)
		first := eval[[]string](ana, `[...document.querySelectorAll('#queue-table tbody tr[data-id]')].map(r => r.dataset.id)`)
		eval[bool](ana, `(() => { [...document.querySelectorAll('.pager button')].find(b => b.textContent === 'Next').click(); return true })()`)
		ana.wait("second page of 3", `document.querySelectorAll('#queue-table tbody tr[data-id]').length === 3`, 10*time.Second)
		second := eval[[]string](ana, `[...document.querySelectorAll('#queue-table tbody tr[data-id]')].map(r => r.dataset.id)`)
		seen := map[string]bool{}
		for _, id := range append(first, second...) {
			if seen[id] {
				t.Fatalf("lead %s on both pages", id)
			}
			seen[id] = true
		}
		eval[bool](ana, `(() => { [...document.querySelectorAll('.pager button')].find(b => b.textContent === 'Previous').click(); return true })()`)
		ana.wait("back to page 1", `document.querySelectorAll('#queue-table tbody tr[data-id]').length === 50`, 10*time.Second)
		// Oldest call first: the seeded two-hour-old calls come before the bulk ones.
		ana.do(chromedp.Click(chromedp.CSS(`#queue-table thead th[aria-sort] button`)))
		ana.wait("newest first", `document.querySelector('#queue-table thead th[aria-sort]').getAttribute('aria-sort') === 'descending'`, 10*time.Second)
		ana.do(chromedp.Click(chromedp.CSS(`#queue-table thead th[aria-sort] button`)))
		ana.wait("oldest first", `document.querySelector('#queue-table thead th[aria-sort]').getAttribute('aria-sort') === 'ascending'`, 10*time.Second)
		ana.wait("oldest call on top", `document.querySelector('#queue-table tbody tr[data-id]').dataset.id === `+jsString(h.leads["jane"]), 10*time.Second)
	})

	t.Run("notification preferences", func(t *testing.T) {
		ana.t = t
		ana.do(chromedp.EmulateViewport(1280, 720), chromedp.Navigate(h.URL+"/account"))
		ana.wait("preferences", `!!document.querySelector('#notify-newAbandoned')`, 10*time.Second)
		if bad := eval[[]string](ana, unlabelled); len(bad) > 0 {
			t.Errorf("account controls without a label: %v", bad)
		}
		ana.do(chromedp.Click(chromedp.CSS("#notify-newAbandoned")))
		ana.do(chromedp.Navigate(h.URL + "/abandoned"))
		ana.wait("live", `document.body.dataset.live === 'on' && document.querySelectorAll('#queue-table tbody tr[data-id]').length === 2`, 10*time.Second)
		h.abandon(t, "ab-late", "+15125550109")
		ana.wait("the new abandoned call, live", `[...document.querySelectorAll('#queue-table tbody td')].some(td => td.textContent === '(512) 555-0109')`, 10*time.Second)
		if n := eval[int](ana, `document.querySelectorAll('#toasts .toast').length`); n != 0 {
			t.Fatalf("%d toasts although new abandoned call alerts are off", n)
		}
	})

	t.Run("sign out", func(t *testing.T) {
		ana.t = t
		ana.do(chromedp.Click(chromedp.CSS("#signout")))
		ana.wait("sign-in page", `location.pathname === '/login'`, 5*time.Second)
		if code := eval[int](ana, `fetch('/api/v1/me').then(r => r.status)`); code != 401 {
			t.Fatalf("/api/v1/me after sign out: %d", code)
		}
		ana.do(chromedp.Navigate(h.URL + "/scl"))
		ana.wait("bounced to sign in", `location.pathname === '/login' && location.search.includes('next=%2Fscl')`, 10*time.Second)
	})
}
