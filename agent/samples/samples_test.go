package samples

import (
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/pion/rtp"

	"github.com/reboundhq/rebound/sip/siptest"
)

// flow is one direction of UDP between two endpoints.
type flow struct{ src, dst netip.AddrPort }

// decoded is what a sample pcap contains, parsed with real parsers.
type decoded struct {
	sip        []sip.Message
	rtp        map[flow]int // packets per RTP flow
	rtpEvents  map[flow]int // RFC 4733 telephone-event packets per flow
	sdpMedia   map[netip.AddrPort]bool
	packets    int
	first, end time.Time
}

func decode(t *testing.T, c Call) decoded {
	t.Helper()
	pkts, err := Packets(c.Name)
	if err != nil {
		t.Fatal(err)
	}
	site := SampleSite()
	d := decoded{rtp: map[flow]int{}, rtpEvents: map[flow]int{}, sdpMedia: map[netip.AddrPort]bool{}, packets: len(pkts)}
	var prev time.Time
	for i, p := range pkts {
		if i == 0 {
			d.first = p.Info.Timestamp
		}
		if p.Info.Timestamp.Before(prev) {
			t.Fatalf("packet %d goes back in time", i)
		}
		prev = p.Info.Timestamp
		d.end = p.Info.Timestamp
		gp := gopacket.NewPacket(p.Data, layers.LayerTypeEthernet, gopacket.Default)
		if el := gp.ErrorLayer(); el != nil {
			t.Fatalf("packet %d: %v", i, el.Error())
		}
		ip, _ := gp.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		udp, _ := gp.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if ip == nil || udp == nil {
			t.Fatalf("packet %d is not IPv4/UDP", i)
		}
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte(ip.SrcIP.To4())), uint16(udp.SrcPort))
		dst := netip.AddrPortFrom(netip.AddrFrom4([4]byte(ip.DstIP.To4())), uint16(udp.DstPort))
		if src.Port() == site.SIPPort || dst.Port() == site.SIPPort {
			m, err := sip.ParseMessage(udp.Payload)
			if err != nil {
				t.Fatalf("packet %d: sipgo cannot parse: %v\n%s", i, err, udp.Payload)
			}
			d.sip = append(d.sip, m)
			for _, a := range sdpMedia(m.Body()) {
				d.sdpMedia[a] = true
			}
			continue
		}
		var r rtp.Packet
		if err := r.Unmarshal(udp.Payload); err != nil || r.Version != 2 {
			t.Fatalf("packet %d (%s -> %s) is neither SIP nor RTP: %v", i, src, dst, err)
		}
		switch r.PayloadType {
		case 0:
			if len(r.Payload) != 160 {
				t.Fatalf("packet %d: %d bytes of PCMU, want 160 (20 ms)", i, len(r.Payload))
			}
			d.rtp[flow{src, dst}]++
		case 101:
			d.rtpEvents[flow{src, dst}]++
		default:
			t.Fatalf("packet %d: payload type %d not offered in SDP", i, r.PayloadType)
		}
	}
	return d
}

var sdpConn = regexp.MustCompile(`(?m)^c=IN IP4 (\S+)\r$`)
var sdpAudio = regexp.MustCompile(`(?m)^m=audio (\d+) `)

func sdpMedia(body []byte) []netip.AddrPort {
	c := sdpConn.FindSubmatch(body)
	m := sdpAudio.FindSubmatch(body)
	if c == nil || m == nil {
		return nil
	}
	port, _ := strconv.Atoi(string(m[1]))
	return []netip.AddrPort{netip.AddrPortFrom(netip.MustParseAddr(string(c[1])), uint16(port))}
}

func (d decoded) requests(method string) []*sip.Request {
	var out []*sip.Request
	for _, m := range d.sip {
		if r, ok := m.(*sip.Request); ok && string(r.Method) == method {
			out = append(out, r)
		}
	}
	return out
}

// final returns the final response codes to INVITEs per Call-ID.
func (d decoded) final() map[string]int {
	out := map[string]int{}
	for _, m := range d.sip {
		r, ok := m.(*sip.Response)
		if !ok || r.StatusCode < 200 || r.CSeq().MethodName != sip.INVITE {
			continue
		}
		out[r.CallID().Value()] = r.StatusCode
	}
	return out
}

