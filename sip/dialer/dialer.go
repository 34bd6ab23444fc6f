// Package dialer owns click-to-call over SIP: it rings a CSR's extension
// through the PBX (digest auth), and once the CSR answers it connects the
// customer with REFER (RFC 3515) inside that dialog, then leaves the call.
package dialer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// Config is the dialer's YAML section in the agent config.
type Config struct {
	// Proxy is the PBX SIP address (host:port, UDP) every INVITE goes to.
	// Empty disables the dialer.
	Proxy string `yaml:"proxy"`
	// Domain is the SIP domain of extensions and external numbers
	// (default: the proxy host).
	Domain string `yaml:"domain"`
	// Username and Password answer 401/407 digest challenges.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// PasswordFile holds the password instead of Password (trimmed).
	PasswordFile string `yaml:"password_file"`
	// Listen is the local UDP address (host:port) for our SIP leg; the
	// host is also advertised in Via, Contact and SDP, so it must be an
	// address the PBX can reach (not 0.0.0.0).
	Listen string `yaml:"listen"`
	// RingTimeout bounds the CSR ringing when a request gives none.
	RingTimeout time.Duration `yaml:"ring_timeout"`
	// TransferTimeout bounds the wait for the REFER's final NOTIFY.
	TransferTimeout time.Duration `yaml:"transfer_timeout"`
	// RTPPort is the placeholder media port in our SDP offer; the agent
	// bridges no audio, the CSR's phone is handed to the customer.
	RTPPort int `yaml:"rtp_port"`
}

// Enabled reports whether a dialer is configured.
func (c *Config) Enabled() bool { return c.Proxy != "" }

// Validate reports the first invalid value, naming its key.
func (c *Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Proxy); err != nil {
		return fmt.Errorf("proxy: %q is not host:port", c.Proxy)
	}
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return fmt.Errorf("listen: %q is not host:port", c.Listen)
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		return fmt.Errorf("listen: host %q must be an IP address the PBX can reach", host)
	}
	if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
		return fmt.Errorf("listen: bad port %q", port)
	}
	if c.Password != "" && c.PasswordFile != "" {
		return errors.New("password, password_file: set only one")
	}
	if (c.Password != "" || c.PasswordFile != "") && c.Username == "" {
		return errors.New("username: required with a password")
	}
	if c.RingTimeout < 0 || c.TransferTimeout < 0 {
		return errors.New("ring_timeout, transfer_timeout: must not be negative")
	}
	if c.RTPPort < 0 || c.RTPPort > 65535 {
		return fmt.Errorf("rtp_port: %d out of range", c.RTPPort)
	}
	return nil
}

// Outcome is what happened to a click-to-call; values mirror
// reboundv1.CommandResult_DialOutcome.
type Outcome int

// Outcomes, numbered as reboundv1.CommandResult_DialOutcome.
const (
	OutcomeUnspecified Outcome = iota
	OutcomeAnswered
	OutcomeBusy
	OutcomeNoAnswer
	OutcomeFailed
)

func (o Outcome) String() string {
	switch o {
	case OutcomeAnswered:
		return "answered"
	case OutcomeBusy:
		return "busy"
	case OutcomeNoAnswer:
		return "no answer"
	case OutcomeFailed:
		return "failed"
	}
	return "unspecified"
}

// DialRequest is one click-to-call.
type DialRequest struct {
	CSRExtension   string
	CustomerNumber string
	// CallerID is the outbound caller ID and callback number (From user and
	// P-Asserted-Identity). Empty: From is the dialer's account, and the
	// PBX applies its own caller ID.
	CallerID string
	// CallerName is the From display name (default: CallerID).
	CallerName string
	// RingTimeout bounds the CSR ringing (0: Config.RingTimeout).
	RingTimeout time.Duration
}

// numberRe keeps dialled strings to what is valid as a SIP URI user part and
// meaningful as a number or extension, so nothing can be injected.
var numberRe = regexp.MustCompile(`^\+?[0-9A-Za-z*#._-]{1,64}$`)

