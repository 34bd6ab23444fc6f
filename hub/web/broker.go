package web

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Event is one live update pushed to browsers. Events are ordered by the raft
// log: Index is the log index of the entry that produced it and Pos the
// position of the command inside that entry's batch, so every hub node gives
// the same event the same ID and a browser that reconnects to another node can
// still resume with Last-Event-ID.
type Event struct {
	Index  uint64
	Pos    int
	Tenant string
	// Perm is the permission a viewer needs to receive the event; empty means
	// every signed-in user of the tenant.
	Perm string
	// Type is the SSE event name the UI listens for ("lead", "abandoned", ...).
	Type string
	// Data is the JSON payload; it must not contain secrets, since it goes to
	// every permitted user of the tenant.
	Data []byte

	frame []byte // the encoded SSE frame, shared by all subscribers
}

// ID is the SSE id of the event: "<index>-<pos>".
func (e *Event) ID() string { return strconv.FormatUint(e.Index, 10) + "-" + strconv.Itoa(e.Pos) }

// after reports whether e comes after the position (index, pos).
func (e *Event) after(index uint64, pos int) bool {
	return e.Index > index || (e.Index == index && e.Pos > pos)
}

func (e *Event) encode() {
	var b strings.Builder
	b.WriteString("id: ")
	b.WriteString(e.ID())
	b.WriteString("\nevent: ")
	b.WriteString(e.Type)
	// JSON never contains a raw newline, but guard anyway: a newline in data
	// would start a new SSE field.
	for line := range strings.SplitSeq(string(e.Data), "\n") {
		b.WriteString("\ndata: ")
		b.WriteString(line)
	}
	b.WriteString("\n\n")
	e.frame = []byte(b.String())
}

// ParseEventID parses an SSE id made by Event.ID.
func ParseEventID(s string) (index uint64, pos int, err error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		return 0, 0, fmt.Errorf("event id %q: want <index>-<pos>", s)
	}
	index, err = strconv.ParseUint(a, 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("event id %q: index: %w", s, err)
	}
	p, err := strconv.ParseUint(b, 10, 31)
	if err != nil {
		return 0, 0, fmt.Errorf("event id %q: pos: %w", s, err)
	}
	return index, int(p), nil
}

// Viewer is who a live stream is for: the signed-in user and, for each
// tenant they belong to, the permissions they hold there.
type Viewer struct {
	User    string
	Tenants map[string]map[string]bool
}

func (v Viewer) allowed(e *Event) bool {
	if e.Tenant == "" {
		return e.Type == "reset" // a whole-state reset concerns everybody
	}
	perms, ok := v.Tenants[e.Tenant]
	if !ok {
		return false
	}
	return e.Perm == "" || perms[e.Perm] || (e.Perm == PermSCLView && perms[PermSCLEdit])
}

// Permission keys (docs/api.md) that gate live events.
const (
	PermSCLView       = "scl.view"
	PermSCLEdit       = "scl.edit"
	PermAbandonedEdit = "abandoned.edit"
)

// subscriber is one connected stream.
type subscriber struct {
	viewer Viewer
	ch     chan *Event
	// dropped is closed when the subscriber fell behind; its stream ends and
	// the browser reconnects with Last-Event-ID to catch up from the ring.
	dropped chan struct{}
	gone    bool
}

// Broker fans live events out to connected browsers and keeps the most recent
// ones in a bounded ring so a reconnecting browser misses nothing it could
// still be told about.
type Broker struct {
	mu      sync.Mutex
	ring    []*Event // circular, len == cap once full
	head    int      // index of the oldest event when full
	subs    map[*subscriber]struct{}
	evicted bool // some event has left the ring
	// position of the newest event that has left the ring
	evictedIdx uint64
	evictedPos int
	lastIdx    uint64
	lastPos    int
	published  bool

	log       *slog.Logger
	buffer    int
	heartbeat time.Duration
	maxAge    time.Duration
}

// BrokerConfig sizes a Broker. Zero values take the defaults.
type BrokerConfig struct {
	// Ring is how many recent events are kept for Last-Event-ID replay (4096).
	Ring int
	// Buffer is how many events one slow subscriber may lag before it is
	// disconnected and has to resume from the ring (256).
	Buffer int
	// Heartbeat is the interval of SSE comments that keep proxies from
	// closing an idle stream (25s).
	Heartbeat time.Duration
	// MaxAge ends a stream after this long so the browser reconnects and its
	// session is checked again (10m).
	MaxAge time.Duration
}

