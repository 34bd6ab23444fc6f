package capture

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
)

func TestIPv6Defragmenter(t *testing.T) {
	src, dst := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	at := mustTime(t)
	payload := bytes.Repeat([]byte("0123456789abcdef"), 8) // 128 bytes
	udp := layers.IPProtocolUDP

	t.Run("in-order-and-atomic", func(t *testing.T) {
		f := newIPv6Defragmenter(time.Minute)
		if w, _, err := f.add(src, dst, 1, udp, 0, true, payload[:64], at); w != nil || err != nil {
			t.Fatalf("first: %v %v", w, err)
		}
		w, p, err := f.add(src, dst, 1, udp, 64, false, payload[64:], at)
		if err != nil || p != udp || !bytes.Equal(w, payload) {
			t.Fatalf("got %d bytes proto %v err %v", len(w), p, err)
		}
		if len(f.pending) != 0 {
			t.Errorf("%d sets left pending", len(f.pending))
		}
		// RFC 6946 atomic fragment: offset 0, no more fragments.
		if w, _, err := f.add(src, dst, 2, udp, 0, false, payload, at); err != nil || !bytes.Equal(w, payload) {
			t.Errorf("atomic fragment: %v", err)
		}
	})
	t.Run("overlap-drops-the-datagram", func(t *testing.T) {
		f := newIPv6Defragmenter(time.Minute)
		f.add(src, dst, 3, udp, 0, true, payload[:64], at)
		if _, _, err := f.add(src, dst, 3, udp, 56, false, payload[56:], at); err == nil {
			t.Fatal("overlapping fragment accepted")
		}
		if len(f.pending) != 0 {
			t.Errorf("overlapping datagram still pending")
		}
	})
	t.Run("exact-duplicate-is-harmless", func(t *testing.T) {
		f := newIPv6Defragmenter(time.Minute)
		f.add(src, dst, 4, udp, 0, true, payload[:64], at)
		if _, _, err := f.add(src, dst, 4, udp, 0, true, payload[:64], at); err != nil {
			t.Fatalf("duplicate: %v", err)
		}
		if w, _, err := f.add(src, dst, 4, udp, 64, false, payload[64:], at); err != nil || !bytes.Equal(w, payload) {
			t.Fatalf("after duplicate: %v", err)
		}
	})
	t.Run("bad-lengths", func(t *testing.T) {
		f := newIPv6Defragmenter(time.Minute)
		if _, _, err := f.add(src, dst, 5, udp, 0, true, payload[:60], at); err == nil {
			t.Error("non-final fragment of 60 bytes accepted")
		}
		if _, _, err := f.add(src, dst, 5, udp, 65528, false, payload[:64], at); err == nil {
			t.Error("fragment beyond 65535 bytes accepted")
		}
		f.add(src, dst, 6, udp, 64, false, payload[64:], at)
		if _, _, err := f.add(src, dst, 6, udp, 128, false, payload[:8], at); err == nil {
			t.Error("second, different final fragment accepted")
		}
	})
	t.Run("bounded-and-expiring", func(t *testing.T) {
		f := newIPv6Defragmenter(time.Minute)
		for id := range uint32(maxIPv6Pending + 50) {
			f.add(src, dst, id, udp, 0, true, payload[:64], at.Add(time.Duration(id)*time.Millisecond))
			if len(f.pending) > maxIPv6Pending {
				t.Fatalf("%d pending sets, bound %d", len(f.pending), maxIPv6Pending)
			}
		}
		// The oldest were dropped, the newest kept.
		if _, ok := f.pending[frag6Key{src, dst, maxIPv6Pending + 49}]; !ok {
			t.Error("newest set dropped")
		}
		if _, ok := f.pending[frag6Key{src, dst, 0}]; ok {
			t.Error("oldest set kept beyond the bound")
		}
		if n := f.expire(at.Add(2 * time.Minute)); n != maxIPv6Pending || len(f.pending) != 0 {
			t.Errorf("expired %d, %d left", n, len(f.pending))
		}
	})
}

// TestIPv4OverlappingFragments checks that contradictory IPv4 fragments
// (a classic evasion trick) are counted and yield no message.
func TestIPv4OverlappingFragments(t *testing.T) {
	invite := sipInvite("overlap", 3000)
	frags := fragmentUDP(t, caller4, pbx4, invite, 1480, 99)
	bad := append([]byte(nil), frags[1]...)
	// Move the second fragment 8 bytes back: it now overlaps the first.
	bad[7] = byte((1480/8 - 1) & 0xff)
	bad[6] = (bad[6] & 0xe0) | byte(((1480/8-1)>>8)&0x1f)
	var counters Counters
	c := &collector{}
	d := newDecoder(Config{}, &counters, c)
	at := mustTime(t)
	d.packet(layers.LinkTypeRaw, frags[0], at, 0)
	d.packet(layers.LinkTypeRaw, bad, at, 0)
	for _, f := range frags[2:] {
		d.packet(layers.LinkTypeRaw, f, at, 0)
	}
	if len(c.msgs) != 0 {
		t.Fatalf("delivered %d messages from overlapping fragments", len(c.msgs))
	}
	if st := counters.Snapshot(); st.Malformed == 0 {
		t.Errorf("overlap not counted: %+v", st)
	}
}
