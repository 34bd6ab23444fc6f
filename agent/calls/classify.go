package calls

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"google.golang.org/protobuf/types/known/timestamppb"

	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
	"github.com/reboundhq/rebound/sip/dialog"
	"github.com/reboundhq/rebound/sip/message"
)

// role is what a leg's target is on this PBX.
type role uint8

const (
	roleUnknown role = iota
	roleAgent
	roleQueue
	roleVoicemail
	roleExternal
)

func (r role) String() string {
	return [...]string{"unknown", "agent", "queue", "voicemail", "external"}[r]
}

// legFacts is what one leg says, computed once.
type legFacts struct {
	d       *dialog.Dialog
	by      string
	target  string
	role    role
	vmBox   string
	vmCause int
}

func (e *Engine) roleOf(d *dialog.Dialog) (role, string, int) {
	t := target(d)
	if vm, ok := message.VoicemailURI(d.Invite.Recipient); ok {
		return roleVoicemail, vm.Target, vm.Cause
	}
	uri := d.Invite.Recipient.String()
	if matchAny(e.r.vmExt, t) || matchAny(e.r.vmURI, uri) {
		box := ""
		if ds := message.Diversions(d.Invite); len(ds) > 0 {
			box = message.User(ds[0].URI)
		} else if to := d.Invite.To(); to != nil && message.User(to.Address) != t {
			box = message.User(to.Address)
		}
		return roleVoicemail, box, 0
	}
	switch {
	case matchAny(e.r.queues, t):
		return roleQueue, "", 0
	case matchAny(e.r.agents, t):
		return roleAgent, "", 0
	case e.r.trunksDefined && e.r.isTrunk(d.InviteDst.Addr()), matchAny(e.r.external, t):
		return roleExternal, "", 0
	}
	return roleUnknown, "", 0
}

// direction decides the direction of a call from its first leg.
func (e *Engine) direction(p *dialog.Dialog) (reboundv1.Direction, string) {
	src, dst := p.InviteSrc.Addr(), p.InviteDst.Addr()
	caller, dialled := callerNumber(p), target(p)
	if e.r.trunksDefined {
		switch {
		case e.r.isTrunk(src):
			return reboundv1.Direction_DIRECTION_INBOUND, fmt.Sprintf("INVITE from trunk peer %s: inbound", src)
		case e.r.isTrunk(dst):
			return reboundv1.Direction_DIRECTION_OUTBOUND, fmt.Sprintf("INVITE to trunk peer %s: outbound", dst)
		}
	}
	if matchAny(e.r.inbound, dialled) {
		return reboundv1.Direction_DIRECTION_INBOUND, fmt.Sprintf("dialled number %s is an inbound number: inbound", dialled)
	}
	callerExt := matchAny(e.r.agents, caller) || matchAny(e.r.queues, caller)
	calleeExt := matchAny(e.r.agents, dialled) || matchAny(e.r.queues, dialled) || matchAny(e.r.vmExt, dialled)
	switch {
	case callerExt && calleeExt:
		return reboundv1.Direction_DIRECTION_INTERNAL, fmt.Sprintf("extension %s called extension %s: internal", caller, dialled)
	case callerExt:
		return reboundv1.Direction_DIRECTION_OUTBOUND, fmt.Sprintf("extension %s called %s: outbound", caller, dialled)
	}
	return reboundv1.Direction_DIRECTION_INBOUND, fmt.Sprintf("caller %s is not an extension: inbound", caller)
}

func evidence(start, at time.Time, rule, callID, format string, args ...any) *reboundv1.Evidence {
	off := at.Sub(start)
	if off < 0 {
		off = 0
	}
	return &reboundv1.Evidence{
		At:        timestamppb.New(at),
		OffsetMs:  off.Milliseconds(),
		Text:      fmt.Sprintf("%.2fs ", off.Seconds()) + fmt.Sprintf(format, args...),
		Rule:      rule,
		SipCallId: callID,
	}
}

func addrOf(a netip.AddrPort) string {
	if !a.IsValid() {
		return "?"
	}
	return a.Addr().String()
}

