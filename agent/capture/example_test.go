package capture_test

import (
	"context"
	"fmt"
	"log"

	"github.com/reboundhq/rebound/agent/capture"
)

// Replaying a capture file at twice its recorded pace, for a demo, and
// printing each SIP message's first line.
func ExamplePcap() {
	src := &capture.Pcap{
		Path:   "calls.pcap",
		Config: capture.Config{SIPPorts: []uint16{5060, 5080}},
		Speed:  2,
	}
	h := capture.HandlerFuncs{
		OnSIP: func(m capture.Message) {
			fmt.Printf("%s %v -> %v %d bytes\n", m.Transport, m.Src, m.Dst, len(m.Raw))
		},
		OnDatagram: func(d capture.Datagram) {
			// d.Payload is only valid here: copy what must be kept.
		},
	}
	if err := src.Run(context.Background(), h); err != nil {
		log.Print(err) // capture: open calls.pcap: ...
	}
	st := src.Counters().Snapshot()
	fmt.Println(st.SIPMessages, st.Datagrams, st.Malformed)
}
