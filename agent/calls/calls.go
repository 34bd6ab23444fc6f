// Package calls owns turning SIP dialogs into customer calls: it correlates
// the legs a B2BUA PBX creates for one call (configured header, parent
// Call-ID header, caller number within a time window), decides the
// direction and the outcome (answered, abandoned, voicemail, forwarded,
// outbound, internal, failed) with the evidence behind it, and builds the
// CallRecord the agent ships to the hub.
package calls

import (
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
	"github.com/reboundhq/rebound/sip/dialog"
	"github.com/reboundhq/rebound/sip/message"
)

// Result is one finished call.
type Result struct {
	Record *reboundv1.CallRecord
	// Primary is the SIP Call-ID of the first leg; the recorder keys the
	// call's audio by it.
	Primary string
	// Legs are the SIP Call-IDs of every leg.
	Legs []string
	// Dropped is set for a call the rules discard (an abandon shorter than
	// short_abandon_seconds): the record must not be shipped, but whatever
	// the caller holds for the call (a recording) must be released.
	Dropped bool
}

// Stats are the engine's counters.
type Stats struct {
	Calls, ShortAbandonsDropped, PartialDialogs, Correlated uint64
	// CorrelationFailed counts legs that looked like a B-leg of an open
	// call (placed by the host handling it) but could not be tied to it.
	CorrelationFailed uint64
}

// Engine groups legs into calls and classifies them when they end.
type Engine struct {
	r      *rules
	siteID string
	log    *slog.Logger
	emit   func(Result)

	groups  []*group // open groups, oldest first
	byLeg   map[string]*group
	byKey   map[string]*group
	notices []notice // recent message-summary NOTIFYs
	stats   Stats
	// swept is when open calls were last checked (at most every
	// sweepEvery of capture time).
	swept time.Time
}

const sweepEvery = 250 * time.Millisecond

// maxNotices bounds the message-summary NOTIFYs kept for confirmation.
const maxNotices = 10000

type group struct {
	legs    []*leg
	key     string
	readyAt time.Time
	// held is set while a voicemail waits for its NOTIFY confirmation.
	held      bool
	holdUntil time.Time
	result    *Result
	vmBox     string
	confirmed *notice
	// maybeVM marks an abandon after a queue/IVR answer: if a NOTIFY
	// message-summary for one of mailboxes follows, the PBX took a
	// voicemail on the first leg itself (Asterisk's VoiceMail() app, for
	// example) and the call is a voicemail, never an abandon.
	maybeVM   bool
	mailboxes []string
	// orphanOf is set when this call's first leg was placed by a host that
	// was handling another open call, yet no strategy tied it to that call.
	orphanOf *dialog.Dialog
}

type leg struct {
	d     *dialog.Dialog
	by    string
	ended bool
	// caller and dialled are the leg's numbers, read once.
	caller, dialled string
}

type notice struct {
	at time.Time
	// mailbox is the box the NOTIFY names: Message-Account when present,
	// else To. PBXs differ: Asterisk puts its voicemail access number in
	// Message-Account and the extension whose box it is in To, so both are
	// kept (see concerns for when To may match).
	mailbox, to string
	src         string
	waiting     bool
}

// concerns reports whether n confirms a voicemail on g, and settles
// n.mailbox on the box that matched.
func (n *notice) concerns(g *group) bool {
	if !n.waiting {
		return false
	}
	if g.wants(n.mailbox, n.at) {
		return true
	}
	// To is trusted only for a call that reached the voicemail system for
	// a known box: a queue call that merely rang an extension would
	// otherwise be "confirmed" by any later message left in that box.
	if g.vmBox != "" && n.to != "" && n.to != n.mailbox && g.wants(n.to, n.at) {
		n.mailbox = n.to
		return true
	}
	return false
}

// New returns an engine; emit receives every finished call, in order.
func New(cfg Config, siteID string, log *slog.Logger, emit func(Result)) (*Engine, error) {
	r, err := compile(cfg)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Engine{r: r, siteID: siteID, log: log, emit: emit,
		byLeg: make(map[string]*group), byKey: make(map[string]*group)}, nil
}

// Stats returns the counters.
func (e *Engine) Stats() Stats { return e.stats }

