package main

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/reboundhq/rebound/agent/samples"
)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// Pauses between turns of a conversation.
const (
	turnGap   = 650 * time.Millisecond
	hangupGap = 900 * time.Millisecond
)

// voice picks the espeak-ng voice of a line's speaker.
func (b *builder) voice(who samples.Speaker) (samples.Voice, error) {
	switch who {
	case samples.Caller:
		return b.call.CallerVoice, nil
	case samples.Agent:
		u, ok := b.seed.UserByExtension(b.call.Extension)
		if !ok {
			return samples.Voice{}, fmt.Errorf("no demo user at extension %q", b.call.Extension)
		}
		return u.Voice, nil
	case samples.Announcement:
		return b.seed.AnnouncementVoice, nil
	case samples.Greeting:
		return b.seed.GreetingVoice, nil
	case samples.OnCall:
		return b.seed.OnCallVoice, nil
	}
	return samples.Voice{}, fmt.Errorf("unknown speaker %d", who)
}

// say puts one line on the caller's or the far track at at and returns where
// it ends.
func (b *builder) say(ctx context.Context, at time.Duration, l samples.Line) (time.Duration, error) {
	v, err := b.voice(l.Who)
	if err != nil {
		return 0, err
	}
	pcm, err := b.sp.speak(ctx, v, l.Text)
	if err != nil {
		return 0, err
	}
	if l.Who == samples.Caller {
		return b.caller.put(at, pcm), nil
	}
	return b.far.put(at, pcm), nil
}

// converse lays out lines one after another from at.
func (b *builder) converse(ctx context.Context, at time.Duration, lines []samples.Line) (time.Duration, error) {
	for i, l := range lines {
		if i > 0 {
			at += turnGap
		}
		end, err := b.say(ctx, at, l)
		if err != nil {
			return 0, err
		}
		at = end
	}
	return at, nil
}

// net holds the addresses of one call.
type net struct {
	carrier, pbx, vm     netip.AddrPort // signalling
	carrierA, carrierC   netip.AddrPort // carrier media, A-leg and C-leg
	pbxA, pbxB, pbxC     netip.AddrPort // PBX media per leg
	phoneMedia, vmMedia  netip.AddrPort
	carrierIP, domain    string
	trunk, pbxOnA, pbxUA party
}

func (b *builder) network() net {
	s, c := b.site, b.call
	base := uint16(b.index * 10)
	n := net{
		carrier:    netip.AddrPortFrom(s.CarrierSignalling, s.SIPPort),
		pbx:        netip.AddrPortFrom(s.PBX, s.SIPPort),
		vm:         netip.AddrPortFrom(s.Voicemail, s.SIPPort),
		carrierA:   netip.AddrPortFrom(s.CarrierMedia, 31000+base),
		carrierC:   netip.AddrPortFrom(s.CarrierMedia, 31002+base),
		pbxA:       netip.AddrPortFrom(s.PBX, 10000+base),
		pbxB:       netip.AddrPortFrom(s.PBX, 10002+base),
		pbxC:       netip.AddrPortFrom(s.PBX, 10004+base),
		phoneMedia: netip.AddrPortFrom(netip.IPv4Unspecified(), 11780+base),
		vmMedia:    netip.AddrPortFrom(s.Voicemail, 24000+base),
		carrierIP:  s.CarrierSignalling.String(),
		domain:     s.Domain,
	}
	n.trunk = party{
		addr: n.carrier, uri: "sip:" + c.CallerNumber + "@" + n.carrierIP, name: c.CallerName,
		contact: "sip:" + c.CallerNumber + "@" + n.carrier.String(), agent: "CarrierSBC/7.2.1",
	}
	n.pbxOnA = party{
		addr: n.pbx, uri: "sip:" + c.Dialled + "@" + s.PBX.String(),
		contact: "sip:" + c.Dialled + "@" + n.pbx.String(), agent: "Asterisk PBX 20.11.0",
	}
	// The PBX presents the original caller on the legs it places.
	n.pbxUA = party{
		addr: n.pbx, uri: "sip:" + c.CallerNumber + "@" + s.Domain, name: c.CallerName,
		contact: "sip:asterisk@" + n.pbx.String(), agent: "Asterisk PBX 20.11.0",
	}
	return n
}

