import * as api from './api.js';
import { $ } from './dom.js';

export function start() {
  const form = $('#login-form');
  const err = $('#login-error');
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.hidden = true;
    const btn = form.querySelector('button');
    btn.disabled = true;
    try {
      await api.login($('#username').value.trim(), $('#password').value);
      const next = new URLSearchParams(location.search).get('next') || '';
      // Only same-site paths: never bounce the user to another origin.
      location.assign(next.startsWith('/') && !next.startsWith('//') ? next : '/scl');
    } catch (e) {
      err.textContent = e.status === 401 ? 'Wrong username or password.' : 'Sign in failed: ' + e.message;
      err.hidden = false;
      btn.disabled = false;
    }
  });
  document.body.dataset.ready = '1';
}
