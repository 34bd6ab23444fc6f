package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/reboundhq/rebound/hub/state"
	"go.etcd.io/bbolt"
	"golang.org/x/crypto/bcrypt"
)

func (a *API) register() {
	// Login is the one route without authentication.
	a.routes = append(a.routes, Route{"POST", "/api/v1/auth/login"})
	a.mux.HandleFunc("POST /api/v1/auth/login", func(w http.ResponseWriter, r *http.Request) {
		if err := a.login(w, r); err != nil {
			a.writeErr(w, r, err)
		}
	})
	a.handle("POST", "/api/v1/auth/logout", a.logout)
	a.handle("GET", "/api/v1/me", a.me)
	a.handle("PUT", "/api/v1/me/password", a.changePassword)
	a.handle("GET", "/api/v1/me/notifications", a.getNotify)
	a.handle("PUT", "/api/v1/me/notifications", a.putNotify)
	a.handle("GET", "/api/v1/permissions", a.permissions)
	a.handle("GET", "/api/v1/tokens", a.listTokens)
	a.handle("POST", "/api/v1/tokens", a.createToken)
	a.handle("DELETE", "/api/v1/tokens/{id}", a.deleteToken)

	a.handle("GET", "/api/v1/tenants", a.listTenants)
	a.handle("POST", "/api/v1/tenants", a.createTenant)
	a.handle("GET", "/api/v1/tenants/{tenant}", a.getTenant)
	a.handle("GET", "/api/v1/tenants/{tenant}/roles", a.listRoles)
	a.handle("PUT", "/api/v1/tenants/{tenant}/roles/{name}", a.putRole)
	a.handle("GET", "/api/v1/tenants/{tenant}/users", a.listUsers)
	a.handle("POST", "/api/v1/tenants/{tenant}/users", a.createUser)
	a.handle("PATCH", "/api/v1/tenants/{tenant}/users/{id}", a.updateUser)
	a.handle("GET", "/api/v1/tenants/{tenant}/audit", a.tenantAudit)
	a.handle("GET", "/api/v1/tenants/{tenant}/settings", a.getSettings)
	a.handle("PUT", "/api/v1/tenants/{tenant}/settings", a.putSettings)
	a.handle("GET", "/api/v1/tenants/{tenant}/campaigns", a.listCampaigns)
	a.handle("POST", "/api/v1/tenants/{tenant}/campaigns", a.simpleCreate(state.CmdCampaignCreate, state.PermPhone))
	a.handle("GET", "/api/v1/tenants/{tenant}/tracking-numbers", a.listTracking)
	a.handle("POST", "/api/v1/tenants/{tenant}/tracking-numbers", a.putTracking)
	a.handle("DELETE", "/api/v1/tenants/{tenant}/tracking-numbers/{number}", a.deleteTracking)
	a.handle("GET", "/api/v1/tenants/{tenant}/queues", a.listQueues)
	a.handle("POST", "/api/v1/tenants/{tenant}/queues", a.simpleCreate(state.CmdQueueCreate, state.PermPhone))
	a.handle("GET", "/api/v1/tenants/{tenant}/sites", a.listSites)
	a.handle("POST", "/api/v1/tenants/{tenant}/sites", a.createSite)
	a.handle("POST", "/api/v1/tenants/{tenant}/sites/{id}/token", a.rotateSite)
	a.handle("GET", "/api/v1/tenants/{tenant}/reasons", a.listReasons)
	a.handle("POST", "/api/v1/tenants/{tenant}/reasons", a.putReason)
	a.handle("PUT", "/api/v1/tenants/{tenant}/reasons/{id}", a.putReason)
	a.handle("GET", "/api/v1/tenants/{tenant}/customers", a.listCustomers)
	a.handle("POST", "/api/v1/tenants/{tenant}/customers", a.createCustomer)
	a.handle("GET", "/api/v1/customers/{id}", a.getCustomer)
	a.handle("PATCH", "/api/v1/customers/{id}", a.updateCustomer)
	a.handle("POST", "/api/v1/customers/{id}/locations", a.createLocation)
	a.handle("PATCH", "/api/v1/locations/{id}", a.updateLocation)
	a.handle("POST", "/api/v1/tenants/{tenant}/jobs", a.createJob)
	a.handle("PATCH", "/api/v1/jobs/{id}", a.updateJob)
	a.handle("GET", "/api/v1/tenants/{tenant}/booking-banner", a.bookingBanner)
	a.handle("GET", "/api/v1/tenants/{tenant}/reports/unbooked-abandoned", a.report)
	a.registerQueues()
}

