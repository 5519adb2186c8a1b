// SPDX-License-Identifier: Apache-2.0
// The console's single-page UI: sign-in, then pages chosen by the URL's hash
// (#/dashboard, #/events, #/event/<id>, #/nodes, #/tasks, #/policies,
// #/quarantine, #/blocked, #/users).  Each page is a module under pages/
// exporting render(root, arg).  No build step and no inline script: the
// console's Content-Security-Policy allows only same-origin script files.
import { api, session, setUnauthorizedHandler, isAdmin } from './api.js';
import { el, clear } from './dom.js';
import * as dashboard from './pages/dashboard.js';
import * as events from './pages/events.js';
import * as nodes from './pages/nodes.js';
import * as tasks from './pages/tasks.js';
import * as policies from './pages/policies.js';
import * as quarantine from './pages/quarantine.js';
import * as users from './pages/users.js';

const pages = {
  dashboard: dashboard.render,
  events: events.render,
  event: events.renderDetail,
  nodes: nodes.render,
  tasks: tasks.render,
  policies: policies.render,
  quarantine: quarantine.render,
  blocked: quarantine.renderBlocked,
  users: users.render,
};

const $id = (id) => document.getElementById(id);
let cleanup = null;

function showSignin(message) {
  session.user = session.role = session.csrf = null;
  $id('nav').classList.add('d-none');
  $id('page-main').classList.add('d-none');
  $id('page-signin').classList.remove('d-none');
  const e = $id('signin-error');
  if (message) {
    e.textContent = message;
    e.classList.remove('d-none');
  } else {
    e.classList.add('d-none');
  }
  document.title = 'Sign in · Bulwark console';
  $id('signin-user').focus();
}

function showShell() {
  $id('page-signin').classList.add('d-none');
  $id('nav').classList.remove('d-none');
  $id('page-main').classList.remove('d-none');
  $id('whoami').textContent = `${session.user} (${session.role})`;
  document.body.classList.toggle('role-viewer', !isAdmin());
}

async function route() {
  if (!session.user) return;
  const h = location.hash.replace(/^#\/?/, '');
  const slash = h.indexOf('/');
  const name = (slash < 0 ? h : h.slice(0, slash)) || 'dashboard';
  const arg = slash < 0 ? '' : h.slice(slash + 1);
  const fn = pages[name] || pages.dashboard;
  for (const a of document.querySelectorAll('#nav .nav-link')) {
    a.classList.toggle('active', a.dataset.page === name || (name === 'event' && a.dataset.page === 'events'));
  }
  if (cleanup) { try { cleanup(); } catch (e) { /* page gone */ } cleanup = null; }
  const root = clear($id('page-main'));
  $id('flash').classList.add('d-none');
  root.dataset.page = name;
  document.title = `${name[0].toUpperCase()}${name.slice(1)} · Bulwark console`;
  try {
    cleanup = (await fn(root, arg)) || null;
  } catch (e) {
    root.appendChild(el('div', { class: 'alert alert-danger', role: 'alert' }, `Could not load this page: ${e.message}`));
  }
  root.dataset.ready = '1';
}

async function signin(ev) {
  ev.preventDefault();
  const btn = $id('signin-submit');
  btn.disabled = true;
  try {
    const s = await api('POST', '/session', {
      username: $id('signin-user').value, password: $id('signin-pass').value,
    });
    Object.assign(session, { user: s.user, role: s.role, csrf: s.csrf_token });
    $id('signin-pass').value = '';
    showShell();
    if (!location.hash || location.hash === '#/signin') location.hash = '#/dashboard';
    else route();
  } catch (e) {
    const msg = e.status === 429 ? `Locked out: ${e.message}` :
                e.status === 401 ? 'Wrong user name or password.' : e.message;
    showSignin(msg);
  } finally {
    btn.disabled = false;
  }
}

async function signout() {
  try { await api('DELETE', '/session'); } catch (e) { /* signed out anyway */ }
  if (cleanup) { try { cleanup(); } catch (e) { /* */ } cleanup = null; }
  clear($id('page-main'));
  showSignin('You are signed out.');
  $id('signin-error').className = 'alert alert-info';
}

async function start() {
  setUnauthorizedHandler((msg) => showSignin(`Your session ended: ${msg}`));
  $id('signin-form').addEventListener('submit', (e) => {
    $id('signin-error').className = 'alert alert-danger d-none';
    signin(e);
  });
  $id('signout').addEventListener('click', signout);
  window.addEventListener('hashchange', route);
  try {
    const s = await api('GET', '/session');
    Object.assign(session, { user: s.user, role: s.role, csrf: s.csrf_token });
    showShell();
    route();
  } catch (e) {
    showSignin(null);
  }
}

start();
