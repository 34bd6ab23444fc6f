// Abandoned call details flyout: status, click-to-call, notes, dismiss.
import * as api from './api.js';
import { h, clear, agoEl, when, statusPill, option, duration, phone as fmtPhone } from './dom.js';
import { recording, activity } from './media.js';
import { toast } from './live.js';

const SETTABLE = ['New', 'Callback Attempted', 'Follow-up Needed', 'Resolved'];
const DONE = new Set(['Resolved', 'Auto-Resolved', 'Dismissed']);

export async function open(el, id, ctx) {
  const path = `/api/v1/abandoned/${encodeURIComponent(id)}`;
  let item = await api.get(path);
  el.hidden = false;
  const title = h('h2', { id: 'flyout-title', tabindex: '-1' }, 'Abandoned Call Details');
  const body = h('div');
  const err = h('p', { class: 'error', role: 'alert', hidden: true });
  const media = h('section', { 'aria-label': 'Recording' });
  const trail = h('section', { 'aria-label': 'Activity' });
  clear(el, h('header', {}, title, h('button', { type: 'button', 'aria-label': 'Close details', onclick: ctx.onClose }, 'Close ✕')), err, body,
    h('h2', { class: 'section' }, 'Recording'), media, h('h2', { class: 'section' }, 'Activity'), trail);
  const renderTrail = async () => trail.replaceChildren(await activity(path + '/audit'));
  title.focus();
  const can = () => api.can('abandoned.edit', item.tenantId);
  const fail = (e) => { err.textContent = e.message; err.hidden = false; };
  const changed = async (next) => {
    err.hidden = true;
    item = next && next.id ? { ...item, ...next } : await api.get(path);
    render();
    ctx.onChange();
  };
  const call = async () => {
    try {
      const r = await api.post(path + '/call', {});
      toast(r.dial?.sent ? 'Calling your extension first, then the caller…' : `Status updated; dialer: ${r.dial?.error || 'no site agent connected'}`);
      await changed(r.abandoned || r.item || null);
    } catch (e) { fail(e); }
  };

  function render() {
    renderTrail();
    const cb = item.customerBlock || {};
    const phone = item.phone || item.callerNumber || '';
    let status = h('dd', {}, statusPill(item.status));
    if (can()) {
      const sel = h('select', { id: 'ab-status', 'aria-label': 'New status' }, SETTABLE.map((s) => option(s, s, s === item.status)));
      status = h('dd', {}, sel, ' ', h('button', { type: 'button', class: 'primary', onclick: async () => {
        try { await changed(await api.post(path + '/status', { status: sel.value })); } catch (e) { fail(e); }
      } }, 'Save status'));
    }
    const area = h('textarea', { id: 'ab-note', 'aria-label': 'New note' });
    clear(body,
      can() && !DONE.has(item.status) ? h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'primary', onclick: call }, 'Call back'),
        h('button', { type: 'button', onclick: async () => { try { await changed(await api.post(path + '/dismiss', {})); } catch (e) { fail(e); } } }, 'Dismiss')) : null,
      h('dl', { class: 'kv' },
        h('dt', {}, 'Status'), status,
        h('dt', {}, 'Phone Number'), h('dd', {}, can() && phone ? h('button', { type: 'button', class: 'link', onclick: call, 'aria-label': `Call ${fmtPhone(phone)}` }, fmtPhone(phone), ' · Call') : fmtPhone(phone)),
        h('dt', {}, 'Age'), h('dd', {}, agoEl(item.callEndedAt || item.endedAt), h('span', { class: 'muted' }, ' · ' + when(item.callEndedAt || item.endedAt))),
        h('dt', {}, 'Duration'), h('dd', {}, duration(item.durationSeconds ?? item.duration)),
        h('dt', {}, 'Account'), h('dd', {}, item.account || ''),
        h('dt', {}, 'Customer'), h('dd', {}, cb.customerName || item.customer || '—'),
        cb.address ? [h('dt', {}, 'Location'), h('dd', {}, cb.address)] : null,
        cb.zone ? [h('dt', {}, 'Zone'), h('dd', {}, cb.zone)] : null,
        h('dt', {}, 'Queue'), h('dd', {}, item.queue || '—'),
        h('dt', {}, 'Campaign'), h('dd', {}, item.campaign || '—'),
        h('dt', {}, 'Call ID'), h('dd', {}, h('code', {}, item.callId || ''))),
      h('h2', { class: 'section' }, 'Notes'),
      h('ul', { class: 'notes-list' }, (item.notes || item.sclNotes || []).map((n) => h('li', {}, h('div', {}, n.text), h('div', { class: 'meta' }, `${n.author || n.authorId || ''} · ${when(n.at)}`)))),
      can() ? h('div', {}, area, h('button', { type: 'button', onclick: async () => {
        if (!area.value.trim()) return;
        try { await api.post(path + '/notes', { text: area.value.trim() }); await changed(); } catch (e) { fail(e); }
      } }, 'Add note')) : null);
  }
  render();
  clear(media, recording(item.callId, item.hasRecording));
  return {
    async refresh() {
      if (body.contains(document.activeElement)) return;
      try { item = await api.get(path); render(); } catch (e) { fail(e); }
    },
  };
}
