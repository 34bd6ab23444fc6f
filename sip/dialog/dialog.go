// Package dialog owns the SIP dialog tracker: it follows every Call-ID seen
// on the wire (requests, provisional and final responses, CANCEL, BYE,
// re-INVITE, REFER, NOTIFY), the SDP offer/answer media endpoints of each
// side, and decides when a dialog is over, by signalling or by timeout.
//
// The tracker is driven by capture time: every message carries its own
// timestamp and Advance moves the clock, so replaying a pcap gives the same
// result every time. It is not safe for concurrent use; the pipeline feeds it
// from one goroutine.
package dialog

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/reboundhq/rebound/sip/message"
	"github.com/reboundhq/rebound/sip/sdp"
)

// Side says which end of a dialog sent a message.
type Side uint8

// Sides. The caller is whoever sent the initial INVITE (matched by From tag).
const (
	SideUnknown Side = iota
	SideCaller
	SideCallee
)

func (s Side) String() string {
	switch s {
	case SideCaller:
		return "caller"
	case SideCallee:
		return "callee"
	}
	return "unknown"
}

// Event is one SIP message of a dialog, as first seen (retransmissions and
// second hops through a proxy are not repeated).
type Event struct {
	At         time.Time
	Src, Dst   netip.AddrPort
	Transport  string
	Msg        sip.Message
	Method     sip.RequestMethod // "" for responses
	Status     int               // 0 for requests
	CSeq       uint32
	CSeqMethod sip.RequestMethod
	FromTag    string
	ToTag      string
	Side       Side
}

// Request returns the message as a request, or nil.
func (e *Event) Request() *sip.Request {
	r, _ := e.Msg.(*sip.Request)
	return r
}

// Response returns the message as a response, or nil.
func (e *Event) Response() *sip.Response {
	r, _ := e.Msg.(*sip.Response)
	return r
}

// MediaEndpoint is one audio stream a side announced in SDP.
type MediaEndpoint struct {
	At    time.Time
	Side  Side
	Media sdp.Media
	// Offer is true for an SDP in a request (INVITE, re-INVITE, UPDATE).
	Offer bool
}

// EndCause says how a dialog was closed.
type EndCause uint8

// End causes.
const (
	EndOpen EndCause = iota
	EndBye
	// EndFailure: the INVITE got a final response >= 300 (including 487
	// after CANCEL).
	EndFailure
	// EndNonInvite: a dialog without INVITE (REGISTER, OPTIONS, SUBSCRIBE,
	// NOTIFY) finished its transaction.
	EndNonInvite
	EndTimeoutNoFinal
	EndTimeoutNoBye
	EndTimeoutIdle
	// EndCaptureEnded: Flush closed it because the input ended.
	EndCaptureEnded
	// EndEvicted: the tracker was full and this was the least recently
	// active dialog.
	EndEvicted
)

func (c EndCause) String() string {
	return [...]string{"open", "bye", "failure", "non-invite", "timeout-no-final",
		"timeout-no-bye", "timeout-idle", "capture-ended", "evicted"}[c]
}

// ByTimeout reports whether the dialog was closed without signalling.
func (c EndCause) ByTimeout() bool { return c >= EndTimeoutNoFinal }

