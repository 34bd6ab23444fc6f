// Admin settings for the account chosen in the top bar: feature toggle,
// follow-up settings with validation and warnings, tracking numbers and
// campaigns, queues, reasons, users and roles, sites and agent tokens.
import * as api from './api.js';
import { h, $, clear, option } from './dom.js';

// Follow-up settings with the bounds the hub enforces (docs/api.md).
const NUMBERS = [
  ['acw_minutes', 'After Call Work Time (minutes)', 0, 1440],
  ['cold_lead_days', 'Cold Leads after (days)', 1, 365],
  ['abandoned_cold_hours', 'Abandoned calls cold after (hours)', 1, 8760],
  ['short_abandon_seconds', 'Ignore abandons shorter than (seconds)', 0, 3600],
  ['banner_days', 'Job booking banner window (days)', 1, 365],
  ['auto_resolve_talk_seconds', 'Auto-resolve after talk of (seconds)', 0, 3600],
];

// acwWarning mirrors the hub's warning so it shows while typing.
export function acwWarning(v) {
  if (v > 60) return 'More than 60 minutes: by the time the lead appears the customer may have booked elsewhere.';
  if (v > 0 && v < 5) return 'Less than 5 minutes: CSRs may not finish classifying the call before it is reviewed.';
  if (v === 0) return 'Calls are reviewed as soon as they end; CSR classification will not be used.';
  return '';
}

export async function start() {
  const root = $('#admin');
  const render = async () => {
    const t = api.currentTenant();
    if (!t) { clear(root, h('p', {}, 'No account.')); return; }
    const base = `/api/v1/tenants/${encodeURIComponent(t)}`;
    const sections = [];
    sections.push(await settingsCard(base, t));
    if (api.can('phone.edit', t)) sections.push(await phoneCard(base));
    if (api.can('settings.edit', t)) sections.push(await reasonsCard(base));
    if (api.can('users.admin', t)) sections.push(await usersCard(base));
    if (api.can('phone.edit', t)) sections.push(await sitesCard(base));
    clear(root, sections);
    document.body.dataset.loaded = String(Date.now());
  };
  window.addEventListener('rebound:tenant', render);
  await render();
}

const msgEl = () => h('p', { class: 'msg', 'aria-live': 'polite' });
const err = (m, e) => clear(m, h('span', { class: 'error' }, e.field ? `${e.field}: ${e.message}` : e.message));

