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
      await api.api('PUT', '/api/v1/me/password', { current: cur.value, new: nw.value }, { noRedirect: true });
      clear(msg, h('span', { class: 'ok' }, 'Password changed.'));
      form.reset();
    } catch (x) {
      const wrongCurrent = x.status === 400 && x.field === 'current';
      clear(msg, h('span', { class: 'error' }, wrongCurrent ? 'The current password is wrong.' : x.message));
    }
  });
  const channels = await channelsForm();
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
    notify, channels, form);
}

// channelsForm edits the user's email and SMS channels for new-lead
// notifications, stored on the hub (GET/PUT /api/v1/me/notifications).
async function channelsForm() {
  let cur = { inApp: true, email: '', sms: '' };
  try { cur = await api.get('/api/v1/me/notifications'); } catch { /* shown as empty */ }
  const email = h('input', { type: 'email', id: 'notify-email', autocomplete: 'email', value: cur.email || '' });
  const sms = h('input', { type: 'tel', id: 'notify-sms', autocomplete: 'tel', value: cur.sms || '' });
  const msg = h('p', { 'aria-live': 'polite' });
  const form = h('form', { class: 'card', 'aria-label': 'Notification channels' }, h('h2', {}, 'Email and text alerts'),
    h('p', { class: 'muted' }, 'Where new Second Chance Leads are sent besides this screen. Leave a field empty to turn that channel off. An account set to in-app only sends neither.'),
    h('div', { class: 'grid-form' }, h('label', { for: email.id }, 'Email'), email, h('span'),
      h('label', { for: sms.id }, 'Mobile number for texts'), sms, h('span')),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Save channels')), msg);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const saved = await api.put('/api/v1/me/notifications', { inApp: true, email: email.value.trim(), sms: sms.value.trim() });
      sms.value = saved.sms || '';
      clear(msg, h('span', { class: 'ok' }, 'Channels saved.'));
    } catch (x) { clear(msg, h('span', { class: 'error' }, x.message)); }
  });
  return form;
}
