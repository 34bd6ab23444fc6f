// My Account: who am I, my roles, password change, notification channels.
import * as api from './api.js';
import { h, $, clear } from './dom.js';
import { NOTIFY_KINDS, notifyPrefs, setNotifyPrefs } from './live.js';

export async function start() {
  const me = api.current();
  const root = $('#account');
  const cur = h('input', { type: 'password', id: 'pw-current', autocomplete: 'current-password' });
  const nw = h('input', { type: 'password', id: 'pw-new', autocomplete: 'new-password', minlength: '8' });
  const again = h('input', { type: 'password', id: 'pw-again', autocomplete: 'new-password' });
  const msg = h('p', { 'aria-live': 'polite' });
  const form = h('form', { class: 'card', 'aria-label': 'Change password' }, h('h2', {}, 'Change password'),
    h('div', { class: 'grid-form' }, h('label', { for: cur.id }, 'Current password'), cur, h('span'),
      h('label', { for: nw.id }, 'New password (8 or more characters)'), nw, h('span'),
      h('label', { for: again.id }, 'New password again'), again, h('span')),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Change password')), msg);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (nw.value.length < 8) { clear(msg, h('span', { class: 'error' }, 'The new password needs 8 or more characters.')); return; }
    if (nw.value !== again.value) { clear(msg, h('span', { class: 'error' }, 'The two new passwords differ.')); return; }
    try {
      await api.api('POST', '/api/v1/auth/password', { currentPassword: cur.value, newPassword: nw.value }, { noRedirect: true });
      clear(msg, h('span', { class: 'ok' }, 'Password changed.'));
      form.reset();
    } catch (x) {
      if (x.status === 404 || x.status === 405) {
        // No self-service route on this hub: a user administrator may still
        // set their own password through user administration.
        const t = api.currentTenant();
        if (api.can('users.admin', t)) {
          try {
            await api.patch(`/api/v1/tenants/${encodeURIComponent(t)}/users/${encodeURIComponent(me.user.id)}`, { password: nw.value });
            clear(msg, h('span', { class: 'ok' }, 'Password changed.'));
            form.reset();
          } catch (y) { clear(msg, h('span', { class: 'error' }, y.message)); }
          return;
        }
        clear(msg, h('span', { class: 'error' }, 'This hub does not let users change their own password yet. Ask a user administrator.'));
        return;
      }
      clear(msg, h('span', { class: 'error' }, x.status === 401 || x.status === 403 ? 'The current password is wrong.' : x.message));
    }
  });
  const prefs = notifyPrefs();
  const nmsg = h('p', { 'aria-live': 'polite', class: 'muted' });
  const notify = h('fieldset', { class: 'card', id: 'notify-prefs' }, h('legend', {}, 'In-app notifications'),
    NOTIFY_KINDS.map(([k, label]) => h('div', { class: 'switch' },
      h('input', { type: 'checkbox', id: 'notify-' + k, checked: prefs[k], onchange: (e) => {
        prefs[k] = e.target.checked;
        setNotifyPrefs(prefs);
        nmsg.textContent = 'Saved for this browser.';
      } }), h('label', { for: 'notify-' + k }, label))),
    h('p', { class: 'muted' }, 'Toasts and the Alerts badge follow these choices in this browser. Email and SMS delivery depend on your account\'s notification policy, set by an admin.'),
    nmsg);
  clear(root,
    h('div', { class: 'card' }, h('h2', {}, me.user?.displayName || me.user?.username),
      h('ul', {}, (me.memberships || []).map((m) => h('li', {}, `${m.tenantName}: ${m.role}`)))),
    notify, form);
}