// forwardSignal looks for a sign the call was sent elsewhere: a 3xx, a 181,
// Diversion or History-Info with a cause in a response or in a leg the PBX
// placed, or a leg to an external number.
type forward struct {
	at     time.Time
	callID string
	text   string
	rule   string
	to     string
}

func (e *Engine) forwardOf(fs []legFacts) *forward {
	var best *forward
	consider := func(f forward) {
		if best == nil || f.at.Before(best.at) {
			best = &f
		}
	}
	for i, lf := range fs {
		d := lf.d
		for _, ev := range d.Events {
			if ev.Status == 0 || ev.CSeqMethod != sip.INVITE {
				continue
			}
			switch {
			case ev.Status >= 300 && ev.Status < 400:
				to := ""
				if c := ev.Msg.(*sip.Response).Contact(); c != nil {
					to = message.User(c.Address)
				}
				consider(forward{ev.At, d.CallID, fmt.Sprintf("%d %s from %s redirects the call to %s", ev.Status, reasonPhrase(ev), addrOf(ev.Src), orUnknown(to)), "forward.3xx", to})
			case ev.Status == 181:
				to := ""
				if ds := message.Diversions(ev.Msg); len(ds) > 0 {
					to = message.User(ds[0].URI)
				}
				consider(forward{ev.At, d.CallID, fmt.Sprintf("181 Call Is Being Forwarded from %s", addrOf(ev.Src)), "forward.181", to})
			}
			if ev.Status >= 100 && ev.Status < 300 {
				if div := forwardingDiversion(ev.Msg); div != nil {
					consider(forward{ev.At, d.CallID, fmt.Sprintf("%d carries Diversion %s;reason=%s", ev.Status, message.User(div.URI), orUnknown(div.Reason)), "forward.diversion", ""})
				}
				if rt := message.Retargets(message.HistoryInfo(ev.Msg)); len(rt) > 0 {
					consider(forward{ev.At, d.CallID, fmt.Sprintf("%d carries History-Info retarget %s -> %s (cause %d)", ev.Status, message.User(rt[0].From.URI), message.User(rt[0].To.URI), rt[0].To.Cause), "forward.history_info", message.User(rt[0].To.URI)})
				}
			}
		}
		if i == 0 {
			// Diversion or History-Info on the first leg's INVITE says the
			// call was forwarded before it reached this PBX: not our forward.
			continue
		}
		start := d.Events[0].At
		if lf.role == roleExternal {
			consider(forward{start, d.CallID, fmt.Sprintf("leg to external number %s (%s)", lf.target, addrOf(d.InviteDst)), "forward.external_leg", lf.target})
		}
		if lf.role == roleVoicemail {
			continue
		}
		if div := forwardingDiversion(d.Invite); div != nil {
			consider(forward{start, d.CallID, fmt.Sprintf("leg to %s carries Diversion from %s;reason=%s", lf.target, message.User(div.URI), orUnknown(div.Reason)), "forward.diversion", lf.target})
		}
		if rt := message.Retargets(message.HistoryInfo(d.Invite)); len(rt) > 0 {
			consider(forward{start, d.CallID, fmt.Sprintf("leg to %s carries History-Info retarget %s -> %s (cause %d)", lf.target, message.User(rt[0].From.URI), message.User(rt[0].To.URI), rt[0].To.Cause), "forward.history_info", lf.target})
		}
	}
	return best
}

func holdKind(ep dialog.MediaEndpoint) string {
	if ep.Media.Addr.IsValid() && ep.Media.Addr.IsUnspecified() {
		return "c=0.0.0.0"
	}
	return string(ep.Media.EffectiveDirection())
}

func forwardingDiversion(m sip.Message) *message.Diversion {
	for _, d := range message.Diversions(m) {
		if d.IsForwarding() {
			return &d
		}
	}
	return nil
}

