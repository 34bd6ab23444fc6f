// My Calls: answered calls whose After Call Work window is open, with a
// countdown, classified in two clicks (type, then reason saves).
import * as api from './api.js';
import { h, $, clear, agoEl, duration } from './dom.js';
import { onLive, toast } from './live.js';

const TYPES = ['Booked', 'Unbooked', 'Excused', 'Not a lead'];

export async function start() {
  const root = $('#mycalls');
  const only = h('input', { type: 'checkbox', id: 'only-mine', checked: true });
  const list = h('div', { id: 'acw-list' });
  clear(root, h('p', {}, only, ' ', h('label', { for: 'only-mine' }, 'Only my calls')), list);
  let reasons = [];
  let me = api.current();

  async function load() {
    const tenant = api.currentTenant();
    if (!tenant) { clear(list, h('p', { class: 'muted' }, 'You are not a member of any account.')); return; }
    try {
      reasons = (await api.get(`/api/v1/tenants/${encodeURIComponent(tenant)}/reasons`)).items || [];
    } catch { reasons = []; }
    let r;
    try {
      r = await api.get('/api/v1/calls' + api.qs({ account: tenant, outcome: 'answered', acw: 'open', limit: 100 }));
    } catch (e) {
      clear(list, h('p', { class: 'error', role: 'alert' }, 'Could not load calls: ' + e.message));
      return;
    }
    const myExt = (me.memberships || []).find((m) => m.tenantId === tenant)?.extension;
    let calls = r.items || [];
    if (only.checked && myExt) calls = calls.filter((c) => c.agent === myExt);
    const note = only.checked && !myExt ? h('p', { class: 'muted' }, 'You have no extension in this account, so everyone\'s calls are shown.') : null;
    if (!calls.length) {
      clear(list, note, h('p', { class: 'muted' }, 'No calls waiting for classification.'));
      return;
    }
    clear(list, note, calls.map(card));
    const b = $('#nav-acw');
    if (b) { b.hidden = false; b.textContent = String(calls.length); }
  }

  function card(c) {
    const cl = c.classification || {};
    const st = { type: cl.default ? '' : cl.type || '', reasonId: cl.default ? '' : cl.reasonId || '' };
    const notes = h('textarea', { id: 'notes-' + c.id, 'aria-label': 'Notes for call from ' + c.callerNumber }, cl.notes || '');
    const cd = h('span', { class: 'countdown', 'data-ends': c.acwEndsAt || '' });
    const msg = h('span', { class: 'muted', 'aria-live': 'polite' });
    const save = async () => {
      if (!st.type) { msg.textContent = 'Pick a call type first.'; return; }
      try {
        await api.put(`/api/v1/calls/${encodeURIComponent(c.id)}/classification`, { type: st.type, reasonId: st.reasonId, notes: notes.value.trim() });
        msg.textContent = 'Saved ✓';
      } catch (e) { msg.textContent = e.status === 409 ? 'The window has closed.' : 'Not saved: ' + e.message; }
    };
    const chips = (items, key, after) => h('div', { class: 'chips', role: 'group', 'aria-label': key === 'type' ? 'Call type' : 'Reason' },
      items.map(([v, l]) => h('button', { type: 'button', 'aria-pressed': String(st[key] === v), onclick: (e) => {
        st[key] = v;
        for (const b of e.target.parentElement.children) b.setAttribute('aria-pressed', String(b === e.target));
        after();
      } }, l)));
    return h('div', { class: 'card', 'data-call': c.id },
      h('h2', {}, c.callerName || c.callerNumber || 'Unknown caller', ' ', h('span', { class: 'muted' }, `· ended `, agoEl(c.endedAt), ` · talk ${duration(c.talkSeconds)}`)),
      h('p', {}, 'Window closes in ', cd, c.campaign ? ` · campaign ${c.campaign}` : ''),
      h('p', { class: 'muted' }, '1. Call type'), chips(TYPES.map((t) => [t, t]), 'type', () => { msg.textContent = 'Now pick a reason, or save.'; }),
      h('p', { class: 'muted' }, '2. Reason (saves)'), chips(reasons.map((r) => [r.id, r.name + (r.isLead ? ' ★' : '')]), 'reasonId', save),
      h('label', { for: notes.id }, 'Notes'), notes,
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'primary', onclick: save }, 'Save'), msg));
  }

  setInterval(() => {
    for (const el of document.querySelectorAll('.countdown[data-ends]')) {
      const left = Date.parse(el.dataset.ends) - Date.now();
      if (Number.isNaN(left)) { el.textContent = '—'; continue; }
      const s = Math.max(0, Math.floor(left / 1000));
      el.textContent = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
      el.classList.toggle('late', s < 60);
    }
  }, 1000);
  only.addEventListener('change', load);
  window.addEventListener('rebound:tenant', load);
  let t;
  onLive((type, d) => {
    if (type !== 'call' && type !== 'reset') return;
    if (d.created && d.acw) toast('A call is waiting for classification');
    clearTimeout(t);
    t = setTimeout(load, 300);
  });
  await load();
}
