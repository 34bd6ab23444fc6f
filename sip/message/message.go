// Package message owns the SIP header and body helpers Rebound needs on top
// of sipgo's parsed messages: call-forwarding history (Diversion, RFC 5806;
// History-Info, RFC 7044), Reason (RFC 3326), voicemail URIs (RFC 4458),
// P-Asserted-Identity, a configured correlation header, and multipart
// bodies (SIPREC INVITEs carry SDP plus rs-metadata).
//
// Every function tolerates malformed input: it skips what it cannot read and
// never panics, because the input is whatever crossed the wire.
package message

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// Values returns every value of the header name (case-insensitive, compact
// forms not expanded), splitting comma-separated lists outside quotes and
// angle brackets, trimmed.
func Values(m sip.Message, name string) []string {
	if m == nil {
		return nil
	}
	var out []string
	for _, h := range m.GetHeaders(name) {
		for _, v := range SplitList(h.Value()) {
			if v != "" {
				out = append(out, v)
			}
		}
	}
	return out
}

// Header returns the first value of header name, whole (not split), or "".
func Header(m sip.Message, name string) string {
	if m == nil {
		return ""
	}
	hs := m.GetHeaders(name)
	if len(hs) == 0 {
		return ""
	}
	return strings.TrimSpace(hs[0].Value())
}

// SplitList splits a header value on commas that are outside double quotes
// and angle brackets. It never fails; unbalanced input yields one element
// for the remainder.
func SplitList(v string) []string {
	var (
		out   []string
		quote bool
		angle int
		start int
	)
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '\\' && quote:
			i++
		case c == '"':
			quote = !quote
		case c == '<' && !quote:
			angle++
		case c == '>' && !quote && angle > 0:
			angle--
		case c == ',' && !quote && angle == 0:
			out = append(out, strings.TrimSpace(v[start:i]))
			start = i + 1
		}
	}
	if start <= len(v) {
		out = append(out, strings.TrimSpace(v[start:]))
	}
	return out
}

// NameAddr is a parsed name-addr or addr-spec header entry.
type NameAddr struct {
	Display string
	URI     sip.Uri
	Params  sip.HeaderParams
	Raw     string
}

// ParseNameAddr parses one entry such as `"Bob" <sip:201@pbx;cause=486>;index=1.1`.
func ParseNameAddr(v string) (NameAddr, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return NameAddr{}, false
	}
	na := NameAddr{Raw: v, Params: sip.NewParams()}
	display, err := sip.ParseAddressValue(v, &na.URI, &na.Params)
	if err != nil {
		return NameAddr{}, false
	}
	na.Display = strings.Trim(display, `"`)
	return na, true
}

// User returns the user part of a SIP/SIPS URI, or the number of a tel: URI,
// without parameters or visual separators.
func User(u sip.Uri) string {
	user := u.User
	if !strings.EqualFold(u.Scheme, "sip") && !strings.EqualFold(u.Scheme, "sips") && u.Scheme != "" {
		user = u.Raw()
		if user == "" {
			user = u.User
		}
	}
	if i := strings.IndexByte(user, ';'); i >= 0 {
		user = user[:i]
	}
	if strings.ContainsAny(user, "-.() ") && strings.ContainsAny(user, "0123456789") {
		user = strings.Map(func(r rune) rune {
			switch r {
			case '-', '.', '(', ')', ' ':
				return -1
			}
			return r
		}, user)
	}
	if unq, err := url.PathUnescape(user); err == nil {
		user = unq
	}
	return user
}

// Diversion is one entry of a Diversion header (RFC 5806). Entries are in
// header order: the most recent diversion first.
type Diversion struct {
	NameAddr
	// Reason is the diversion reason ("no-answer", "user-busy",
	// "unconditional", ...), lower case, quotes removed.
	Reason string
	// Counter is the number of diversions this entry stands for (default 1).
	Counter int
}

// rfc5806Reasons are the reasons RFC 5806 defines. A vendor value such as
// Avaya's reason=direct is not a call-forwarding reason.
var rfc5806Reasons = map[string]bool{
	"unknown": true, "user-busy": true, "no-answer": true, "unavailable": true,
	"unconditional": true, "time-of-day": true, "do-not-disturb": true,
	"deflection": true, "follow-me": true, "out-of-service": true, "away": true,
}

// IsForwarding reports whether the entry records a real call forward: an
// RFC 5806 reason, or no reason at all (which RFC 5806 reads as "unknown").
func (d Diversion) IsForwarding() bool {
	return d.Reason == "" || rfc5806Reasons[d.Reason]
}