// Dialog is everything seen for one Call-ID. Forked early dialogs share it;
// ToTags lists the forks and AnswerTag the one that answered.
type Dialog struct {
	CallID string
	// Start is the first message seen (normally the initial INVITE).
	Start time.Time
	// Invite is the initial INVITE. When the capture started after it, a
	// CANCEL stands in for it (it repeats the INVITE's URIs) and
	// InviteMissing is set.
	Invite        *sip.Request
	InviteMissing bool
	// InviteSrc and InviteDst are the addresses of the first hop of the
	// initial INVITE: InviteSrc is the caller side.
	InviteSrc, InviteDst netip.AddrPort
	FromTag              string
	ToTags               []string
	// Method is the method of the request that opened a non-INVITE dialog.
	Method sip.RequestMethod

	Events []*Event
	// DroppedEvents counts events not kept because of MaxEvents.
	DroppedEvents int
	// Duplicates counts retransmissions and second-hop copies skipped.
	Duplicates int
	// AuthRetries counts initial INVITEs resent after a 401/407.
	AuthRetries int

	FirstProvisional time.Time
	// Provisional lists the distinct provisional codes, in order of arrival.
	Provisional []int
	Answered    time.Time
	AnswerTag   string
	// Final is the final status of the initial INVITE (0 while ringing).
	Final   int
	FinalAt time.Time
	// FinalEvent is the event of the final response.
	FinalEvent *Event
	Cancel     *Event
	Bye        *Event
	// Refers and Notifies are in-dialog REFER and NOTIFY requests (or the
	// request that opened a non-INVITE dialog).
	Refers, Notifies []*Event
	Media            []MediaEndpoint

	Ended    time.Time
	EndCause EndCause
	// EndNote explains a timeout or capture end for evidence lines.
	EndNote string

	lastActivity time.Time
	closeAt      time.Time
	inviteCSeq   uint32
	seen         map[string]struct{}
	// hops remembers, per message kind and CSeq, the first copy's time,
	// addresses and From tag, to recognise the same message relayed by an
	// SBC that rewrites tags (topology hiding) but keeps the Call-ID.
	hops map[string]hopSeen
	// callerAliases are the caller's From tags as rewritten on other hops,
	// and inviteCSeqAlias the initial INVITE's CSeq there.
	callerAliases   []string
	inviteCSeqAlias uint32
}

type hopSeen struct {
	at       time.Time
	src, dst netip.AddrPort
	fromTag  string
	cseq     uint32
}

// hopWindow is how far apart two copies of one message seen on two hops may
// be. Retransmissions come from the same addresses and are caught by the
// exact key; a legitimately new message reusing a CSeq comes much later.
const hopWindow = 500 * time.Millisecond

// IsInvite reports whether the dialog was opened by an INVITE (or a
// CANCEL standing in for one).
func (d *Dialog) IsInvite() bool { return d.Invite != nil }

// LastMedia returns the latest audio endpoint a side announced.
func (d *Dialog) LastMedia(s Side) (MediaEndpoint, bool) {
	for i := len(d.Media) - 1; i >= 0; i-- {
		if d.Media[i].Side == s {
			return d.Media[i], true
		}
	}
	return MediaEndpoint{}, false
}

// Hooks receive the tracker's events. Any may be nil.
type Hooks struct {
	// Started is called when an initial INVITE opens a dialog.
	Started func(d *Dialog)
	// Media is called when a side announces a new audio endpoint.
	Media func(d *Dialog, ep MediaEndpoint)
	// Ended is called once per dialog when it is closed.
	Ended func(d *Dialog)
}

// Config bounds the tracker. Zero fields take the defaults.
type Config struct {
	// NoFinalResponse closes a ringing INVITE with no final response.
	NoFinalResponse time.Duration
	// NoBye closes an answered dialog idle (no SIP) for this long.
	NoBye time.Duration
	// FailureGrace keeps a failed INVITE open briefly so an auth retry
	// (401/407, then a new INVITE) or the ACK and stray retransmissions land
	// in the same dialog.
	FailureGrace time.Duration
	// ByeGrace keeps a dialog open after BYE to see the 200.
	ByeGrace time.Duration
	// NonInvite closes REGISTER/OPTIONS/SUBSCRIBE/NOTIFY dialogs idle this long.
	NonInvite time.Duration
	// MaxDialogs bounds the open dialogs; the least recently active is
	// closed (EndEvicted) beyond it.
	MaxDialogs int
	// MaxEvents bounds the events kept per dialog.
	MaxEvents int
}

// Defaults.
const (
	DefaultNoFinalResponse = 5 * time.Minute
	DefaultNoBye           = 4 * time.Hour
	DefaultFailureGrace    = 4 * time.Second
	DefaultByeGrace        = 2 * time.Second
	DefaultNonInvite       = 32 * time.Second
	DefaultMaxDialogs      = 100000
	DefaultMaxEvents       = 200
	closedMemory           = 32 * time.Second
)