// phone returns the desk phone party of an extension and its media address.
func (b *builder) phone(ext string) (party, netip.AddrPort, error) {
	ip, err := b.site.Phone(ext)
	if err != nil {
		return party{}, netip.AddrPort{}, err
	}
	addr := netip.AddrPortFrom(ip, b.site.SIPPort)
	p := party{
		addr: addr, uri: "sip:" + ext + "@" + b.site.Domain,
		contact: "sip:" + ext + "@" + addr.String(), agent: "Yealink SIP-T54W 96.86.0.100",
	}
	return p, netip.AddrPortFrom(ip, 11780+uint16(b.index*10)), nil
}

func (b *builder) sdpFor(addr netip.AddrPort, agent string, leg int) string {
	return sdp(1000+b.index*100+leg, addr, agent)
}

func (b *builder) xcid(callID string) header {
	return header{b.site.CorrelationHeader, callID}
}

func (b *builder) build(ctx context.Context) error {
	switch b.call.Flow {
	case samples.FlowAnswered:
		return b.answered(ctx)
	case samples.FlowAbandonedRinging:
		return b.abandonedRinging(ctx)
	case samples.FlowAbandonedQueue:
		return b.abandonedQueue(ctx)
	case samples.FlowVoicemail:
		return b.voicemail(ctx)
	case samples.FlowForwarded:
		return b.forwarded(ctx)
	}
	return fmt.Errorf("unknown flow %d", b.call.Flow)
}

// media adds both directions of a leg between the trunk side (or any far
// end) x and the PBX: x sends the caller's audio when callerAtX, otherwise
// it sends the far track.
func (b *builder) media(label string, x, pbx netip.AddrPort, from, to time.Duration, callerAtX bool, xJitter time.Duration) {
	xTrack, pbxTrack := &b.far, &b.caller
	if callerAtX {
		xTrack, pbxTrack = &b.caller, &b.far
	}
	b.rtp(stream{label: label + "/in", src: x, dst: pbx, from: from, to: to, audio: xTrack, jitter: xJitter})
	b.rtp(stream{label: label + "/out", src: pbx, dst: x, from: from, to: to, audio: pbxTrack, delay: ms(1)})
}

