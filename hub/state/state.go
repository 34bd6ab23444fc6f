// Package state owns the hub's domain model and its replicated state machine: tenants,
// users, roles and permissions, settings, tracking numbers and campaigns, customers and
// locations, jobs, calls and After Call Work, Second Chance Leads, Abandoned Calls and the
// audit trail, all stored in bbolt buckets and changed only by applying commands.
//
// Apply is deterministic: time comes only from Command.AtUnixMs (stamped by the leader),
// ids are derived from the raft index and the command's position in the batch, and no
// output depends on map iteration order. Read functions take a *bbolt.Tx.
package state

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
	"go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
)

// Error codes, stable for API clients.
const (
	CodeInvalid   = "invalid"
	CodeNotFound  = "not_found"
	CodeConflict  = "conflict"
	CodeForbidden = "forbidden"
	CodeInternal  = "internal"
)

// Error is a command failure with a stable code and, for bad input, the field at fault.
type Error struct {
	Code    string
	Message string
	Field   string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.Message
	}
	return e.Message
}

func invalid(field, format string, a ...any) *Error {
	return &Error{Code: CodeInvalid, Field: field, Message: fmt.Sprintf(format, a...)}
}

func notFound(what string) *Error {
	return &Error{Code: CodeNotFound, Message: what + " not found"}
}

func conflict(format string, a ...any) *Error {
	return &Error{Code: CodeConflict, Message: fmt.Sprintf(format, a...)}
}

// OutcomeError turns a failed CommandOutcome back into an *Error (nil on success).
func OutcomeError(o *reboundv1.CommandOutcome) *Error {
	if o == nil || (o.Error == "" && o.ErrorCode == "") {
		return nil
	}
	e := &Error{Code: o.ErrorCode, Message: o.Error}
	var extra struct {
		Field string `json:"field"`
	}
	if json.Unmarshal(o.Result, &extra) == nil {
		e.Field = extra.Field
	}
	if e.Code == "" {
		e.Code = CodeInternal
	}
	return e
}

// HashToken is how session, API and site tokens are stored: hex SHA-256. The tokens are
// 256-bit random values, so a fast hash is enough (no password stretching needed).
func HashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// Bucket names.
var (
	bTenants    = []byte("tenants")
	bUsers      = []byte("users")
	bUsernames  = []byte("usernames")
	bRoles      = []byte("roles")
	bSessions   = []byte("sessions")
	bTokens     = []byte("tokens")
	bTokenIDs   = []byte("tokenids")
	bSites      = []byte("sites")
	bSiteTokens = []byte("sitetokens")
	bSettings   = []byte("settings")
	bCampaigns  = []byte("campaigns")
	bTracking   = []byte("tracking")
	bQueues     = []byte("queues")
	bReasons    = []byte("reasons")
	bCustomers  = []byte("customers")
	bCustPhone  = []byte("custphone")
	bLocations  = []byte("locations")
	bJobs       = []byte("jobs")
	bCalls      = []byte("calls")
	bRecords    = []byte("records")
	bCallTime   = []byte("calltime")
	bACW        = []byte("acw")
	bACWPhone   = []byte("acwphone")
	bLeads      = []byte("leads")
	bLeadAct    = []byte("leadact")
	bLeadAge    = []byte("leadage")
	bLeadDone   = []byte("leaddone")
	bLeadPhone  = []byte("leadphone")
	bLeadCust   = []byte("leadcust")
	bAbandoned  = []byte("abandoned")
	bAbAct      = []byte("abact")
	bAbAge      = []byte("abage")
	bAbDone     = []byte("abdone")
	bAbPhone    = []byte("abphone")
	bAudit      = []byte("audit")
	bModels     = []byte("models")
	bExtensions = []byte("extensions")
	bCallerIdx  = []byte("calleridx")
	bRequests   = []byte("requests")
	bReqExpiry  = []byte("reqexpiry")
)

func allBuckets() [][]byte {
	return [][]byte{bTenants, bUsers, bUsernames, bRoles, bSessions, bTokens, bTokenIDs, bSites,
		bSiteTokens, bSettings, bCampaigns, bTracking, bQueues, bReasons, bCustomers, bCustPhone,
		bLocations, bJobs, bCalls, bRecords, bCallTime, bACW, bACWPhone, bLeads, bLeadAct, bLeadAge,
		bLeadDone, bLeadPhone, bLeadCust, bAbandoned, bAbAct, bAbAge, bAbDone, bAbPhone, bAudit,
		bModels, bExtensions, bCallerIdx, bRequests, bReqExpiry}
}

// EnsureBuckets creates every bucket the state machine uses. Apply calls it too, so a fresh
// file works; read-only callers on a fresh file get empty results from missing buckets.
func EnsureBuckets(tx *bbolt.Tx) error {
	for _, b := range allBuckets() {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return fmt.Errorf("create bucket %s: %w", b, err)
		}
	}
	return nil
}

// Machine is the replicated state machine. It holds no state of its own: everything is in
// the bbolt transaction it is given.
type Machine struct {
	log *slog.Logger
}

// New returns a state machine that logs through log.
func New(log *slog.Logger) *Machine {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Machine{log: log}
}

