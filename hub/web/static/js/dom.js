// Small DOM helpers. Every piece of data is inserted as text (never as HTML),
// so strings from the API cannot become markup.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);

// ago renders the time since an RFC 3339 instant the way CSRs read it:
// "just now", "12 min ago", "3 h ago", "2 days ago".
export function ago(iso, now = Date.now()) {
  if (!iso) return '';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return 'just now';
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  const hrs = Math.floor(m / 60);
  // Minutes still matter for speed-to-lead in the first hours.
  if (hrs < 6) return m % 60 ? `${hrs} h ${m % 60} min ago` : `${hrs} h ago`;
  if (hrs < 24) return `${hrs} h ago`;
  const d = Math.floor(hrs / 24);
  return d === 1 ? '1 day ago' : `${d} days ago`;
}

export function when(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleString();
}

// <time> elements with data-ago update themselves every 20 seconds.
export function agoEl(iso) {
  return h('time', { datetime: iso || '', 'data-ago': '1', title: when(iso) }, ago(iso));
}

export function startAgoTicker() {
  setInterval(() => {
    const now = Date.now();
    for (const t of document.querySelectorAll('time[data-ago]')) {
      t.textContent = ago(t.getAttribute('datetime'), now);
    }
  }, 20000);
}

export function duration(sec) {
  sec = Math.max(0, Math.round(Number(sec) || 0));
  const m = Math.floor(sec / 60);
  const s = sec % 60;
  return m ? `${m}m ${String(s).padStart(2, '0')}s` : `${s}s`;
}

export function clock(ms) {
  const total = Math.max(0, Math.floor((Number(ms) || 0) / 1000));
  const m = Math.floor(total / 60);
  const s = total % 60;
  return `${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`;
}

// statusClass maps a lead or abandoned-call status to a colour class.
export function statusClass(s) {
  switch (s) {
    case 'New': return 's-new';
    case 'Lead - call back attempted': case 'Callback Attempted': case 'Follow-up Needed': return 's-attempted';
    case 'Job booked by SCL': case 'Job booked elsewhere': case 'Resolved': case 'Auto-Resolved': return 's-done';
    default: return 's-neg';
  }
}

export function statusPill(s) {
  return h('span', { class: `status ${statusClass(s)}` }, s || '');
}

export function isTyping(ev) {
  const t = ev.target;
  return t && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName));
}

export function field(label, control, id) {
  control.id = control.id || id;
  return h('div', { class: 'f' }, h('label', { for: control.id }, label), control);
}

export function option(value, label, selected) {
  return h('option', { value, selected: !!selected }, label);
}

// phone formats the digits the hub stores for North American numbers and
// leaves anything else as it came.
export function phone(p) {
  const d = String(p || '').replace(/\D/g, '');
  const n = d.length === 11 && d[0] === '1' ? d.slice(1) : d;
  if (n.length === 10) return `(${n.slice(0, 3)}) ${n.slice(3, 6)}-${n.slice(6)}`;
  return p || '';
}