// answered: A-leg from the carrier, B-leg to the agent's phone with X-CID;
// with a queue the PBX answers the A-leg first and plays a greeting.
func (b *builder) answered(ctx context.Context) error {
	c := b.call
	n := b.network()
	ph, phMedia, err := b.phone(c.Extension)
	if err != nil {
		return err
	}
	if c.Queue != "" {
		n.pbxOnA.contact = "sip:" + c.Queue + "@" + n.pbx.String()
	}
	a := newLeg(b.g, "a", b.g.hex("a/call-id", 32)+"@"+n.carrierIP, "sip:"+c.Dialled+"@"+n.pbx.String(), n.trunk, n.pbxOnA)
	bl := newLeg(b.g, "b", b.g.uuid("b/call-id"), "sip:"+c.Extension+"@"+ph.addr.String(), n.pbxUA, ph, b.xcid(a.callID))

	inv := a.Invite(b.sdpFor(n.carrierA, n.trunk.agent, 0))
	b.send(0, n.carrier, n.pbx, inv)
	b.send(ms(5), n.pbx, n.carrier, a.Respond(inv, 100, "Trying", ""))

	lines := c.Lines
	bStart := ms(40)
	aAnswer := time.Duration(0)
	if c.Queue != "" {
		b.send(ms(20), n.pbx, n.carrier, a.Respond(inv, 180, "Ringing", ""))
		aAnswer = ms(1000)
		b.send(aAnswer, n.pbx, n.carrier, a.Respond(inv, 200, "OK", b.sdpFor(n.pbxA, n.pbxOnA.agent, 1)))
		b.send(aAnswer+ms(62), n.carrier, n.pbx, a.Ack2xx())
		if len(lines) == 0 || lines[0].Who != samples.Announcement {
			return fmt.Errorf("a queue call starts with the queue greeting")
		}
		end, err := b.say(ctx, aAnswer+ms(400), lines[0])
		if err != nil {
			return err
		}
		lines = lines[1:]
		bStart = end + ms(300)
	}

	binv := bl.Invite(b.sdpFor(n.pbxB, n.pbxUA.agent, 2))
	b.send(bStart, n.pbx, ph.addr, binv)
	b.send(bStart+ms(6), ph.addr, n.pbx, bl.Respond(binv, 100, "Trying", ""))
	b.send(bStart+ms(90), ph.addr, n.pbx, bl.Respond(binv, 180, "Ringing", ""))
	if c.Queue == "" {
		b.send(bStart+ms(100), n.pbx, n.carrier, a.Respond(inv, 180, "Ringing", ""))
	}
	answer := bStart + ms(3300+1000*(b.index%4))
	if c.Queue != "" {
		b.far.music(bStart+ms(200), answer-bStart-ms(200))
	}
	b.send(answer, ph.addr, n.pbx, bl.Respond(binv, 200, "OK", b.sdpFor(phMedia, ph.agent, 3)))
	b.send(answer+ms(4), n.pbx, ph.addr, bl.Ack2xx())
	if c.Queue == "" {
		aAnswer = answer + ms(10)
		b.send(aAnswer, n.pbx, n.carrier, a.Respond(inv, 200, "OK", b.sdpFor(n.pbxA, n.pbxOnA.agent, 1)))
		b.send(aAnswer+ms(64), n.carrier, n.pbx, a.Ack2xx())
	}

	end, err := b.converse(ctx, answer+ms(500), lines)
	if err != nil {
		return err
	}
	hang := end + hangupGap
	b.media("a", n.carrierA, n.pbxA, aAnswer+ms(20), hang, true, ms(3))
	b.media("b", phMedia, n.pbxB, answer+ms(10), hang, false, ms(1)/2)

	if c.CallerHangsUp {
		bye := a.ByeFromUAC()
		b.send(hang, n.carrier, n.pbx, bye)
		b.send(hang+ms(3), n.pbx, n.carrier, a.RespondBye(bye, false))
		bye2 := bl.ByeFromUAC(header{"Reason", `Q.850;cause=16;text="Normal call clearing"`})
		b.send(hang+ms(5), n.pbx, ph.addr, bye2)
		b.send(hang+ms(40), ph.addr, n.pbx, bl.RespondBye(bye2, false))
	} else {
		bye := bl.ByeFromUAS()
		b.send(hang, ph.addr, n.pbx, bye)
		b.send(hang+ms(3), n.pbx, ph.addr, bl.RespondBye(bye, true))
		bye2 := a.ByeFromUAS(header{"Reason", `Q.850;cause=16;text="Normal call clearing"`})
		b.send(hang+ms(5), n.pbx, n.carrier, bye2)
		b.send(hang+ms(70), n.carrier, n.pbx, a.RespondBye(bye2, true))
	}
	b.packetize()
	return nil
}

// cancelB cancels a ringing B-leg: CANCEL, 200, 487, ACK.
func (b *builder) cancelB(at time.Duration, l *leg, pbx, phone netip.AddrPort, reason string) {
	cn := l.Cancel(header{"Reason", reason})
	b.send(at, pbx, phone, cn)
	b.send(at+ms(7), phone, pbx, l.Respond(cn, 200, "OK", ""))
	b.send(at+ms(9), phone, pbx, l.Respond(l.invite, 487, "Request Terminated", ""))
	b.send(at+ms(11), pbx, phone, l.AckFailure())
}

