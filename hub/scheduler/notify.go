package scheduler

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/reboundhq/rebound/hub/state"
	reboundv1 "github.com/reboundhq/rebound/proto/rebound/v1"
	"go.etcd.io/bbolt"
)

// Notification is one message about a new lead on one channel ("email" or "sms"). In-app
// notifications need none: the web UI's live stream shows every committed lead.
type Notification struct {
	TenantID string `json:"tenantId"`
	LeadID   string `json:"leadId"`
	UserID   string `json:"userId"`
	Channel  string `json:"channel"`
	To       string `json:"to"`
	Subject  string `json:"subject"`
	Text     string `json:"text"`
}

// Notifier delivers email and SMS notifications.
type Notifier interface {
	Notify(ctx context.Context, n Notification) error
}

// notifyLeads tells each user who may see the new leads, on the channels they chose and
// the tenant allows, and commits what happened as lead.notified (the lead's audit trail).
func (s *Scheduler) notifyLeads(ctx context.Context, leads []string) {
	if s.cfg.Notifier == nil || len(leads) == 0 {
		return
	}
	type job struct {
		tenant string
		notes  []Notification
	}
	var jobs []job
	err := s.cfg.Store.View(ctx, false, func(tx *bbolt.Tx) error {
		for _, id := range leads {
			l, ok, err := state.GetLead(tx, id)
			if err != nil || !ok {
				continue
			}
			t, _, _ := state.GetTenant(tx, l.TenantID)
			rs, err := state.LeadRecipients(tx, l.TenantID)
			if err != nil {
				return err
			}
			j := job{tenant: l.TenantID}
			text := fmt.Sprintf("New Second Chance Lead for %s: %s (caller %s, lead %s)", t.Name, l.Summary, l.Phone, l.ID)
			for _, r := range rs {
				if r.Email != "" {
					j.notes = append(j.notes, Notification{TenantID: l.TenantID, LeadID: l.ID, UserID: r.UserID, Channel: "email", To: r.Email, Subject: "New Second Chance Lead", Text: text})
				}
				if r.SMS != "" {
					j.notes = append(j.notes, Notification{TenantID: l.TenantID, LeadID: l.ID, UserID: r.UserID, Channel: "sms", To: r.SMS, Text: text})
				}
			}
			if len(j.notes) > 0 {
				jobs = append(jobs, j)
			}
		}
		return nil
	})
	if err != nil {
		s.log.Warn("notification recipients", "err", err)
		return
	}
	var cmds []*reboundv1.Command
	for _, j := range jobs {
		body := state.NotifiedBody{ID: j.notes[0].LeadID}
		for _, n := range j.notes {
			nctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := s.cfg.Notifier.Notify(nctx, n)
			cancel()
			d := state.Delivery{UserID: n.UserID, Channel: n.Channel, OK: err == nil}
			if err != nil {
				d.Error = err.Error()
				s.log.Warn("notify", "lead", n.LeadID, "channel", n.Channel, "err", err)
			}
			body.Deliveries = append(body.Deliveries, d)
		}
		b, _ := json.Marshal(body)
		cmds = append(cmds, &reboundv1.Command{Version: 1, Type: state.CmdLeadNotified, TenantId: j.tenant, Actor: "scheduler", Body: b})
	}
	if len(cmds) > 0 {
		if _, err := s.cfg.Store.Apply(ctx, cmds...); err != nil {
			s.log.Warn("record notifications", "err", err)
		}
	}
}

// Webhook delivers notifications by POSTing them as JSON to an HTTP endpoint (an SMS
// provider's or a mail relay's), with a bearer token. Any 2xx status is delivered.
type Webhook struct {
	URL    string
	Token  string
	Client *http.Client
}

// Notify posts n.
func (w Webhook) Notify(ctx context.Context, n Notification) error {
	b, err := json.Marshal(n)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("notify webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if w.Token != "" {
		req.Header.Set("Authorization", "Bearer "+w.Token)
	}
	c := w.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("notify webhook: %w", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("notify webhook: %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}