func reasonPhrase(ev *dialog.Event) string {
	if r := ev.Response(); r != nil {
		return r.Reason
	}
	return ""
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// classify decides the outcome of a group and builds its record, marked
// Dropped when the rules discard it (a short abandon).
func (e *Engine) classify(g *group) {
	fs := make([]legFacts, len(g.legs))
	for i, l := range g.legs {
		r, box, cause := e.roleOf(l.d)
		fs[i] = legFacts{d: l.d, by: l.by, target: target(l.d), role: r, vmBox: box, vmCause: cause}
	}
	p := fs[0].d
	start := p.Start
	var cseq uint32
	if cs := p.Invite.CSeq(); cs != nil {
		cseq = cs.SeqNo
	}
	callID, recordID := IDs(e.siteID, p.CallID, cseq, 1)
	rec := &reboundv1.CallRecord{
		RecordId:      recordID,
		CallId:        callID,
		Revision:      1,
		SiteId:        e.siteID,
		CallerNumber:  callerNumber(p),
		CallerName:    callerName(p),
		DialledNumber: fs[0].target,
		StartedAt:     timestamppb.New(start),
		Health:        &reboundv1.CaptureHealth{},
		DefaultsUsed:  append([]string(nil), e.r.defaultsUsed...),
	}
	ev := func(at time.Time, rule, cid, format string, args ...any) {
		rec.Evidence = append(rec.Evidence, evidence(start, at, rule, cid, format, args...))
	}

	dir, why := e.direction(p)
	rec.Direction = dir
	ev(start, "direction", p.CallID, "%s", why)
	if p.InviteMissing {
		ev(start, "capture.partial", p.CallID, "INVITE not captured; CANCEL stands in for it")
		rec.Health.Notes = append(rec.Health.Notes, "the initial INVITE was not captured")
	}
	if g.orphanOf != nil {
		addFlag(rec.Health, reboundv1.HealthFlag_HEALTH_FLAG_CORRELATION_FAILED)
		ev(start, "correlation.failed", p.CallID, "placed by %s, which was handling call %s, but no header, parent Call-ID or caller number tied it to that call", p.InviteSrc, g.orphanOf.CallID)
		rec.Health.Notes = append(rec.Health.Notes, "this may be one leg of another call: configure correlation.header on the PBX")
	}
	for _, lf := range fs[1:] {
		ev(lf.d.Start, "correlation", lf.d.CallID, "leg %s to %s (%s) joined by %s", lf.d.CallID, orUnknown(lf.target), lf.role, lf.by)
	}

	for _, lf := range fs {
		for _, r := range lf.d.Refers {
			to := ""
			if rt := message.Header(r.Msg, "Refer-To"); rt != "" {
				if na, ok := message.ParseNameAddr(rt); ok {
					to = message.User(na.URI)
				}
			}
			ev(r.At, "transfer", lf.d.CallID, "REFER from %s %s: transfer to %s", r.Side, addrOf(r.Src), orUnknown(to))
		}
	}

	// Times.
	var ended, firstAnswer time.Time
	for _, lf := range fs {
		if lf.d.Ended.After(ended) {
			ended = lf.d.Ended
		}
		if !lf.d.Answered.IsZero() && (firstAnswer.IsZero() || lf.d.Answered.Before(firstAnswer)) {
			firstAnswer = lf.d.Answered
		}
		if lf.d.EndCause.ByTimeout() {
			addFlag(rec.Health, reboundv1.HealthFlag_HEALTH_FLAG_INCOMPLETE_SIGNALLING)
			ev(lf.d.Ended, "timeout."+lf.d.EndCause.String(), lf.d.CallID, "dialog closed without signalling: %s", orUnknown(lf.d.EndNote))
		}
	}
	if ended.Before(start) {
		ended = start
	}
	rec.EndedAt = timestamppb.New(ended)
	if !firstAnswer.IsZero() {
		rec.FirstAnsweredAt = timestamppb.New(firstAnswer)
	}

	// The agent leg: a later leg to an agent (or unknown internal target)
	// that answered; with no such leg, the first leg itself when its
	// target is not a queue, voicemail or external number.
	var agent *legFacts
	hasAgentLegs, hasOtherLegs := false, false
	for i := range fs[1:] {
		lf := &fs[i+1]
		if lf.role == roleQueue || lf.role == roleVoicemail {
			hasOtherLegs = true
		}
		if lf.role == roleAgent || lf.role == roleUnknown {
			hasAgentLegs = true
			if !lf.d.Answered.IsZero() && (agent == nil || lf.d.Answered.Before(agent.d.Answered)) {
				agent = lf
			}
		}
	}
	queueAnswered := false
	if fs[0].role == roleQueue {
		rec.Queue = fs[0].target
	}
	for _, lf := range fs[1:] {
		if lf.role == roleQueue && rec.Queue == "" {
			rec.Queue = lf.target
		}
	}
	// With the PBX's own legs in sight (to a queue or voicemail), the first
	// leg's answer is the PBX's, not an agent's.
	firstLegIsAgent := agent == nil && !hasAgentLegs && !hasOtherLegs && !p.Answered.IsZero() &&
		fs[0].role != roleQueue && fs[0].role != roleVoicemail && (fs[0].role != roleExternal || dir == reboundv1.Direction_DIRECTION_INBOUND)
	if !p.Answered.IsZero() && agent == nil && !firstLegIsAgent {
		queueAnswered = true
	}

	// Legs.
	for _, lf := range fs {
		rec.Legs = append(rec.Legs, legRecord(lf))
	}

	outcome := reboundv1.Outcome_OUTCOME_UNSPECIFIED
	var agentAnswered time.Time
	setAgent := func(lf *legFacts, ext string) {
		agentAnswered = lf.d.Answered
		rec.AgentExtension = ext
		rec.AgentAnsweredAt = timestamppb.New(agentAnswered)
	}

	cancel := p.Cancel
	elsewhere := cancel != nil && message.CompletedElsewhere(message.Reasons(cancel.Msg))

	switch dir {
	case reboundv1.Direction_DIRECTION_OUTBOUND, reboundv1.Direction_DIRECTION_INTERNAL:
		outcome = reboundv1.Outcome_OUTCOME_OUTBOUND
		if dir == reboundv1.Direction_DIRECTION_INTERNAL {
			outcome = reboundv1.Outcome_OUTCOME_INTERNAL
		}
		ext := callerNumber(p)
		if !p.Answered.IsZero() {
			agentAnswered = p.Answered
			rec.AgentAnsweredAt = timestamppb.New(agentAnswered)
			ev(p.Answered, "answered", p.CallID, "%d from %s answered", p.Final, addrOf(p.FinalEvent.Src))
		} else if p.Final >= 300 {
			ev(p.FinalAt, "not_answered", p.CallID, "%d %s from %s: not answered", p.Final, reasonPhrase(p.FinalEvent), addrOf(p.FinalEvent.Src))
		}
		if dir == reboundv1.Direction_DIRECTION_OUTBOUND {
			rec.AgentExtension = ext
		}
	default:
		vm := e.voicemailOf(fs)
		fwd := e.forwardOf(fs)
		switch {
		case agent != nil:
			outcome = reboundv1.Outcome_OUTCOME_ANSWERED
			setAgent(agent, agent.target)
			ev(agent.d.Answered, "answered.agent", agent.d.CallID, "%d from agent %s (%s)", agent.d.Final, agent.target, addrOf(agent.d.FinalEvent.Src))
		case vm != nil:
			outcome = reboundv1.Outcome_OUTCOME_VOICEMAIL
			rec.VoicemailBox = vm.vmBox
			g.vmBox = vm.vmBox
			what := fmt.Sprintf("voicemail %s answered", orUnknown(vm.target))
			if vm.vmCause != 0 {
				what += fmt.Sprintf(" (RFC 4458 target=%s cause=%d %s)", vm.vmBox, vm.vmCause, message.VoicemailCauseText(vm.vmCause))
			} else if vm.vmBox != "" {
				what += " for mailbox " + vm.vmBox
			}
			ev(vm.d.Answered, "voicemail", vm.d.CallID, "%s: not an abandon", what)
		case fwd != nil:
			outcome = reboundv1.Outcome_OUTCOME_FORWARDED
			rec.ForwardedTo = fwd.to
			ev(fwd.at, fwd.rule, fwd.callID, "%s: not an abandon", fwd.text)
		case firstLegIsAgent:
			outcome = reboundv1.Outcome_OUTCOME_ANSWERED
			setAgent(&fs[0], fs[0].target)
			ev(p.Answered, "answered.agent", p.CallID, "%d from %s answered (no separate agent leg seen)", p.Final, addrOf(p.FinalEvent.Src))
		case elsewhere:
			outcome = reboundv1.Outcome_OUTCOME_ANSWERED
			ev(cancel.At, "answered.elsewhere", p.CallID, "CANCEL with Reason SIP;cause=200 from %s: answered elsewhere, not an abandon", addrOf(cancel.Src))
		case cancel != nil && (p.Answered.IsZero() || cancel.At.Before(p.Answered)):
			outcome = reboundv1.Outcome_OUTCOME_ABANDONED
			ev(cancel.At, "abandon.cancel", p.CallID, "CANCEL from caller %s before any agent 2xx", addrOf(cancel.Src))
			if !p.Answered.IsZero() {
				ev(p.Answered, "abandon.cancel_race", p.CallID, "2xx crossed the CANCEL (RFC 5407 race); the caller had already given up")
			}
		case p.Final == 487:
			outcome = reboundv1.Outcome_OUTCOME_ABANDONED
			ev(p.FinalAt, "abandon.487", p.CallID, "487 Request Terminated from %s before any agent 2xx", addrOf(p.FinalEvent.Src))
		case queueAnswered:
			if ep, ok := p.LastMedia(dialog.SideCallee); ok && ep.Media.OnHold() {
				ev(p.Answered, "queue.hold", p.CallID, "%s answered with its media on hold (%s): queue or music on hold, not an agent", orUnknown(fs[0].target), holdKind(ep))
			}
			if p.Bye != nil && p.Bye.Side == dialog.SideCallee {
				outcome = reboundv1.Outcome_OUTCOME_FAILED
				ev(p.Bye.At, "failed.pbx_hangup", p.CallID, "BYE from %s (PBX side) after %s answered; no agent leg answered", addrOf(p.Bye.Src), orUnknown(fs[0].target))
			} else {
				outcome = reboundv1.Outcome_OUTCOME_ABANDONED
				g.maybeVM = true
				g.mailboxes = append(g.mailboxes, fs[0].target)
				for _, lf := range fs[1:] {
					if lf.role == roleAgent || lf.role == roleUnknown {
						g.mailboxes = append(g.mailboxes, lf.target)
					}
				}
				if p.Bye != nil {
					ev(p.Bye.At, "abandon.bye_in_queue", p.CallID, "BYE from caller %s after queue/IVR %s answered; no agent leg answered", addrOf(p.Bye.Src), orUnknown(fs[0].target))
				} else {
					ev(ended, "abandon.no_agent", p.CallID, "queue/IVR %s answered and no agent leg answered before the call ended", orUnknown(fs[0].target))
				}
			}
		case p.Final >= 300:
			outcome = reboundv1.Outcome_OUTCOME_FAILED
			ev(p.FinalAt, "failed.rejected", p.CallID, "%d %s from %s: the call was refused, not abandoned", p.Final, reasonPhrase(p.FinalEvent), addrOf(p.FinalEvent.Src))
		case p.Bye != nil && p.Final == 0:
			outcome = reboundv1.Outcome_OUTCOME_ABANDONED
			ev(p.Bye.At, "abandon.bye_before_answer", p.CallID, "BYE from %s %s before any final response", p.Bye.Side, addrOf(p.Bye.Src))
		default:
			// Ringing when the dialog was closed by timeout or capture end.
			outcome = reboundv1.Outcome_OUTCOME_ABANDONED
			ev(ended, "abandon.no_final", p.CallID, "no final response to the INVITE; caller not answered before %s", orUnknown(p.EndNote))
		}
	}
	rec.Outcome = outcome
	// Evidence reads as a timeline.
	slices.SortStableFunc(rec.Evidence, func(a, b *reboundv1.Evidence) int { return cmp.Compare(a.OffsetMs, b.OffsetMs) })

	// Durations.
	if !firstAnswer.IsZero() {
		rec.RingMs = firstAnswer.Sub(start).Milliseconds()
	} else {
		rec.RingMs = ended.Sub(start).Milliseconds()
	}
	if !agentAnswered.IsZero() {
		rec.WaitMs = agentAnswered.Sub(start).Milliseconds()
		rec.TalkMs = ended.Sub(agentAnswered).Milliseconds()
	} else {
		rec.WaitMs = ended.Sub(start).Milliseconds()
	}
	rec.HungUpBy = e.hungUpBy(fs, agent)

	dropped := outcome == reboundv1.Outcome_OUTCOME_ABANDONED && e.r.shortAbandon > 0 && time.Duration(rec.WaitMs)*time.Millisecond < e.r.shortAbandon
	if dropped {
		e.stats.ShortAbandonsDropped++
		e.log.Debug("short abandon dropped", "sip_call_id", p.CallID, "wait_ms", rec.WaitMs)
	}
	legs := make([]string, len(fs))
	for i, lf := range fs {
		legs[i] = lf.d.CallID
	}
	g.result = &Result{Record: rec, Primary: p.CallID, Legs: legs, Dropped: dropped}
}

func (e *Engine) voicemailOf(fs []legFacts) *legFacts {
	for i := range fs {
		lf := &fs[i]
		if lf.role == roleVoicemail && !lf.d.Answered.IsZero() {
			if lf.vmBox == "" {
				lf.vmBox = lf.target
			}
			return lf
		}
	}
	return nil
}

func (e *Engine) hungUpBy(fs []legFacts, agent *legFacts) reboundv1.Party {
	p := fs[0].d
	switch {
	case p.Bye != nil:
		return party(p.Bye.Side)
	case p.Cancel != nil && message.CompletedElsewhere(message.Reasons(p.Cancel.Msg)):
		// The PBX withdrew a losing parallel-ring leg.
		return reboundv1.Party_PARTY_SYSTEM
	case p.Cancel != nil:
		return reboundv1.Party_PARTY_CALLER
	case p.Final >= 300:
		return reboundv1.Party_PARTY_CALLEE
	case agent != nil && agent.d.Bye != nil:
		// The PBX's leg towards the agent: its callee is the agent.
		return party(agent.d.Bye.Side)
	}
	return reboundv1.Party_PARTY_SYSTEM
}

func party(s dialog.Side) reboundv1.Party {
	switch s {
	case dialog.SideCaller:
		return reboundv1.Party_PARTY_CALLER
	case dialog.SideCallee:
		return reboundv1.Party_PARTY_CALLEE
	}
	return reboundv1.Party_PARTY_SYSTEM
}

func legRecord(lf legFacts) *reboundv1.Leg {
	d := lf.d
	l := &reboundv1.Leg{
		SipCallId:    d.CallID,
		FromTag:      d.FromTag,
		CorrelatedBy: lf.by,
		StartedAt:    timestamppb.New(d.Start),
		FinalStatus:  int32(d.Final),
		Src:          d.InviteSrc.String(),
		Dst:          d.InviteDst.String(),
	}
	if f := d.Invite.From(); f != nil {
		l.FromUri = f.Address.String()
	}
	if t := d.Invite.To(); t != nil {
		l.ToUri = t.Address.String()
	}
	if d.AnswerTag != "" {
		l.ToTag = d.AnswerTag
	} else if len(d.ToTags) > 0 {
		l.ToTag = d.ToTags[0]
	}
	if !d.Answered.IsZero() {
		l.AnsweredAt = timestamppb.New(d.Answered)
	}
	if !d.Ended.IsZero() {
		l.EndedAt = timestamppb.New(d.Ended)
	}
	if lf.role == roleAgent {
		l.AgentExtension = lf.target
	}
	switch {
	case d.Bye != nil:
		l.EndReason = "BYE from " + d.Bye.Side.String()
	case d.Cancel != nil:
		l.EndReason = "CANCEL"
		if rs := message.Reasons(d.Cancel.Msg); len(rs) > 0 {
			l.EndReason += " Reason: " + message.Header(d.Cancel.Msg, "Reason")
		}
	case d.Final >= 300:
		l.EndReason = fmt.Sprintf("%d %s", d.Final, strings.TrimSpace(reasonPhrase(d.FinalEvent)))
	case d.EndNote != "":
		l.EndReason = d.EndNote
	}
	return l
}

func addFlag(h *reboundv1.CaptureHealth, f reboundv1.HealthFlag) {
	for _, x := range h.Flags {
		if x == f {
			return
		}
	}
	h.Flags = append(h.Flags, f)
}