// NewBroker returns an empty broker.
func NewBroker(cfg BrokerConfig, log *slog.Logger) *Broker {
	if cfg.Ring <= 0 {
		cfg.Ring = 4096
	}
	if cfg.Buffer <= 0 {
		cfg.Buffer = 256
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 25 * time.Second
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = 10 * time.Minute
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Broker{
		ring:      make([]*Event, 0, cfg.Ring),
		subs:      make(map[*subscriber]struct{}),
		log:       log,
		buffer:    cfg.Buffer,
		heartbeat: cfg.Heartbeat,
		maxAge:    cfg.MaxAge,
	}
}

// Publish records events and sends each to every subscriber allowed to see
// it. Events must come in log order; an event at or before the last published
// position is ignored (a hook may be replayed after a restart).
func (b *Broker) Publish(events ...Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range events {
		e := events[i]
		if b.published && !e.after(b.lastIdx, b.lastPos) {
			continue
		}
		b.published = true
		e.encode()
		ev := &e
		b.lastIdx, b.lastPos = e.Index, e.Pos
		if len(b.ring) < cap(b.ring) {
			b.ring = append(b.ring, ev)
		} else {
			old := b.ring[b.head]
			b.evictedIdx, b.evictedPos = old.Index, old.Pos
			b.ring[b.head] = ev
			b.head = (b.head + 1) % len(b.ring)
			b.evicted = true
		}
		for s := range b.subs {
			if !s.viewer.allowed(ev) {
				continue
			}
			select {
			case s.ch <- ev:
			default:
				b.dropLocked(s)
			}
		}
	}
}

func (b *Broker) dropLocked(s *subscriber) {
	if s.gone {
		return
	}
	s.gone = true
	delete(b.subs, s)
	close(s.dropped)
}

// Subscribers is the number of connected streams.
func (b *Broker) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

// subscribe registers a subscriber and returns the events it missed after
// the Last-Event-ID position (hasLast false: none). reset is true when events
// after that position have already left the ring, so the client must reload.
func (b *Broker) subscribe(v Viewer, hasLast bool, idx uint64, pos int) (s *subscriber, replay []*Event, reset bool) {
	s = &subscriber{viewer: v, ch: make(chan *Event, b.buffer), dropped: make(chan struct{})}
	b.mu.Lock()
	defer b.mu.Unlock()
	if hasLast {
		// An event the client has not seen has already been thrown away:
		// it must reload instead of trusting the replay.
		ghost := Event{Index: b.evictedIdx, Pos: b.evictedPos}
		reset = b.evicted && ghost.after(idx, pos)
		n := len(b.ring)
		for i := range n {
			e := b.ring[(b.head+i)%n]
			if e.after(idx, pos) && v.allowed(e) {
				replay = append(replay, e)
			}
		}
	}
	b.subs[s] = struct{}{}
	return s, replay, reset
}

func (b *Broker) unsubscribe(s *subscriber) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.dropLocked(s)
}

// Serve streams events to one browser as text/event-stream until the client
// goes away, falls behind, the stream reaches its maximum age or ctx ends.
func (b *Broker) Serve(w http.ResponseWriter, r *http.Request, v Viewer) {
	rc := http.NewResponseController(w)
	var (
		hasLast bool
		idx     uint64
		pos     int
	)
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		// EventSource cannot set headers on its first connection; a page
		// that already holds a position passes it as a query parameter.
		last = r.URL.Query().Get("last")
	}
	if last != "" {
		var err error
		idx, pos, err = ParseEventID(last)
		if err != nil {
			http.Error(w, "bad Last-Event-ID", http.StatusBadRequest)
			return
		}
		hasLast = true
	}
	s, replay, reset := b.subscribe(v, hasLast, idx, pos)
	defer b.unsubscribe(s)

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriter(w)
	// retry tells EventSource how soon to reconnect after the stream ends.
	fmt.Fprintf(bw, "retry: 2000\n\n")
	if reset {
		fmt.Fprintf(bw, "event: reset\ndata: {}\n\n")
	}
	for _, e := range replay {
		bw.Write(e.frame)
	}
	if err := flush(bw, rc); err != nil {
		return
	}

	ctx := r.Context()
	hb := time.NewTicker(b.heartbeat)
	defer hb.Stop()
	maxAge := time.NewTimer(b.maxAge)
	defer maxAge.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.dropped:
			return
		case <-maxAge.C:
			return
		case <-hb.C:
			bw.WriteString(": ping\n\n")
		case e := <-s.ch:
			bw.Write(e.frame)
			// Drain what is already queued so a burst costs one flush.
			for more := true; more; {
				select {
				case e := <-s.ch:
					bw.Write(e.frame)
				default:
					more = false
				}
			}
		}
		if err := flush(bw, rc); err != nil {
			return
		}
	}
}

func flush(bw *bufio.Writer, rc *http.ResponseController) error {
	if err := bw.Flush(); err != nil {
		return err
	}
	return rc.Flush()
}

// waitSubscribers blocks until n streams are connected or ctx ends; tests and
// benchmarks use it to start publishing only once everyone listens.
func (b *Broker) waitSubscribers(ctx context.Context, n int) error {
	for b.Subscribers() < n {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
	return nil
}