type meView struct {
	User        userView         `json:"user"`
	CSRFToken   string           `json:"csrfToken,omitempty"`
	Memberships []membershipView `json:"memberships"`
}

type userView struct {
	ID           string `json:"id"`
	Username     string `json:"username"`
	DisplayName  string `json:"displayName"`
	NetworkAdmin bool   `json:"networkAdmin"`
	Disabled     bool   `json:"disabled"`
	Role         string `json:"role,omitempty"`
	Extension    string `json:"extension,omitempty"`
}

type membershipView struct {
	TenantID    string   `json:"tenantId"`
	TenantName  string   `json:"tenantName"`
	Role        string   `json:"role"`
	Extension   string   `json:"extension,omitempty"`
	Permissions []string `json:"permissions"`
}

func viewUser(u *state.User, tenant string) userView {
	v := userView{ID: u.ID, Username: u.Username, DisplayName: u.DisplayName, NetworkAdmin: u.NetworkAdmin, Disabled: u.Disabled}
	if m, ok := u.Membership(tenant); ok {
		v.Role, v.Extension = m.Role, m.Extension
	}
	return v
}

func meOf(tx *bbolt.Tx, u *state.User, csrf string) meView {
	mv := meView{User: viewUser(u, ""), CSRFToken: csrf, Memberships: []membershipView{}}
	tenants := map[string]string{}
	var ids []string
	for _, m := range u.Memberships {
		tenants[m.TenantID] = m.Role
		ids = append(ids, m.TenantID)
	}
	if u.NetworkAdmin {
		all, _ := state.ListTenants(tx)
		ids = ids[:0]
		for _, t := range all {
			ids = append(ids, t.ID)
			if tenants[t.ID] == "" {
				tenants[t.ID] = "Admin"
			}
		}
	}
	for _, id := range ids {
		t, ok, _ := state.GetTenant(tx, id)
		if !ok {
			continue
		}
		m, _ := u.Membership(id)
		perms := []string{}
		for _, p := range state.Permissions() {
			if state.Can(tx, u, id, p.Key) {
				perms = append(perms, p.Key)
			}
		}
		mv.Memberships = append(mv.Memberships, membershipView{TenantID: id, TenantName: t.Name, Role: tenants[id], Extension: m.Extension, Permissions: perms})
	}
	return mv
}

func (a *API) login(w http.ResponseWriter, r *http.Request) error {
	var b struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := decode(r, &b); err != nil {
		return err
	}
	name := strings.ToLower(strings.TrimSpace(b.Username))
	if !a.loginAllowed(name, a.cfg.Clock()) {
		return &apiError{429, "too_many_attempts", "too many failed sign-ins for this user; wait a few minutes", ""}
	}
	var u *state.User
	if err := a.view(r.Context(), func(tx *bbolt.Tx) error {
		var ok bool
		var err error
		u, ok, err = state.UserByUsername(tx, b.Username)
		if !ok {
			u = nil
		}
		return err
	}); err != nil {
		return err
	}
	hash := a.dummy
	if u != nil {
		hash = []byte(u.PasswordHash)
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(b.Password)) != nil || u == nil || u.Disabled {
		a.log.Info("login failed", "username", name)
		a.loginFailed(name, a.cfg.Clock())
		return &apiError{401, "unauthenticated", "wrong username or password", ""}
	}
	a.loginOK(name)
	token, csrf := randomToken(32), randomToken(24)
	now := a.cfg.Clock()
	if err := a.apply(r.Context(), &reqCtx{user: u}, state.CmdSessionCreate, "", state.SessionBody{
		Hash: state.HashToken(token), UserID: u.ID, CSRF: csrf, ExpiresMs: now.Add(a.cfg.SessionTTL).UnixMilli()}, nil); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: token, Path: "/", HttpOnly: true, Secure: a.cfg.SecureCookies,
		SameSite: http.SameSiteLaxMode, MaxAge: int(a.cfg.SessionTTL / time.Second)})
	var mv meView
	err := a.view(r.Context(), func(tx *bbolt.Tx) error { mv = meOf(tx, u, csrf); return nil })
	if err != nil {
		return err
	}
	writeJSON(w, 200, mv)
	return nil
}