func (d decoded) hasStatus(code int) bool {
	for _, m := range d.sip {
		if r, ok := m.(*sip.Response); ok && r.StatusCode == code {
			return true
		}
	}
	return false
}

func TestSampleCallsAreRealSIPAndRTP(t *testing.T) {
	calls := Calls()
	if len(calls) < 9 {
		t.Fatalf("%d sample calls, the demo needs at least the nine flows of issue 9", len(calls))
	}
	site := SampleSite()
	for _, c := range calls {
		t.Run(c.Name, func(t *testing.T) {
			d := decode(t, c)
			if !d.first.Equal(c.Start) {
				t.Errorf("first packet at %v, script says %v", d.first, c.Start)
			}
			// RTP both ways on every leg with media, and every RTP endpoint
			// was announced in SDP (that is how the agent finds media).
			if len(d.rtp) < 2 {
				t.Fatalf("only %d RTP flows", len(d.rtp))
			}
			for f, n := range d.rtp {
				if d.rtp[flow{f.dst, f.src}] == 0 {
					t.Errorf("RTP %s -> %s (%d packets) has no reverse direction", f.src, f.dst, n)
				}
				if !d.sdpMedia[f.src] || !d.sdpMedia[f.dst] {
					t.Errorf("RTP %s -> %s was not negotiated in any SDP", f.src, f.dst)
				}
				if n < 50 {
					t.Errorf("RTP %s -> %s has only %d packets", f.src, f.dst, n)
				}
			}
			invites := d.requests("INVITE")
			if len(invites) == 0 {
				t.Fatal("no INVITE")
			}
			a := invites[0]
			if a.Source() != netip.AddrPortFrom(site.CarrierSignalling, site.SIPPort).String() {
				t.Errorf("first INVITE from %s, want the trunk", a.Source())
			}
			if got := a.From().Address.User; got != c.CallerNumber {
				t.Errorf("caller %q, want %q", got, c.CallerNumber)
			}
			if got := a.Recipient.User; got != c.Dialled {
				t.Errorf("dialled %q, want %q", got, c.Dialled)
			}
			aID := a.CallID().Value()
			for _, inv := range invites[1:] {
				h := inv.GetHeader(site.CorrelationHeader)
				if h == nil || h.Value() != aID {
					t.Errorf("B-leg INVITE %s lacks %s: %s", inv.Recipient.String(), site.CorrelationHeader, aID)
				}
			}
			final := d.final()
			switch c.Flow {
			case FlowAbandonedRinging:
				if final[aID] != 487 || len(d.requests("CANCEL")) < 1 || len(d.requests("BYE")) != 0 {
					t.Errorf("want CANCEL and 487 on the A-leg, no BYE; finals %v", final)
				}
				if !d.hasStatus(183) {
					t.Error("want early media (183)")
				}
				for id, code := range final {
					if code == 200 {
						t.Errorf("leg %s was answered", id)
					}
				}
			case FlowAbandonedQueue:
				if final[aID] != 200 {
					t.Errorf("queue did not answer the A-leg: %v", final)
				}
				byes := d.requests("BYE")
				if len(byes) != 1 || byes[0].CallID().Value() != aID {
					t.Fatalf("want one BYE from the caller on the A-leg, got %d", len(byes))
				}
				for _, inv := range invites[1:] {
					if final[inv.CallID().Value()] == 200 {
						t.Errorf("agent leg %s answered", inv.Recipient.String())
					}
				}
				if len(invites) != 1+1+len(c.AlsoRang) {
					t.Errorf("%d INVITEs, want the A-leg and one per ringing agent", len(invites))
				}
				if len(d.rtpEvents) == 0 {
					t.Error("no RFC 4733 key press")
				}
			case FlowVoicemail:
				vm := invites[len(invites)-1]
				if vm.Recipient.User != c.Mailbox || vm.Recipient.UriParams == nil {
					t.Fatalf("voicemail leg to %s", vm.Recipient.String())
				}
				if tgt, _ := vm.Recipient.UriParams.Get("target"); !strings.Contains(tgt, c.Extension) {
					t.Errorf("RFC 4458 target %q does not name extension %s", tgt, c.Extension)
				}
				if cause, _ := vm.Recipient.UriParams.Get("cause"); cause != "408" {
					t.Errorf("RFC 4458 cause %q, want 408 (no reply)", cause)
				}
				n := d.requests("NOTIFY")
				if len(n) != 1 || n[0].GetHeader("Event").Value() != "message-summary" || !bytes.Contains(n[0].Body(), []byte("Messages-Waiting: yes")) {
					t.Error("want one NOTIFY message-summary with a waiting message")
				}
			case FlowForwarded:
				if !d.hasStatus(181) {
					t.Error("want 181 Call Is Being Forwarded")
				}
				out := invites[len(invites)-1]
				if out.Recipient.User != c.ForwardTo || out.GetHeader("Diversion") == nil {
					t.Errorf("forward leg to %s without Diversion", out.Recipient.String())
				}
				if final[out.CallID().Value()] != 200 {
					t.Error("the on-call number did not answer")
				}
			case FlowAnswered:
				b := invites[len(invites)-1]
				if b.Recipient.User != c.Extension || final[b.CallID().Value()] != 200 || final[aID] != 200 {
					t.Errorf("agent %s leg not answered: %v", c.Extension, final)
				}
				if len(d.requests("BYE")) != 2 {
					t.Errorf("want a BYE on each leg")
				}
				if c.ACW == nil {
					t.Error("answered call without an ACW classification")
				}
			}
		})
	}
}