func (c Config) withDefaults() Config {
	if c.NoFinalResponse <= 0 {
		c.NoFinalResponse = DefaultNoFinalResponse
	}
	if c.NoBye <= 0 {
		c.NoBye = DefaultNoBye
	}
	if c.FailureGrace <= 0 {
		c.FailureGrace = DefaultFailureGrace
	}
	if c.ByeGrace <= 0 {
		c.ByeGrace = DefaultByeGrace
	}
	if c.NonInvite <= 0 {
		c.NonInvite = DefaultNonInvite
	}
	if c.MaxDialogs <= 0 {
		c.MaxDialogs = DefaultMaxDialogs
	}
	if c.MaxEvents <= 0 {
		c.MaxEvents = DefaultMaxEvents
	}
	return c
}

// Tracker follows dialogs by Call-ID.
type Tracker struct {
	cfg    Config
	hooks  Hooks
	open   map[string]*Dialog
	closed map[string]time.Time // Call-IDs closed recently: late retransmissions are dropped
	now    time.Time
	// swept is when timers were last checked: they are checked at most
	// every sweepEvery of capture time, so a busy trunk does not rescan
	// every open dialog on every message.
	swept time.Time
	stats Stats
}

const sweepEvery = 250 * time.Millisecond

// Stats are the tracker's counters.
type Stats struct {
	Messages, Duplicates, LateDropped, Evicted, TimedOut uint64
}

// New returns a tracker.
func New(cfg Config, hooks Hooks) *Tracker {
	return &Tracker{
		cfg:    cfg.withDefaults(),
		hooks:  hooks,
		open:   make(map[string]*Dialog),
		closed: make(map[string]time.Time),
	}
}

// Stats returns the counters.
func (t *Tracker) Stats() Stats { return t.stats }

// Open returns the number of open dialogs.
func (t *Tracker) Open() int { return len(t.open) }

// Now returns the tracker's clock: the latest capture time seen.
func (t *Tracker) Now() time.Time { return t.now }

// Message feeds one parsed SIP message seen at capture time at.
func (t *Tracker) Message(at time.Time, src, dst netip.AddrPort, transport string, msg sip.Message) {
	if msg == nil || msg.CallID() == nil {
		return
	}
	t.Advance(at)
	t.stats.Messages++
	callID := msg.CallID().Value()
	ev := Event{At: at, Src: src, Dst: dst, Transport: transport, Msg: msg}
	if cs := msg.CSeq(); cs != nil {
		ev.CSeq, ev.CSeqMethod = cs.SeqNo, cs.MethodName
	}
	if f := msg.From(); f != nil {
		ev.FromTag, _ = f.Params.Get("tag")
	}
	if to := msg.To(); to != nil {
		ev.ToTag, _ = to.Params.Get("tag")
	}
	switch m := msg.(type) {
	case *sip.Request:
		ev.Method = m.Method
	case *sip.Response:
		ev.Status = m.StatusCode
	}

	d := t.open[callID]
	if d == nil {
		if closedAt, ok := t.closed[callID]; ok && at.Sub(closedAt) < closedMemory && !isNewInvite(&ev) {
			t.stats.LateDropped++
			return
		}
		if len(t.open) >= t.cfg.MaxDialogs {
			t.evictOldest(at)
		}
		d = &Dialog{CallID: callID, Start: at, seen: make(map[string]struct{}), hops: make(map[string]hopSeen)}
		t.open[callID] = d
		delete(t.closed, callID)
	}
	key := dedupKey(&ev)
	if _, dup := d.seen[key]; dup {
		d.Duplicates++
		t.stats.Duplicates++
		return
	}
	if len(d.seen) < 4*t.cfg.MaxEvents {
		d.seen[key] = struct{}{}
	}
	hk := hopKey(d, &ev)
	if h, ok := d.hops[hk]; ok && at.Sub(h.at) <= hopWindow && (h.src != src || h.dst != dst) {
		// The same message on another hop, with rewritten tags.
		if ev.FromTag != h.fromTag && (h.fromTag == d.FromTag || contains(d.callerAliases, h.fromTag)) &&
			!contains(d.callerAliases, ev.FromTag) && len(d.callerAliases) < 8 {
			d.callerAliases = append(d.callerAliases, ev.FromTag)
		}
		if isNewInvite(&ev) && h.cseq == d.inviteCSeq && ev.CSeq != d.inviteCSeq {
			d.inviteCSeqAlias = ev.CSeq
		}
		d.Duplicates++
		t.stats.Duplicates++
		return
	}
	if len(d.hops) < 4*t.cfg.MaxEvents {
		d.hops[hk] = hopSeen{at: at, src: src, dst: dst, fromTag: ev.FromTag, cseq: ev.CSeq}
	}
	d.lastActivity = at
	t.apply(d, ev)
}

