package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"
)

// header is one SIP header line, kept in order.
type header struct{ name, value string }

// msg is one SIP message being built.
type msg struct {
	first   string
	headers []header
	ctype   string
	body    string
}

func (m *msg) add(name, value string) *msg {
	m.headers = append(m.headers, header{name, value})
	return m
}

func (m *msg) get(name string) string {
	for _, h := range m.headers {
		if strings.EqualFold(h.name, name) {
			return h.value
		}
	}
	return ""
}

func (m *msg) bytes() []byte {
	var b strings.Builder
	b.WriteString(m.first + "\r\n")
	for _, h := range m.headers {
		b.WriteString(h.name + ": " + h.value + "\r\n")
	}
	if m.ctype != "" {
		b.WriteString("Content-Type: " + m.ctype + "\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", len(m.body))
	b.WriteString(m.body)
	return []byte(b.String())
}

// ids makes deterministic Call-IDs, tags and branches from a seed string.
type ids struct{ seed string }

func (g ids) hex(label string, n int) string {
	h := sha256.Sum256([]byte(g.seed + "|" + label))
	return hex.EncodeToString(h[:])[:n]
}

func (g ids) uuid(label string) string {
	h := g.hex(label, 32)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// party is one end of a leg.
type party struct {
	addr    netip.AddrPort
	uri     string // address-of-record in From/To, e.g. sip:+15125550111@198.51.100.20
	name    string // display name, may be empty
	contact string // Contact URI
	agent   string // User-Agent / Server
}

func (p party) nameAddr() string {
	if p.name == "" {
		return "<" + p.uri + ">"
	}
	return fmt.Sprintf("%q <%s>", p.name, p.uri)
}

// leg is one INVITE dialog between a UAC and a UAS.
type leg struct {
	g        ids
	label    string
	callID   string
	ruri     string
	uac, uas party
	fromTag  string
	toTag    string
	cseq     int // UAC's next CSeq
	uasCSeq  int // UAS's next CSeq for requests it sends
	branches int
	invite   *msg
	// extra headers on the initial INVITE (X-CID, Diversion, ...)
	extra []header
}

func newLeg(g ids, label, callID, ruri string, uac, uas party, extra ...header) *leg {
	return &leg{
		g: g, label: label, callID: callID, ruri: ruri, uac: uac, uas: uas,
		fromTag: g.hex(label+"/from", 10), toTag: g.hex(label+"/to", 8),
		cseq: 101, uasCSeq: 201, extra: extra,
	}
}

func (l *leg) branch() string {
	l.branches++
	return "z9hG4bK" + l.g.hex(fmt.Sprintf("%s/branch/%d", l.label, l.branches), 16)
}

func via(p party, branch string) string {
	return fmt.Sprintf("SIP/2.0/UDP %s;rport;branch=%s", p.addr, branch)
}

const allow = "INVITE, ACK, CANCEL, BYE, OPTIONS, NOTIFY, REFER, INFO, UPDATE"

// Invite returns the dialog-creating INVITE with an SDP offer.
func (l *leg) Invite(sdp string) *msg {
	m := &msg{first: "INVITE " + l.ruri + " SIP/2.0"}
	m.add("Via", via(l.uac, l.branch()))
	m.add("Max-Forwards", "70")
	m.add("From", l.uac.nameAddr()+";tag="+l.fromTag)
	m.add("To", l.uas.nameAddr())
	m.add("Call-ID", l.callID)
	m.add("CSeq", fmt.Sprintf("%d INVITE", l.cseq))
	m.add("Contact", "<"+l.uac.contact+">")
	m.add("Allow", allow)
	m.add("Supported", "replaces, timer")
	m.add("User-Agent", l.uac.agent)
	for _, h := range l.extra {
		m.add(h.name, h.value)
	}
	if sdp != "" {
		m.ctype, m.body = "application/sdp", sdp
	}
	l.invite = m
	return m
}

// Respond answers request req from the UAS side. A To-tag is added for
// every response above 100.
func (l *leg) Respond(req *msg, code int, reason, sdp string, extra ...header) *msg {
	m := &msg{first: fmt.Sprintf("SIP/2.0 %d %s", code, reason)}
	for _, h := range req.headers {
		switch h.name {
		case "Via", "From", "Call-ID", "CSeq":
			m.add(h.name, h.value)
		case "To":
			v := h.value
			if code > 100 && !strings.Contains(v, ";tag=") {
				v += ";tag=" + l.toTag
			}
			m.add("To", v)
		}
	}
	if code > 100 && code < 300 && strings.HasSuffix(req.get("CSeq"), "INVITE") {
		m.add("Contact", "<"+l.uas.contact+">")
		m.add("Allow", allow)
	}
	m.add("Server", l.uas.agent)
	for _, h := range extra {
		m.add(h.name, h.value)
	}
	if sdp != "" {
		m.ctype, m.body = "application/sdp", sdp
	}
	return m
}

// RespondUAC answers a request the UAS sent (a BYE from the callee).
func (l *leg) RespondUAC(req *msg, code int, reason string) *msg {
	m := &msg{first: fmt.Sprintf("SIP/2.0 %d %s", code, reason)}
	for _, h := range req.headers {
		switch h.name {
		case "Via", "From", "To", "Call-ID", "CSeq":
			m.add(h.name, h.value)
		}
	}
	m.add("User-Agent", l.uac.agent)
	return m
}

// Ack2xx acknowledges a 2xx: a new transaction to the remote target.
func (l *leg) Ack2xx() *msg {
	m := &msg{first: "ACK " + l.uas.contact + " SIP/2.0"}
	m.add("Via", via(l.uac, l.branch()))
	m.add("Max-Forwards", "70")
	m.add("From", l.uac.nameAddr()+";tag="+l.fromTag)
	m.add("To", l.uas.nameAddr()+";tag="+l.toTag)
	m.add("Call-ID", l.callID)
	m.add("CSeq", fmt.Sprintf("%d ACK", l.cseq))
	m.add("User-Agent", l.uac.agent)
	return m
}

// AckFailure acknowledges a non-2xx final response: same branch as the INVITE.
func (l *leg) AckFailure() *msg {
	m := &msg{first: "ACK " + l.ruri + " SIP/2.0"}
	m.add("Via", l.invite.get("Via"))
	m.add("Max-Forwards", "70")
	m.add("From", l.uac.nameAddr()+";tag="+l.fromTag)
	m.add("To", l.uas.nameAddr()+";tag="+l.toTag)
	m.add("Call-ID", l.callID)
	m.add("CSeq", fmt.Sprintf("%d ACK", l.cseq))
	m.add("User-Agent", l.uac.agent)
	return m
}

// Cancel cancels the pending INVITE: same branch and Request-URI.
func (l *leg) Cancel(extra ...header) *msg {
	m := &msg{first: "CANCEL " + l.ruri + " SIP/2.0"}
	m.add("Via", l.invite.get("Via"))
	m.add("Max-Forwards", "70")
	m.add("From", l.uac.nameAddr()+";tag="+l.fromTag)
	m.add("To", l.uas.nameAddr())
	m.add("Call-ID", l.callID)
	m.add("CSeq", fmt.Sprintf("%d CANCEL", l.cseq))
	for _, h := range extra {
		m.add(h.name, h.value)
	}
	m.add("User-Agent", l.uac.agent)
	return m
}

// ByeFromUAC hangs up from the side that sent the INVITE.
func (l *leg) ByeFromUAC(extra ...header) *msg {
	l.cseq++
	m := &msg{first: "BYE " + l.uas.contact + " SIP/2.0"}
	m.add("Via", via(l.uac, l.branch()))
	m.add("Max-Forwards", "70")
	m.add("From", l.uac.nameAddr()+";tag="+l.fromTag)
	m.add("To", l.uas.nameAddr()+";tag="+l.toTag)
	m.add("Call-ID", l.callID)
	m.add("CSeq", fmt.Sprintf("%d BYE", l.cseq))
	for _, h := range extra {
		m.add(h.name, h.value)
	}
	m.add("User-Agent", l.uac.agent)
	return m
}

// ByeFromUAS hangs up from the side that answered.
func (l *leg) ByeFromUAS(extra ...header) *msg {
	cseq := l.uasCSeq
	l.uasCSeq++
	m := &msg{first: "BYE " + l.uac.contact + " SIP/2.0"}
	m.add("Via", via(l.uas, l.branch()))
	m.add("Max-Forwards", "70")
	m.add("From", l.uas.nameAddr()+";tag="+l.toTag)
	m.add("To", l.uac.nameAddr()+";tag="+l.fromTag)
	m.add("Call-ID", l.callID)
	m.add("CSeq", fmt.Sprintf("%d BYE", cseq))
	for _, h := range extra {
		m.add(h.name, h.value)
	}
	m.add("User-Agent", l.uas.agent)
	return m
}

// RespondBye answers a BYE sent by the UAS (so the UAC responds) or by the
// UAC (so the UAS responds).
func (l *leg) RespondBye(bye *msg, fromUAS bool) *msg {
	m := &msg{first: "SIP/2.0 200 OK"}
	for _, h := range bye.headers {
		switch h.name {
		case "Via", "From", "To", "Call-ID", "CSeq":
			m.add(h.name, h.value)
		}
	}
	if fromUAS {
		m.add("User-Agent", l.uac.agent)
	} else {
		m.add("Server", l.uas.agent)
	}
	return m
}

// sdp returns a G.711 mu-law offer or answer with RFC 4733 events.
func sdp(sessID int, addr netip.AddrPort, agent string) string {
	ip := addr.Addr().String()
	return fmt.Sprintf("v=0\r\n"+
		"o=%s %d %d IN IP4 %s\r\n"+
		"s=%s\r\n"+
		"c=IN IP4 %s\r\n"+
		"t=0 0\r\n"+
		"m=audio %d RTP/AVP 0 101\r\n"+
		"a=rtpmap:0 PCMU/8000\r\n"+
		"a=rtpmap:101 telephone-event/8000\r\n"+
		"a=fmtp:101 0-16\r\n"+
		"a=ptime:20\r\n"+
		"a=sendrecv\r\n",
		strings.Fields(agent)[0], sessID, sessID, ip, "call", ip, addr.Port())
}