async function settingsCard(base, t) {
  const r = await api.get(base + '/settings');
  const s = r.settings || r;
  const msg = msgEl();
  const canFeat = api.can('features.manage', t);
  const canSet = api.can('settings.edit', t);
  const toggle = h('input', { type: 'checkbox', id: 'scl_enabled', checked: !!s.scl_enabled, disabled: !canFeat });
  const feat = h('div', { class: 'card' }, h('h2', {}, 'Feature Management · Call Analysis'),
    h('div', { class: 'switch' }, toggle, h('label', { for: 'scl_enabled' }, 'Enable Second Chance Leads')),
    canFeat ? h('button', { type: 'button', class: 'primary', onclick: async () => {
      try { await api.put(base + '/settings', { scl_enabled: toggle.checked }); clear(fmsg, h('span', { class: 'ok' }, 'Saved.')); } catch (e) { err(fmsg, e); }
    } }, 'Save') : h('p', { class: 'muted' }, 'Needs View & Edit Feature Management.'));
  const fmsg = msgEl();
  feat.appendChild(fmsg);

  const inputs = {};
  const rows = NUMBERS.map(([k, label, min, max]) => {
    const i = h('input', { type: 'number', id: k, name: k, min: String(min), max: String(max), step: '1', value: String(s[k] ?? ''), disabled: !canSet, required: true });
    const note = h('span', { class: 'msg', id: k + '-note', 'aria-live': 'polite' });
    i.setAttribute('aria-describedby', note.id);
    i.addEventListener('input', () => {
      const v = Number(i.value);
      if (i.value === '' || !Number.isInteger(v) || v < min || v > max) note.textContent = `Enter a whole number from ${min} to ${max}.`;
      else note.textContent = k === 'acw_minutes' ? acwWarning(v) : '';
      note.className = 'msg ' + (note.textContent && !(k === 'acw_minutes' && v >= min && v <= max) ? 'error' : 'warn-text');
    });
    inputs[k] = i;
    if (k === 'acw_minutes') note.textContent = acwWarning(Number(s[k]));
    return [h('label', { for: k }, label), i, note];
  });
  const text = (k, label, type = 'text') => {
    const i = h('input', { type, id: k, name: k, value: s[k] ?? '', disabled: !canSet });
    inputs[k] = i;
    return [h('label', { for: k }, label), i, h('span')];
  };
  const policy = h('select', { id: 'notification_policy', disabled: !canSet },
    option('all', 'In-app, email and SMS (each user chooses)', s.notification_policy === 'all'),
    option('in_app_only', 'In-app only', s.notification_policy === 'in_app_only'));
  inputs.notification_policy = policy;
  const form = h('form', { class: 'card', 'aria-label': 'Follow up settings', novalidate: true },
    h('h2', {}, 'Follow Up Settings'),
    h('div', { class: 'grid-form' }, rows, text('timezone', 'Time zone'), [h('label', { for: 'notification_policy' }, 'Notifications'), policy, h('span')],
      text('outbound_caller_id', 'Outbound caller ID', 'tel'), text('callback_number', 'Callback number for voicemails', 'tel')),
    canSet ? h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Save settings')) : h('p', { class: 'muted' }, 'Needs Edit TI, Follow Up & Reporting Settings.'),
    msg);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = {};
    for (const [k, , min, max] of NUMBERS) {
      const v = Number(inputs[k].value);
      if (inputs[k].value === '' || !Number.isInteger(v) || v < min || v > max) {
        clear(msg, h('span', { class: 'error' }, `Fix ${k}: a whole number from ${min} to ${max}.`));
        inputs[k].focus();
        return;
      }
      body[k] = v;
    }
    for (const k of ['timezone', 'outbound_caller_id', 'callback_number', 'notification_policy']) body[k] = inputs[k].value.trim();
    try {
      const res = await api.put(base + '/settings', body);
      const w = (res.warnings || []).map((x) => h('li', {}, `${x.field}: ${x.message}`));
      clear(msg, h('span', { class: 'ok' }, 'Saved.'), w.length ? h('ul', { class: 'warn' }, w) : null);
    } catch (x) { err(msg, x); }
  });
  return h('div', {}, feat, form);
}

async function phoneCard(base) {
  const [camps, nums, queues] = await Promise.all(['/campaigns', '/tracking-numbers', '/queues'].map((p) => api.get(base + p).then((r) => r.items || [])));
  const msg = msgEl();
  const cname = h('input', { id: 'campaign-name', placeholder: 'Heat wave radio' });
  const num = h('input', { id: 'tn-number', type: 'tel', placeholder: '+15125550111' });
  const ncamp = h('select', { id: 'tn-campaign' }, option('', 'No campaign'), camps.map((c) => option(c.id, c.name)));
  const kind = h('select', { id: 'tn-kind' }, option('tracking', 'Tracking number'), option('direct', 'Direct dial'));
  const qname = h('input', { id: 'queue-name', placeholder: 'Service' });
  const reload = async () => { const c = await phoneCard(base); card.replaceWith(c); };
  const act = (fn) => async (e) => { e.preventDefault(); try { await fn(); await reload(); } catch (x) { err(msg, x); } };
  const campName = (id) => camps.find((c) => c.id === id)?.name || '';
  const card = h('div', { class: 'card' }, h('h2', {}, 'Tracking Numbers and Campaigns'),
    h('table', { class: 'grid' }, h('thead', {}, h('tr', {}, h('th', {}, 'Number'), h('th', {}, 'Type'), h('th', {}, 'Campaign'), h('th', {}, ''))),
      h('tbody', {}, nums.map((n) => h('tr', {}, h('td', {}, n.number), h('td', {}, n.kind === 'direct' ? 'Direct dial' : 'Tracking'), h('td', {}, n.campaign || campName(n.campaignId)),
        h('td', {}, h('button', { type: 'button', class: 'link danger', onclick: act(() => api.del(`${base}/tracking-numbers/${encodeURIComponent(n.number)}`)) }, 'Remove')))))),
    h('form', { class: 'inline-form', onsubmit: act(() => api.post(base + '/tracking-numbers', { number: num.value.trim(), campaignId: ncamp.value, kind: kind.value })) },
      h('label', { for: num.id }, 'Number'), num, h('label', { for: ncamp.id }, 'Campaign'), ncamp, h('label', { for: kind.id }, 'Type'), kind, h('button', { type: 'submit' }, '+ Add Number')),
    h('h3', {}, 'Campaigns'), h('p', {}, camps.map((c) => c.name).join(', ') || h('span', { class: 'muted' }, 'None yet.')),
    h('form', { class: 'inline-form', onsubmit: act(() => api.post(base + '/campaigns', { name: cname.value.trim() })) },
      h('label', { for: cname.id }, 'New campaign'), cname, h('button', { type: 'submit' }, 'Add campaign')),
    h('h3', {}, 'Queues'), h('p', {}, queues.map((q) => q.name).join(', ') || h('span', { class: 'muted' }, 'None yet.')),
    h('form', { class: 'inline-form', onsubmit: act(() => api.post(base + '/queues', { name: qname.value.trim() })) },
      h('label', { for: qname.id }, 'New queue'), qname, h('button', { type: 'submit' }, 'Add queue')),
    msg);
  return card;
}

