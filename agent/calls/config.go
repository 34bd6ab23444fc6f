package calls

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/reboundhq/rebound/sip/dialog"
	"github.com/reboundhq/rebound/sip/message"
)

// Config holds the rules a PBX admin sets for one site. Every section is
// optional; a missing section runs on defaults and each record names it in
// defaults_used, so nobody mistakes a default for a decision.
type Config struct {
	Correlation *Correlation `yaml:"correlation"`
	Direction   *Direction   `yaml:"direction"`
	Outcomes    *Outcomes    `yaml:"outcomes"`
	Voicemail   *Voicemail   `yaml:"voicemail"`
	Timeouts    *Timeouts    `yaml:"timeouts"`
}

// Correlation ties the legs of one customer call through a B2BUA PBX.
type Correlation struct {
	// Header is the header the PBX stamps on every leg (default X-CID).
	// Its value may also be the parent Call-ID itself.
	Header string `yaml:"header"`
	// HeaderRegex, when set, extracts the key from the header value (first
	// capture group, or the whole match).
	HeaderRegex string `yaml:"header_regex"`
	// ParentHeaders carry the Call-ID of the leg this one was created from
	// (default X-Parent-Call-ID, X-Original-Call-ID).
	ParentHeaders []string `yaml:"parent_call_id_headers"`
	// CallerWindow joins a leg to an open call with the same caller number
	// that started at most this long before (default 10s).
	CallerWindow time.Duration `yaml:"caller_window"`
	// DisableCallerWindow turns the caller-number fallback off.
	DisableCallerWindow bool `yaml:"disable_caller_window"`
	// Linger waits this long after the last leg ends before deciding, so
	// late legs and stray messages are seen (default 2s).
	Linger time.Duration `yaml:"linger"`
}

// Direction decides inbound, outbound and internal.
type Direction struct {
	// TrunkPeers are the carrier/SBC addresses (IP or CIDR): an INVITE from
	// one is inbound, an INVITE to one is outbound.
	TrunkPeers []string `yaml:"trunk_peers"`
	// InboundNumbers are regexes on the dialled number (Request-URI user)
	// that mark a call inbound (your DIDs / tracking numbers).
	InboundNumbers []string `yaml:"inbound_numbers"`
	// AgentExtensions are regexes on extension numbers that ring agents
	// (default ^[0-9]{2,5}$).
	AgentExtensions []string `yaml:"agent_extensions"`
	// Queues are regexes on targets that are queues, hunt groups or IVRs:
	// their answer is not an agent's answer.
	Queues []string `yaml:"queues"`
	// ExternalNumbers are regexes on numbers outside the PBX (default
	// ^\+?[0-9]{7,}$); a leg from the PBX to one is a forward.
	ExternalNumbers []string `yaml:"external_numbers"`
}

// Outcomes tunes the outcome rules.
type Outcomes struct {
	// ShortAbandonSeconds drops abandons shorter than this as noise (0 keeps all).
	ShortAbandonSeconds float64 `yaml:"short_abandon_seconds"`
}

// Voicemail says what a voicemail system looks like on this PBX.
type Voicemail struct {
	// Extensions are regexes on the target user (default
	// ^(\*97|\*98|vm.*|voicemail.*|8500)$).
	Extensions []string `yaml:"extensions"`
	// URIs are regexes on the whole Request-URI, e.g. ^sip:vm@.
	URIs []string `yaml:"uris"`
	// ConfirmWindow holds a voicemail record this long for a NOTIFY
	// message-summary that confirms it (default 30s; 0 with the section
	// set means do not wait).
	ConfirmWindow *time.Duration `yaml:"confirm_window"`
}

// Timeouts close dialogs that signalling never closed.
type Timeouts struct {
	// NoFinalResponse closes a ringing INVITE (default 5m).
	NoFinalResponse time.Duration `yaml:"no_final_response"`
	// NoBye closes an answered call with no SIP for this long (default 4h).
	NoBye time.Duration `yaml:"no_bye"`
	// FailureGrace waits after a failure for an auth retry (default 4s).
	FailureGrace time.Duration `yaml:"failure_grace"`
}

// Defaults.
var (
	defaultAgentExtensions = []string{`^[0-9]{2,5}$`}
	defaultExternalNumbers = []string{`^\+?[0-9]{7,}$`}
	defaultVoicemail       = []string{`^(\*97|\*98|vm.*|voicemail.*|8500)$`}
	defaultParentHeaders   = []string{"X-Parent-Call-ID", "X-Original-Call-ID"}
)

const (
	defaultHeader        = "X-CID"
	defaultCallerWindow  = 10 * time.Second
	defaultLinger        = 2 * time.Second
	defaultConfirmWindow = 30 * time.Second
)

// Validate reports every invalid field at once.
func (c Config) Validate() error {
	_, err := compile(c)
	return err
}

// Dialog returns the tracker settings these rules imply.
func (c Config) Dialog() dialog.Config {
	var d dialog.Config
	if c.Timeouts != nil {
		d.NoFinalResponse = c.Timeouts.NoFinalResponse
		d.NoBye = c.Timeouts.NoBye
		d.FailureGrace = c.Timeouts.FailureGrace
	}
	return d
}