// hopKey identifies a message without its tags and CSeq number, which an
// SBC doing topology hiding rewrites while keeping the Call-ID. The initial
// INVITE transaction is kept apart from re-INVITEs, which often follow the
// answer within milliseconds (direct media).
func hopKey(d *Dialog, ev *Event) string {
	kind := string(ev.Method)
	if ev.Status != 0 {
		kind = strconv.Itoa(ev.Status)
	}
	if ev.CSeqMethod == sip.INVITE {
		initial := ev.ToTag == ""
		if ev.Status != 0 {
			initial = ev.CSeq == d.inviteCSeq || (d.inviteCSeqAlias != 0 && ev.CSeq == d.inviteCSeqAlias)
		}
		if !initial {
			kind += "|re"
		}
	}
	return kind + "|" + string(ev.CSeqMethod)
}

func isNewInvite(ev *Event) bool { return ev.Method == sip.INVITE && ev.ToTag == "" }

// dedupKey identifies a message regardless of hop: a retransmission, or
// the same message relayed by a proxy (new Via, same everything else).
func dedupKey(ev *Event) string {
	kind := string(ev.Method)
	if ev.Status != 0 {
		kind = strconv.Itoa(ev.Status)
	}
	return kind + "|" + strconv.FormatUint(uint64(ev.CSeq), 10) + "|" + string(ev.CSeqMethod) + "|" + ev.FromTag + "|" + ev.ToTag
}

func (t *Tracker) keep(d *Dialog, ev Event) *Event {
	e := &ev
	if len(d.Events) >= t.cfg.MaxEvents {
		d.DroppedEvents++
		return e
	}
	d.Events = append(d.Events, e)
	return e
}

func (t *Tracker) apply(d *Dialog, ev Event) {
	// Side: a request from the INVITE's From tag is the caller's; a
	// response to such a request is the callee's.
	if d.FromTag != "" {
		fromCaller := ev.FromTag == d.FromTag || contains(d.callerAliases, ev.FromTag)
		if ev.Status != 0 {
			fromCaller = !fromCaller
		}
		if fromCaller {
			ev.Side = SideCaller
		} else {
			ev.Side = SideCallee
		}
	}
	switch {
	case ev.Method == sip.INVITE && ev.ToTag == "":
		t.initialInvite(d, ev)
		return
	case ev.Method == sip.CANCEL:
		if d.Invite == nil {
			// The INVITE preceded the capture: the CANCEL repeats its
			// Request-URI, From and To, so it stands in for it.
			req := ev.Request()
			d.Invite, d.InviteMissing = req, true
			d.InviteSrc, d.InviteDst = ev.Src, ev.Dst
			d.FromTag = ev.FromTag
			d.inviteCSeq = ev.CSeq
			ev.Side = SideCaller
			if t.hooks.Started != nil {
				t.hooks.Started(d)
			}
		}
		e := t.keep(d, ev)
		if d.Cancel == nil && d.Final == 0 {
			d.Cancel = e
		}
		return
	}
	e := t.keep(d, ev)
	if ev.Method == "" && ev.Status != 0 {
		t.response(d, e)
	} else {
		t.request(d, e)
	}
	t.media(d, e)
}

func (t *Tracker) initialInvite(d *Dialog, ev Event) {
	if d.Invite != nil && !d.InviteMissing {
		if ev.CSeq > d.inviteCSeq && (d.Final == 401 || d.Final == 407) {
			// Auth retry: the same call continues.
			d.AuthRetries++
			d.Final, d.FinalAt, d.FinalEvent = 0, time.Time{}, nil
			d.Ended, d.closeAt, d.EndCause = time.Time{}, time.Time{}, EndOpen
			d.inviteCSeq = ev.CSeq
			d.Invite = ev.Request()
		}
		ev.Side = SideCaller
		e := t.keep(d, ev)
		t.media(d, e)
		return
	}
	first := d.Invite == nil
	d.Invite, d.InviteMissing = ev.Request(), false
	d.InviteSrc, d.InviteDst = ev.Src, ev.Dst
	d.FromTag = ev.FromTag
	d.inviteCSeq = ev.CSeq
	d.Method = ""
	if first {
		d.Start = ev.At
	}
	ev.Side = SideCaller
	e := t.keep(d, ev)
	if first && t.hooks.Started != nil {
		t.hooks.Started(d)
	}
	t.media(d, e)
}