// Open returns the number of calls not yet emitted.
func (e *Engine) Open() int { return len(e.groups) }

// LegStarted is called when an initial INVITE opens a dialog.
func (e *Engine) LegStarted(d *dialog.Dialog) {
	if _, ok := e.byLeg[d.CallID]; ok {
		return
	}
	l := &leg{d: d, caller: callerNumber(d), dialled: target(d)}
	key := e.r.header.Key(d.Invite)
	var g *group
	if key != "" {
		if g = e.byKey[key]; g == nil {
			g = e.byLeg[key]
		}
		if g != nil && g.result == nil {
			l.by = "header:" + e.r.headerName
		} else {
			g = nil
		}
	}
	if g == nil {
		for _, h := range e.r.parents {
			if v := message.Header(d.Invite, h); v != "" {
				if pg := e.byLeg[v]; pg != nil && pg.result == nil {
					g, l.by = pg, "parent-call-id"
					break
				}
			}
		}
	}
	if g == nil && e.r.callerWindow > 0 {
		g = e.callerWindowGroup(l)
		if g != nil {
			l.by = "caller-window"
		}
	}
	if g == nil {
		g = &group{orphanOf: e.placedByHandler(d)}
		if g.orphanOf != nil {
			e.stats.CorrelationFailed++
		}
		e.groups = append(e.groups, g)
		l.by = "primary"
	} else {
		e.stats.Correlated++
	}
	if key != "" && g.key == "" {
		g.key = key
		e.byKey[key] = g
	}
	g.legs = append(g.legs, l)
	g.readyAt = time.Time{}
	e.byLeg[d.CallID] = g
}

// placedByHandler returns the first leg of an open call that was received on
// the address that now places d: d looks like a B-leg of that call.
func (e *Engine) placedByHandler(d *dialog.Dialog) *dialog.Dialog {
	for i := len(e.groups) - 1; i >= 0; i-- {
		p := e.groups[i].legs[0].d
		if e.groups[i].result == nil && p.InviteDst == d.InviteSrc && (p.Ended.IsZero() || !p.Ended.Before(d.Start)) {
			return p
		}
	}
	return nil
}

// callerWindowGroup finds an open call whose first leg has the same caller
// number (or dials the same external number), started within the window, is still up, and was received by the
// host that now places this leg. A leg that itself comes from a
// trunk is a new customer call, never a continuation.
func (e *Engine) callerWindowGroup(l *leg) *group {
	d := l.d
	if e.r.trunksDefined && e.r.isTrunk(d.InviteSrc.Addr()) {
		return nil
	}
	num, dialled := l.caller, l.dialled
	if num == "" && dialled == "" {
		return nil
	}
	// Groups are in start order: walk back from the newest and stop at the
	// first one older than the window.
	for i := len(e.groups) - 1; i >= 0; i-- {
		g := e.groups[i]
		first := g.legs[0]
		p := first.d
		if d.Start.Sub(p.Start) > e.r.callerWindow {
			break
		}
		if g.result != nil || d.Start.Before(p.Start) {
			continue
		}
		if !p.Ended.IsZero() && p.Ended.Before(d.Start) {
			continue // the first leg was over before this one began
		}
		// A B2BUA places the new leg from the address that received the
		// first one; anything else is an unrelated call from the same number.
		if d.InviteSrc != p.InviteDst {
			continue
		}
		// Inbound, the PBX keeps the caller's number on the new leg; outbound,
		// it replaces the extension with the company number but dials the
		// same external number.
		sameCaller := num != "" && first.caller == num
		sameDialled := dialled != "" && first.dialled == dialled && !matchAny(e.r.agents, dialled)
		if (sameCaller || sameDialled) && p.CallID != d.CallID {
			return g
		}
	}
	return nil
}

// LegEnded is called when the tracker closes a dialog.
func (e *Engine) LegEnded(d *dialog.Dialog) {
	if !d.IsInvite() {
		e.nonInvite(d)
		return
	}
	g := e.byLeg[d.CallID]
	if g == nil {
		return
	}
	done := true
	last := time.Time{}
	for _, l := range g.legs {
		if l.d == d {
			l.ended = true
		}
		if !l.ended {
			done = false
		}
		if l.d.Ended.After(last) {
			last = l.d.Ended
		}
	}
	if done {
		g.readyAt = last.Add(e.r.linger)
	}
}