async function reasonsCard(base) {
  const items = (await api.get(base + '/reasons')).items || [];
  const msg = msgEl();
  const name = h('input', { id: 'reason-name', placeholder: 'Price shopping' });
  const isLead = h('input', { type: 'checkbox', id: 'reason-lead' });
  const reload = async () => { const c = await reasonsCard(base); card.replaceWith(c); };
  const card = h('div', { class: 'card' }, h('h2', {}, 'Call Reasons'),
    h('table', { class: 'grid' }, h('thead', {}, h('tr', {}, h('th', {}, 'Reason'), h('th', {}, 'Is a lead'))),
      h('tbody', {}, items.map((r) => {
        const cb = h('input', { type: 'checkbox', checked: !!r.isLead, 'aria-label': `${r.name} is a lead`, onchange: async () => {
          try { await api.put(`${base}/reasons/${encodeURIComponent(r.id)}`, { name: r.name, isLead: cb.checked }); clear(msg, h('span', { class: 'ok' }, 'Saved.')); } catch (x) { err(msg, x); }
        } });
        return h('tr', {}, h('td', {}, r.name), h('td', {}, cb));
      }))),
    h('form', { class: 'inline-form', onsubmit: async (e) => { e.preventDefault(); try { await api.post(base + '/reasons', { name: name.value.trim(), isLead: isLead.checked }); await reload(); } catch (x) { err(msg, x); } } },
      h('label', { for: name.id }, 'New reason'), name, isLead, h('label', { for: isLead.id }, 'Is a lead'), h('button', { type: 'submit' }, 'Add reason')),
    msg);
  return card;
}