// TestTsharkAgrees has Wireshark's dissectors read every sample: the same
// number of SIP messages, RTP streams with no loss and no problems flagged.
func TestTsharkAgrees(t *testing.T) {
	tshark := siptest.Peer(t, "tshark")
	streamLine := regexp.MustCompile(`(?m)^\s+[\d.]+\s+[\d.]+\s+(\S+)\s+(\d+)\s+(\S+)\s+(\d+)\s+0x[0-9A-F]+\s+.*?\s(\d+)\s+(\d+) \(`)
	for _, c := range Calls() {
		t.Run(c.Name, func(t *testing.T) {
			d := decode(t, c)
			b, err := Pcap(c.Name)
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(tshark, "-r", "-", "-q", "-z", "sip,stat", "-z", "rtp,streams")
			cmd.Stdin = bytes.NewReader(b)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("tshark: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), fmt.Sprintf("Number of SIP messages: %d\n", len(d.sip))) {
				t.Errorf("tshark counts other SIP messages than sipgo (%d):\n%s", len(d.sip), out)
			}
			streams := streamLine.FindAllStringSubmatch(string(out), -1)
			if len(streams) != len(d.rtp) {
				t.Fatalf("tshark sees %d RTP streams, we see %d:\n%s", len(streams), len(d.rtp), out)
			}
			for _, s := range streams {
				if s[6] != "0" {
					t.Errorf("tshark reports %s lost packets on %s:%s -> %s:%s", s[6], s[1], s[2], s[3], s[4])
				}
				if strings.Contains(s[0], "X") {
					t.Errorf("tshark flags a problem: %s", s[0])
				}
			}
		})
	}
}

func TestReplayRebasesAndConcatenates(t *testing.T) {
	var buf bytes.Buffer
	start := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	gap := 2 * time.Second
	names := []string{"price-shopper", "abandoned-ringing"}
	last, err := Replay(&buf, start, gap, names...)
	if err != nil {
		t.Fatal(err)
	}
	r, err := pcapgo.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	var stamps []time.Time
	for {
		_, ci, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		stamps = append(stamps, ci.Timestamp)
	}
	var want int
	var durs []time.Duration
	for _, n := range names {
		p, _ := Packets(n)
		want += len(p)
		d, err := Duration(n)
		if err != nil {
			t.Fatal(err)
		}
		durs = append(durs, d)
	}
	if len(stamps) != want {
		t.Fatalf("%d packets, want %d", len(stamps), want)
	}
	if !stamps[0].Equal(start) {
		t.Errorf("first packet at %v, want %v", stamps[0], start)
	}
	wantLast := start.Add(durs[0] + gap + durs[1])
	if !last.Equal(wantLast) || !stamps[len(stamps)-1].Equal(wantLast) {
		t.Errorf("last packet at %v (returned %v), want %v", stamps[len(stamps)-1], last, wantLast)
	}
	for i := 1; i < len(stamps); i++ {
		if stamps[i].Before(stamps[i-1]) {
			t.Fatalf("packet %d goes back in time", i)
		}
	}
}