// ringB places a B-leg to a desk phone and lets it ring.
func (b *builder) ringB(at time.Duration, label, ext string, n net, xcid string) (*leg, party, error) {
	ph, _, err := b.phone(ext)
	if err != nil {
		return nil, party{}, err
	}
	l := newLeg(b.g, label, b.g.uuid(label+"/call-id"), "sip:"+ext+"@"+ph.addr.String(), n.pbxUA, ph, b.xcid(xcid))
	inv := l.Invite(b.sdpFor(n.pbxB, n.pbxUA.agent, 2))
	b.send(at, n.pbx, ph.addr, inv)
	b.send(at+ms(6), ph.addr, n.pbx, l.Respond(inv, 100, "Trying", ""))
	b.send(at+ms(90), ph.addr, n.pbx, l.Respond(inv, 180, "Ringing", ""))
	return l, ph, nil
}

const (
	reasonCallerCancel = `SIP;cause=487;text="ORIGINATOR_CANCEL"`
	reasonNoAnswer     = `Q.850;cause=19;text="NO_ANSWER"`
)

// abandonedRinging: early media greeting and ringback, then the caller
// CANCELs before any answer.
func (b *builder) abandonedRinging(ctx context.Context) error {
	c := b.call
	n := b.network()
	a := newLeg(b.g, "a", b.g.hex("a/call-id", 32)+"@"+n.carrierIP, "sip:"+c.Dialled+"@"+n.pbx.String(), n.trunk, n.pbxOnA)
	inv := a.Invite(b.sdpFor(n.carrierA, n.trunk.agent, 0))
	b.send(0, n.carrier, n.pbx, inv)
	b.send(ms(5), n.pbx, n.carrier, a.Respond(inv, 100, "Trying", ""))
	bl, ph, err := b.ringB(ms(40), "b", c.Extension, n, a.callID)
	if err != nil {
		return err
	}
	b.send(ms(150), n.pbx, n.carrier, a.Respond(inv, 183, "Session Progress", b.sdpFor(n.pbxA, n.pbxOnA.agent, 1)))
	if len(c.Lines) != 2 || c.Lines[0].Who != samples.Announcement || c.Lines[1].Who != samples.Caller {
		return fmt.Errorf("abandoned-while-ringing wants a greeting and one caller line")
	}
	annEnd, err := b.say(ctx, ms(400), c.Lines[0])
	if err != nil {
		return err
	}
	callerEnd, err := b.say(ctx, annEnd+ms(5200), c.Lines[1])
	if err != nil {
		return err
	}
	cancelAt := callerEnd + ms(1200)
	b.far.tone(annEnd+ms(200), cancelAt-annEnd-ms(200), 2*time.Second, 4*time.Second, 0.2, 440, 480)
	b.media("a", n.carrierA, n.pbxA, ms(180), cancelAt, true, ms(3))

	cn := a.Cancel()
	b.send(cancelAt, n.carrier, n.pbx, cn)
	b.send(cancelAt+ms(4), n.pbx, n.carrier, a.Respond(cn, 200, "OK", ""))
	b.send(cancelAt+ms(6), n.pbx, n.carrier, a.Respond(inv, 487, "Request Terminated", ""))
	b.send(cancelAt+ms(66), n.carrier, n.pbx, a.AckFailure())
	b.cancelB(cancelAt+ms(8), bl, n.pbx, ph.addr, reasonCallerCancel)
	b.packetize()
	return nil
}