func (t *Tracker) response(d *Dialog, e *Event) {
	if d.Invite == nil {
		// Response of a non-INVITE transaction: it completes the dialog
		// once the opening request has its final answer.
		if e.Status >= 200 && e.CSeqMethod == d.Method && d.Method != "" && d.closeAt.IsZero() {
			d.Ended = e.At
			d.EndCause = EndNonInvite
			d.closeAt = e.At
		}
		return
	}
	if e.CSeqMethod != sip.INVITE || (e.CSeq != d.inviteCSeq && (d.inviteCSeqAlias == 0 || e.CSeq != d.inviteCSeqAlias)) {
		if e.CSeqMethod == sip.BYE && e.Status >= 200 && d.Bye != nil {
			d.closeAt = e.At
		}
		return
	}
	if e.ToTag != "" && !contains(d.ToTags, e.ToTag) {
		d.ToTags = append(d.ToTags, e.ToTag)
	}
	switch {
	case e.Status < 200:
		if e.Status == 100 {
			return
		}
		if d.FirstProvisional.IsZero() {
			d.FirstProvisional = e.At
		}
		if !containsInt(d.Provisional, e.Status) {
			d.Provisional = append(d.Provisional, e.Status)
		}
	case e.Status < 300:
		if d.Answered.IsZero() {
			d.Answered = e.At
			d.AnswerTag = e.ToTag
			d.Final, d.FinalAt, d.FinalEvent = e.Status, e.At, e
			d.closeAt = time.Time{}
			if d.EndCause == EndFailure {
				d.Ended, d.EndCause = time.Time{}, EndOpen
			}
		}
	default:
		if d.Final == 0 {
			d.Final, d.FinalAt, d.FinalEvent = e.Status, e.At, e
			d.Ended, d.EndCause = e.At, EndFailure
			d.closeAt = e.At.Add(t.cfg.FailureGrace)
		}
	}
}

func (t *Tracker) request(d *Dialog, e *Event) {
	switch e.Method {
	case sip.BYE:
		if d.Bye == nil {
			d.Bye = e
			if d.Invite != nil {
				d.Ended, d.EndCause = e.At, EndBye
				d.closeAt = e.At.Add(t.cfg.ByeGrace)
			}
		}
	case sip.REFER:
		d.Refers = append(d.Refers, e)
	case sip.NOTIFY:
		d.Notifies = append(d.Notifies, e)
	}
	if d.Invite == nil && d.Method == "" && e.Method != sip.ACK {
		d.Method = e.Method
	}
}

// media records the audio endpoints of an SDP body, if the message has one.
func (t *Tracker) media(d *Dialog, e *Event) {
	body := message.Body(e.Msg, "application/sdp")
	if len(body) == 0 || e.Side == SideUnknown {
		return
	}
	s, err := sdp.Parse(body)
	if err != nil {
		return
	}
	for _, m := range s.Audio() {
		ep := MediaEndpoint{At: e.At, Side: e.Side, Media: m, Offer: e.Method != ""}
		if prev, ok := d.LastMedia(e.Side); ok && sameMedia(prev.Media, m) {
			continue
		}
		d.Media = append(d.Media, ep)
		if t.hooks.Media != nil {
			t.hooks.Media(d, ep)
		}
	}
}

func sameMedia(a, b sdp.Media) bool {
	if a.Endpoint() != b.Endpoint() || a.EffectiveDirection() != b.EffectiveDirection() || len(a.Codecs) != len(b.Codecs) {
		return false
	}
	for i := range a.Codecs {
		if a.Codecs[i] != b.Codecs[i] {
			return false
		}
	}
	return true
}

// Advance moves the clock to now (capture time) and closes the dialogs whose
// grace period or timeout has passed. A clock that goes backwards is ignored.
func (t *Tracker) Advance(now time.Time) {
	if now.Before(t.now) {
		return
	}
	t.now = now
	if now.Sub(t.swept) < sweepEvery {
		return
	}
	t.sweep(now)
}

