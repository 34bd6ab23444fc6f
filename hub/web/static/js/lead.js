// Second Chance Lead details flyout: overview, customer, notes, recording
// and transcript, Call Customer and Dismiss.
import * as api from './api.js';
import { h, clear, agoEl, when, statusPill, option, phone as fmtPhone } from './dom.js';
import { recording, transcript, activity } from './media.js';
import { toast } from './live.js';

// Statuses a CSR may set by hand (the two Job booked ones are system-only).
const SETTABLE = ['New', 'Lead - call back attempted', 'Lead - not able to save', 'Lead - not following up', 'Reviewed - not a lead'];
const FINAL = new Set(['Job booked by SCL', 'Job booked elsewhere']);

export async function open(el, id, ctx) {
  const path = `/api/v1/leads/${encodeURIComponent(id)}`;
  let lead = await api.get(path);
  el.hidden = false;
  const title = h('h2', { id: 'flyout-title', tabindex: '-1' }, 'Second Chance Lead Details');
  const overview = h('section', { 'aria-label': 'Overview' });
  const customer = h('section', { 'aria-label': 'Customer' });
  const notes = h('section', { 'aria-label': 'Notes' });
  const media = h('section', { 'aria-label': 'Recording and Transcript' });
  const trail = h('section', { 'aria-label': 'Activity', id: 'lead-activity' });
  const actions = h('div', { class: 'actions' });
  const err = h('p', { class: 'error', role: 'alert', hidden: true });
  clear(el,
    h('header', {}, title, h('button', { type: 'button', 'aria-label': 'Close details', onclick: ctx.onClose }, 'Close ✕')),
    err, actions, overview,
    h('h2', { class: 'section' }, 'Customer'), customer,
    h('h2', { class: 'section' }, 'Notes'), notes,
    h('h2', { class: 'section' }, 'Recording and Transcript'), media,
    h('h2', { class: 'section' }, 'Activity'), trail);
  title.focus();

  const copied = new Set(); // "noteId:target" copies made in this flyout
  const editable = () => api.can('scl.edit', lead.tenantId) && !FINAL.has(lead.status);
  const fail = (e) => { err.textContent = e.message; err.hidden = false; };
  const changed = async (next) => {
    err.hidden = true;
    lead = next && next.id ? { ...lead, ...next } : await api.get(path);
    render();
    ctx.onChange();
  };

  function renderActions() {
    if (!editable()) { clear(actions); return; }
    const dismiss = h('button', { type: 'button', onclick: () => dismissDialog() }, 'Dismiss');
    clear(actions,
      h('button', { type: 'button', class: 'primary', onclick: callCustomer }, 'Call Customer'),
      dismiss);
  }

  async function callCustomer() {
    try {
      const r = await api.post(path + '/call', {});
      const d = r.dial || {};
      toast(d.sent ? 'Calling your extension first, then the customer…' : `Status updated; dialer: ${d.error || 'no site agent connected'}`);
      await changed(r.lead);
    } catch (e) { fail(e); }
  }

  function dismissDialog() {
    const form = h('form', { class: 'card', 'aria-label': 'Dismiss lead' },
      h('h3', {}, 'Dismiss'),
      h('fieldset', {}, h('legend', {}, 'Why are you dismissing this lead?'),
        h('div', {}, h('input', { type: 'radio', name: 'why', id: 'why-not', value: 'not_a_lead' }), ' ', h('label', { for: 'why-not' }, "It's not a lead")),
        h('div', {}, h('input', { type: 'radio', name: 'why', id: 'why-nofollow', value: 'not_following_up' }), ' ', h('label', { for: 'why-nofollow' }, "It's a lead, but I'm not following up"))),
      h('p', { class: 'muted' }, 'Choose "not a lead" only when the call truly does not qualify: it teaches the scoring model.'),
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Dismiss'), h('button', { type: 'button', onclick: () => form.remove() }, 'Cancel')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const why = form.querySelector('input[name=why]:checked')?.value;
      if (!why) { fail(new Error('Choose a reason to dismiss.')); return; }
      try { await changed(await api.post(path + '/dismiss', { reason: why })); } catch (x) { fail(x); }
    });
    actions.after(form);
    form.querySelector('input').focus();
  }

  function renderOverview() {
    let statusCell = h('dd', {}, statusPill(lead.status));
    if (editable()) {
      const sel = h('select', { id: 'status-select', 'aria-label': 'New status' }, SETTABLE.map((s) => option(s, s, s === lead.status)));
      const edit = h('button', { type: 'button', class: 'link', id: 'status-edit', onclick: () => {
        clear(statusCell, sel, ' ',
          h('button', { type: 'button', class: 'primary', id: 'status-save', onclick: async () => {
            try { await changed(await api.post(path + '/status', { status: sel.value })); } catch (e) { fail(e); }
          } }, 'Save'), ' ',
          h('button', { type: 'button', onclick: renderOverview }, 'Cancel'));
        sel.focus();
      } }, 'Edit');
      statusCell = h('dd', {}, statusPill(lead.status), ' ', edit);
    } else if (FINAL.has(lead.status)) {
      statusCell.appendChild(h('span', { class: 'muted' }, ' (final)'));
    }
    const signals = (lead.signals || []).map((s) => h('li', {}, s.text, s.quote ? [' — ', h('q', {}, s.quote)] : null));
    clear(overview,
      h('div', { class: 'summary' }, h('strong', {}, 'Summary: '), lead.summary || 'No summary.',
        typeof lead.probability === 'number' ? h('span', { class: 'muted' }, ` (likelihood ${Math.round(lead.probability * 100)}%)`) : null),
      signals.length ? h('ul', { class: 'signals', 'aria-label': 'Signals' }, signals) : null,
      h('dl', { class: 'kv' },
        h('dt', {}, 'Status'), statusCell,
        h('dt', {}, 'Age'), h('dd', {}, agoEl(lead.callEndedAt), h('span', { class: 'muted' }, ' · ' + when(lead.callEndedAt))),
        h('dt', {}, 'Call ID'), h('dd', {}, h('code', {}, lead.callId || '')),
        h('dt', {}, 'Agent'), h('dd', {}, lead.agentName || lead.agent || '—'),
        h('dt', {}, 'Type'), h('dd', {}, lead.type || '—'),
        h('dt', {}, 'Reason'), h('dd', {}, lead.reason || '—')));
  }

  function renderCustomer() {
    const c = lead.customerBlock || {};
    const phone = c.phone || lead.phone || '';
    const rows = [
      h('dt', {}, 'Phone Number'),
      h('dd', {}, editable() && phone
        ? h('button', { type: 'button', class: 'link', id: 'click-to-call', 'aria-label': `Call ${fmtPhone(phone)}`, onclick: callCustomer }, fmtPhone(phone), ' · Call')
        : fmtPhone(phone)),
      h('dt', {}, 'Account'), h('dd', {}, c.account || lead.account || ''),
    ];
    if (c.customerName || c.customerId) rows.push(h('dt', {}, 'Customer'), h('dd', {}, c.customerName || c.customerId));
    if (c.address || c.locationId) rows.push(h('dt', {}, 'Location'), h('dd', {}, c.address || c.locationId));
    if (c.zone) rows.push(h('dt', {}, 'Zone'), h('dd', {}, c.zone));
    const parts = [h('dl', { class: 'kv' }, rows)];
    if (c.possibleIncorrectMatch) {
      const warn = h('div', { class: 'warn', role: 'note' }, 'Possible incorrect customer match: more than one customer has this number. ');
      if (editable()) warn.appendChild(h('button', { type: 'button', class: 'link', onclick: () => changeCustomer(c, warn) }, 'Change customer'));
      parts.push(warn);
    }
    clear(customer, parts);
  }

  function changeCustomer(c, after) {
    const cands = c.candidates || [];
    const form = h('form', { class: 'card', 'aria-label': 'Change customer' }, h('h3', {}, 'Change customer'),
      cands.length ? cands.map((x, i) => {
        const cid = x.customerId || x.id || x;
        return h('div', {}, h('input', { type: 'radio', name: 'cand', id: 'cand-' + i, value: String(i), checked: cid === c.customerId }), ' ',
          h('label', { for: 'cand-' + i }, [x.customerName || x.name || cid, x.address ? ` — ${x.address}` : ''].join('')));
      }) : h('p', { class: 'muted' }, 'No other matches were found.'),
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Use this customer'), h('button', { type: 'button', onclick: () => form.remove() }, 'Cancel')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const i = form.querySelector('input[name=cand]:checked')?.value;
      if (i === undefined) return;
      const x = cands[Number(i)];
      try { await changed(await api.post(path + '/customer', { customerId: x.customerId || x.id || x, locationId: x.locationId || '' })); } catch (er) { fail(er); }
    });
    after.after(form);
  }

  function renderNotes() {
    const c = lead.customerBlock || {};
    const list = h('ul', { class: 'notes-list', id: 'scl-notes' }, (lead.sclNotes || []).map((n) => h('li', {},
      h('div', {}, n.text),
      h('div', { class: 'meta' }, h('span', {}, `${n.author || n.authorId || ''} · ${when(n.at)}`),
        editable() || api.can('scl.edit', lead.tenantId) ? [
          copyButton(n, 'customer', !(c.customerId || lead.customerId)),
          copyButton(n, 'location', !(c.locationId || lead.locationId)),
        ] : null))));
    const parts = [
      h('h3', {}, 'Original CSR Notes'),
      h('p', { id: 'original-notes' }, lead.originalNotes || h('span', { class: 'muted' }, 'None.')),
      h('h3', {}, 'Second Chance Lead Notes'), list,
    ];
    if (api.can('scl.edit', lead.tenantId) && !FINAL.has(lead.status)) {
      const area = h('textarea', { id: 'note-text', 'aria-label': 'New note' });
      const box = h('div', { hidden: true }, area, h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'primary', id: 'note-save', onclick: async () => {
          if (!area.value.trim()) return;
          try { await api.post(path + '/notes', { text: area.value.trim() }); area.value = ''; await changed(); } catch (e) { fail(e); }
        } }, '✓ Save note'),
        h('button', { type: 'button', onclick: () => { box.hidden = true; } }, 'Cancel')));
      parts.push(h('button', { type: 'button', id: 'note-add', onclick: () => { box.hidden = false; area.focus(); } }, 'Add Notes'), box);
    }
    clear(notes, parts);
  }

  function copyButton(n, target, unavailable) {
    const done = copied.has(`${n.id}:${target}`);
    const label = target === 'customer' ? (done ? 'Copied to customer ✓' : 'Copy to Customer notes') : (done ? 'Copied to location ✓' : 'Copy to Location notes');
    return h('button', { type: 'button', class: 'link', disabled: unavailable || done, onclick: async () => {
      try {
        await api.post(`${path}/notes/${encodeURIComponent(n.id)}/copy`, { target });
        copied.add(`${n.id}:${target}`);
        renderNotes();
      } catch (e) { fail(e); }
    } }, label);
  }

  async function renderTrail() {
    trail.replaceChildren(await activity(path + '/audit'));
  }

  function render() {
    renderTrail();
    renderActions();
    renderOverview();
    renderCustomer();
    renderNotes();
  }
  render();
  // Recording and transcript render once: live refreshes must not stop playback.
  const audio = recording(lead.callId, lead.hasRecording);
  clear(media, h('h3', {}, 'Recording'), audio, h('h3', {}, 'Transcript'), h('p', { class: 'muted' }, 'Loading…'));
  const tr = await transcript(lead.callId, lead.transcript, audio.tagName === 'AUDIO' ? audio : null);
  media.lastChild.replaceWith(tr);

  return {
    async refresh() {
      try {
        lead = await api.get(path);
        // Keep what the user is in the middle of: an open status editor or
        // a note draft.
        const busy = (s) => s.contains(document.activeElement) || s.querySelector('textarea')?.value;
        renderActions();
        renderTrail();
        if (!busy(overview)) renderOverview();
        renderCustomer();
        if (!busy(notes)) renderNotes();
      } catch (e) { fail(e); }
    },
  };
}