// nonInvite looks at a finished non-INVITE dialog for a message-summary
// NOTIFY (RFC 3842) that confirms a voicemail.
func (e *Engine) nonInvite(d *dialog.Dialog) {
	if d.Bye != nil && d.Invite == nil {
		e.stats.PartialDialogs++
	}
	events := d.Notifies
	for _, ev := range events {
		if !strings.Contains(strings.ToLower(message.Header(ev.Msg, "Event")), "message-summary") {
			continue
		}
		ms, ok := message.ParseMessageSummary(ev.Msg.Body())
		if !ok {
			continue
		}
		box, to := "", ""
		if ms.Account != "" {
			var u sip.Uri
			if err := sip.ParseUri(strings.Trim(ms.Account, "<>"), &u); err == nil {
				box = message.User(u)
			}
		}
		if ev.Msg.To() != nil {
			to = message.User(ev.Msg.To().Address)
		}
		if box == "" {
			box = to
		}
		n := notice{at: ev.At, mailbox: box, to: to, src: ev.Src.Addr().String(), waiting: ms.Waiting}
		if len(e.notices) >= maxNotices { // a NOTIFY flood: keep the newest
			e.notices = append(e.notices[:0], e.notices[len(e.notices)/2:]...)
		}
		e.notices = append(e.notices, n)
		for _, g := range e.groups {
			if g.held && g.confirmed == nil && n.concerns(g) {
				n := n // this group's copy, with the box that matched it
				g.confirmed = &n
				g.holdUntil = ev.At
			}
		}
	}
}

// Advance emits the calls that are complete at capture time now.
func (e *Engine) Advance(now time.Time) {
	if now.Sub(e.swept) < sweepEvery {
		return
	}
	e.swept = now
	e.step(now, false)
}

// Flush emits every call (end of input).
func (e *Engine) Flush(now time.Time) {
	e.step(now, true)
}

func (e *Engine) step(now time.Time, all bool) {
	keep := e.groups[:0]
	for _, g := range e.groups {
		ready := !g.readyAt.IsZero() && !now.Before(g.readyAt)
		if !ready && !all {
			keep = append(keep, g)
			continue
		}
		if g.result == nil {
			e.classify(g)
			if g.result.Dropped {
				if e.emit != nil {
					e.emit(*g.result)
				}
				e.forget(g)
				continue
			}
			if (g.result.Record.Outcome == reboundv1.Outcome_OUTCOME_VOICEMAIL || g.maybeVM) && e.r.confirm > 0 {
				g.held = true
				g.holdUntil = g.readyAt.Add(e.r.confirm)
				e.confirmFromNotices(g)
			}
		}
		if g.held && !all && now.Before(g.holdUntil) {
			keep = append(keep, g)
			continue
		}
		e.finish(g)
		e.forget(g)
	}
	clear(e.groups[len(keep):])
	e.groups = keep
	// Forget notices older than the confirm window.
	cut := 0
	for cut < len(e.notices) && now.Sub(e.notices[cut].at) > e.r.confirm+e.r.linger {
		cut++
	}
	e.notices = e.notices[cut:]
}

func (e *Engine) confirmFromNotices(g *group) {
	for i := range e.notices {
		n := e.notices[i]
		if n.concerns(g) {
			g.confirmed = &n
			g.holdUntil = g.readyAt
			return
		}
	}
}

// wants reports whether a message-summary for mailbox seen at at concerns
// this call: it must follow the answer that could have taken the message.
func (g *group) wants(mailbox string, at time.Time) bool {
	p := g.legs[0].d
	if mailbox == "" || at.Before(p.Start) || (g.maybeVM && at.Before(p.Answered)) {
		return false
	}
	if g.vmBox != "" {
		return g.vmBox == mailbox
	}
	if g.maybeVM {
		for _, m := range g.mailboxes {
			if m == mailbox {
				return true
			}
		}
	}
	return false
}