func (a *API) logout(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	if rc.session != "" {
		if err := a.apply(r.Context(), rc, state.CmdSessionDelete, "", state.SessionBody{Hash: rc.session}, nil); err != nil {
			return err
		}
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: a.cfg.SecureCookies})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) me(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var mv meView
	err := a.view(r.Context(), func(tx *bbolt.Tx) error { mv = meOf(tx, rc.user, rc.csrf); return nil })
	if err != nil {
		return err
	}
	writeJSON(w, 200, mv)
	return nil
}

func (a *API) changePassword(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var b struct {
		Current string `json:"current"`
		New     string `json:"new"`
	}
	if err := decode(r, &b); err != nil {
		return err
	}
	if bcrypt.CompareHashAndPassword([]byte(rc.user.PasswordHash), []byte(b.Current)) != nil {
		return &apiError{400, "invalid", "the current password is wrong", "current"}
	}
	h, err := HashPassword(b.New, a.cfg.BcryptCost)
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) {
			ae.field = "new"
		}
		return err
	}
	if err := a.apply(r.Context(), rc, state.CmdUserUpdate, "", state.UserBody{UserID: rc.user.ID, PasswordHash: h}, nil); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type notifyView struct {
	InApp bool   `json:"inApp"`
	Email string `json:"email"`
	SMS   string `json:"sms"`
}

func (a *API) getNotify(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	n := rc.user.Notify
	writeJSON(w, 200, notifyView{InApp: !n.InAppOff, Email: n.Email, SMS: n.SMS})
	return nil
}

func (a *API) putNotify(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var b notifyView
	if err := decode(r, &b); err != nil {
		return err
	}
	var n state.NotifyPrefs
	if err := a.apply(r.Context(), rc, state.CmdUserNotify, "", state.NotifyPrefs{InAppOff: !b.InApp, Email: b.Email, SMS: b.SMS}, &n); err != nil {
		return err
	}
	writeJSON(w, 200, notifyView{InApp: !n.InAppOff, Email: n.Email, SMS: n.SMS})
	return nil
}

func (a *API) permissions(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	writeJSON(w, 200, map[string]any{"items": state.Permissions()})
	return nil
}

type tokenView struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
	Token     string    `json:"token,omitempty"`
}

