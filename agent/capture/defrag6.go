package capture

import (
	"net/netip"
	"slices"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// Bounds of the IPv6 reassembly state: at most this many datagrams in
// progress, each at most 64 KiB (no jumbograms).
const (
	maxIPv6Pending  = 256
	maxIPv6Datagram = 65535
)

// ipv6Defragmenter reassembles IPv6 fragments (RFC 8200 section 4.5).
// Overlapping fragments drop the whole datagram (RFC 5722), as receivers do.
// Memory is bounded by maxIPv6Pending x maxIPv6Datagram; incomplete sets are
// dropped after the timeout (capture time).
type ipv6Defragmenter struct {
	timeout time.Duration
	pending map[frag6Key]*frag6Set
}

type frag6Key struct {
	src, dst netip.Addr
	id       uint32
}

type frag6Piece struct {
	start, end int
	data       []byte
}

type frag6Set struct {
	first  time.Time
	proto  layers.IPProtocol
	haveP  bool // proto known (the offset-0 fragment arrived)
	total  int  // payload length once the last fragment arrived, else -1
	held   int
	pieces []frag6Piece // sorted by start, never overlapping
}

func newIPv6Defragmenter(timeout time.Duration) *ipv6Defragmenter {
	return &ipv6Defragmenter{timeout: timeout, pending: make(map[frag6Key]*frag6Set)}
}

const (
	errFrag6Overlap  decodeError = "ipv6 fragment overlaps another"
	errFrag6TooLarge decodeError = "ipv6 fragments exceed 65535 bytes"
	errFrag6Length   decodeError = "ipv6 non-final fragment not a multiple of 8 bytes"
	errFrag6Full     decodeError = "too many ipv6 datagrams in reassembly"
	errFrag6Final    decodeError = "ipv6 final fragments disagree on the length"
)

// add stores one fragment. When it completes a datagram it returns the
// reassembled upper-layer payload and its protocol.
func (f *ipv6Defragmenter) add(src, dst netip.Addr, id uint32, next layers.IPProtocol, off int, more bool, data []byte, at time.Time) ([]byte, layers.IPProtocol, error) {
	end := off + len(data)
	if end > maxIPv6Datagram {
		return nil, 0, errFrag6TooLarge
	}
	if more && len(data)%8 != 0 {
		return nil, 0, errFrag6Length
	}
	if !more && off == 0 {
		// An atomic fragment (RFC 6946): nothing to wait for.
		return data, next, nil
	}
	key := frag6Key{src: src, dst: dst, id: id}
	s := f.pending[key]
	if s == nil {
		if len(f.pending) >= maxIPv6Pending {
			f.dropOldest()
			if len(f.pending) >= maxIPv6Pending {
				return nil, 0, errFrag6Full
			}
		}
		s = &frag6Set{first: at, total: -1}
		f.pending[key] = s
	}
	if !more {
		if s.total >= 0 && s.total != end {
			delete(f.pending, key)
			return nil, 0, errFrag6Final
		}
		s.total = end
	}
	if s.total >= 0 && end > s.total {
		delete(f.pending, key)
		return nil, 0, errFrag6Final
	}
	i, _ := slices.BinarySearchFunc(s.pieces, off, func(p frag6Piece, o int) int { return p.start - o })
	if (i > 0 && s.pieces[i-1].end > off) || (i < len(s.pieces) && s.pieces[i].start < end) {
		// An exact repeat (retransmission, duplicate capture) is harmless.
		if i < len(s.pieces) && s.pieces[i].start == off && s.pieces[i].end == end {
			return nil, 0, nil
		}
		delete(f.pending, key)
		return nil, 0, errFrag6Overlap
	}
	if off == 0 {
		s.proto, s.haveP = next, true
	}
	s.pieces = slices.Insert(s.pieces, i, frag6Piece{start: off, end: end, data: append([]byte(nil), data...)})
	s.held += len(data)
	if s.total < 0 || !s.haveP || s.held != s.total {
		return nil, 0, nil
	}
	delete(f.pending, key)
	whole := make([]byte, 0, s.total)
	for _, p := range s.pieces {
		whole = append(whole, p.data...)
	}
	return whole, s.proto, nil
}

// expire drops sets whose first fragment is older than the timeout and
// returns how many it dropped.
func (f *ipv6Defragmenter) expire(now time.Time) int {
	n := 0
	for k, s := range f.pending {
		if now.Sub(s.first) > f.timeout || now.Before(s.first.Add(-f.timeout)) {
			delete(f.pending, k)
			n++
		}
	}
	return n
}

func (f *ipv6Defragmenter) dropOldest() {
	var oldest frag6Key
	var at time.Time
	for k, s := range f.pending {
		if at.IsZero() || s.first.Before(at) {
			oldest, at = k, s.first
		}
	}
	delete(f.pending, oldest)
}