// abandonedQueue: the queue answers, plays a DTMF menu, a hold message and
// music while two agents' phones ring in turn; the caller hangs up.
func (b *builder) abandonedQueue(ctx context.Context) error {
	c := b.call
	n := b.network()
	n.pbxOnA.contact = "sip:" + c.Queue + "@" + n.pbx.String()
	a := newLeg(b.g, "a", b.g.hex("a/call-id", 32)+"@"+n.carrierIP, "sip:"+c.Dialled+"@"+n.pbx.String(), n.trunk, n.pbxOnA)
	inv := a.Invite(b.sdpFor(n.carrierA, n.trunk.agent, 0))
	b.send(0, n.carrier, n.pbx, inv)
	b.send(ms(5), n.pbx, n.carrier, a.Respond(inv, 100, "Trying", ""))
	b.send(ms(20), n.pbx, n.carrier, a.Respond(inv, 180, "Ringing", ""))
	answer := ms(1000)
	b.send(answer, n.pbx, n.carrier, a.Respond(inv, 200, "OK", b.sdpFor(n.pbxA, n.pbxOnA.agent, 1)))
	b.send(answer+ms(61), n.carrier, n.pbx, a.Ack2xx())

	var (
		at      = answer + ms(300)
		dtmfs   []dtmf
		holdAt  time.Duration
		callerL *samples.Line
	)
	for _, l := range c.Lines {
		switch {
		case l.DTMF != "":
			at += ms(1200)
			dtmfs = append(dtmfs, dtmf{at: at, digit: l.DTMF[0], dur: ms(160)})
			at += ms(160)
		case l.Who == samples.Caller:
			l := l
			callerL = &l
		default:
			at += ms(600)
			end, err := b.say(ctx, at, l)
			if err != nil {
				return err
			}
			if holdAt == 0 && len(dtmfs) > 0 {
				holdAt = at
			}
			at = end
		}
	}
	if callerL == nil || holdAt == 0 {
		return fmt.Errorf("abandoned-in-queue wants a menu, a key press, a hold message and a caller line")
	}
	callerEnd, err := b.say(ctx, at+ms(6000), *callerL)
	if err != nil {
		return err
	}
	bye := callerEnd + ms(700)
	b.far.music(at+ms(200), bye-at-ms(200))

	exts := append([]string{c.Extension}, c.AlsoRang...)
	ringFor := (bye - holdAt) / time.Duration(len(exts))
	var last *leg
	var lastPh party
	for i, ext := range exts {
		start := holdAt + time.Duration(i)*ringFor + ms(20*i)
		l, ph, err := b.ringB(start, fmt.Sprintf("b%d", i), ext, n, a.callID)
		if err != nil {
			return err
		}
		if i < len(exts)-1 {
			b.cancelB(start+ringFor, l, n.pbx, ph.addr, reasonNoAnswer)
		}
		last, lastPh = l, ph
	}
	b.rtp(stream{label: "a/in", src: n.carrierA, dst: n.pbxA, from: answer + ms(40), to: bye, audio: &b.caller, jitter: ms(3), dtmf: dtmfs})
	b.rtp(stream{label: "a/out", src: n.pbxA, dst: n.carrierA, from: answer + ms(20), to: bye, audio: &b.far, delay: ms(1)})

	by := a.ByeFromUAC()
	b.send(bye, n.carrier, n.pbx, by)
	b.send(bye+ms(3), n.pbx, n.carrier, a.RespondBye(by, false))
	b.cancelB(bye+ms(6), last, n.pbx, lastPh.addr, reasonCallerCancel)
	b.packetize()
	return nil
}

