package state

import (
	"fmt"
	"time"
)

func timezoneShape(tz string) bool {
	if tz == "" || tz == "Local" || len(tz) > 64 {
		return false
	}
	for _, r := range tz {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '/' || r == '_' || r == '-' || r == '+') {
			return false
		}
	}
	return true
}

// ValidTimezone reports whether tz names a zone this binary can load (IANA name or UTC).
func ValidTimezone(tz string) bool {
	if !timezoneShape(tz) {
		return false
	}
	_, err := time.LoadLocation(tz)
	return err == nil
}

// Settings are one tenant's workflow settings.
type Settings struct {
	SCLEnabled             bool   `json:"scl_enabled"`
	ACWMinutes             int    `json:"acw_minutes"`
	ColdLeadDays           int    `json:"cold_lead_days"`
	AbandonedColdHours     int    `json:"abandoned_cold_hours"`
	ShortAbandonSeconds    int    `json:"short_abandon_seconds"`
	BannerDays             int    `json:"banner_days"`
	AutoResolveTalkSeconds int    `json:"auto_resolve_talk_seconds"`
	Timezone               string `json:"timezone"`
	NotificationPolicy     string `json:"notification_policy"`
	OutboundCallerID       string `json:"outbound_caller_id"`
	CallbackNumber         string `json:"callback_number"`
}

// DefaultSettings are the settings of a new tenant (DESIGN.md, "Domain rules").
func DefaultSettings() Settings {
	return Settings{
		SCLEnabled:             false,
		ACWMinutes:             5,
		ColdLeadDays:           3,
		AbandonedColdHours:     24,
		ShortAbandonSeconds:    0,
		BannerDays:             14,
		AutoResolveTalkSeconds: 30,
		Timezone:               "UTC",
		NotificationPolicy:     "all",
	}
}

// SettingsPatch carries the fields to change; nil fields are left alone.
type SettingsPatch struct {
	SCLEnabled             *bool   `json:"scl_enabled,omitempty"`
	ACWMinutes             *int    `json:"acw_minutes,omitempty"`
	ColdLeadDays           *int    `json:"cold_lead_days,omitempty"`
	AbandonedColdHours     *int    `json:"abandoned_cold_hours,omitempty"`
	ShortAbandonSeconds    *int    `json:"short_abandon_seconds,omitempty"`
	BannerDays             *int    `json:"banner_days,omitempty"`
	AutoResolveTalkSeconds *int    `json:"auto_resolve_talk_seconds,omitempty"`
	Timezone               *string `json:"timezone,omitempty"`
	NotificationPolicy     *string `json:"notification_policy,omitempty"`
	OutboundCallerID       *string `json:"outbound_caller_id,omitempty"`
	CallbackNumber         *string `json:"callback_number,omitempty"`
}

// Warning is advice about a valid but risky setting.
type Warning struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Apply validates p against s and returns the merged settings.
func (p SettingsPatch) Apply(s Settings) (Settings, error) {
	intField := func(dst *int, v *int, field string, lo, hi int) error {
		if v == nil {
			return nil
		}
		if *v < lo || *v > hi {
			return &Error{Code: CodeInvalid, Field: field, Message: fmt.Sprintf("%s must be between %d and %d", field, lo, hi)}
		}
		*dst = *v
		return nil
	}
	if p.SCLEnabled != nil {
		s.SCLEnabled = *p.SCLEnabled
	}
	for _, f := range []struct {
		dst    *int
		v      *int
		name   string
		lo, hi int
	}{
		{&s.ACWMinutes, p.ACWMinutes, "acw_minutes", 0, 1440},
		{&s.ColdLeadDays, p.ColdLeadDays, "cold_lead_days", 1, 365},
		{&s.AbandonedColdHours, p.AbandonedColdHours, "abandoned_cold_hours", 1, 24 * 365},
		{&s.ShortAbandonSeconds, p.ShortAbandonSeconds, "short_abandon_seconds", 0, 600},
		{&s.BannerDays, p.BannerDays, "banner_days", 1, 365},
		{&s.AutoResolveTalkSeconds, p.AutoResolveTalkSeconds, "auto_resolve_talk_seconds", 0, 3600},
	} {
		if err := intField(f.dst, f.v, f.name, f.lo, f.hi); err != nil {
			return s, err
		}
	}
	if p.Timezone != nil {
		// Only the shape is checked here: whether the zone exists depends on each node's
		// time zone database, and the state machine must decide the same everywhere. The
		// API checks the name with ValidTimezone before it proposes the change.
		if !timezoneShape(*p.Timezone) {
			return s, &Error{Code: CodeInvalid, Field: "timezone", Message: "unknown time zone"}
		}
		s.Timezone = *p.Timezone
	}
	if p.NotificationPolicy != nil {
		if *p.NotificationPolicy != "all" && *p.NotificationPolicy != "in_app_only" {
			return s, &Error{Code: CodeInvalid, Field: "notification_policy", Message: "notification_policy must be all or in_app_only"}
		}
		s.NotificationPolicy = *p.NotificationPolicy
	}
	if p.OutboundCallerID != nil {
		if len(*p.OutboundCallerID) > 32 {
			return s, &Error{Code: CodeInvalid, Field: "outbound_caller_id", Message: "outbound_caller_id is too long"}
		}
		s.OutboundCallerID = *p.OutboundCallerID
	}
	if p.CallbackNumber != nil {
		if len(*p.CallbackNumber) > 32 {
			return s, &Error{Code: CodeInvalid, Field: "callback_number", Message: "callback_number is too long"}
		}
		s.CallbackNumber = *p.CallbackNumber
	}
	return s, nil
}

// Warnings returns advice for settings that are valid but likely to hurt.
func (s Settings) Warnings() []Warning {
	var w []Warning
	if s.ACWMinutes > 60 {
		w = append(w, Warning{"acw_minutes", "more than 60 minutes: by the time the call is reviewed the customer may have booked someone else"})
	} else if s.ACWMinutes < 5 {
		w = append(w, Warning{"acw_minutes", "less than 5 minutes: the agent may still be booking the job, which creates leads you will have to close by hand"})
	}
	return w
}