// Diversions returns the Diversion entries of m.
func Diversions(m sip.Message) []Diversion {
	var out []Diversion
	for _, v := range Values(m, "Diversion") {
		na, ok := ParseNameAddr(v)
		if !ok {
			continue
		}
		d := Diversion{NameAddr: na, Counter: 1}
		if r, ok := na.Params.Get("reason"); ok {
			d.Reason = strings.ToLower(strings.Trim(r, `"`))
		}
		if c, ok := na.Params.Get("counter"); ok {
			if n, err := strconv.Atoi(c); err == nil && n > 0 {
				d.Counter = n
			}
		}
		out = append(out, d)
	}
	return out
}

// HistoryEntry is one History-Info entry (RFC 7044).
type HistoryEntry struct {
	NameAddr
	// Index is the hi-index such as "1.1.2".
	Index string
	// Cause is the SIP response code that made the request retarget to this
	// entry: the RFC 7044 "cause" URI parameter, or the cause of a Reason
	// header embedded in the URI (RFC 4244 style). 0 when absent.
	Cause int
	// Mechanism is "rc", "mp" or "np" when the entry says so.
	Mechanism string
}

// Parent returns the index of the entry this one was retargeted from
// ("1.1" -> "1"), or "" for a root entry.
func (h HistoryEntry) Parent() string {
	if i := strings.LastIndexByte(h.Index, '.'); i >= 0 {
		return h.Index[:i]
	}
	return ""
}

// HistoryInfo returns the History-Info entries of m in header order.
func HistoryInfo(m sip.Message) []HistoryEntry {
	var out []HistoryEntry
	for _, v := range Values(m, "History-Info") {
		na, ok := ParseNameAddr(v)
		if !ok {
			continue
		}
		h := HistoryEntry{NameAddr: na}
		h.Index, _ = na.Params.Get("index")
		for _, mech := range []string{"rc", "mp", "np"} {
			if _, ok := na.Params.Get(mech); ok {
				h.Mechanism = mech
			}
		}
		if c, ok := na.URI.UriParams.Get("cause"); ok {
			h.Cause, _ = strconv.Atoi(c)
		}
		if h.Cause == 0 {
			if r, ok := na.URI.Headers.Get("Reason"); ok {
				if unq, err := url.QueryUnescape(r); err == nil {
					r = unq
				}
				for _, rr := range ParseReason(r) {
					if strings.EqualFold(rr.Protocol, "SIP") && rr.Cause > 0 {
						h.Cause = rr.Cause
						break
					}
				}
			}
		}
		out = append(out, h)
	}
	return out
}

// Retarget is a History-Info step that really moved the call somewhere else.
type Retarget struct {
	From, To HistoryEntry
}

// Retargets returns the History-Info steps that carry a cause and change
// the target user. An entry that repeats its parent's URI (index 1 and 1.1
// naming the same extension, as Avaya and others emit for an ordinary
// call) is not a forward, and neither is an entry without a cause.
func Retargets(entries []HistoryEntry) []Retarget {
	byIndex := make(map[string]HistoryEntry, len(entries))
	for _, e := range entries {
		if e.Index != "" {
			byIndex[e.Index] = e
		}
	}
	var out []Retarget
	for i, e := range entries {
		if e.Cause == 0 {
			continue
		}
		parent, ok := byIndex[e.Parent()]
		if !ok {
			if i == 0 {
				continue
			}
			parent = entries[i-1]
		}
		if sameTarget(parent.URI, e.URI) {
			continue
		}
		out = append(out, Retarget{From: parent, To: e})
	}
	return out
}

func sameTarget(a, b sip.Uri) bool {
	return strings.EqualFold(User(a), User(b)) && strings.EqualFold(a.Host, b.Host)
}

// Reason is one Reason header value (RFC 3326).
type Reason struct {
	Protocol string // "SIP", "Q.850", ...
	Cause    int
	Text     string
}

// ParseReason parses a Reason header value, possibly a list, such as
// `SIP;cause=200;text="Call completed elsewhere"`.
func ParseReason(v string) []Reason {
	var out []Reason
	for _, item := range SplitList(v) {
		parts := splitParams(item)
		if len(parts) == 0 || parts[0] == "" {
			continue
		}
		r := Reason{Protocol: parts[0]}
		for _, p := range parts[1:] {
			k, val, _ := strings.Cut(p, "=")
			switch strings.ToLower(strings.TrimSpace(k)) {
			case "cause":
				r.Cause, _ = strconv.Atoi(strings.TrimSpace(val))
			case "text":
				r.Text = unquote(strings.TrimSpace(val))
			}
		}
		out = append(out, r)
	}
	return out
}