func (e *Engine) finish(g *group) {
	rec := g.result.Record
	if g.confirmed != nil && g.maybeVM && rec.Outcome == reboundv1.Outcome_OUTCOME_ABANDONED {
		rec.Outcome = reboundv1.Outcome_OUTCOME_VOICEMAIL
		rec.VoicemailBox = g.confirmed.mailbox
		rec.Evidence = append(rec.Evidence, evidence(rec.StartedAt.AsTime(), g.confirmed.at, "voicemail.notify",
			g.legs[0].d.CallID, "NOTIFY message-summary from %s: new message for %s after the PBX answered; the caller left a voicemail, not an abandon",
			g.confirmed.src, g.confirmed.mailbox))
	} else if g.confirmed != nil {
		rec.Evidence = append(rec.Evidence, evidence(rec.StartedAt.AsTime(), g.confirmed.at, "voicemail.notify",
			g.legs[0].d.CallID, "NOTIFY message-summary from %s: new message waiting for %s, confirms voicemail",
			g.confirmed.src, g.confirmed.mailbox))
	} else if rec.Outcome == reboundv1.Outcome_OUTCOME_VOICEMAIL && e.r.confirm > 0 && g.confirmed == nil {
		rec.Health.Notes = append(rec.Health.Notes, "no NOTIFY message-summary seen to confirm the voicemail")
	}
	e.stats.Calls++
	if e.emit != nil {
		e.emit(*g.result)
	}
}

func (e *Engine) forget(g *group) {
	for _, l := range g.legs {
		if e.byLeg[l.d.CallID] == g {
			delete(e.byLeg, l.d.CallID)
		}
	}
	if g.key != "" && e.byKey[g.key] == g {
		delete(e.byKey, g.key)
	}
}

// IDs returns the stable call_id and record_id of a call: derived from the
// site, the primary SIP Call-ID and the CSeq of its first INVITE (a client
// that retries a rejected call much later with the same Call-ID makes a new
// call), so reading the same capture twice gives the same ids and the hub's
// ingest stays idempotent.
func IDs(siteID, primaryCallID string, inviteCSeq, revision uint32) (callID, recordID string) {
	h := sha256.Sum256([]byte(siteID + "\x00" + primaryCallID + "\x00" + strconv.FormatUint(uint64(inviteCSeq), 10)))
	callID = "call-" + hex.EncodeToString(h[:12])
	r := sha256.Sum256([]byte(callID + "\x00rev" + strconv.FormatUint(uint64(revision), 10)))
	return callID, "rec-" + hex.EncodeToString(r[:12])
}

// ChannelFor says which recording channel the media of one side of a leg
// belongs to, and whether the leg is the one recorded (the first leg of
// its call, which carries both the customer and whoever the PBX bridged
// them to).
func (e *Engine) ChannelFor(d *dialog.Dialog, side dialog.Side) (reboundv1.Channel, bool) {
	g := e.byLeg[d.CallID]
	if g == nil || g.legs[0].d != d {
		return reboundv1.Channel_CHANNEL_UNSPECIFIED, false
	}
	caller := reboundv1.Channel_CHANNEL_CALLER
	callee := reboundv1.Channel_CHANNEL_AGENT
	if dir, _ := e.direction(d); dir == reboundv1.Direction_DIRECTION_OUTBOUND {
		caller, callee = callee, caller
	}
	if side == dialog.SideCaller {
		return caller, true
	}
	return callee, true
}

func callerNumber(d *dialog.Dialog) string {
	if pai, ok := message.AssertedIdentity(d.Invite); ok {
		if u := message.User(pai.URI); u != "" {
			return u
		}
	}
	if f := d.Invite.From(); f != nil {
		return message.User(f.Address)
	}
	return ""
}

func callerName(d *dialog.Dialog) string {
	if pai, ok := message.AssertedIdentity(d.Invite); ok && pai.Display != "" {
		return pai.Display
	}
	if f := d.Invite.From(); f != nil {
		return strings.Trim(f.DisplayName, `"`)
	}
	return ""
}

// target is the number a leg was sent to: the Request-URI user, else To.
func target(d *dialog.Dialog) string {
	if u := message.User(d.Invite.Recipient); u != "" {
		return u
	}
	if to := d.Invite.To(); to != nil {
		return message.User(to.Address)
	}
	return ""
}