// Dialer places click-to-calls. It owns one UDP socket for its SIP leg.
type Dialer struct {
	cfg      Config
	password string
	log      *slog.Logger
	ua       *sipgo.UserAgent
	srv      *sipgo.Server
	cli      *sipgo.Client
	dua      sipgo.DialogUA
	conn     net.PacketConn
	host     string
	port     int

	mu    sync.Mutex
	calls map[string]*call // by Call-ID
}

// call is the state the server handlers share with Call.
type call struct {
	sess   *sipgo.DialogClientSession
	notify chan int // final sipfrag status codes
	bye    chan struct{}
	once   sync.Once
}

// New opens the SIP socket and starts serving in-dialog requests (NOTIFY,
// BYE). Close releases it.
func New(cfg Config, log *slog.Logger) (*Dialer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.RingTimeout == 0 {
		cfg.RingTimeout = 30 * time.Second
	}
	if cfg.TransferTimeout == 0 {
		cfg.TransferTimeout = 60 * time.Second
	}
	if cfg.RTPPort == 0 {
		cfg.RTPPort = 4000
	}
	if cfg.Domain == "" {
		cfg.Domain, _, _ = net.SplitHostPort(cfg.Proxy)
	}
	pw := cfg.Password
	if cfg.PasswordFile != "" {
		b, err := os.ReadFile(cfg.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("password_file: %w", err)
		}
		pw = strings.TrimSpace(string(b))
	}
	host, ps, _ := net.SplitHostPort(cfg.Listen)
	port, _ := strconv.Atoi(ps)
	d := &Dialer{cfg: cfg, password: pw, log: log, host: host, port: port, calls: map[string]*call{}}

	// Every sipgo layer logs through our logger, never the global one.
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("rebound-dialer"), sipgo.WithUserAgentHostname(host),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(log)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(log)))
	if err != nil {
		return nil, fmt.Errorf("dialer: %w", err)
	}
	d.ua = ua
	if d.srv, err = sipgo.NewServer(ua, sipgo.WithServerLogger(log)); err != nil {
		ua.Close()
		return nil, fmt.Errorf("dialer: %w", err)
	}
	// Requests leave from the listening socket, so the PBX sees one address.
	if d.cli, err = sipgo.NewClient(ua, sipgo.WithClientLogger(log), sipgo.WithClientConnectionAddr(cfg.Listen)); err != nil {
		ua.Close()
		return nil, fmt.Errorf("dialer: %w", err)
	}
	d.dua = sipgo.DialogUA{Client: d.cli, ContactHDR: sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "rebound", Host: host, Port: port}}}
	d.srv.OnNotify(d.onNotify)
	d.srv.OnBye(d.onBye)
	d.srv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})

	if d.conn, err = net.ListenPacket("udp", cfg.Listen); err != nil {
		ua.Close()
		return nil, fmt.Errorf("dialer listen: %w", err)
	}
	go func() { _ = d.srv.ServeUDP(d.conn) }()
	// Requests must leave from this socket, which sipgo only knows once
	// ServeUDP has registered it; wait for that rather than racing it.
	for i := 0; ; i++ {
		if c, err := ua.TransportLayer().GetConnection("udp", d.conn.LocalAddr().String()); err == nil && c != nil {
			break
		}
		if i == 200 {
			d.Close()
			return nil, errors.New("dialer: sip socket did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return d, nil
}

// Close stops the dialer; calls in progress fail.
func (d *Dialer) Close() error {
	err := d.conn.Close()
	_ = d.ua.Close()
	return err
}

// Call rings req.CSRExtension; when the CSR answers it REFERs them to
// req.CustomerNumber and hangs up our leg. The error explains any outcome
// other than answered. Cancelling ctx while ringing sends CANCEL.
func (d *Dialer) Call(ctx context.Context, req DialRequest) (Outcome, error) {
	for _, f := range []struct{ name, v string }{{"csr extension", req.CSRExtension}, {"customer number", req.CustomerNumber}, {"caller id", req.CallerID}} {
		if (f.v != "" || f.name != "caller id") && !numberRe.MatchString(f.v) {
			return OutcomeFailed, fmt.Errorf("dialer: bad %s %q", f.name, f.v)
		}
	}
	ring := req.RingTimeout
	if ring <= 0 {
		ring = d.cfg.RingTimeout
	}
	// The display name goes into quoted strings: drop what could end the
	// quote or the header.
	name := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '"' || r == '\\' {
			return -1
		}
		return r
	}, req.CallerName)
	if name == "" {
		name = req.CallerID
	}
	fromUser := req.CallerID
	if fromUser == "" {
		if fromUser = d.cfg.Username; !numberRe.MatchString(fromUser) {
			fromUser = "rebound"
		}
	}

	inv := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: req.CSRExtension, Host: d.cfg.Domain})
	// A preloaded Route (RFC 3261 8.1.2) sends the INVITE, and the CANCEL
	// and non-2xx ACK copied from it, through the PBX whatever the domain.
	inv.AppendHeader(sip.NewHeader("Route", "<sip:"+d.cfg.Proxy+";lr>"))
	from := &sip.FromHeader{DisplayName: name, Address: sip.Uri{Scheme: "sip", User: fromUser, Host: d.cfg.Domain}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	inv.AppendHeader(from)
	inv.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: req.CSRExtension, Host: d.cfg.Domain}, Params: sip.NewParams()})
	if req.CallerID != "" {
		inv.AppendHeader(sip.NewHeader("P-Asserted-Identity", fmt.Sprintf("\"%s\" <sip:%s@%s>", name, req.CallerID, d.cfg.Domain)))
	}
	inv.AppendHeader(sip.NewHeader("Allow", "INVITE, ACK, CANCEL, BYE, NOTIFY, OPTIONS"))
	inv.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	inv.SetBody(d.offer())

	c := &call{notify: make(chan int, 4), bye: make(chan struct{})}
	// Register before sending: a fast NOTIFY or BYE must find the call.
	callID := inv.CallID()
	if callID == nil {
		cid := sip.CallIDHeader(sip.GenerateTagN(24) + "@" + d.host)
		inv.AppendHeader(&cid)
		callID = &cid
	}
	d.mu.Lock()
	d.calls[callID.Value()] = c
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		delete(d.calls, callID.Value())
		d.mu.Unlock()
	}()

	sess, err := d.dua.WriteInvite(ctx, inv)
	if err != nil {
		return OutcomeFailed, fmt.Errorf("dialer: invite %s: %w", req.CSRExtension, err)
	}
	defer sess.Close()
	d.mu.Lock()
	c.sess = sess
	d.mu.Unlock()

	rctx, cancel := context.WithTimeout(ctx, ring)
	err = sess.WaitAnswer(rctx, sipgo.AnswerOptions{Username: d.cfg.Username, Password: d.password})
	cancel()
	if err != nil {
		if r := sess.InviteResponse; r != nil && r.IsSuccess() {
			// The CSR picked up as our CANCEL crossed the 200 (RFC 3261
			// 9.2): confirm and release that leg so the phone is not left
			// in a call with nobody, then report the timeout as usual.
			d.release(ctx, sess, req)
		}
		return d.failure(ctx, req, err)
	}
	if err := sess.Ack(ctx); err != nil {
		return OutcomeFailed, fmt.Errorf("dialer: ack: %w", err)
	}
	d.log.Info("csr answered, connecting customer", "csr", req.CSRExtension)
	out, err := d.refer(ctx, sess, c, req)
	d.bye(ctx, sess, req)
	return out, err
}

