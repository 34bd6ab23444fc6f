// Job booking lookup: a phone number shows the Second Chance Lead banner
// when an Open or Cold lead from the last banner_days days is linked, and a
// job can be booked (which closes the lead by the rules).
import * as api from './api.js';
import { h, $, clear, agoEl, statusPill } from './dom.js';

export async function start() {
  const form = $('#lookup-form');
  const out = $('#booking-result');
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const phone = $('#lookup-phone').value.trim();
    const tenant = api.currentTenant();
    if (!phone) return;
    let r;
    try {
      r = await api.get(`/api/v1/tenants/${encodeURIComponent(tenant)}/booking-banner` + api.qs({ phone }));
    } catch (x) {
      clear(out, h('p', { class: 'error', role: 'alert' }, 'Lookup failed: ' + x.message));
      return;
    }
    const lead = r.lead;
    const ext = h('input', { id: 'job-external', name: 'externalId', placeholder: 'optional' });
    const when = h('input', { id: 'job-scheduled', name: 'scheduledAt', type: 'datetime-local' });
    const result = h('p', { 'aria-live': 'polite' });
    const book = h('form', { class: 'card', 'aria-label': 'Book a job' },
      h('h2', {}, 'Book a job for ', phone),
      h('div', { class: 'inline-form' }, h('label', { for: ext.id }, 'Job number'), ext, h('label', { for: when.id }, 'Scheduled'), when,
        h('button', { type: 'submit', class: 'primary' }, 'Book job')), result);
    book.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try {
        const j = await api.post(`/api/v1/tenants/${encodeURIComponent(tenant)}/jobs`, {
          phone, customerId: lead?.customerId || '', externalId: ext.value.trim(),
          scheduledAt: when.value ? new Date(when.value).toISOString() : undefined,
        });
        const closed = (j.closedLeads || []).map((l) => `${l.id}: ${l.status}`).join(', ');
        clear(result, h('span', { class: 'ok' }, 'Job booked. '), closed ? `Closed lead ${closed}.` : 'No open lead was linked.');
      } catch (x) { clear(result, h('span', { class: 'error' }, 'Not booked: ' + x.message)); }
    });
    clear(out,
      lead ? h('div', { class: 'banner', role: 'status', id: 'scl-banner' },
        h('strong', {}, 'This caller has a Second Chance Lead. '), statusPill(lead.status), ' ',
        lead.summary || '', ' · call ', agoEl(lead.callEndedAt), ' · ',
        h('a', { href: '/scl?lead=' + encodeURIComponent(lead.id) }, 'Open the lead'))
        : h('p', { class: 'muted', id: 'no-banner' }, 'No Second Chance Lead linked to this number.'),
      book);
  });
}
