// The Urgent Follow Ups queues: Second Chance Leads and Abandoned Calls share
// one screen shape (tabs with counts, per-column filters, sort, paging,
// keyboard navigation, a details flyout), driven by the table below.
import * as api from './api.js';
import { h, $, clear, agoEl, duration, statusPill, isTyping, field, option, phone } from './dom.js';
import { onLive } from './live.js';
import { countTab } from './main.js';

const AGE = [
  ['', 'Any age'], ['0-1', 'Last hour'], ['0-24', 'Last 24 hours'], ['24-72', '1 to 3 days'], ['72-', 'Older than 3 days'],
];
const DURATION = [['', 'Any duration'], ['0-10', 'Under 10 s'], ['10-30', '10 to 30 s'], ['30-60', '30 to 60 s'], ['60-', 'Over 1 min']];

export const KINDS = {
  scl: {
    live: 'lead', base: '/api/v1/leads', editPerm: 'scl.edit', noun: 'leads',
    statuses: {
      open: ['New', 'Lead - call back attempted'],
      cold: ['New', 'Lead - call back attempted'],
      done: ['Job booked by SCL', 'Job booked elsewhere', 'Lead - not able to save', 'Lead - not following up', 'Reviewed - not a lead'],
    },
    columns: [
      ['Status', (it) => statusPill(it.status)],
      ['Age', (it) => agoEl(it.callEndedAt), 'age', 'c-age'],
      ['Account', (it) => it.account],
      ['Customer', (it) => phone(it.customer || it.phone), null, 'c-customer'],
      ['Type', (it) => it.type],
      ['Reason', (it) => it.reason],
      ['Agent', (it) => it.agentName || it.agent],
      ['Campaign', (it) => it.campaign, null, 'c-campaign'],
      ['Notes', (it) => it.notes, null, 'notes'],
    ],
    filters: ['account', 'status', 'notes', 'age', 'customer', 'type', 'reason', 'agent', 'campaign'],
    flyout: () => import('./lead.js'),
  },
  abandoned: {
    live: 'abandoned', base: '/api/v1/abandoned', editPerm: 'abandoned.edit', noun: 'abandoned calls',
    statuses: {
      open: ['New', 'Callback Attempted', 'Follow-up Needed'],
      cold: ['New', 'Callback Attempted', 'Follow-up Needed'],
      done: ['Resolved', 'Auto-Resolved', 'Dismissed'],
    },
    columns: [
      ['Status', (it) => statusPill(it.status)],
      ['Age', (it) => agoEl(it.callEndedAt || it.endedAt), 'age', 'c-age'],
      ['Duration', (it) => duration(it.durationSeconds ?? it.duration)],
      ['Account', (it) => it.account],
      ['Customer', (it) => phone(it.customer || it.phone), null, 'c-customer'],
      ['Queue', (it) => it.queue],
      ['Campaign', (it) => it.campaign, null, 'c-campaign'],
    ],
    filters: ['account', 'status', 'age', 'duration', 'customer', 'queue', 'campaign'],
    flyout: () => import('./abandoned.js'),
  },
};

// Filters that need one account's lists (docs/api.md: account_required).
const NEEDS_ACCOUNT = new Set(['reason', 'agent', 'campaign', 'queue']);