// Apply applies a batch of commands at raft index. Each command gets its own outcome; a
// failed command writes nothing (handlers validate before they write).
func (m *Machine) Apply(tx *bbolt.Tx, index uint64, cmds []*reboundv1.Command) []*reboundv1.CommandOutcome {
	out := make([]*reboundv1.CommandOutcome, len(cmds))
	if err := EnsureBuckets(tx); err != nil {
		for i := range out {
			out[i] = &reboundv1.CommandOutcome{Error: err.Error(), ErrorCode: CodeInternal}
		}
		return out
	}
	if len(cmds) > 0 {
		pruneRequests(tx, cmds[0].GetAtUnixMs()-RequestMemory.Milliseconds())
	}
	for i, c := range cmds {
		// A command retried with the same request id (the outcome of the first try was
		// unknown to the caller) gets the first outcome and changes nothing.
		if id := c.GetRequestId(); id != "" && len(id) <= 128 {
			if prev := tx.Bucket(bRequests).Get([]byte(id)); prev != nil {
				o := &reboundv1.CommandOutcome{}
				if proto.Unmarshal(prev, o) == nil {
					out[i] = o
					continue
				}
			}
		}
		a := &applier{tx: tx, index: index, pos: i, cmd: c, at: c.GetAtUnixMs()}
		res, err := a.run()
		o := &reboundv1.CommandOutcome{}
		if err != nil {
			var se *Error
			if !errors.As(err, &se) {
				se = &Error{Code: CodeInternal, Message: err.Error()}
				m.log.Error("command failed", "type", c.GetType(), "index", index, "err", err)
			}
			o.Error = se.Message
			o.ErrorCode = se.Code
			if se.Field != "" {
				o.Result, _ = json.Marshal(map[string]string{"field": se.Field})
			}
		} else if res != nil {
			b, err := json.Marshal(res)
			if err != nil {
				o.Error, o.ErrorCode = err.Error(), CodeInternal
			} else {
				o.Result = b
			}
		}
		out[i] = o
		if id := c.GetRequestId(); id != "" && len(id) <= 128 {
			if b, err := proto.Marshal(o); err == nil {
				_ = tx.Bucket(bRequests).Put([]byte(id), b)
				_ = tx.Bucket(bReqExpiry).Put(key(be64(uint64(c.GetAtUnixMs())), id), nil)
			}
		}
	}
	return out
}

// RequestMemory is how long a request id is remembered for retries.
const RequestMemory = 24 * time.Hour

// pruneRequests forgets request ids stamped before cutoffMs (deterministic: it depends
// only on the command's time).
func pruneRequests(tx *bbolt.Tx, cutoffMs int64) {
	c := tx.Bucket(bReqExpiry).Cursor()
	var old [][]byte
	for k, _ := c.First(); len(k) > 9 && int64(binary.BigEndian.Uint64(k[:8])) < cutoffMs; k, _ = c.Next() {
		old = append(old, append([]byte(nil), k...))
		if len(old) == 1000 {
			break
		}
	}
	for _, k := range old {
		_ = tx.Bucket(bRequests).Delete(k[9:])
		_ = tx.Bucket(bReqExpiry).Delete(k)
	}
}

// applier carries one command through its handler.
type applier struct {
	tx    *bbolt.Tx
	index uint64
	pos   int
	cmd   *reboundv1.Command
	at    int64
	seq   int
}

// newID derives an id from the raft index and batch position: the same on every replica.
func (a *applier) newID(prefix string) string {
	a.seq++
	if a.seq == 1 {
		return prefix + "_" + strconv.FormatUint(a.index, 10) + "_" + strconv.Itoa(a.pos)
	}
	return prefix + "_" + strconv.FormatUint(a.index, 10) + "_" + strconv.Itoa(a.pos) + "_" + strconv.Itoa(a.seq-1)
}

func (a *applier) body(v any) error {
	if err := json.Unmarshal(a.cmd.GetBody(), v); err != nil {
		return invalid("body", "bad command body: %v", err)
	}
	return nil
}

func (a *applier) audit(objID, action, detail string) error {
	e := AuditEntry{AtMs: a.at, Actor: a.cmd.GetActor(), Action: action, Detail: detail, Index: a.index}
	k := key(objID, be64(uint64(a.at)), be64(a.index), be64(uint64(a.pos)), be64(uint64(a.seq)))
	a.seq++
	return putJSON(a.tx, bAudit, k, e)
}

// key joins parts with a 0 byte, which never occurs in ids or phone digits.
func key(parts ...string) []byte {
	n := 0
	for _, p := range parts {
		n += len(p) + 1
	}
	b := make([]byte, 0, n)
	for i, p := range parts {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, p...)
	}
	return b
}

func be64(v uint64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return string(b[:])
}

func putJSON(tx *bbolt.Tx, bucket, k []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("marshal %s: %w", bucket, err)
	}
	return tx.Bucket(bucket).Put(k, b)
}

// getJSON loads k from bucket into v; false when absent.
func getJSON(tx *bbolt.Tx, bucket, k []byte, v any) (bool, error) {
	bk := tx.Bucket(bucket)
	if bk == nil {
		return false, nil
	}
	b := bk.Get(k)
	if b == nil {
		return false, nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("decode %s/%q: %w", bucket, k, err)
	}
	return true, nil
}

func del(tx *bbolt.Tx, bucket, k []byte) error {
	return tx.Bucket(bucket).Delete(k)
}

// prefixKeys returns the keys under prefix, in key order.
func prefixKeys(tx *bbolt.Tx, bucket, prefix []byte) [][]byte {
	bk := tx.Bucket(bucket)
	if bk == nil {
		return nil
	}
	var out [][]byte
	c := bk.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		out = append(out, append([]byte(nil), k...))
	}
	return out
}

// lastPart returns what follows the last 0 byte in k.
func lastPart(k []byte) string {
	if i := bytes.LastIndexByte(k, 0); i >= 0 {
		return string(k[i+1:])
	}
	return string(k)
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