// release ACKs a late 2xx and hangs up.
func (d *Dialer) release(ctx context.Context, sess *sipgo.DialogClientSession, req DialRequest) {
	if err := sess.Ack(context.WithoutCancel(ctx)); err != nil {
		d.log.Warn("ack of a late answer failed", "csr", req.CSRExtension, "err", err)
		return
	}
	d.bye(ctx, sess, req)
}

// bye hangs up our leg, even when ctx has ended.
func (d *Dialer) bye(ctx context.Context, sess *sipgo.DialogClientSession, req DialRequest) {
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := sess.Bye(bctx); err != nil {
		d.log.Warn("bye of our leg failed", "csr", req.CSRExtension, "err", err)
	}
}

// failure maps a failed INVITE to an outcome.
func (d *Dialer) failure(ctx context.Context, req DialRequest, err error) (Outcome, error) {
	var dr *sipgo.ErrDialogResponse
	if errors.As(err, &dr) {
		switch code := dr.Res.StatusCode; {
		case code == 486 || code == 600 || code == 603:
			return OutcomeBusy, fmt.Errorf("dialer: csr %s busy: %d %s", req.CSRExtension, code, dr.Res.Reason)
		case code == 480 || code == 408 || code == 487:
			return OutcomeNoAnswer, fmt.Errorf("dialer: csr %s did not answer: %d %s", req.CSRExtension, code, dr.Res.Reason)
		default:
			return OutcomeFailed, fmt.Errorf("dialer: csr %s: %d %s", req.CSRExtension, code, dr.Res.Reason)
		}
	}
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return OutcomeNoAnswer, fmt.Errorf("dialer: csr %s did not answer in time", req.CSRExtension)
	}
	return OutcomeFailed, fmt.Errorf("dialer: csr %s: %w", req.CSRExtension, err)
}

