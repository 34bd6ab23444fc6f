// Live updates over server-sent events. The browser's EventSource resends
// Last-Event-ID on reconnect, so the hub replays what was missed; a "reset"
// event means too much was missed and screens reload their data instead.
import { h, $ } from './dom.js';

const listeners = new Set();
let unseen = 0;

// onLive registers fn(type, data) for every live event; returns an unsubscribe.
export function onLive(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function emit(type, data) {
  for (const fn of listeners) {
    try { fn(type, data); } catch (e) { console.error('live listener', e); }
  }
}

export function toast(text, action) {
  const box = $('#toasts');
  if (!box) return;
  const t = h('div', { class: 'toast', role: 'status' }, h('span', {}, text));
  if (action) {
    t.appendChild(h('button', { type: 'button', onclick: () => { action.run(); t.remove(); } }, action.label));
  }
  t.appendChild(h('button', { type: 'button', 'aria-label': 'Dismiss notification', onclick: () => t.remove() }, '×'));
  box.appendChild(t);
  setTimeout(() => t.remove(), 8000);
}

function notify(text, href) {
  unseen++;
  const badge = $('#bell-count');
  if (badge) { badge.hidden = false; badge.textContent = String(unseen); }
  const list = $('#notif-list');
  if (list) {
    list.prepend(h('li', {}, href ? h('a', { href }, text) : text, ' ', h('span', { class: 'muted' }, new Date().toLocaleTimeString())));
  }
  toast(text, href ? { label: 'View', run: () => location.assign(href) } : null);
}

function setupBell() {
  const bell = $('#bell');
  const panel = $('#notif-panel');
  if (!bell || !panel) return;
  bell.addEventListener('click', () => {
    panel.hidden = !panel.hidden;
    bell.setAttribute('aria-expanded', String(!panel.hidden));
    if (!panel.hidden) {
      unseen = 0;
      const badge = $('#bell-count');
      badge.hidden = true;
      badge.textContent = '0';
    }
  });
}

const PREFS_KEY = 'rebound.notify';

// Per-user in-app notification choices, kept in this browser.
export const NOTIFY_KINDS = [
  ['newLead', 'New Second Chance Leads'],
  ['newAbandoned', 'New abandoned calls'],
  ['leadChanged', 'Lead status changes by others'],
];

export function notifyPrefs() {
  let p = {};
  try { p = JSON.parse(localStorage.getItem(PREFS_KEY) || '{}'); } catch { p = {}; }
  return Object.fromEntries(NOTIFY_KINDS.map(([k]) => [k, p[k] !== false]));
}

export function setNotifyPrefs(p) { localStorage.setItem(PREFS_KEY, JSON.stringify(p)); }

// describe turns an event into a notification line, or null for quiet ones.
function describe(type, d, me) {
  const mine = d.actor && me && (d.actor === me || d.actor === 'user:' + me);
  if (mine) return null; // the user's own changes need no toast
  const prefs = notifyPrefs();
  if (type === 'lead' && d.created && !prefs.newLead) return null;
  if (type === 'lead' && !d.created && !prefs.leadChanged) return null;
  if (type === 'abandoned' && !prefs.newAbandoned) return null;
  if (type === 'lead' && d.created) return ['New Second Chance Lead' + (d.customer ? `: ${d.customer}` : ''), '/scl' + (d.leadId ? `?lead=${encodeURIComponent(d.leadId)}` : '')];
  if (type === 'lead' && d.status) return [`Lead ${d.status === 'New' ? 'reopened' : 'changed'}: ${d.status}`, null];
  if (type === 'abandoned' && d.created) return ['New abandoned call' + (d.phone ? ` from ${d.phone}` : ''), '/abandoned'];
  return null;
}

export function startLive(meID) {
  setupBell();
  const state = $('#live-state');
  let es;
  let failures = 0;
  let firstOpenDone = false;
  let lastId = '';
  const open = () => {
    // A fresh EventSource (after the old one gave up) resumes from the last
    // event seen, like the browser's own reconnects do.
    es = new EventSource(lastId ? '/events?last=' + encodeURIComponent(lastId) : '/events');
    let opened = false;
    es.onopen = () => {
      // A screen that loaded its data before the first stream opened may
      // have missed a change in between: have it reload once. Later
      // reconnects resume from Last-Event-ID instead.
      if (!opened && !firstOpenDone && document.body.dataset.loaded) emit('reset', { kind: 'stream-open' });
      opened = true;
      firstOpenDone = true;
      failures = 0;
      if (state) state.textContent = 'Live updates on';
      document.body.dataset.live = 'on';
    };
    es.onerror = async () => {
      document.body.dataset.live = 'off';
      if (state) state.textContent = 'Live updates reconnecting…';
      if (es.readyState === EventSource.CLOSED) {
        // The server refused the stream (signed out, or the hub restarted):
        // check the session, then start a fresh stream.
        failures++;
        const r = await fetch('/api/v1/me', { credentials: 'same-origin' });
        if (r.status === 401) { location.assign('/login?next=' + encodeURIComponent(location.pathname)); return; }
        setTimeout(open, Math.min(30000, 1000 * 2 ** failures));
      }
    };
    for (const type of ['lead', 'abandoned', 'call', 'settings', 'reset']) {
      es.addEventListener(type, (m) => {
        if (m.lastEventId) lastId = m.lastEventId;
        let data = {};
        try { data = JSON.parse(m.data || '{}'); } catch { /* keep empty */ }
        emit(type, data);
        const n = describe(type, data, meID);
        if (n) notify(n[0], n[1]);
      });
    }
  };
  open();
}
