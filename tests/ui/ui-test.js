// SPDX-License-Identifier: Apache-2.0
// Browser tests of the bulwark-console web UI: Debian's chromium, headless,
// driven with puppeteer-core.  Run by tests/integration/test-console-ui.sh,
// which starts the console and passes URL, ADMIN_PASSWORD, CHROMIUM and
// SHOTS (a directory for screenshots, or empty).  Prints TAP lines.
//
// Events reach the console the way a node sends them: enrolment with a
// one-time token, then POST /api/v1/events with the node's credential.
// Every wait is for a condition in the page (a selector, a text), never a
// fixed time.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const puppeteer = require('puppeteer-core');

const URL = process.env.URL;
const ADMIN_PASSWORD = process.env.ADMIN_PASSWORD;
const SHOTS = process.env.SHOTS || '';
const E2E = process.env.E2E_NODE ? JSON.parse(process.env.E2E_NODE) : null;
let failures = 0;
const TAG = process.env.BROWSER === 'firefox' ? 'ui firefox' : 'ui';
let curPage = null; // for a screenshot when the script fails (FAIL_SHOT)

function ok(name, cond, detail) {
  if (cond) console.log(`ok - ${TAG}: ${name}`);
  else {
    failures++;
    console.log(`not ok - ${TAG}: ${name}`);
    if (detail !== undefined) console.log(`    ${String(detail).split('\n').join('\n    ')}`);
  }
  return cond;
}