async function usersCard(base) {
  const [users, roles, perms] = await Promise.all([
    api.get(base + '/users').then((r) => r.items || []),
    api.get(base + '/roles').then((r) => r.items || []),
    api.get('/api/v1/permissions').then((r) => r.items || []).catch(() => []),
  ]);
  const msg = msgEl();
  const reload = async () => { const c = await usersCard(base); card.replaceWith(c); };
  const roleSel = (cur, id) => h('select', { id }, roles.map((r) => option(r.name, r.name, r.name === cur)));
  const nu = { username: h('input', { id: 'nu-username', autocomplete: 'off' }), displayName: h('input', { id: 'nu-name' }),
    password: h('input', { id: 'nu-password', type: 'password', autocomplete: 'new-password', minlength: '8' }), extension: h('input', { id: 'nu-ext', size: '5' }) };
  const nuRole = roleSel('CSR', 'nu-role');
  const card = h('div', { class: 'card' }, h('h2', {}, 'Users and Roles'),
    h('table', { class: 'grid' }, h('thead', {}, h('tr', {}, h('th', {}, 'User'), h('th', {}, 'Extension'), h('th', {}, 'Role'), h('th', {}, 'Active'))),
      h('tbody', {}, users.map((u) => {
        const rs = roleSel(u.role, 'role-' + u.id);
        rs.setAttribute('aria-label', `Role of ${u.username}`);
        rs.addEventListener('change', async () => { try { await api.patch(`${base}/users/${encodeURIComponent(u.id)}`, { role: rs.value }); clear(msg, h('span', { class: 'ok' }, 'Role saved.')); } catch (x) { err(msg, x); } });
        const act = h('input', { type: 'checkbox', checked: !u.disabled, 'aria-label': `${u.username} may sign in`, onchange: async () => {
          try { await api.patch(`${base}/users/${encodeURIComponent(u.id)}`, { disabled: !act.checked }); } catch (x) { err(msg, x); }
        } });
        return h('tr', {}, h('td', {}, `${u.displayName || ''} (${u.username})`), h('td', {}, u.extension || ''), h('td', {}, rs), h('td', {}, act));
      }))),
    h('form', { class: 'inline-form', onsubmit: async (e) => {
      e.preventDefault();
      try {
        await api.post(base + '/users', { username: nu.username.value.trim(), displayName: nu.displayName.value.trim(), password: nu.password.value, extension: nu.extension.value.trim(), role: nuRole.value });
        await reload();
      } catch (x) { err(msg, x); }
    } },
    h('label', { for: 'nu-username' }, 'Username'), nu.username, h('label', { for: 'nu-name' }, 'Name'), nu.displayName,
    h('label', { for: 'nu-password' }, 'Password'), nu.password, h('label', { for: 'nu-ext' }, 'Extension'), nu.extension,
    h('label', { for: 'nu-role' }, 'Role'), nuRole, h('button', { type: 'submit' }, 'Add user')),
    h('h3', {}, 'Roles'),
    h('table', { class: 'grid' }, h('thead', {}, h('tr', {}, h('th', {}, 'Role'), perms.map((p) => h('th', {}, p.label)))),
      h('tbody', {}, roles.map((r) => h('tr', {}, h('td', {}, r.name), perms.map((p) => {
        const cb = h('input', { type: 'checkbox', checked: (r.permissions || []).includes(p.key), 'aria-label': `${r.name}: ${p.label}`, onchange: async () => {
          const set = new Set(r.permissions || []);
          if (cb.checked) set.add(p.key); else set.delete(p.key);
          try { const nr = await api.put(`${base}/roles/${encodeURIComponent(r.name)}`, { permissions: [...set] }); r.permissions = nr.permissions || [...set]; clear(msg, h('span', { class: 'ok' }, 'Role saved.')); } catch (x) { cb.checked = !cb.checked; err(msg, x); }
        } });
        return h('td', {}, cb);
      }))))),
    msg);
  return card;
}

async function sitesCard(base) {
  const sites = (await api.get(base + '/sites')).items || [];
  const msg = msgEl();
  const name = h('input', { id: 'site-name', placeholder: 'Austin PBX' });
  const showToken = (s) => clear(msg, h('p', {}, `Agent token for ${s.name || s.id} (shown once; put it in the agent's config):`), h('p', { class: 'secret', id: 'site-token' }, s.token));
  const card = h('div', { class: 'card' }, h('h2', {}, 'Sites and Agent Tokens'),
    h('table', { class: 'grid' }, h('thead', {}, h('tr', {}, h('th', {}, 'Site'), h('th', {}, 'ID'), h('th', {}, ''))),
      h('tbody', {}, sites.map((s) => h('tr', {}, h('td', {}, s.name), h('td', {}, h('code', {}, s.id)),
        h('td', {}, h('button', { type: 'button', onclick: async () => {
          if (!confirm(`Rotate the token of ${s.name}? Its agent stops connecting until it gets the new one.`)) return;
          try { showToken({ ...s, ...(await api.post(`${base}/sites/${encodeURIComponent(s.id)}/token`, {})) }); } catch (x) { err(msg, x); }
        } }, 'Rotate token')))))),
    h('form', { class: 'inline-form', onsubmit: async (e) => { e.preventDefault(); try { showToken(await api.post(base + '/sites', { name: name.value.trim() })); } catch (x) { err(msg, x); } } },
      h('label', { for: name.id }, 'New site'), name, h('button', { type: 'submit' }, 'Add site')),
    msg);
  return card;
}