func TestSeedCoversTheCalls(t *testing.T) {
	s := DemoSeed()
	reasons := map[string]bool{}
	for _, r := range s.Reasons {
		reasons[r.Name] = r.IsLead
	}
	for _, c := range Calls() {
		if s.Campaign(c.Dialled) == "" {
			t.Errorf("%s: dialled %s is not a tracking number", c.Name, c.Dialled)
		}
		if c.Flow == FlowAnswered {
			if _, ok := s.UserByExtension(c.Extension); !ok {
				t.Errorf("%s: no CSR at extension %s", c.Name, c.Extension)
			}
		}
		if c.ACW == nil {
			continue
		}
		switch c.ACW.Type {
		case "Booked", "Unbooked", "Excused", "Not a lead":
		default:
			t.Errorf("%s: call type %q", c.Name, c.ACW.Type)
		}
		if c.ACW.Reason != "" {
			isLead, ok := reasons[c.ACW.Reason]
			if !ok {
				t.Errorf("%s: reason %q not in the tenant's list", c.Name, c.ACW.Reason)
			}
			if c.WantLead && !isLead {
				t.Errorf("%s: expected lead with a not-a-lead reason", c.Name)
			}
		}
	}
	if _, err := Pcap("no-such-call"); err == nil {
		t.Error("Pcap of an unknown call succeeded")
	}
}

func TestWriteStream(t *testing.T) {
	for _, tc := range []struct {
		name string
		side Side
	}{{"price-shopper", CallerSide}, {"price-shopper", AgentSide}, {"abandoned-queue", CallerSide},
		{"abandoned-queue", PBXSide}, {"voicemail", VoicemailSide}, {"voicemail", CallerSide}} {
		var buf bytes.Buffer
		n, err := WriteStream(&buf, tc.name, tc.side)
		if err != nil {
			t.Fatal(err)
		}
		r, err := pcapgo.NewReader(&buf)
		if err != nil {
			t.Fatal(err)
		}
		srcs := map[string]bool{}
		count := 0
		for {
			data, _, err := r.ReadPacketData()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			gp := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
			ip := gp.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
			udp := gp.Layer(layers.LayerTypeUDP).(*layers.UDP)
			var p rtp.Packet
			if err := p.Unmarshal(udp.Payload); err != nil {
				t.Fatal(err)
			}
			srcs[fmt.Sprintf("%s:%d", ip.SrcIP, udp.SrcPort)] = true
			count++
		}
		if count != n || len(srcs) != 1 {
			t.Errorf("%s side %d: %d packets (reported %d) from %v, want one source", tc.name, tc.side, count, n, srcs)
		}
		d := decode(t, mustCall(t, tc.name))
		for f, want := range d.rtp {
			if srcs[f.src.String()] && want+d.rtpEvents[f] != n {
				t.Errorf("%s: wrote %d packets, the stream has %d", tc.name, n, want+d.rtpEvents[f])
			}
		}
	}
	if _, err := WriteStream(io.Discard, "abandoned-ringing", AgentSide); err == nil {
		t.Error("a call the agent never answered has no agent audio, want an error")
	}
}

func mustCall(t *testing.T, name string) Call {
	t.Helper()
	c, ok := CallNamed(name)
	if !ok {
		t.Fatalf("no call %q", name)
	}
	return c
}

func TestMixOverlapsCalls(t *testing.T) {
	var buf bytes.Buffer
	start := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	every := 3 * time.Second
	names := []string{"renter", "voicemail", "abandoned-ringing"}
	last, err := Mix(&buf, start, every, names...)
	if err != nil {
		t.Fatal(err)
	}
	r, err := pcapgo.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	n, want := 0, 0
	var prev time.Time
	for {
		_, ci, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ci.Timestamp.Before(prev) {
			t.Fatalf("packet %d goes back in time", n)
		}
		prev = ci.Timestamp
		n++
	}
	var wantLast time.Time
	for i, name := range names {
		p, _ := Packets(name)
		want += len(p)
		d, _ := Duration(name)
		if end := start.Add(time.Duration(i)*every + d); end.After(wantLast) {
			wantLast = end
		}
	}
	if n != want {
		t.Errorf("%d packets, want %d", n, want)
	}
	if !last.Equal(wantLast) || !prev.Equal(wantLast) {
		t.Errorf("last packet %v (returned %v), want %v", prev, last, wantLast)
	}
}