async function api(method, p, body, bearer) {
  const headers = { 'Content-Type': 'application/json' };
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  const r = await fetch(`${URL}/api/v1${p}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = text; }
  return { status: r.status, data };
}

const hex = (n) => crypto.randomBytes(n).toString('hex');
const iso = (ms) => new Date(ms).toISOString().replace('Z', '000Z');

const XSS_THREAT = 'Evil.<img src=x onerror=alert(1)>.<b>bold</b>';
const XSS_URL = 'http://evil.example/<script>alert(2)</script>?"><img src=x onerror=alert(3)>';

function events(node) {
  const now = Date.now();
  const base = (i, extra) => ({ id: hex(16), time: iso(now - i * 60000), node, ...extra });
  // Oldest first, as a node's spool sends them.
  return [
    base(1, { component: 'icap', type: 'detection', severity: 'high', verdict: 'INFECTED', action: 'deny',
      threats: ['Eicar-Test-Signature'], object: { url: 'http://downloads.example/eicar.com', size: 68, sha256: 'a'.repeat(64) },
      client: { ip: '10.0.0.5', user: 'alice', group: 'default' }, method: 'RESPMOD', message: 'blocked download' }),
    base(2, { component: 'clamd', type: 'detection', severity: 'high', verdict: 'INFECTED', action: 'report',
      threats: ['Win.Trojan.Agent-1'], object: { path: '/srv/share/invoice.exe', size: 4096 }, client: { ip: '10.0.0.7' } }),
    base(3, { component: 'icap', type: 'detection', severity: 'critical', verdict: 'INFECTED', action: 'deny',
      threats: [XSS_THREAT], object: { url: XSS_URL, size: 1 }, client: { ip: '10.0.0.66', user: '<i>mallory</i>' },
      message: '<script>alert(4)</script>' }),
    base(4, { component: 'quarantine', type: 'quarantine.stored', severity: 'medium', threats: ['Eicar-Test-Signature'],
      object: { path: '/srv/share/eicar.txt', size: 68 }, quarantine: { id: 'q-20261208-0001' } }),
    base(5, { component: 'sensor', type: 'address.blocked', severity: 'high', src_ip: '192.0.2.44', message: 'port scan' }),
    base(6, { component: 'update', type: 'update.done', severity: 'info', db: { version: '27480', signatures: 8700000 } }),
  ].reverse();
}

async function main() {
  // ---- set-up through the API (admin bearer token, node credential) ----
  const s = await api('POST', '/session', { username: 'admin', password: ADMIN_PASSWORD });
  if (!ok('admin signs in through the API', s.status === 200 && s.data.token, JSON.stringify(s))) return;
  const admin = s.data.token;
  const tok = await api('POST', '/enrollment-tokens', { group: 'proxies', ttl: 3600 }, admin);
  const en = await api('POST', '/enroll', { token: tok.data && tok.data.token, name: 'proxy-1', version: 'test' });
  if (!ok('a node enrols with a one-time token', en.status === 201, JSON.stringify(en))) return;
  const cred = en.data.credential;
  const hb = await api('POST', '/node/heartbeat', { version: '0.12.0', db_version: '27480', db_time: Math.floor(Date.now() / 1000) - 7200,
    health: 'ok', backlog: 0, dropped: 0, components: ['icap', 'clamd'], policy_version: 0, policy_status: '', policy_error: '' }, cred);
  ok('the node sends a heartbeat', hb.status === 200, JSON.stringify(hb));
  const evs = events('proxy-1');
  const eicarEv = evs.find((e) => e.component === 'icap' && e.threats[0] === 'Eicar-Test-Signature');
  const hostileEv = evs.find((e) => e.severity === 'critical');
  const pe = await api('POST', '/events', { events: evs }, cred);
  ok('the node posts its events', pe.status === 200 && pe.data.accepted === evs.length, JSON.stringify(pe));
  const vu = await api('POST', '/users', { name: 'vera', password: 'viewer-password-1', role: 'viewer' }, admin);
  ok('an admin adds a viewer through the API', vu.status === 201, JSON.stringify(vu));
  await api('POST', '/users', { name: 'locky', password: 'locky-password-1', role: 'viewer' }, admin);

  // ---- browser ----
  // BROWSER=firefox runs the same cases in Firefox (WebDriver BiDi).
  const firefox = process.env.BROWSER === 'firefox';
  const browser = await puppeteer.launch(firefox ? {
    browser: 'firefox',
    executablePath: process.env.FIREFOX || '/usr/bin/firefox-esr',
    headless: true,
    acceptInsecureCerts: true,
    defaultViewport: { width: 1400, height: 900 },
  } : {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    acceptInsecureCerts: true, // the console's certificate is from the test's own CA
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--no-first-run', '--ignore-certificate-errors'],
    defaultViewport: { width: 1400, height: 900 },
  });
  const dialogs = [];
  const consoleErrors = [];
  const cspViolations = [];
  async function newPage(ctx) {
    const page = await ctx.newPage();
    page.setDefaultTimeout(20000);
    page.on('dialog', async (d) => { dialogs.push(d.message()); await d.dismiss().catch(() => {}); });
    page.on('console', (m) => {
      const t = m.text();
      if (/Content Security Policy|Refused to/i.test(t)) cspViolations.push(t);
      if (m.type() === 'error' && !/401|404|403|Failed to load resource/.test(t)) consoleErrors.push(t);
    });
    page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
    // A marker any injected script would set (if escaping and CSP both failed).
    await page.evaluateOnNewDocument(() => { window.alert = (m) => { window.__bwInjected = String(m); }; });
    return page;
  }
  const shot = async (page, name) => {
    if (!SHOTS) return;
    fs.mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: name !== 'events' });
  };
  const text = (page, sel) => page.$eval(sel, (e) => e.textContent).catch(() => '');
  const go = async (page, hash, readySel) => {
    await page.evaluate((h) => {
      document.getElementById('page-main').dataset.ready = '';
      // The same hash again fires no hashchange: reload the page's view then.
      if (location.hash === h) window.dispatchEvent(new HashChangeEvent('hashchange'));
      else location.hash = h;
    }, hash);
    await page.waitForFunction(() => document.getElementById('page-main').dataset.ready === '1');
    if (readySel) await page.waitForSelector(readySel);
  };
  // Clicks an action button, confirms in the modal, waits until the modal is
  // gone and the page's message about the action is shown; returns it.
  const confirmAction = async (pg, sel) => {
    await pg.$eval('#flash', (f) => { f.className = 'alert d-none'; f.textContent = ''; });
    await pg.click(sel);
    await pg.waitForSelector('#confirm-ok', { visible: true });
    await pg.click('#confirm-ok');
    await pg.waitForFunction(() => !document.getElementById('confirm-modal') && document.getElementById('flash').textContent !== '');
    return pg.$eval('#flash', (f) => f.textContent);
  };
  const noInjection = async (page, where) => {
    const r = await page.evaluate(() => ({
      imgs: document.querySelectorAll('img[src="x"], img[src$="/x"]').length,
      bold: [...document.querySelectorAll('#page-main b')].filter((b) => b.textContent === 'bold').length,
      scripts: [...document.scripts].filter((s) => !s.src).length,
      injected: window.__bwInjected || null,
    }));
    ok(`${where}: hostile fields stay text (no <img>, no <b>, no inline <script>, nothing ran)`,
      r.imgs === 0 && r.bold === 0 && r.scripts === 0 && !r.injected && dialogs.length === 0, JSON.stringify({ ...r, dialogs }));
  };

  const ctx = await browser.createBrowserContext();
  const page = await newPage(ctx);
  curPage = page;
  await page.goto(`${URL}/`, { waitUntil: 'load' });
  await page.waitForSelector('#signin-form', { visible: true });
  await shot(page, 'signin');

  // Sign in: a wrong password shows an error and no way in.
  await page.type('#signin-user', 'admin');
  await page.type('#signin-pass', 'not-the-password');
  await page.click('#signin-submit');
  await page.waitForSelector('#signin-error:not(.d-none)');
  const bad = await text(page, '#signin-error');
  ok('sign-in with a bad password shows an error', /wrong user name or password/i.test(bad), bad);
  ok('sign-in with a bad password shows no menu', await page.$eval('#nav', (n) => n.classList.contains('d-none')));

  await page.$eval('#signin-pass', (i) => { i.value = ''; });
  await page.type('#signin-pass', ADMIN_PASSWORD);
  await page.click('#signin-submit');
  await page.waitForSelector('#dash-body #top-threats');
  ok('sign-in with the right password opens the dashboard', (await text(page, '#whoami')).includes('admin'));
  const cookies = await page.cookies();
  const sc = cookies.find((c) => c.name === 'bw_session');
  ok('session cookie is HttpOnly and SameSite=Strict', sc && sc.httpOnly && sc.sameSite === 'Strict', JSON.stringify(sc));

  // Dashboard: the node's detection, tops, nodes.
  const det = Number(await text(page, '#tot-detections'));
  ok('dashboard counts the detections posted by the node', det >= 3, `detections=${det}`);
  ok('dashboard top threats lists Eicar-Test-Signature', (await text(page, '#top-threats')).includes('Eicar-Test-Signature'));
  ok('dashboard top clients lists 10.0.0.5', (await text(page, '#top-clients')).includes('10.0.0.5'));
  ok('dashboard lists the node with its database', /proxy-1[\s\S]*27480/.test(await text(page, '#dash-nodes')));
  ok('dashboard lists the blocked address', (await text(page, '#dash-blocked')).includes('192.0.2.44'));
  const chartOk = await page.evaluate(() => {
    const c = window.Chart && window.Chart.getChart(document.getElementById('chart-detections'));
    return !!c && c.data.datasets[0].data.reduce((a, b) => a + b, 0);
  });
  ok('dashboard chart (Chart.js) holds the detections over time', chartOk >= 3, `sum=${chartOk}`);
  ok('dashboard top threats shows the hostile name as text', (await text(page, '#top-threats')).includes('<img src=x onerror=alert(1)>'));
  ok('dashboard top URLs shows the hostile URL as text', (await text(page, '#top-urls')).includes('<script>alert(2)</script>'),
    await text(page, '#top-urls'));
  await noInjection(page, 'dashboard');
  await shot(page, 'dashboard');

  // Events table and its filters.
  await go(page, '#/events/node=proxy-1', '#events-table tbody tr');
  await page.waitForFunction(() => document.querySelector('#events-table').dataset.loaded);
  const rowCount = async () => page.$$eval('#events-table tbody tr', (r) => r.filter((x) => !x.querySelector('.dataTables_empty')).length);
  ok('events table lists all posted events', (await rowCount()) === evs.length, `rows=${await rowCount()}`);
  ok('events table shows the hostile threat and URL as text',
    (await text(page, '#events-table')).includes(XSS_THREAT) && (await text(page, '#events-table')).includes(XSS_URL));
  await noInjection(page, 'events table');
  await shot(page, 'events');
  const filter = async (set) => {
    await page.$eval('#events-table', (t) => { t.dataset.loaded = ''; });
    await page.$eval('#f-reset', (b) => b.click());
    await page.waitForFunction(() => document.querySelector('#events-table').dataset.loaded);
    if (!set.node) await page.type('#f-node', 'proxy-1');
    for (const [k, v] of Object.entries(set)) {
      if (k === 'component' || k === 'severity') await page.select(`#f-${k}`, v);
      else await page.type(`#f-${k}`, v);
    }
    await page.$eval('#events-table', (t) => { t.dataset.loaded = ''; });
    await page.click('#f-apply');
    await page.waitForFunction(() => document.querySelector('#events-table').dataset.loaded);
    return page.$$eval('#events-table tbody tr', (r) => r.filter((x) => !x.querySelector('.dataTables_empty')).map((x) => x.textContent));
  };
  let rows = await filter({ threat: 'eicar' });
  ok('events filter by threat', rows.length === 2 && rows.every((r) => r.includes('Eicar-Test-Signature')), rows.join('\n'));
  rows = await filter({ component: 'clamd' });
  ok('events filter by component', rows.length === 1 && rows[0].includes('Win.Trojan.Agent-1'), rows.join('\n'));
  rows = await filter({ client: '10.0.0.5' });
  ok('events filter by client', rows.length === 1 && rows[0].includes('eicar.com'), rows.join('\n'));
  rows = await filter({ type: 'detection' });
  ok('events filter by type and node', rows.length === 3, rows.join('\n'));
  rows = await filter({ q: 'invoice' });
  ok('events free-text filter', rows.length === 1 && rows[0].includes('invoice.exe'), rows.join('\n'));
  rows = await filter({ q: "x' OR '1'='1" });
  ok('events filter with SQL metacharacters matches nothing', rows.length === 0, rows.join('\n'));
  rows = await filter({ severity: 'critical' });
  ok('events filter by severity', rows.length === 1 && rows[0].includes('Evil.'), rows.join('\n'));
  const past = new Date(Date.now() - 3 * 86400000);
  const p2 = (n) => String(n).padStart(2, '0');
  const local = (d) => `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())}T${p2(d.getHours())}:${p2(d.getMinutes())}`;
  await page.$eval('#events-table', (t) => { t.dataset.loaded = ''; });
  await page.$eval('#f-reset', (b) => b.click());
  await page.waitForFunction(() => document.querySelector('#events-table').dataset.loaded);
  await page.$eval('#f-to', (i, v) => { i.value = v; }, local(past));
  await page.$eval('#events-table', (t) => { t.dataset.loaded = ''; });
  await page.click('#f-apply');
  await page.waitForFunction(() => document.querySelector('#events-table').dataset.loaded);
  ok('events filter by time range (nothing before three days ago)', (await rowCount()) === 0);

  // Cursor pagination: 120 events of another node, 50 a page.
  const tok2 = await api('POST', '/enrollment-tokens', { group: 'bulk', ttl: 3600 }, admin);
  const en2 = await api('POST', '/enroll', { token: tok2.data.token, name: 'bulk-node', version: 'test' });
  const bulk = [];
  for (let i = 0; i < 120; i++) {
    bulk.push({ id: hex(16), time: iso(Date.now() - (120 - i) * 1000), node: 'bulk-node', component: 'icap', type: 'scan',
      severity: 'info', verdict: 'CLEAN', object: { url: `http://bulk.example/${i}` } });
  }
  const pb = await api('POST', '/events', { events: bulk }, en2.data.credential);
  ok('a second node posts 120 events', pb.status === 200 && pb.data.accepted === 120, JSON.stringify(pb));
  rows = await filter({ node: 'bulk-node' });
  const pageUrls = async () => page.$$eval('#events-table tbody tr', (r) => r.map((x) => (x.textContent.match(/bulk\.example\/(\d+)/) || [])[1]));
  const pg1 = await pageUrls();
  const nextPage = async (sel) => {
    await page.$eval('#events-table', (t) => { t.dataset.loaded = ''; });
    await page.click(sel);
    await page.waitForFunction(() => document.querySelector('#events-table').dataset.loaded);
    return pageUrls();
  };
  const pg2 = await nextPage('#ev-older');
  const pg3 = await nextPage('#ev-older');
  const olderOff = await page.$eval('#ev-older', (b) => b.disabled);
  const back = await nextPage('#ev-newer');
  const all = new Set([...pg1, ...pg2, ...pg3]);
  ok('events pages through the console cursor: 50 + 50 + 20, newest first, no repeat, back again',
    pg1.length === 50 && pg2.length === 50 && pg3.length === 20 && all.size === 120 && pg1[0] === '119' && pg3[19] === '0' &&
    olderOff && back.join() === pg2.join(), `${pg1.length}/${pg2.length}/${pg3.length} distinct ${all.size} first ${pg1[0]} last ${pg3[pg3.length - 1]}`);

  // Detail page of the EICAR event, by clicking its row.
  rows = await filter({ threat: 'Eicar-Test-Signature', component: 'icap' });
  await page.click('#events-table tbody tr');
  await page.waitForSelector('#event-fields');
  const fields = await text(page, '#event-fields');
  const want = ['id', 'time', 'node', 'component', 'type', 'severity', 'verdict', 'action', 'threats', 'object.url', 'object.size',
    'object.sha256', 'client.ip', 'client.user', 'client.group', 'method', 'message', 'seq', 'received'];
  const missing = want.filter((k) => !fields.includes(k));
  ok('event detail page shows every field', missing.length === 0 && fields.includes('http://downloads.example/eicar.com') && fields.includes(eicarEv.id),
    `missing: ${missing}`);
  await shot(page, 'event-detail');
  await go(page, `#/event/${hostileEv.id}`, '#event-fields');
  const hf = await text(page, '#event-fields');
  ok('hostile event detail shows threat, URL, user and message as text',
    hf.includes(XSS_THREAT) && hf.includes(XSS_URL) && hf.includes('<i>mallory</i>') && hf.includes('<script>alert(4)</script>')
    && (await text(page, '#event-title')).includes(XSS_THREAT));
  await noInjection(page, 'event detail');
  await shot(page, 'event-detail-hostile');

  // Nodes: list and an enrolment token.
  await go(page, '#/nodes', '#nodes-table');
  ok('nodes page lists the node, its version and health', /proxy-1[\s\S]*proxies[\s\S]*ok[\s\S]*0\.12\.0/.test(await text(page, '#nodes-table')));
  await page.click('#token-create');
  await page.waitForSelector('#token-value');
  ok('nodes page creates an enrolment token', /^[0-9a-f]{64}$/.test((await text(page, '#token-value')).trim()));
  await shot(page, 'nodes');
  // Group edit and revoke (on the bulk node, which nothing else needs).
  await page.click('button[data-node="bulk-node"]');
  await page.waitForSelector('#group-input', { visible: true });
  // Set, not typed: Bootstrap moves the focus to the modal while it fades in.
  await page.$eval('#group-input', (i) => { i.value = 'moved'; });
  await page.click('#confirm-ok');
  await page.waitForFunction(() => !document.getElementById('confirm-modal') && /moved/.test(document.querySelector('#nodes-table').textContent));
  let bn = await api('GET', `/nodes/${en2.data.node_id}`, undefined, admin);
  ok('nodes page moves a node to another group', bn.data && bn.data.group === 'moved', JSON.stringify(bn.data));
  const revokeSel = await page.$$eval('#nodes-table tbody tr', (rows) => {
    const i = rows.findIndex((r) => r.textContent.includes('bulk-node'));
    return i < 0 ? null : `#nodes-table tbody tr:nth-child(${i + 1}) button.btn-outline-danger`;
  });
  await confirmAction(page, revokeSel);
  bn = await api('GET', `/nodes/${en2.data.node_id}`, undefined, admin);
  const refused = await api('POST', '/events', { events: [] }, en2.data.credential);
  ok('nodes page revokes a node: the console refuses its credential', bn.data && bn.data.revoked && refused.status === 401,
    `${JSON.stringify(bn.data)} then ${refused.status}`);

  // Tasks: create one for the node; it is queued.
  await go(page, '#/tasks', '#task-form');
  await page.select('#task-type', 'reload');
  await page.select('#task-target', `node:${en.data.node_id}`);
  await page.click('#task-create');
  await page.waitForFunction(() => /reload/.test(document.querySelector('#tasks-table tbody').textContent));
  ok('tasks page creates a task for the node (queued)', /reload[\s\S]*proxy-1[\s\S]*queued/.test(await text(page, '#tasks-table')),
    await text(page, '#tasks-table'));
  const nt = await api('GET', '/node/tasks', undefined, cred);
  ok('the node receives the task created in the UI', nt.status === 200 && nt.data.tasks.some((t) => t.type === 'reload'), JSON.stringify(nt.data));
  await shot(page, 'tasks');

  // Quarantine: restore makes a task with the object's id.
  await go(page, '#/quarantine', '#quarantine-table');
  ok('quarantine lists the stored object', (await text(page, '#quarantine-table')).includes('q-20261208-0001'));
  await shot(page, 'quarantine');
  let fl = await confirmAction(page, 'button[data-qid="q-20261208-0001"]');
  let tasks = await api('GET', '/tasks', undefined, admin);
  ok('quarantine restore creates a quarantine.restore task with the id',
    tasks.data.some((t) => t.type === 'quarantine.restore' && t.args && t.args.id === 'q-20261208-0001'), `${fl}\n${JSON.stringify(tasks.data)}`);

  // Blocked addresses: unblock makes a task.
  await go(page, '#/blocked', '#blocked-table');
  fl = await confirmAction(page, 'button[data-address="192.0.2.44"]');
  tasks = await api('GET', '/tasks', undefined, admin);
  ok('unblock creates an unblock task with the address',
    tasks.data.some((t) => t.type === 'unblock' && t.args && t.args.address === '192.0.2.44'), `${fl}\n${JSON.stringify(tasks.data)}`);
  await shot(page, 'blocked');

  // Policies: a bad fragment shows the console's validation error; a good one saves.
  await go(page, '#/policies/proxies', '#policy-conf');
  await page.$eval('#policy-conf', (t) => { t.value = '[icapserver.actions]\nInfectedAction = explode\n'; });
  await page.click('#policy-save');
  await page.waitForSelector('#policy-error');
  const perr = await text(page, '#policy-error');
  ok('saving a bad policy shows the validation error with its line', /policy:2/.test(perr) && /InfectedAction/.test(perr), perr);
  let pol = await api('GET', '/policies/proxies', undefined, admin);
  ok('the bad policy is not stored', pol.status === 404, JSON.stringify(pol));
  await page.$eval('#policy-conf', (t) => { t.value = '[icapserver.actions]\nInfectedAction = skip\n'; });
  await page.click('#policy-save');
  await page.waitForSelector('#policy-ok');
  pol = await api('GET', '/policies/proxies', undefined, admin);
  ok('saving a good policy stores it as version 1', pol.status === 200 && pol.data.version === 1 && /skip/.test(pol.data.conf), JSON.stringify(pol));
  await api('POST', '/node/heartbeat', { version: '0.12.0', db_version: '27480', health: 'ok', backlog: 0,
    policy_version: 1, policy_status: 'failed', policy_error: 'policy:2: InfectedAction: <b>not</b> here' }, cred);
  await page.$eval('#policy-nodes-refresh', (b) => b.click());
  await page.waitForFunction(() => /failed/.test(document.querySelector('#policy-nodes-table').textContent));
  ok('policy page shows which node failed and why', (await text(page, '#policy-nodes-table')).includes('policy:2: InfectedAction: <b>not</b> here'));
  await noInjection(page, 'policies');
  await shot(page, 'policies');

  // Users: add one in the UI.
  await go(page, '#/users', '#users-table');
  await page.type('#user-name', 'olga');
  await page.type('#user-password', 'olga-password-1');
  await page.click('#user-add');
  await page.waitForFunction(() => /olga/.test(document.querySelector('#users-table').textContent));
  ok('users page adds a user', true);
  await shot(page, 'users');
  await confirmAction(page, 'button[data-user="olga"]');
  await page.waitForFunction(() => !/olga/.test(document.querySelector('#users-table').textContent));
  const users = await api('GET', '/users', undefined, admin);
  ok('users page deletes a user', Array.isArray(users.data) && !users.data.some((u) => u.name === 'olga'), JSON.stringify(users.data));

  // CSRF: a state-changing request without the token is refused.
  const csrf = await page.evaluate(async () => (await fetch('/api/v1/tasks', { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ type: 'reload', group: 'proxies' }) })).status);
  ok('a POST with the session cookie but no X-CSRF-Token is refused', csrf === 403, `status ${csrf}`);

  if (E2E) await endToEnd(page, { go, shot, text, confirmAction });

  // Sign out.
  await page.click('#signout');
  await page.waitForSelector('#signin-form', { visible: true });
  const after = await page.evaluate(async () => (await fetch('/api/v1/session')).status);
  ok('sign-out ends the session', after === 401, `GET /session after sign-out: ${after}`);

  // A viewer sees no action buttons, and the API refuses the viewer anyway.
  const vctx = await browser.createBrowserContext();
  const vp = await newPage(vctx);
  await vp.goto(`${URL}/`, { waitUntil: 'load' });
  await vp.waitForSelector('#signin-form', { visible: true });
  await vp.type('#signin-user', 'vera');
  await vp.type('#signin-pass', 'viewer-password-1');
  await vp.click('#signin-submit');
  await vp.waitForSelector('#dash-body #top-threats');
  let buttons = 0;
  for (const [h, sel] of [['#/tasks', '#tasks-table'], ['#/quarantine', '#quarantine-table'], ['#/blocked', '#blocked-table'],
    ['#/nodes', '#nodes-table'], ['#/policies/proxies', '#policy-conf'], ['#/users', '#pw-form']]) {
    await go(vp, h, sel);
    buttons += await vp.$$eval('.bw-action, #task-form, #token-form, #policy-save, #user-form', (b) => b.length);
  }
  ok('a viewer sees no task or action buttons', buttons === 0, `${buttons} buttons`);
  await go(vp, '#/users', '#pw-form');
  await vp.type('#pw-current', 'viewer-password-1');
  await vp.type('#pw-new', 'viewer-password-2');
  await vp.type('#pw-new2', 'viewer-password-2');
  await vp.$eval('#flash', (f) => { f.className = 'alert d-none'; f.textContent = ''; });
  await vp.click('#pw-change');
  await vp.waitForFunction(() => document.getElementById('flash').textContent !== '');
  const vs = await api('POST', '/session', { username: 'vera', password: 'viewer-password-2' });
  ok('a viewer changes their own password', /changed/.test(await text(vp, '#flash')) && vs.status === 200, await text(vp, '#flash'));
  const vt = await api('POST', '/tasks', { type: 'reload', group: 'proxies' }, vs.data.token);
  ok('the API refuses a task from the viewer', vt.status === 403, JSON.stringify(vt));

  // Lock-out message after repeated failures.
  const lp = await newPage(await browser.createBrowserContext());
  await lp.goto(`${URL}/`, { waitUntil: 'load' });
  await lp.waitForSelector('#signin-form', { visible: true });
  await lp.type('#signin-user', 'locky');
  let msg = '';
  for (let i = 0; i < 7 && !/locked/i.test(msg); i++) {
    await lp.$eval('#signin-pass', (x) => { x.value = 'wrong-password'; });
    await lp.$eval('#signin-error', (e) => { e.textContent = ''; });
    await lp.click('#signin-submit');
    await lp.waitForFunction(() => document.getElementById('signin-error').textContent !== '');
    msg = await text(lp, '#signin-error');
  }
  ok('repeated failures show the lock-out message', /locked/i.test(msg), msg);

  ok('no CSP violation in any page', cspViolations.length === 0, cspViolations.join('\n'));
  ok('no JavaScript error in any page', consoleErrors.length === 0, consoleErrors.join('\n'));
  ok('no dialog opened (nothing injected ran)', dialogs.length === 0, dialogs.join('\n'));
  await browser.close();
}