// rules is the compiled form of Config.
type rules struct {
	header        *message.Correlator
	headerName    string
	parents       []string
	callerWindow  time.Duration
	linger        time.Duration
	trunks        []netip.Prefix
	inbound       []*regexp.Regexp
	agents        []*regexp.Regexp
	queues        []*regexp.Regexp
	external      []*regexp.Regexp
	vmExt         []*regexp.Regexp
	vmURI         []*regexp.Regexp
	confirm       time.Duration
	shortAbandon  time.Duration
	defaultsUsed  []string
	trunksDefined bool
}

func compile(c Config) (*rules, error) {
	var errs []error
	r := &rules{}
	re := func(field string, pats []string) []*regexp.Regexp {
		var out []*regexp.Regexp
		for _, p := range pats {
			x, err := regexp.Compile(p)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %q: %w", field, p, err))
				continue
			}
			out = append(out, x)
		}
		return out
	}

	corr := c.Correlation
	if corr == nil {
		corr = &Correlation{}
		r.defaultsUsed = append(r.defaultsUsed, "correlation")
	}
	r.headerName = corr.Header
	if r.headerName == "" {
		r.headerName = defaultHeader
	}
	if strings.ContainsAny(r.headerName, " :\t\r\n") {
		errs = append(errs, fmt.Errorf("correlation.header: %q is not a header name", r.headerName))
	}
	h, err := message.NewCorrelator(r.headerName, corr.HeaderRegex)
	if err != nil {
		errs = append(errs, fmt.Errorf("correlation.header_regex: %w", err))
	}
	r.header = h
	r.parents = corr.ParentHeaders
	if len(r.parents) == 0 {
		r.parents = defaultParentHeaders
	}
	r.callerWindow = corr.CallerWindow
	if r.callerWindow < 0 {
		errs = append(errs, errors.New("correlation.caller_window: must not be negative"))
	}
	if r.callerWindow == 0 {
		r.callerWindow = defaultCallerWindow
	}
	if corr.DisableCallerWindow {
		r.callerWindow = 0
	}
	r.linger = corr.Linger
	if r.linger < 0 {
		errs = append(errs, errors.New("correlation.linger: must not be negative"))
	}
	if r.linger == 0 {
		r.linger = defaultLinger
	}

	dir := c.Direction
	if dir == nil {
		dir = &Direction{}
		r.defaultsUsed = append(r.defaultsUsed, "direction")
	}
	for _, p := range dir.TrunkPeers {
		if pfx, err := netip.ParsePrefix(p); err == nil {
			r.trunks = append(r.trunks, pfx.Masked())
			continue
		}
		a, err := netip.ParseAddr(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("direction.trunk_peers: %q is not an IP address or CIDR", p))
			continue
		}
		r.trunks = append(r.trunks, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	r.trunksDefined = len(r.trunks) > 0
	r.inbound = re("direction.inbound_numbers", dir.InboundNumbers)
	agents := dir.AgentExtensions
	if len(agents) == 0 {
		agents = defaultAgentExtensions
	}
	r.agents = re("direction.agent_extensions", agents)
	r.queues = re("direction.queues", dir.Queues)
	ext := dir.ExternalNumbers
	if len(ext) == 0 {
		ext = defaultExternalNumbers
	}
	r.external = re("direction.external_numbers", ext)

	out := c.Outcomes
	if out == nil {
		out = &Outcomes{}
		r.defaultsUsed = append(r.defaultsUsed, "outcomes")
	}
	if out.ShortAbandonSeconds < 0 {
		errs = append(errs, errors.New("outcomes.short_abandon_seconds: must not be negative"))
	}
	r.shortAbandon = time.Duration(out.ShortAbandonSeconds * float64(time.Second))

	vm := c.Voicemail
	if vm == nil {
		vm = &Voicemail{}
		r.defaultsUsed = append(r.defaultsUsed, "voicemail")
	}
	vmExt := vm.Extensions
	if len(vmExt) == 0 {
		vmExt = defaultVoicemail
	}
	r.vmExt = re("voicemail.extensions", vmExt)
	r.vmURI = re("voicemail.uris", vm.URIs)
	r.confirm = defaultConfirmWindow
	if vm.ConfirmWindow != nil {
		if *vm.ConfirmWindow < 0 {
			errs = append(errs, errors.New("voicemail.confirm_window: must not be negative"))
		}
		r.confirm = *vm.ConfirmWindow
	}

	if c.Timeouts == nil {
		r.defaultsUsed = append(r.defaultsUsed, "timeouts")
	} else if c.Timeouts.NoFinalResponse < 0 || c.Timeouts.NoBye < 0 || c.Timeouts.FailureGrace < 0 {
		errs = append(errs, errors.New("timeouts: durations must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return r, nil
}

func matchAny(res []*regexp.Regexp, s string) bool {
	if s == "" {
		return false
	}
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

func (r *rules) isTrunk(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range r.trunks {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
