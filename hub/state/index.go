package state

import (
	"bytes"
	"strconv"

	"go.etcd.io/bbolt"
)

// The queue indexes (leads and abandoned calls) map an 8-byte big-endian time plus the
// item id to a compact value holding every field a list filter looks at, so a listing
// filters without decoding the item. Fields are separated by 0x1f.
const sep = 0x1f

type idxVal struct {
	Tenant, Status, Type, Reason, Agent, Campaign, Queue string
	EndedMs, ActivityMs, DurationMs                      int64
}

func (v idxVal) encode() []byte {
	b := make([]byte, 0, 96)
	for _, s := range []string{v.Tenant, v.Status, v.Type, v.Reason, v.Agent, v.Campaign, v.Queue} {
		b = append(b, s...)
		b = append(b, sep)
	}
	b = strconv.AppendInt(b, v.EndedMs, 10)
	b = append(b, sep)
	b = strconv.AppendInt(b, v.ActivityMs, 10)
	b = append(b, sep)
	b = strconv.AppendInt(b, v.DurationMs, 10)
	return b
}

// rawIdx is a decoded index value that still points into the bbolt page (no copies).
type rawIdx struct {
	f                               [7][]byte
	EndedMs, ActivityMs, DurationMs int64
}

const (
	fTenant = iota
	fStatus
	fType
	fReason
	fAgent
	fCampaign
	fQueue
)

func decodeIdx(b []byte, r *rawIdx) bool {
	for i := 0; i < 7; i++ {
		j := bytes.IndexByte(b, sep)
		if j < 0 {
			return false
		}
		r.f[i] = b[:j]
		b = b[j+1:]
	}
	var nums [3]int64
	for i := 0; i < 3; i++ {
		j := bytes.IndexByte(b, sep)
		part := b
		if j >= 0 {
			part, b = b[:j], b[j+1:]
		} else if i < 2 {
			return false
		}
		n, ok := atoi(part)
		if !ok {
			return false
		}
		nums[i] = n
	}
	r.EndedMs, r.ActivityMs, r.DurationMs = nums[0], nums[1], nums[2]
	return true
}

func atoi(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	neg := false
	if b[0] == '-' {
		neg, b = true, b[1:]
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

func timeKey(ms int64, id string) []byte {
	k := make([]byte, 0, 8+len(id))
	k = append(k, be64(uint64(ms))...)
	return append(k, id...)
}

func (l *Lead) idx() idxVal {
	return idxVal{Tenant: l.TenantID, Status: l.Status, Type: l.Type, Reason: l.ReasonID, Agent: l.Agent,
		Campaign: l.CampaignID, EndedMs: l.CallEndedMs, ActivityMs: l.LastActivityMs}
}

func (ab *Abandoned) idx() idxVal {
	return idxVal{Tenant: ab.TenantID, Status: ab.Status, Campaign: ab.CampaignID, Queue: ab.Queue,
		EndedMs: ab.CallEndedMs, ActivityMs: ab.LastActivityMs, DurationMs: ab.DurationMs}
}

// putLead stores l and moves its index entries from old's position (nil for a new lead).
func putLead(tx *bbolt.Tx, l *Lead, old *Lead) error {
	if old != nil {
		if err := unindexItem(tx, bLeadAct, bLeadAge, bLeadDone, bLeadPhone, old.ID, old.TenantID, old.Phone, old.LastActivityMs, old.CallEndedMs, old.DoneMs, leadDone(old.Status)); err != nil {
			return err
		}
		if old.CustomerID != "" {
			_ = del(tx, bLeadCust, key(old.CustomerID, old.ID))
		}
	}
	done := leadDone(l.Status)
	if err := indexItem(tx, bLeadAct, bLeadAge, bLeadDone, bLeadPhone, l.ID, l.TenantID, l.Phone, l.LastActivityMs, l.CallEndedMs, l.DoneMs, done, l.idx().encode()); err != nil {
		return err
	}
	if !done && l.CustomerID != "" {
		if err := tx.Bucket(bLeadCust).Put(key(l.CustomerID, l.ID), nil); err != nil {
			return err
		}
	}
	return putJSON(tx, bLeads, []byte(l.ID), l)
}

func putAbandoned(tx *bbolt.Tx, ab *Abandoned, old *Abandoned) error {
	if old != nil {
		if err := unindexItem(tx, bAbAct, bAbAge, bAbDone, bAbPhone, old.ID, old.TenantID, old.Phone, old.LastActivityMs, old.CallEndedMs, old.DoneMs, abDone(old.Status)); err != nil {
			return err
		}
	}
	if err := indexItem(tx, bAbAct, bAbAge, bAbDone, bAbPhone, ab.ID, ab.TenantID, ab.Phone, ab.LastActivityMs, ab.CallEndedMs, ab.DoneMs, abDone(ab.Status), ab.idx().encode()); err != nil {
		return err
	}
	return putJSON(tx, bAbandoned, []byte(ab.ID), ab)
}

func unindexItem(tx *bbolt.Tx, act, age, done, phone []byte, id, tenant, ph string, actMs, endMs, doneMs int64, isDone bool) error {
	if isDone {
		return tx.Bucket(done).Delete(timeKey(doneMs, id))
	}
	if err := tx.Bucket(act).Delete(timeKey(actMs, id)); err != nil {
		return err
	}
	if err := tx.Bucket(age).Delete(timeKey(endMs, id)); err != nil {
		return err
	}
	return tx.Bucket(phone).Delete(key(tenant, ph, id))
}

func indexItem(tx *bbolt.Tx, act, age, done, phone []byte, id, tenant, ph string, actMs, endMs, doneMs int64, isDone bool, v []byte) error {
	if isDone {
		return tx.Bucket(done).Put(timeKey(doneMs, id), v)
	}
	if err := tx.Bucket(act).Put(timeKey(actMs, id), v); err != nil {
		return err
	}
	if err := tx.Bucket(age).Put(timeKey(endMs, id), v); err != nil {
		return err
	}
	return tx.Bucket(phone).Put(key(tenant, ph, id), nil)
}