// voicemail: the agent's phone rings out, the PBX sends the call to the
// voicemail server with an RFC 4458 URI, the caller leaves a message, the
// server sends NOTIFY message-summary.
func (b *builder) voicemail(ctx context.Context) error {
	c := b.call
	n := b.network()
	a := newLeg(b.g, "a", b.g.hex("a/call-id", 32)+"@"+n.carrierIP, "sip:"+c.Dialled+"@"+n.pbx.String(), n.trunk, n.pbxOnA)
	inv := a.Invite(b.sdpFor(n.carrierA, n.trunk.agent, 0))
	b.send(0, n.carrier, n.pbx, inv)
	b.send(ms(5), n.pbx, n.carrier, a.Respond(inv, 100, "Trying", ""))
	bl, ph, err := b.ringB(ms(40), "b", c.Extension, n, a.callID)
	if err != nil {
		return err
	}
	b.send(ms(140), n.pbx, n.carrier, a.Respond(inv, 180, "Ringing", ""))
	ringOut := ms(15040)
	b.cancelB(ringOut, bl, n.pbx, ph.addr, reasonNoAnswer)

	vm := party{
		addr: n.vm, uri: "sip:" + c.Mailbox + "@" + n.domain,
		contact: "sip:" + c.Mailbox + "@" + n.vm.String(), agent: "FreeSWITCH-mod_sofia/1.10.12-release",
	}
	ruri := fmt.Sprintf("sip:%s@%s;target=sip:%s%%40%s;cause=408", c.Mailbox, n.vm, c.Extension, n.domain)
	cl := newLeg(b.g, "c", b.g.uuid("c/call-id"), ruri, n.pbxUA, vm, b.xcid(a.callID))
	vinv := cl.Invite(b.sdpFor(n.pbxC, n.pbxUA.agent, 4))
	vStart := ringOut + ms(30)
	b.send(vStart, n.pbx, n.vm, vinv)
	b.send(vStart+ms(3), n.vm, n.pbx, cl.Respond(vinv, 100, "Trying", ""))
	vAns := vStart + ms(120)
	b.send(vAns, n.vm, n.pbx, cl.Respond(vinv, 200, "OK", b.sdpFor(n.vmMedia, vm.agent, 5)))
	b.send(vAns+ms(2), n.pbx, n.vm, cl.Ack2xx())
	aAns := vAns + ms(10)
	b.send(aAns, n.pbx, n.carrier, a.Respond(inv, 200, "OK", b.sdpFor(n.pbxA, n.pbxOnA.agent, 1)))
	b.send(aAns+ms(63), n.carrier, n.pbx, a.Ack2xx())

	if len(c.Lines) != 2 || c.Lines[0].Who != samples.Greeting || c.Lines[1].Who != samples.Caller {
		return fmt.Errorf("voicemail wants a greeting and the caller's message")
	}
	gEnd, err := b.say(ctx, vAns+ms(400), c.Lines[0])
	if err != nil {
		return err
	}
	b.far.tone(gEnd+ms(300), ms(400), 0, 0, 0.3, 1000)
	mEnd, err := b.say(ctx, gEnd+ms(1400), c.Lines[1])
	if err != nil {
		return err
	}
	hang := mEnd + ms(1000)
	b.media("a", n.carrierA, n.pbxA, aAns+ms(20), hang, true, ms(3))
	b.media("c", n.vmMedia, n.pbxC, vAns+ms(5), hang, false, ms(1)/2)

	bye := a.ByeFromUAC()
	b.send(hang, n.carrier, n.pbx, bye)
	b.send(hang+ms(3), n.pbx, n.carrier, a.RespondBye(bye, false))
	bye2 := cl.ByeFromUAC(header{"Reason", `Q.850;cause=16;text="Normal call clearing"`})
	b.send(hang+ms(5), n.pbx, n.vm, bye2)
	b.send(hang+ms(8), n.vm, n.pbx, cl.RespondBye(bye2, false))

	// The mailbox's message-waiting subscription belongs to the agent's phone
	// (through the PBX); the new message shows up as a NOTIFY after the call.
	nt := &msg{first: "NOTIFY sip:" + c.Extension + "@" + n.pbx.String() + " SIP/2.0"}
	nt.add("Via", via(vm, "z9hG4bK"+b.g.hex("mwi/branch", 16)))
	nt.add("Max-Forwards", "70")
	nt.add("From", "<sip:"+c.Mailbox+"@"+n.domain+">;tag="+b.g.hex("mwi/from", 10))
	nt.add("To", "<sip:"+c.Extension+"@"+n.domain+">;tag="+b.g.hex("mwi/to", 10))
	nt.add("Call-ID", b.g.uuid("mwi/call-id"))
	nt.add("CSeq", "14 NOTIFY")
	nt.add("Contact", "<"+vm.contact+">")
	nt.add("Event", "message-summary")
	nt.add("Subscription-State", "active;expires=3412")
	nt.add("User-Agent", vm.agent)
	nt.ctype = "application/simple-message-summary"
	nt.body = "Messages-Waiting: yes\r\nMessage-Account: sip:" + c.Mailbox + "@" + n.domain + "\r\nVoice-Message: 1/0 (0/0)\r\n"
	at := hang + ms(1500)
	b.send(at, n.vm, n.pbx, nt)
	ok := &msg{first: "SIP/2.0 200 OK"}
	for _, h := range nt.headers {
		switch h.name {
		case "Via", "From", "To", "Call-ID", "CSeq":
			ok.add(h.name, h.value)
		}
	}
	ok.add("Server", n.pbxUA.agent)
	b.send(at+ms(2), n.pbx, n.vm, ok)
	b.packetize()
	return nil
}

