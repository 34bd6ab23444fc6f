// Entry point: signs the page in, starts live updates and boots the screen
// named by <body data-page>.
import * as api from './api.js';
import { $, clear, option, startAgoTicker } from './dom.js';
import { startLive, onLive } from './live.js';

const page = document.body.dataset.page;

async function boot() {
  if (page === 'login') {
    (await import('./login.js')).start();
    return;
  }
  const me = await api.me();
  await api.loadTenants();
  $('#whoami').textContent = me.user?.displayName || me.user?.username || '';
  $('#signout').addEventListener('click', async () => {
    await api.logout();
    location.assign('/login');
  });
  const sw = $('#account-switch');
  const cur = api.currentTenant();
  clear(sw, api.tenants().map((t) => option(t.id, t.name, t.id === cur)));
  sw.addEventListener('change', () => {
    api.setCurrentTenant(sw.value);
    window.dispatchEvent(new CustomEvent('rebound:tenant', { detail: sw.value }));
  });
  startAgoTicker();
  startLive(me.user?.id);
  refreshBadges();
  let t;
  onLive((type) => {
    if (type === 'lead' || type === 'abandoned' || type === 'call' || type === 'reset') {
      clearTimeout(t);
      t = setTimeout(refreshBadges, 300);
    }
  });
  const mods = {
    scl: './queue.js', abandoned: './queue.js', mycalls: './mycalls.js',
    booking: './booking.js', admin: './admin.js', account: './account.js',
  };
  const mod = await import(mods[page]);
  await mod.start(page);
  document.body.dataset.ready = '1';
}

// refreshBadges shows the Open counts of both queues in the side panel.
async function refreshBadges() {
  const set = (id, n) => {
    const b = $(id);
    if (!b) return;
    b.hidden = !n;
    b.textContent = n > 199 ? '200+' : String(n || 0);
  };
  // The queue screens set their own badge from their Open count.
  if (api.can('scl.view') && page !== 'scl') {
    try { set('#nav-scl', await countTab('/api/v1/leads', 'open')); } catch { /* badge only */ }
  }
  if (api.can('abandoned.edit') && page !== 'abandoned') {
    try { set('#nav-abandoned', await countTab('/api/v1/abandoned', 'open')); } catch { /* badge only */ }
  }
}

// countTab returns the number of items in a tab: the API's counts when it
// gives them, else the length of one page of up to 200.
export async function countTab(base, tab, filters = {}) {
  const r = await api.get(base + api.qs({ ...filters, tab, limit: 200 }));
  if (r.counts && typeof r.counts[tab] === 'number') return r.counts[tab];
  if (typeof r.total === 'number') return r.total;
  return (r.items || []).length + (r.nextCursor ? 1 : 0);
}

boot().catch((e) => {
  console.error(e);
  const m = $('#main');
  if (m && e.status !== 401) m.prepend(Object.assign(document.createElement('p'), { className: 'error', role: 'alert', textContent: 'Could not load: ' + e.message }));
});
