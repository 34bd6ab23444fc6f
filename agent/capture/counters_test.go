package capture

import (
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket/layers"
	"github.com/prometheus/client_golang/prometheus"
)

func TestCountersPrometheus(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.pcap")
	writePcap(t, path, layers.LinkTypeEthernet, [][]byte{
		ether(t, layers.EthernetTypeIPv4, ipUDP(t, caller4, pbx4, sipInvite("prom", 0))),
		ether(t, layers.EthernetTypeIPv4, ipUDP(t, rtpA, rtpB, rtpPacket(1))),
		ether(t, layers.EthernetTypeIPv4, ipUDP(t, caller4, pbx4, []byte("junk on the SIP port"))),
	})
	p := &Pcap{Path: path}
	reg := prometheus.NewRegistry()
	if err := p.Counters().Register(reg, prometheus.Labels{"source": "pcap"}); err != nil {
		t.Fatal(err)
	}
	if err := p.Run(t.Context(), HandlerFuncs{}); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if len(mf.GetMetric()) != 1 {
			t.Fatalf("%s: %d series", mf.GetName(), len(mf.GetMetric()))
		}
		m := mf.GetMetric()[0]
		if l := m.GetLabel(); len(l) != 1 || l[0].GetName() != "source" || l[0].GetValue() != "pcap" {
			t.Errorf("%s labels %v", mf.GetName(), l)
		}
		got[mf.GetName()] = m.GetCounter().GetValue()
	}
	if len(got) != 11 {
		t.Errorf("%d metrics registered, want one per Stats field (11)", len(got))
	}
	for name, want := range map[string]float64{
		"rebound_capture_packets_total":      3,
		"rebound_capture_sip_messages_total": 1,
		"rebound_capture_datagrams_total":    1,
		"rebound_capture_malformed_total":    1,
		"rebound_capture_kernel_drops_total": 0,
	} {
		if v, ok := got[name]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", name, v, ok, want)
		}
	}
	// The same counters twice on one registry is a clear error.
	if err := p.Counters().Register(reg, prometheus.Labels{"source": "pcap"}); err == nil {
		t.Error("second registration with the same labels accepted")
	}
}