export async function start(page) {
  const kind = KINDS[page];
  const root = $('#queue');
  const url = new URL(location.href);
  const st = {
    tab: ['open', 'cold', 'done'].includes(url.searchParams.get('tab')) ? url.searchParams.get('tab') : 'open',
    f: {}, sort: url.searchParams.get('sort') || '-activity', cursors: [''], page: 0,
    items: [], sel: -1, next: '', open: null, openId: url.searchParams.get('lead') || url.searchParams.get('id') || '',
  };
  for (const k of kind.filters) {
    const v = url.searchParams.get(k);
    if (v) st.f[k] = v;
  }

  const tabs = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Queue tabs' });
  const tabBtn = {};
  for (const [t, label] of [['open', 'Open'], ['cold', 'Cold'], ['done', 'Done']]) {
    tabBtn[t] = h('button', {
      type: 'button', role: 'tab', id: 'tab-' + t, 'aria-selected': String(st.tab === t), 'aria-controls': 'queue-table',
      onclick: () => { st.tab = t; delete st.f.status; resetPaging(); renderFilters(); load(); },
    }, label, h('span', { class: 'count', id: 'count-' + t }, ''));
    tabs.appendChild(tabBtn[t]);
  }
  const filterBox = h('form', { class: 'filters', 'aria-label': 'Filters', onsubmit: (e) => e.preventDefault() });
  const table = h('table', { class: 'grid', id: 'queue-table' });
  const wrap = h('div', { class: 'table-wrap', tabindex: '0', 'aria-label': `${kind.noun} table; j and k move, Enter opens` }, table);
  const msg = h('p', { class: 'error', role: 'alert', hidden: true });
  const pager = h('div', { class: 'pager' });
  clear(root, tabs, filterBox, msg, wrap, pager,
    h('p', { class: 'keys' }, h('kbd', {}, 'j'), ' / ', h('kbd', {}, 'k'), ' move, ', h('kbd', {}, 'Enter'), ' opens, ', h('kbd', {}, 'Esc'), ' closes'));

  const tenants = api.tenants();
  const lists = {}; // per account: reasons, campaigns, queues, agents

  function resetPaging() { st.cursors = ['']; st.page = 0; }

  function syncURL() {
    const u = new URL(location.href);
    u.search = api.qs({ tab: st.tab, sort: st.sort !== '-activity' ? st.sort : '', ...st.f, lead: st.openId });
    history.replaceState(null, '', u);
  }

  function setF(k, v) {
    if (v) st.f[k] = v; else delete st.f[k];
    if (k === 'account') for (const d of NEEDS_ACCOUNT) delete st.f[d];
    resetPaging();
    if (k === 'account') renderFilters();
    load();
  }

  async function accountLists(acc) {
    if (!acc) return {};
    if (lists[acc]) return lists[acc];
    const base = `/api/v1/tenants/${encodeURIComponent(acc)}`;
    const safe = async (p) => { try { return (await api.get(p)).items || []; } catch { return []; } };
    const [reasons, campaigns, queues, users] = await Promise.all([
      kind.filters.includes('reason') ? safe(base + '/reasons') : [],
      safe(base + '/campaigns'),
      kind.filters.includes('queue') ? safe(base + '/queues') : [],
      kind.filters.includes('agent') && api.can('users.admin', acc) ? safe(base + '/users') : [],
    ]);
    lists[acc] = { reasons, campaigns, queues, users };
    return lists[acc];
  }

  async function renderFilters() {
    const acc = st.f.account || '';
    const L = await accountLists(acc);
    const sel = (k, label, opts) => {
      const s = h('select', { name: k, onchange: () => setF(k, s.value) },
        opts.map(([v, l]) => option(v, l, (st.f[k] || '') === v)));
      if (NEEDS_ACCOUNT.has(k) && !acc) { s.disabled = true; s.title = 'Select one account first'; }
      return field(label, s, 'f-' + k);
    };
    const text = (k, label, ph) => {
      let t;
      const i = h('input', { name: k, type: 'search', value: st.f[k] || '', placeholder: ph,
        oninput: () => { clearTimeout(t); t = setTimeout(() => setF(k, i.value.trim()), 350); } });
      return field(label, i, 'f-' + k);
    };
    const parts = [];
    for (const k of kind.filters) {
      switch (k) {
        case 'account': parts.push(sel(k, 'Account', [['', 'All accounts'], ...tenants.map((t) => [t.id, t.name])])); break;
        case 'status': parts.push(sel(k, 'Status', [['', 'Any status'], ...kind.statuses[st.tab].map((s) => [s, s])])); break;
        case 'notes': parts.push(text(k, 'Notes', 'contains…')); break;
        case 'age': parts.push(sel(k, 'Age', AGE)); break;
        case 'duration': parts.push(sel(k, 'Duration', DURATION)); break;
        case 'customer': parts.push(text(k, 'Customer', 'name or number')); break;
        case 'type': parts.push(sel(k, 'Type', [['', 'Any type'], ...['Booked', 'Unbooked', 'Excused', 'Not a lead'].map((s) => [s, s])])); break;
        case 'reason': parts.push(sel(k, 'Reason', [['', 'Any reason'], ...(L.reasons || []).map((r) => [r.id, r.name])])); break;
        case 'campaign': parts.push(sel(k, 'Campaign', [['', 'Any campaign'], ...(L.campaigns || []).map((c) => [c.id, c.name])])); break;
        case 'queue': parts.push(sel(k, 'Queue', [['', 'Any queue'], ...(L.queues || []).map((q) => [q.name, q.name])])); break;
        case 'agent':
          if ((L.users || []).length) {
            parts.push(sel(k, 'Agent', [['', 'Any agent'], ...L.users.filter((u) => u.extension).map((u) => [u.extension, `${u.displayName || u.username} (${u.extension})`])]));
          } else {
            const f = text(k, 'Agent', 'extension');
            if (!acc) { const i = f.querySelector('input'); i.disabled = true; i.title = 'Select one account first'; }
            parts.push(f);
          }
          break;
      }
    }
    const sortSel = h('select', { name: 'sort', onchange: () => { st.sort = sortSel.value; resetPaging(); load(); } },
      [['-activity', 'Most recent activity'], ['activity', 'Oldest activity'], ['-age', 'Newest call'], ['age', 'Oldest call']]
        .map(([v, l]) => option(v, l, st.sort === v)));
    parts.push(field('Sort', sortSel, 'f-sort'));
    const needs = kind.filters.filter((f) => NEEDS_ACCOUNT.has(f));
    if (!acc && needs.length) parts.push(h('p', { class: 'hint' }, `Tip: choose one account to filter by ${needs.join(', ').replace(/, ([^,]*)$/, ' or $1')}.`));
    clear(filterBox, parts);
  }

  // query turns the filter state into API parameters.
  function query(extra = {}) {
    const q = {};
    for (const [k, v] of Object.entries(st.f)) {
      if (k === 'age' || k === 'duration') {
        const [a, b] = v.split('-');
        const unit = k === 'age' ? 'hours' : 'seconds';
        q[`${k}_min_${unit}`] = a;
        q[`${k}_max_${unit}`] = b;
      } else q[k] = v;
    }
    return { ...q, ...extra };
  }

  async function loadCounts() {
    const q = query();
    delete q.status;
    const all = Object.keys(q).length === 0;
    await Promise.all(['open', 'cold', 'done'].map(async (t) => {
      const el = $('#count-' + t);
      try {
        const n = await countTab(kind.base, t, q);
        el.textContent = ` (${n > 200 ? '200+' : n})`;
        if (t === 'open') {
          // The side badge counts the whole Open tab, whatever the filters.
          const total = all ? n : await countTab(kind.base, 'open');
          const b = $(page === 'scl' ? '#nav-scl' : '#nav-abandoned');
          if (b) { b.hidden = !total; b.textContent = total > 200 ? '200+' : String(total); }
        }
        tabBtn[t].setAttribute('aria-label', `${t[0].toUpperCase() + t.slice(1)}, ${n > 200 ? 'more than 200' : n} ${kind.noun}`);
      } catch { el.textContent = ''; }
    }));
  }

  let seq = 0;
  async function load(keepSel) {
    const my = ++seq;
    for (const [t, b] of Object.entries(tabBtn)) b.setAttribute('aria-selected', String(t === st.tab));
    syncURL();
    msg.hidden = true;
    let r;
    try {
      r = await api.get(kind.base + api.qs(query({ tab: st.tab, sort: st.sort, limit: 50, cursor: st.cursors[st.page] })));
    } catch (e) {
      if (my !== seq) return;
      msg.textContent = e.code === 'account_required' ? 'Choose one account for this filter.' : 'Could not load: ' + e.message;
      msg.hidden = false;
      return;
    }
    if (my !== seq) return;
    const prevID = st.items[st.sel]?.id;
    st.items = r.items || [];
    st.next = r.nextCursor || '';
    st.sel = keepSel && prevID ? st.items.findIndex((it) => it.id === prevID) : -1;
    renderTable();
    renderPager();
    loadCounts();
    document.body.dataset.loaded = String(Date.now());
  }

  function renderTable() {
    const head = h('tr', {}, kind.columns.map(([label, , sortKey, cls]) => {
      if (sortKey === 'age') {
        const dir = st.sort === 'age' ? 'ascending' : st.sort === '-age' ? 'descending' : 'none';
        return h('th', { scope: 'col', 'aria-sort': dir, class: cls ? 'c-' + cls.replace(/^c-/, '') : '' },
          h('button', { type: 'button', onclick: () => { st.sort = st.sort === '-age' ? 'age' : '-age'; resetPaging(); renderFilters(); load(); } },
            label, dir === 'ascending' ? ' ▲' : dir === 'descending' ? ' ▼' : ''));
      }
      return h('th', { scope: 'col', class: cls ? 'c-' + cls.replace(/^c-/, '') : '' }, label);
    }), h('th', { scope: 'col' }, h('span', { class: 'muted' }, 'Details')));
    const body = h('tbody');
    if (!st.items.length) {
      body.appendChild(h('tr', {}, h('td', { class: 'empty', colspan: String(kind.columns.length + 1) },
        `No ${kind.noun} in ${st.tab[0].toUpperCase() + st.tab.slice(1)}${Object.keys(st.f).length ? ' for these filters' : ''}.`)));
    }
    st.items.forEach((it, i) => {
      const tr = h('tr', { 'data-id': it.id, 'aria-selected': String(i === st.sel), onclick: (e) => {
        if (e.target.closest('button')) return;
        select(i); openSel();
      } }, kind.columns.map(([, fn, , cls]) => h('td', { class: cls || '', title: cls === 'notes' ? it.notes || null : null }, fn(it) ?? '')),
      h('td', {}, h('button', { type: 'button', class: 'link', onclick: () => { select(i); openSel(); }, 'aria-label': `View ${it.customer || it.phone || 'item'}` }, 'View')));
      body.appendChild(tr);
    });
    clear(table, h('thead', {}, head), body);
  }

  function renderPager() {
    clear(pager,
      h('span', { class: 'muted' }, `Page ${st.page + 1}`),
      h('button', { type: 'button', disabled: st.page === 0, onclick: () => { st.page--; load(); } }, 'Previous'),
      h('button', { type: 'button', disabled: !st.next, onclick: () => { st.cursors[st.page + 1] = st.next; st.page++; load(); } }, 'Next'));
  }

  function select(i) {
    if (!st.items.length) return;
    st.sel = Math.max(0, Math.min(st.items.length - 1, i));
    for (const tr of table.querySelectorAll('tbody tr')) tr.setAttribute('aria-selected', String(tr.dataset.id === st.items[st.sel].id));
    table.querySelector(`tbody tr[aria-selected=true]`)?.scrollIntoView({ block: 'nearest' });
  }

  const flyEl = $('#flyout');
  const fly = await kind.flyout();
  async function openID(id) {
    st.openId = id;
    syncURL();
    st.open = await fly.open(flyEl, id, { onChange: () => load(true), onClose: closeFly });
  }
  function openSel() {
    const it = st.items[st.sel];
    if (it) openID(it.id);
  }
  function closeFly() {
    flyEl.hidden = true;
    st.open = null;
    st.openId = '';
    syncURL();
    wrap.focus();
  }

  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && st.open) { e.preventDefault(); closeFly(); return; }
    if (isTyping(e) || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === 'j') { e.preventDefault(); select(st.sel + 1); }
    else if (e.key === 'k') { e.preventDefault(); select(st.sel < 0 ? 0 : st.sel - 1); }
    else if (e.key === 'Enter' && st.sel >= 0 && (e.target === wrap || e.target === document.body)) { e.preventDefault(); openSel(); }
  });

  let t;
  onLive((type, d) => {
    if (type !== kind.live && type !== 'reset') return;
    clearTimeout(t);
    t = setTimeout(() => load(true), 150);
    if (st.open && (type === 'reset' || !d.id || d.id === st.openId || d.leadId === st.openId || d.abandonedId === st.openId)) st.open.refresh();
  });

  await renderFilters();
  await load();
  if (st.openId) openID(st.openId);
}