func (a *API) listTokens(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	items := []tokenView{}
	err := a.view(r.Context(), func(tx *bbolt.Tx) error {
		ts, err := state.ListTokens(tx, rc.user.ID)
		for _, t := range ts {
			items = append(items, tokenView{ID: t.ID, Name: t.Name, CreatedAt: time.UnixMilli(t.CreatedMs).UTC()})
		}
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, 200, map[string]any{"items": items})
	return nil
}

func (a *API) createToken(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var b struct {
		Name string `json:"name"`
	}
	if err := decode(r, &b); err != nil {
		return err
	}
	tok := "rbt_" + randomToken(32)
	var t state.APIToken
	if err := a.apply(r.Context(), rc, state.CmdTokenCreate, "", state.TokenBody{Hash: state.HashToken(tok), Name: b.Name}, &t); err != nil {
		return err
	}
	writeJSON(w, 201, tokenView{ID: t.ID, Name: t.Name, CreatedAt: time.UnixMilli(t.CreatedMs).UTC(), Token: tok})
	return nil
}

func (a *API) deleteToken(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	if err := a.apply(r.Context(), rc, state.CmdTokenDelete, "", state.TokenBody{ID: r.PathValue("id")}, nil); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) listTenants(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	items := []state.Tenant{}
	err := a.view(r.Context(), func(tx *bbolt.Tx) error {
		all, err := state.ListTenants(tx)
		for _, t := range all {
			if state.IsMember(tx, rc.user, t.ID) {
				items = append(items, t)
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, 200, map[string]any{"items": items})
	return nil
}

func (a *API) createTenant(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	if !rc.user.NetworkAdmin {
		return errForbidden()
	}
	var b state.TenantBody
	if err := decode(r, &b); err != nil {
		return err
	}
	var t state.Tenant
	if err := a.apply(r.Context(), rc, state.CmdTenantCreate, "", b, &t); err != nil {
		return err
	}
	writeJSON(w, 201, t)
	return nil
}

func (a *API) getTenant(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var t *state.Tenant
	err := a.view(r.Context(), func(tx *bbolt.Tx) error {
		if err := need(tx, rc, r.PathValue("tenant")); err != nil {
			return err
		}
		var err error
		t, _, err = state.GetTenant(tx, r.PathValue("tenant"))
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, 200, t)
	return nil
}

// listIn serves a tenant-scoped list after checking perms.
func listIn[T any](a *API, w http.ResponseWriter, r *http.Request, rc *reqCtx, list func(tx *bbolt.Tx, tenant string) ([]T, error), perms ...string) error {
	var items []T
	tenant := r.PathValue("tenant")
	err := a.view(r.Context(), func(tx *bbolt.Tx) error {
		if err := need(tx, rc, tenant, perms...); err != nil {
			return err
		}
		var err error
		items, err = list(tx, tenant)
		return err
	})
	if err != nil {
		return err
	}
	if items == nil {
		items = []T{}
	}
	writeJSON(w, 200, map[string]any{"items": items})
	return nil
}

func (a *API) listRoles(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	return listIn(a, w, r, rc, state.ListRoles, state.PermUsersAdmin)
}

func (a *API) putRole(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	tenant := r.PathValue("tenant")
	if err := a.needTenant(r, rc, tenant, state.PermUsersAdmin); err != nil {
		return err
	}
	var b struct {
		Permissions []string `json:"permissions"`
	}
	if err := decode(r, &b); err != nil {
		return err
	}
	var role state.Role
	if err := a.apply(r.Context(), rc, state.CmdRolePut, tenant, state.RoleBody{Name: r.PathValue("name"), Permissions: b.Permissions}, &role); err != nil {
		return err
	}
	writeJSON(w, 200, role)
	return nil
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	tenant := r.PathValue("tenant")
	return listIn(a, w, r, rc, func(tx *bbolt.Tx, t string) ([]userView, error) {
		us, err := state.ListUsers(tx, t)
		out := make([]userView, 0, len(us))
		for i := range us {
			out = append(out, viewUser(&us[i], tenant))
		}
		return out, err
	}, state.PermUsersAdmin)
}

type userInput struct {
	Username    string  `json:"username"`
	Password    string  `json:"password"`
	DisplayName *string `json:"displayName"`
	Role        string  `json:"role"`
	Extension   *string `json:"extension"`
	Disabled    *bool   `json:"disabled"`
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	tenant := r.PathValue("tenant")
	if err := a.needTenant(r, rc, tenant, state.PermUsersAdmin); err != nil {
		return err
	}
	var b userInput
	if err := decode(r, &b); err != nil {
		return err
	}
	body := state.UserBody{Username: b.Username, DisplayName: b.DisplayName, Role: b.Role, Extension: b.Extension}
	var exists bool
	_ = a.view(r.Context(), func(tx *bbolt.Tx) error { _, exists, _ = state.UserByUsername(tx, b.Username); return nil })
	if !exists {
		h, err := HashPassword(b.Password, a.cfg.BcryptCost)
		if err != nil {
			return err
		}
		body.PasswordHash = h
	}
	var u state.User
	if err := a.apply(r.Context(), rc, state.CmdUserCreate, tenant, body, &u); err != nil {
		return err
	}
	writeJSON(w, 201, viewUser(&u, tenant))
	return nil
}

func (a *API) updateUser(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	tenant := r.PathValue("tenant")
	if err := a.needTenant(r, rc, tenant, state.PermUsersAdmin); err != nil {
		return err
	}
	var b userInput
	if err := decode(r, &b); err != nil {
		return err
	}
	if b.Password != "" || b.Disabled != nil || b.DisplayName != nil {
		// Password, disabled and name belong to the person, not to one membership: only an
		// admin of every account the user is in may change them (a network admin only by
		// a network admin), or one account's admin could take over another's users.
		err := a.view(r.Context(), func(tx *bbolt.Tx) error {
			u, ok, err := state.GetUser(tx, r.PathValue("id"))
			if err != nil || !ok {
				return errNotFound()
			}
			if u.NetworkAdmin && !rc.user.NetworkAdmin {
				return errForbidden()
			}
			for _, m := range u.Memberships {
				if !state.Can(tx, rc.user, m.TenantID, state.PermUsersAdmin) {
					return &apiError{403, "forbidden", "this user also belongs to an account you do not administer: only their role and extension here can be changed", ""}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	body := state.UserBody{UserID: r.PathValue("id"), DisplayName: b.DisplayName, Role: b.Role, Extension: b.Extension, Disabled: b.Disabled}
	if b.Password != "" {
		h, err := HashPassword(b.Password, a.cfg.BcryptCost)
		if err != nil {
			return err
		}
		body.PasswordHash = h
	}
	var u state.User
	if err := a.apply(r.Context(), rc, state.CmdUserUpdate, tenant, body, &u); err != nil {
		return err
	}
	writeJSON(w, 200, viewUser(&u, tenant))
	return nil
}

func (a *API) tenantAudit(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	tenant := r.PathValue("tenant")
	return a.auditOf(w, r, rc, tenant, tenant, state.PermUsersAdmin, state.PermSettings)
}

func (a *API) getSettings(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	tenant := r.PathValue("tenant")
	var s state.Settings
	err := a.view(r.Context(), func(tx *bbolt.Tx) error {
		if err := need(tx, rc, tenant); err != nil {
			return err
		}
		var err error
		s, err = state.GetSettings(tx, tenant)
		return err
	})
	if err != nil {
		return err
	}
	w2 := s.Warnings()
	if w2 == nil {
		w2 = []state.Warning{}
	}
	writeJSON(w, 200, state.SettingsResult{Settings: s, Warnings: w2})
	return nil
}

func (a *API) putSettings(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	tenant := r.PathValue("tenant")
	var p state.SettingsPatch
	if err := decode(r, &p); err != nil {
		return err
	}
	if p.Timezone != nil && !state.ValidTimezone(*p.Timezone) {
		return errBad("timezone", "unknown time zone %q", *p.Timezone)
	}
	err := a.view(r.Context(), func(tx *bbolt.Tx) error {
		if err := need(tx, rc, tenant); err != nil {
			return err
		}
		// Turning SCL on or off is Feature Management; every other field is the TI,
		// Follow Up & Reporting settings permission.
		if p.SCLEnabled != nil && !state.Can(tx, rc.user, tenant, state.PermFeatures) {
			return errForbidden()
		}
		rest := p
		rest.SCLEnabled = nil
		if rest != (state.SettingsPatch{}) && !state.Can(tx, rc.user, tenant, state.PermSettings) {
			return errForbidden()
		}
		if p == (state.SettingsPatch{}) && !state.Can(tx, rc.user, tenant, state.PermSettings) && !state.Can(tx, rc.user, tenant, state.PermFeatures) {
			return errForbidden()
		}
		return nil
	})
	if err != nil {
		return err
	}
	var res state.SettingsResult
	if err := a.apply(r.Context(), rc, state.CmdSettingsUpdate, tenant, p, &res); err != nil {
		return err
	}
	writeJSON(w, 200, res)
	return nil
}

func (a *API) listCampaigns(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	return listIn(a, w, r, rc, state.ListCampaigns)
}

func (a *API) simpleCreate(cmd, perm string) handler {
	return func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
		tenant := r.PathValue("tenant")
		if err := a.needTenant(r, rc, tenant, perm); err != nil {
			return err
		}
		var b state.NamedBody
		if err := decode(r, &b); err != nil {
			return err
		}
		var out json.RawMessage
		if err := a.apply(r.Context(), rc, cmd, tenant, b, &out); err != nil {
			return err
		}
		writeJSON(w, 201, out)
		return nil
	}
}

func (a *API) listTracking(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	return listIn(a, w, r, rc, state.ListTrackingNumbers)
}

func (a *API) putTracking(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	tenant := r.PathValue("tenant")
	if err := a.needTenant(r, rc, tenant, state.PermPhone); err != nil {
		return err
	}
	var b state.TrackingNumber
	if err := decode(r, &b); err != nil {
		return err
	}
	var t state.TrackingNumber
	if err := a.apply(r.Context(), rc, state.CmdTrackingPut, tenant, b, &t); err != nil {
		return err
	}
	writeJSON(w, 201, t)
	return nil
}

func (a *API) deleteTracking(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	tenant := r.PathValue("tenant")
	if err := a.needTenant(r, rc, tenant, state.PermPhone); err != nil {
		return err
	}
	if err := a.apply(r.Context(), rc, state.CmdTrackingDelete, tenant, state.TrackingNumber{Number: r.PathValue("number")}, nil); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) listQueues(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	return listIn(a, w, r, rc, state.ListQueues)
}

type siteView struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	TenantID  string    `json:"tenantId"`
	CreatedAt time.Time `json:"createdAt"`
	Token     string    `json:"token,omitempty"`
}

func (a *API) listSites(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	return listIn(a, w, r, rc, func(tx *bbolt.Tx, t string) ([]siteView, error) {
		ss, err := state.ListSites(tx, t)
		out := []siteView{}
		for _, s := range ss {
			out = append(out, siteView{ID: s.ID, Name: s.Name, TenantID: s.TenantID, CreatedAt: time.UnixMilli(s.CreatedMs).UTC()})
		}
		return out, err
	}, state.PermPhone)
}

func (a *API) createSite(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	tenant := r.PathValue("tenant")
	if err := a.needTenant(r, rc, tenant, state.PermPhone); err != nil {
		return err
	}
	var b state.NamedBody
	if err := decode(r, &b); err != nil {
		return err
	}
	tok := "rbs_" + randomToken(32)
	var s state.Site
	if err := a.apply(r.Context(), rc, state.CmdSiteCreate, tenant, state.SiteBody{Name: b.Name, TokenHash: state.HashToken(tok)}, &s); err != nil {
		return err
	}
	writeJSON(w, 201, siteView{ID: s.ID, Name: s.Name, TenantID: s.TenantID, CreatedAt: time.UnixMilli(s.CreatedMs).UTC(), Token: tok})
	return nil
}

func (a *API) rotateSite(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	tenant := r.PathValue("tenant")
	if err := a.needTenant(r, rc, tenant, state.PermPhone); err != nil {
		return err
	}
	tok := "rbs_" + randomToken(32)
	var s state.Site
	if err := a.apply(r.Context(), rc, state.CmdSiteToken, tenant, state.SiteBody{SiteID: r.PathValue("id"), TokenHash: state.HashToken(tok)}, &s); err != nil {
		return err
	}
	writeJSON(w, 200, siteView{ID: s.ID, Name: s.Name, TenantID: s.TenantID, CreatedAt: time.UnixMilli(s.CreatedMs).UTC(), Token: tok})
	return nil
}

func (a *API) listReasons(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	return listIn(a, w, r, rc, state.ListReasons)
}

func (a *API) putReason(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	tenant := r.PathValue("tenant")
	if err := a.needTenant(r, rc, tenant, state.PermSettings); err != nil {
		return err
	}
	var b struct {
		Name   string `json:"name"`
		IsLead bool   `json:"isLead"`
	}
	if err := decode(r, &b); err != nil {
		return err
	}
	cmd, status := state.CmdReasonCreate, 201
	if r.Method == http.MethodPut {
		cmd, status = state.CmdReasonUpdate, 200
	}
	var out state.Reason
	if err := a.apply(r.Context(), rc, cmd, tenant, state.ReasonBody{ID: r.PathValue("id"), Name: b.Name, IsLead: b.IsLead}, &out); err != nil {
		return err
	}
	writeJSON(w, status, out)
	return nil
}

type customerView struct {
	state.Customer
	Locations []state.Location `json:"locations"`
}

func customerOf(tx *bbolt.Tx, c *state.Customer) customerView {
	v := customerView{Customer: *c, Locations: []state.Location{}}
	for _, id := range c.LocationIDs {
		if l, ok, _ := state.GetLocation(tx, id); ok {
			v.Locations = append(v.Locations, *l)
		}
	}
	return v
}

func (a *API) listCustomers(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	q := r.URL.Query()
	return listIn(a, w, r, rc, func(tx *bbolt.Tx, t string) ([]customerView, error) {
		cs, err := state.FindCustomers(tx, t, q.Get("phone"), q.Get("q"), 200)
		out := []customerView{}
		for i := range cs {
			out = append(out, customerOf(tx, &cs[i]))
		}
		return out, err
	}, state.PermViewSCL, state.PermEditAbandoned)
}

type customerInput struct {
	Name   *string   `json:"name"`
	Phones *[]string `json:"phones"`
	Notes  *string   `json:"notes"`
}

func (a *API) createCustomer(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	tenant := r.PathValue("tenant")
	if err := a.needTenant(r, rc, tenant, state.PermEditSCL, state.PermEditAbandoned); err != nil {
		return err
	}
	var b customerInput
	if err := decode(r, &b); err != nil {
		return err
	}
	var c state.Customer
	if err := a.apply(r.Context(), rc, state.CmdCustomerCreate, tenant, state.CustomerBody{Name: b.Name, Phones: b.Phones, Notes: b.Notes}, &c); err != nil {
		return err
	}
	writeJSON(w, 201, customerView{Customer: c, Locations: []state.Location{}})
	return nil
}

// objectTenant loads the tenant of an object by id and checks perms.
func (a *API) objectTenant(r *http.Request, rc *reqCtx, get func(tx *bbolt.Tx) (string, bool), perms ...string) (string, error) {
	var tenant string
	err := a.view(r.Context(), func(tx *bbolt.Tx) error {
		t, ok := get(tx)
		if !ok {
			return errNotFound()
		}
		tenant = t
		return need(tx, rc, t, perms...)
	})
	return tenant, err
}

func customerTenant(id string) func(tx *bbolt.Tx) (string, bool) {
	return func(tx *bbolt.Tx) (string, bool) {
		c, ok, _ := state.GetCustomer(tx, id)
		if !ok {
			return "", false
		}
		return c.TenantID, true
	}
}

func (a *API) getCustomer(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	var v customerView
	err := a.view(r.Context(), func(tx *bbolt.Tx) error {
		c, ok, err := state.GetCustomer(tx, r.PathValue("id"))
		if err != nil {
			return err
		}
		if !ok {
			return errNotFound()
		}
		if err := need(tx, rc, c.TenantID, state.PermViewSCL, state.PermEditAbandoned); err != nil {
			return err
		}
		v = customerOf(tx, c)
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, 200, v)
	return nil
}

func (a *API) updateCustomer(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	id := r.PathValue("id")
	tenant, err := a.objectTenant(r, rc, customerTenant(id), state.PermEditSCL, state.PermEditAbandoned)
	if err != nil {
		return err
	}
	var b customerInput
	if err := decode(r, &b); err != nil {
		return err
	}
	var c state.Customer
	if err := a.apply(r.Context(), rc, state.CmdCustomerUpdate, tenant, state.CustomerBody{ID: id, Name: b.Name, Phones: b.Phones, Notes: b.Notes}, &c); err != nil {
		return err
	}
	var v customerView
	_ = a.view(r.Context(), func(tx *bbolt.Tx) error { v = customerOf(tx, &c); return nil })
	writeJSON(w, 200, v)
	return nil
}

type locationInput struct {
	Address *string `json:"address"`
	Zone    *string `json:"zone"`
	Notes   *string `json:"notes"`
}

func (a *API) createLocation(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	id := r.PathValue("id")
	tenant, err := a.objectTenant(r, rc, customerTenant(id), state.PermEditSCL, state.PermEditAbandoned)
	if err != nil {
		return err
	}
	var b locationInput
	if err := decode(r, &b); err != nil {
		return err
	}
	var l state.Location
	if err := a.apply(r.Context(), rc, state.CmdLocationCreate, tenant, state.LocationBody{CustomerID: id, Address: b.Address, Zone: b.Zone, Notes: b.Notes}, &l); err != nil {
		return err
	}
	writeJSON(w, 201, l)
	return nil
}

func (a *API) updateLocation(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	id := r.PathValue("id")
	tenant, err := a.objectTenant(r, rc, func(tx *bbolt.Tx) (string, bool) {
		l, ok, _ := state.GetLocation(tx, id)
		if !ok {
			return "", false
		}
		return l.TenantID, true
	}, state.PermEditSCL, state.PermEditAbandoned)
	if err != nil {
		return err
	}
	var b locationInput
	if err := decode(r, &b); err != nil {
		return err
	}
	var l state.Location
	if err := a.apply(r.Context(), rc, state.CmdLocationUpdate, tenant, state.LocationBody{ID: id, Address: b.Address, Zone: b.Zone, Notes: b.Notes}, &l); err != nil {
		return err
	}
	writeJSON(w, 200, l)
	return nil
}

type jobInput struct {
	Phone       string     `json:"phone"`
	CustomerID  string     `json:"customerId"`
	LocationID  string     `json:"locationId"`
	ExternalID  string     `json:"externalId"`
	CreatedAt   *time.Time `json:"createdAt"`
	ScheduledAt *time.Time `json:"scheduledAt"`
	CompletedAt *time.Time `json:"completedAt"`
}

type jobView struct {
	ID           string     `json:"id"`
	TenantID     string     `json:"tenantId"`
	ExternalID   string     `json:"externalId,omitempty"`
	Phone        string     `json:"phone,omitempty"`
	CustomerID   string     `json:"customerId,omitempty"`
	LocationID   string     `json:"locationId,omitempty"`
	CreatedAt    time.Time  `json:"createdAt"`
	ScheduledAt  *time.Time `json:"scheduledAt,omitempty"`
	CompletedAt  *time.Time `json:"completedAt,omitempty"`
	SourceLeadID string     `json:"sourceLeadId,omitempty"`
}

func msPtr(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	v := t.UnixMilli()
	return &v
}

func timePtr(ms int64) *time.Time {
	if ms == 0 {
		return nil
	}
	t := time.UnixMilli(ms).UTC()
	return &t
}

func viewJob(j state.Job) jobView {
	return jobView{ID: j.ID, TenantID: j.TenantID, ExternalID: j.ExternalID, Phone: j.Phone, CustomerID: j.CustomerID,
		LocationID: j.LocationID, CreatedAt: time.UnixMilli(j.CreatedMs).UTC(), ScheduledAt: timePtr(j.ScheduledMs),
		CompletedAt: timePtr(j.CompletedMs), SourceLeadID: j.SourceLeadID}
}

func (a *API) createJob(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	tenant := r.PathValue("tenant")
	if err := a.needTenant(r, rc, tenant, state.PermEditSCL, state.PermEditAbandoned); err != nil {
		return err
	}
	var b jobInput
	if err := decode(r, &b); err != nil {
		return err
	}
	body := state.JobBody{Phone: b.Phone, CustomerID: b.CustomerID, LocationID: b.LocationID, ExternalID: b.ExternalID,
		ScheduledMs: msPtr(b.ScheduledAt), CompletedMs: msPtr(b.CompletedAt)}
	if b.CreatedAt != nil {
		body.CreatedMs = b.CreatedAt.UnixMilli()
	}
	var res state.JobResult
	if err := a.apply(r.Context(), rc, state.CmdJobCreate, tenant, body, &res); err != nil {
		return err
	}
	writeJSON(w, 201, map[string]any{"job": viewJob(res.Job), "closedLeads": res.ClosedLeads})
	return nil
}

func (a *API) updateJob(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	id := r.PathValue("id")
	tenant, err := a.objectTenant(r, rc, func(tx *bbolt.Tx) (string, bool) {
		j, ok, _ := state.GetJob(tx, id)
		if !ok {
			return "", false
		}
		return j.TenantID, true
	}, state.PermEditSCL, state.PermEditAbandoned)
	if err != nil {
		return err
	}
	var b jobInput
	if err := decode(r, &b); err != nil {
		return err
	}
	var res state.JobResult
	if err := a.apply(r.Context(), rc, state.CmdJobUpdate, tenant, state.JobBody{ID: id, ExternalID: b.ExternalID,
		ScheduledMs: msPtr(b.ScheduledAt), CompletedMs: msPtr(b.CompletedAt)}, &res); err != nil {
		return err
	}
	writeJSON(w, 200, map[string]any{"job": viewJob(res.Job)})
	return nil
}

func (a *API) bookingBanner(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	tenant := r.PathValue("tenant")
	phone := r.URL.Query().Get("phone")
	if state.NormalizePhone(phone) == "" {
		return errBad("phone", "phone is required")
	}
	var out map[string]any
	err := a.view(r.Context(), func(tx *bbolt.Tx) error {
		if err := need(tx, rc, tenant, state.PermViewSCL); err != nil {
			return err
		}
		l, err := state.BookingBanner(tx, tenant, phone, rc.now)
		if err != nil {
			return err
		}
		out = map[string]any{"lead": nil}
		if l != nil {
			lk := newLookup(tx)
			out["lead"] = lk.lead(l, rc.now, false)
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, 200, out)
	return nil
}

func (a *API) auditOf(w http.ResponseWriter, r *http.Request, rc *reqCtx, tenant, objID string, perms ...string) error {
	limit := 200
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return errBad("limit", "limit must be 1..1000")
		}
		limit = n
	}
	type entry struct {
		At        time.Time `json:"at"`
		Actor     string    `json:"actor"`
		ActorName string    `json:"actorName"`
		Action    string    `json:"action"`
		Detail    string    `json:"detail"`
	}
	items := []entry{}
	err := a.view(r.Context(), func(tx *bbolt.Tx) error {
		if err := need(tx, rc, tenant, perms...); err != nil {
			return err
		}
		es, err := state.Audit(tx, objID, limit)
		for _, e := range es {
			name := e.Actor
			if u, ok, _ := state.GetUser(tx, e.Actor); ok {
				name = u.DisplayName
			}
			items = append(items, entry{At: time.UnixMilli(e.AtMs).UTC(), Actor: e.Actor, ActorName: name, Action: e.Action, Detail: e.Detail})
		}
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, 200, map[string]any{"items": items})
	return nil
}