// refer asks the CSR's side to call the customer and waits for the result.
func (d *Dialer) refer(ctx context.Context, sess *sipgo.DialogClientSession, c *call, req DialRequest) (Outcome, error) {
	newRefer := func() *sip.Request {
		ref := sip.NewRequest(sip.REFER, sess.InviteResponse.Contact().Address)
		ref.AppendHeader(sip.NewHeader("Refer-To", fmt.Sprintf("<sip:%s@%s>", req.CustomerNumber, d.cfg.Domain)))
		if req.CallerID != "" {
			ref.AppendHeader(sip.NewHeader("Referred-By", fmt.Sprintf("<sip:%s@%s>", req.CallerID, d.cfg.Domain)))
		}
		ref.Laddr = sess.InviteRequest.Laddr
		return ref
	}
	res, err := sess.Do(ctx, newRefer())
	if err == nil && (res.StatusCode == 401 || res.StatusCode == 407) && d.password != "" {
		// Some PBXes challenge in-dialog requests too. Answer once, as a new
		// in-dialog request so the dialog's CSeq stays in step.
		ref := newRefer()
		if err := d.authorize(ref, res); err != nil {
			return OutcomeFailed, fmt.Errorf("dialer: refer: %w", err)
		}
		res, err = sess.Do(ctx, ref)
	}
	if err != nil {
		return OutcomeFailed, fmt.Errorf("dialer: refer: %w", err)
	}
	if !res.IsSuccess() {
		return OutcomeFailed, fmt.Errorf("dialer: refer rejected: %d %s", res.StatusCode, res.Reason)
	}
	t := time.NewTimer(d.cfg.TransferTimeout)
	defer t.Stop()
	select {
	case code := <-c.notify:
		return sipfragOutcome(code, req.CustomerNumber)
	case <-c.bye:
		// The PBX completed the transfer and released our leg without a
		// final NOTIFY: REFER was accepted, count it as connected.
		return OutcomeAnswered, nil
	case <-t.C:
		return OutcomeAnswered, nil
	case <-ctx.Done():
		return OutcomeFailed, fmt.Errorf("dialer: waiting for transfer: %w", ctx.Err())
	}
}

