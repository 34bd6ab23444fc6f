// Recording player and transcript viewer shared by both flyouts.
import * as api from './api.js';
import { h, clear, clock } from './dom.js';

// recording returns an <audio> element streaming the call's WAV. The hub
// answers Range requests, so seeking fetches only what is needed.
export function recording(callId, has) {
  if (!has) return h('p', { class: 'muted' }, 'No recording for this call.');
  return h('audio', { controls: true, preload: 'metadata', src: `/api/v1/calls/${encodeURIComponent(callId)}/recording`, 'aria-label': 'Call recording' });
}

const SPEAKER = { CALLER: 'Caller', AGENT: 'Agent', CHANNEL_CALLER: 'Caller', CHANNEL_AGENT: 'Agent', caller: 'Caller', agent: 'Agent', 1: 'Caller', 2: 'Agent' };

// segmentsOf accepts the transcript shapes the API may return.
function segmentsOf(t) {
  if (!t) return [];
  const list = Array.isArray(t) ? t : t.segments || t.items || [];
  return list.map((s) => ({
    ms: s.startMs ?? s.offsetMs ?? (s.start !== undefined ? s.start * 1000 : 0),
    speaker: s.speakerLabel || SPEAKER[s.speaker] || SPEAKER[s.channel] || s.speaker || s.channel || '',
    text: s.text || '',
  }));
}

// transcript renders the transcript with a search box that highlights
// matches, a download link, and jump-to-time on each line.
export async function transcript(callId, inline, audioEl) {
  const box = h('div', { class: 'transcript', tabindex: '0', 'aria-label': 'Transcript' });
  const count = h('span', { class: 'muted', 'aria-live': 'polite' });
  const search = h('input', { type: 'search', id: 'transcript-search', placeholder: 'Search transcript', 'aria-label': 'Search transcript' });
  const wrap = h('div', {},
    h('div', { class: 'toolbar' }, search, count,
      h('a', { href: `/api/v1/calls/${encodeURIComponent(callId)}/transcript?format=txt`, download: `transcript-${callId}.txt` }, 'Download transcript')),
    box);
  let t = inline;
  if (t === undefined || t === null) {
    try { t = await api.get(`/api/v1/calls/${encodeURIComponent(callId)}/transcript`); } catch (e) { t = { status: 'error', reason: e.message }; }
  }
  const segs = segmentsOf(t);
  if (!segs.length) {
    const why = t?.reason || t?.message || (t?.status === 'none' || t?.status === 'disabled' || !t?.status
      ? 'no transcription backend configured' : `transcription ${t.status}`);
    return h('p', { class: 'muted', id: 'no-transcript' }, `No transcript: ${why}.`);
  }
  const render = (q) => {
    const needle = q.trim().toLowerCase();
    let hits = 0;
    clear(box, segs.map((s) => {
      const line = h('p', {},
        h('button', { type: 'button', class: 'link ts', 'aria-label': `Play from ${clock(s.ms)}`, onclick: () => { if (audioEl) { audioEl.currentTime = s.ms / 1000; audioEl.play().catch(() => {}); } } }, clock(s.ms)),
        h('span', { class: 'spk' }, s.speaker + ':'));
      if (!needle) { line.appendChild(document.createTextNode(s.text)); return line; }
      const low = s.text.toLowerCase();
      let i = 0;
      for (;;) {
        const j = low.indexOf(needle, i);
        if (j < 0) break;
        line.appendChild(document.createTextNode(s.text.slice(i, j)));
        line.appendChild(h('mark', {}, s.text.slice(j, j + needle.length)));
        hits++;
        i = j + needle.length;
      }
      line.appendChild(document.createTextNode(s.text.slice(i)));
      return line;
    }));
    count.textContent = needle ? `${hits} match${hits === 1 ? '' : 'es'}` : '';
    box.querySelector('mark')?.scrollIntoView({ block: 'nearest' });
  };
  search.addEventListener('input', () => render(search.value));
  render('');
  return wrap;
}

// activity renders an object's audit trail (status changes, notes, callbacks
// and their dial results), newest first.
export async function activity(path) {
  let items = [];
  try { items = (await api.get(path)).items || []; } catch (e) {
    return h('p', { class: 'muted' }, 'Activity unavailable: ' + e.message);
  }
  if (!items.length) return h('p', { class: 'muted' }, 'No activity yet.');
  const sorted = [...items].sort((a, b) => Date.parse(b.at) - Date.parse(a.at));
  return h('ul', { class: 'notes-list activity' }, sorted.map((e) => h('li', {},
    h('div', {}, e.detail ? `${actionLabel(e.action)}: ${e.detail}` : actionLabel(e.action)),
    h('div', { class: 'meta' }, `${e.actorName || e.actor || ''} · ${new Date(e.at).toLocaleString()}`))));
}

const ACTIONS = {
  create: 'Flagged', status: 'Status', note: 'Note added', copy_note: 'Note copied', call: 'Call back',
  dial_result: 'Dial result', dismiss: 'Dismissed', change_customer: 'Customer changed',
};

// actionLabel turns "lead.dial_result" into words a CSR reads.
function actionLabel(a) {
  const [obj, verb] = String(a || '').split('.');
  if (obj === 'abandoned' && verb === 'create') return 'Abandoned call';
  return ACTIONS[verb] || a;
}