// Reasons returns the Reason header values of m.
func Reasons(m sip.Message) []Reason {
	if m == nil {
		return nil
	}
	var out []Reason
	for _, h := range m.GetHeaders("Reason") {
		out = append(out, ParseReason(h.Value())...)
	}
	return out
}

// CompletedElsewhere reports whether the reasons say the call was answered
// by another branch (RFC 3326 "SIP;cause=200", as sent on the CANCEL of
// the losing legs of a parallel ring).
func CompletedElsewhere(rs []Reason) bool {
	for _, r := range rs {
		if strings.EqualFold(r.Protocol, "SIP") && r.Cause == 200 {
			return true
		}
	}
	return false
}

// splitParams splits on ';' outside quotes and trims each part.
func splitParams(s string) []string {
	var (
		out   []string
		quote bool
		start int
	)
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if quote {
				i++
			}
		case '"':
			quote = !quote
		case ';':
			if !quote {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	if start <= len(s) {
		out = append(out, strings.TrimSpace(s[start:]))
	}
	return out
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		if u, err := strconv.Unquote(s); err == nil {
			return u
		}
		return s[1 : len(s)-1]
	}
	return s
}

// Voicemail is what an RFC 4458 voicemail URI says.
type Voicemail struct {
	// Target is the mailbox owner (the target= parameter, unescaped).
	Target string
	// Cause is why the call went to voicemail: 486 busy, 408 no answer,
	// 302 unconditional, 487 deflection, 480 unavailable, 404 unknown, 503
	// out of service.
	Cause int
}

// VoicemailURI reads RFC 4458 parameters from a Request-URI such as
// `sip:voicemail@pbx;target=sip:201%40pbx;cause=408`. ok is false when the
// URI has no target= parameter.
func VoicemailURI(u sip.Uri) (Voicemail, bool) {
	t, ok := u.UriParams.Get("target")
	if !ok {
		return Voicemail{}, false
	}
	if unq, err := url.QueryUnescape(t); err == nil {
		t = unq
	}
	vm := Voicemail{Target: t}
	if c, ok := u.UriParams.Get("cause"); ok {
		vm.Cause, _ = strconv.Atoi(c)
	}
	// The target is a URI itself: keep just its user when it parses.
	var tu sip.Uri
	if err := sip.ParseUri(t, &tu); err == nil {
		if user := User(tu); user != "" {
			vm.Target = user
		}
	}
	return vm, true
}

// VoicemailCauseText names an RFC 4458 cause for evidence lines.
func VoicemailCauseText(c int) string {
	switch c {
	case 404:
		return "unknown user"
	case 486:
		return "busy"
	case 408:
		return "no answer"
	case 302:
		return "unconditional"
	case 487:
		return "deflection"
	case 480:
		return "unavailable"
	case 503:
		return "out of service"
	}
	return "cause " + strconv.Itoa(c)
}

// AssertedIdentity returns the first P-Asserted-Identity (RFC 3325) entry.
func AssertedIdentity(m sip.Message) (NameAddr, bool) {
	for _, v := range Values(m, "P-Asserted-Identity") {
		if na, ok := ParseNameAddr(v); ok {
			return na, true
		}
	}
	return NameAddr{}, false
}

// MessageSummary is the body of a message-summary NOTIFY (RFC 3842).
type MessageSummary struct {
	Waiting bool
	Account string
	// New and Old count voice messages ("Voice-Message: 2/8").
	New, Old int
}

// ParseMessageSummary reads an application/simple-message-summary body.
func ParseMessageSummary(body []byte) (MessageSummary, bool) {
	var ms MessageSummary
	found := false
	for _, line := range strings.Split(string(body), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "messages-waiting":
			ms.Waiting = strings.EqualFold(v, "yes")
			found = true
		case "message-account":
			ms.Account = v
		case "voice-message":
			counts, _, _ := strings.Cut(v, " ")
			n, o, _ := strings.Cut(counts, "/")
			ms.New, _ = strconv.Atoi(strings.TrimSpace(n))
			ms.Old, _ = strconv.Atoi(strings.TrimSpace(o))
		}
	}
	return ms, found
}