// forwarded: after hours the PBX sends 181 with Diversion and places an
// outbound leg to the external on-call number, which answers.
func (b *builder) forwarded(ctx context.Context) error {
	c := b.call
	n := b.network()
	a := newLeg(b.g, "a", b.g.hex("a/call-id", 32)+"@"+n.carrierIP, "sip:"+c.Dialled+"@"+n.pbx.String(), n.trunk, n.pbxOnA)
	inv := a.Invite(b.sdpFor(n.carrierA, n.trunk.agent, 0))
	b.send(0, n.carrier, n.pbx, inv)
	b.send(ms(5), n.pbx, n.carrier, a.Respond(inv, 100, "Trying", ""))
	div := header{"Diversion", "<sip:" + c.Dialled + "@" + n.domain + ">;reason=time-of-day;counter=1;privacy=off"}
	b.send(ms(30), n.pbx, n.carrier, a.Respond(inv, 181, "Call Is Being Forwarded", "", div))

	oncall := party{
		addr: n.carrier, uri: "sip:" + c.ForwardTo + "@" + n.carrierIP,
		contact: "sip:" + c.ForwardTo + "@" + n.carrier.String(), agent: "CarrierSBC/7.2.1",
	}
	cl := newLeg(b.g, "c", b.g.uuid("c/call-id"), "sip:"+c.ForwardTo+"@"+n.carrier.String(), n.pbxUA, oncall, div, b.xcid(a.callID))
	cinv := cl.Invite(b.sdpFor(n.pbxC, n.pbxUA.agent, 4))
	b.send(ms(50), n.pbx, n.carrier, cinv)
	b.send(ms(110), n.carrier, n.pbx, cl.Respond(cinv, 100, "Trying", ""))
	b.send(ms(1210), n.carrier, n.pbx, cl.Respond(cinv, 180, "Ringing", ""))
	b.send(ms(1215), n.pbx, n.carrier, a.Respond(inv, 180, "Ringing", ""))
	cAns := ms(6300)
	b.send(cAns, n.carrier, n.pbx, cl.Respond(cinv, 200, "OK", b.sdpFor(n.carrierC, oncall.agent, 5)))
	b.send(cAns+ms(3), n.pbx, n.carrier, cl.Ack2xx())
	aAns := cAns + ms(12)
	b.send(aAns, n.pbx, n.carrier, a.Respond(inv, 200, "OK", b.sdpFor(n.pbxA, n.pbxOnA.agent, 1)))
	b.send(aAns+ms(65), n.carrier, n.pbx, a.Ack2xx())

	end, err := b.converse(ctx, cAns+ms(500), c.Lines)
	if err != nil {
		return err
	}
	hang := end + hangupGap
	b.media("a", n.carrierA, n.pbxA, aAns+ms(20), hang, true, ms(3))
	b.media("c", n.carrierC, n.pbxC, cAns+ms(10), hang, false, ms(3))

	bye := a.ByeFromUAC()
	b.send(hang, n.carrier, n.pbx, bye)
	b.send(hang+ms(3), n.pbx, n.carrier, a.RespondBye(bye, false))
	bye2 := cl.ByeFromUAC(header{"Reason", `Q.850;cause=16;text="Normal call clearing"`})
	b.send(hang+ms(5), n.pbx, n.carrier, bye2)
	b.send(hang+ms(75), n.carrier, n.pbx, cl.RespondBye(bye2, false))
	b.packetize()
	return nil
}