// authorize adds digest credentials answering res's challenge to req.
func (d *Dialer) authorize(req *sip.Request, res *sip.Response) error {
	chHdr, crHdr := "WWW-Authenticate", "Authorization"
	if res.StatusCode == 407 {
		chHdr, crHdr = "Proxy-Authenticate", "Proxy-Authorization"
	}
	h := res.GetHeader(chHdr)
	if h == nil {
		return fmt.Errorf("%d without %s", res.StatusCode, chHdr)
	}
	chal, err := digest.ParseChallenge(h.Value())
	if err != nil {
		return fmt.Errorf("%s: %w", chHdr, err)
	}
	chal.Algorithm = strings.ToUpper(chal.Algorithm)
	cred, err := digest.Digest(chal, digest.Options{Method: req.Method.String(), URI: req.Recipient.Addr(),
		Username: d.cfg.Username, Password: d.password})
	if err != nil {
		return fmt.Errorf("digest: %w", err)
	}
	req.AppendHeader(sip.NewHeader(crHdr, cred.String()))
	return nil
}

func sipfragOutcome(code int, customer string) (Outcome, error) {
	switch {
	case code >= 200 && code < 300:
		return OutcomeAnswered, nil
	case code == 486 || code == 600 || code == 603:
		return OutcomeBusy, fmt.Errorf("dialer: customer %s busy: %d", customer, code)
	case code == 480 || code == 408 || code == 487:
		return OutcomeNoAnswer, fmt.Errorf("dialer: customer %s did not answer: %d", customer, code)
	}
	return OutcomeFailed, fmt.Errorf("dialer: customer %s: %d", customer, code)
}

// offer is a minimal audio SDP; the port is a placeholder since the agent
// never sends or receives media.
func (d *Dialer) offer() []byte {
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	return []byte("v=0\r\n" +
		"o=rebound " + ts + " " + ts + " IN IP4 " + d.host + "\r\n" +
		"s=rebound\r\n" +
		"c=IN IP4 " + d.host + "\r\n" +
		"t=0 0\r\n" +
		"m=audio " + strconv.Itoa(d.cfg.RTPPort) + " RTP/AVP 0 8 101\r\n" +
		"a=rtpmap:0 PCMU/8000\r\n" +
		"a=rtpmap:8 PCMA/8000\r\n" +
		"a=rtpmap:101 telephone-event/8000\r\n" +
		"a=sendrecv\r\n")
}

func (d *Dialer) lookup(req *sip.Request) *call {
	cid := req.CallID()
	if cid == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls[cid.Value()]
}

// onNotify takes the REFER progress (message/sipfrag) of a call.
func (d *Dialer) onNotify(req *sip.Request, tx sip.ServerTransaction) {
	c := d.lookup(req)
	if c == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return
	}
	_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	code, ok := ParseSipfrag(req.Body())
	if !ok {
		d.log.Warn("refer notify without a status line", "call_id", req.CallID().Value())
		return
	}
	if code >= 200 {
		select {
		case c.notify <- code:
		default:
		}
	}
}

// onBye ends our leg when the CSR's side hangs up.
func (d *Dialer) onBye(req *sip.Request, tx sip.ServerTransaction) {
	c := d.lookup(req)
	d.mu.Lock()
	var sess *sipgo.DialogClientSession
	if c != nil {
		sess = c.sess
	}
	d.mu.Unlock()
	if sess == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return
	}
	if err := sess.ReadBye(req, tx); err != nil {
		d.log.Warn("bye", "err", err)
	}
	c.once.Do(func() { close(c.bye) })
}

// ParseSipfrag returns the status code of a message/sipfrag body
// ("SIP/2.0 200 OK").
func ParseSipfrag(body []byte) (int, bool) {
	line, _, _ := strings.Cut(string(body), "\n")
	f := strings.Fields(line)
	if len(f) < 2 || !strings.HasPrefix(f[0], "SIP/") {
		return 0, false
	}
	code, err := strconv.Atoi(f[1])
	if err != nil || code < 100 || code > 699 {
		return 0, false
	}
	return code, true
}