// Waits (bounded) until check() is true, calling again() (a page refresh)
// between tries: the node works on its own schedule (PollInterval 1 s).
async function until(check, again, seconds = 90) {
  const end = Date.now() + seconds * 1000;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > end) return false;
    await again();
    await new Promise((r) => setTimeout(r, 500));
  }
}

function curlProxy(proxy, url, out) {
  return execFileSync('curl', ['-s', '-o', out, '-w', '%{http_code}', '--max-time', '30', '-x', proxy, url], { encoding: 'utf8' });
}

// The end-to-end flow with a real bulwarkd behind a real Squid.
async function endToEnd(page, { go, shot, text, confirmAction }) {
  const out = path.join(process.env.HOME || '/tmp', 'download');
  const eicar = fs.readFileSync(E2E.eicar);
  let code = curlProxy(E2E.proxy, E2E.url, out);
  ok('e2e: an EICAR download through squid is blocked by the node (403)', code === '403', `HTTP ${code}`);

  await go(page, '#/dashboard', '#dash-body #top-threats');
  const refreshDash = async () => {
    const before = await page.$eval('#dash-body', (b) => b.dataset.loaded || '');
    await page.$eval('#dash-refresh', (b) => b.click());
    await page.waitForFunction((b) => (document.querySelector('#dash-body').dataset.loaded || '') !== b, {}, before);
  };
  const seen = await until(async () => (await text(page, '#top-urls')).includes(E2E.url) &&
    (await text(page, '#dash-nodes')).includes(E2E.name), refreshDash);
  ok('e2e: the detection appears on the dashboard (top URLs, node listed)', seen,
    `${await text(page, '#top-urls')}\n${await text(page, '#dash-nodes')}`);
  ok('e2e: the dashboard top threats name the EICAR detection', /EICAR/i.test(await text(page, '#top-threats')));
  await shot(page, 'dashboard-e2e');

  // Restore the quarantined object through a task made in the UI.
  await go(page, '#/quarantine', '#quarantine-table');
  const rowSel = async () => page.$$eval('#quarantine-table tbody tr', (rows, name) => {
    const r = rows.find((x) => x.textContent.includes(name));
    const b = r && r.querySelector('button[data-qid]');
    return b ? b.dataset.qid : null;
  }, E2E.name);
  let qid = null;
  await until(async () => { qid = await rowSel(); return !!qid; }, () => go(page, '#/quarantine', '#quarantine-table'));
  if (!ok('e2e: the quarantine page lists the object the node quarantined', !!qid)) return;
  const fl = await confirmAction(page, `button[data-qid="${qid}"]`);
  ok('e2e: restore from the quarantine page queues a task', /queued/i.test(fl), fl);
  await go(page, '#/tasks', '#tasks-table');
  const restoreRow = async () => page.$$eval('#tasks-table tbody tr', (rows, q) => {
    const r = rows.find((x) => x.textContent.includes('quarantine.restore') && x.textContent.includes(q));
    return r ? r.textContent : '';
  }, qid);
  const finished = await until(async () => /done|failed/.test(await restoreRow()), () => go(page, '#/tasks', '#tasks-table'));
  const rr = await restoreRow();
  ok('e2e: the node reports the restore task done (tasks page)', finished && /done/.test(rr), rr);
  const restored = path.join(E2E.restored, qid);
  ok('e2e: the restored file is on the node, byte-identical', fs.existsSync(restored) && fs.readFileSync(restored).equals(eicar));
  await shot(page, 'tasks-e2e');

  // A policy saved in the UI changes the node's answer.
  await go(page, `#/policies/${encodeURIComponent(E2E.group)}`, '#policy-conf');
  await page.$eval('#policy-conf', (t) => { t.value = '[icapserver.actions]\nInfectedAction = skip\n'; });
  await page.click('#policy-save');
  await page.waitForSelector('#policy-ok');
  const nodeRow = async () => page.$$eval('#policy-nodes-table tbody tr', (rows, n) => {
    const r = rows.find((x) => x.textContent.includes(n));
    return r ? r.textContent : '';
  }, E2E.name);
  const applied = await until(async () => /v1\s*applied/.test(await nodeRow()), async () => {
    await page.$eval('#policy-nodes-refresh', (b) => b.click());
    await page.waitForFunction(() => document.querySelector('#policy-nodes-table'));
  });
  ok('e2e: the policy page shows the node applied the policy', applied, await nodeRow());
  await shot(page, 'policies-e2e');
  code = curlProxy(E2E.proxy, E2E.url, out);
  const same = fs.existsSync(out) && fs.readFileSync(out).equals(eicar);
  ok('e2e: with InfectedAction = skip the node now lets the EICAR download through (200, the file)', code === '200' && same, `HTTP ${code}`);
}

main().then(() => process.exit(failures ? 1 : 0), async (e) => {
  console.log(`not ok - ${TAG}: test script failed: ${e.stack || e}`);
  if (curPage && process.env.FAIL_SHOT) {
    await curPage.screenshot({ path: process.env.FAIL_SHOT, fullPage: true }).catch(() => {});
    console.log(`    screenshot of the page: ${process.env.FAIL_SHOT}`);
  }
  process.exit(1);
});