func (t *Tracker) sweep(now time.Time) {
	t.swept = now
	var done []*Dialog
	for _, d := range t.open {
		switch {
		case !d.closeAt.IsZero():
			if !now.Before(d.closeAt) {
				done = append(done, d)
			}
		case d.Invite != nil && d.Final == 0 && d.Cancel == nil && now.Sub(d.Start) >= t.cfg.NoFinalResponse:
			d.Ended, d.EndCause = now, EndTimeoutNoFinal
			d.EndNote = fmt.Sprintf("no final response within %s", t.cfg.NoFinalResponse)
			done = append(done, d)
		case d.Invite != nil && d.Cancel != nil && d.Final == 0 && now.Sub(d.Cancel.At) >= t.cfg.FailureGrace+32*time.Second:
			d.Ended, d.EndCause = d.Cancel.At, EndTimeoutNoFinal
			d.EndNote = "no final response to the INVITE after CANCEL"
			done = append(done, d)
		case d.Invite != nil && d.Final >= 200 && d.Final < 300 && now.Sub(d.lastActivity) >= t.cfg.NoBye:
			d.Ended, d.EndCause = now, EndTimeoutNoBye
			d.EndNote = fmt.Sprintf("no BYE and no SIP for %s", t.cfg.NoBye)
			done = append(done, d)
		case d.Invite == nil && now.Sub(d.lastActivity) >= t.cfg.NonInvite:
			d.Ended, d.EndCause = d.lastActivity, EndTimeoutIdle
			done = append(done, d)
		}
	}
	if len(done) > 0 {
		t.stats.TimedOut += uint64(countTimeouts(done))
		t.finish(done)
	}
	if len(t.closed) > 0 && len(t.closed) > len(t.open) {
		for id, at := range t.closed {
			if now.Sub(at) >= closedMemory {
				delete(t.closed, id)
			}
		}
	}
}

func countTimeouts(ds []*Dialog) int {
	n := 0
	for _, d := range ds {
		if d.EndCause.ByTimeout() {
			n++
		}
	}
	return n
}

// Flush closes every open dialog (end of input) at capture time now.
func (t *Tracker) Flush(now time.Time) {
	t.Advance(now)
	if !now.Before(t.now) {
		t.sweep(now)
	}
	if now.Before(t.now) {
		now = t.now
	}
	done := make([]*Dialog, 0, len(t.open))
	for _, d := range t.open {
		if d.EndCause == EndOpen {
			d.Ended, d.EndCause = now, EndCaptureEnded
			switch {
			case d.Invite != nil && d.Final == 0:
				d.EndNote = "capture ended with no final response"
			case d.Invite != nil:
				d.EndNote = "capture ended with no BYE"
			default:
				d.EndNote = "capture ended"
			}
		}
		done = append(done, d)
	}
	t.finish(done)
}

func (t *Tracker) evictOldest(now time.Time) {
	var oldest *Dialog
	for _, d := range t.open {
		if oldest == nil || d.lastActivity.Before(oldest.lastActivity) ||
			(d.lastActivity.Equal(oldest.lastActivity) && d.CallID < oldest.CallID) {
			oldest = d
		}
	}
	if oldest == nil {
		return
	}
	if oldest.EndCause == EndOpen {
		oldest.Ended, oldest.EndCause = now, EndEvicted
		oldest.EndNote = fmt.Sprintf("closed early: more than %d dialogs open", t.cfg.MaxDialogs)
	}
	t.stats.Evicted++
	t.finish([]*Dialog{oldest})
}

// finish closes dialogs in a deterministic order (start time, Call-ID).
func (t *Tracker) finish(ds []*Dialog) {
	sortDialogs(ds)
	for _, d := range ds {
		delete(t.open, d.CallID)
		t.closed[d.CallID] = d.Ended
		d.seen, d.hops = nil, nil
		if t.hooks.Ended != nil {
			t.hooks.Ended(d)
		}
	}
}

func sortDialogs(ds []*Dialog) {
	slices.SortFunc(ds, func(a, b *Dialog) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return strings.Compare(a.CallID, b.CallID)
	})
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func containsInt(ss []int, s int) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
