// SPDX-License-Identifier: Apache-2.0
// Dashboard: detections over time (Chart.js), top threats / clients / URLs,
// nodes with health and database age, blocked addresses.  Chart.js draws
// labels and tooltips on a canvas, so a hostile threat name is drawn as
// text; the tables are built with text nodes.
import { get, qs } from '../api.js';
import { el, card, table, fmtTime, fmtAge, healthBadge, str, toDate } from '../dom.js';

const RANGES = { '1h': [3600, 300], '24h': [86400, 3600], '7d': [7 * 86400, 6 * 3600], '30d': [30 * 86400, 86400] };

function topTable(title, rows, id, linkParam) {
  const [c, b] = card(title);
  b.appendChild(table([
    { title: 'Name', get: (r) => {
      const name = str(r.name !== undefined ? r.name : r.key !== undefined ? r.key : r.value);
      if (!linkParam || !name) return name;
      return el('a', { href: `#/events/${linkParam}=${encodeURIComponent(name)}` }, name);
    } },
    { title: 'Count', get: (r) => str(r.count), cls: 'text-end' },
  ], rows || [], { cls: 'tops', id, empty: 'None in this period.' }));
  return c;
}

function bucketLabel(t, bucket) {
  const d = toDate(t);
  if (!d) return '';
  const p = (n) => String(n).padStart(2, '0');
  return bucket >= 86400 ? `${d.getMonth() + 1}/${d.getDate()}`
                         : `${d.getMonth() + 1}/${d.getDate()} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

export async function render(root) {
  let range = sessionStorage.getItem('bw.dash.range') || '24h';
  let chart = null;
  let timer = null;
  const sel = el('select', { class: 'form-select form-select-sm w-auto', id: 'dash-range', 'aria-label': 'Period' },
    Object.keys(RANGES).map((k) => el('option', { value: k, selected: k === range }, `last ${k}`)));
  const refresh = el('button', { class: 'btn btn-sm btn-outline-secondary', type: 'button', id: 'dash-refresh' }, 'Refresh');
  root.appendChild(el('div', { class: 'd-flex align-items-center gap-2 mb-3' },
    el('h1', { class: 'h4 me-auto mb-0' }, 'Dashboard'), sel, refresh));
  const body = el('div', { id: 'dash-body' });
  root.appendChild(body);

  async function load() {
    const [span, bucket] = RANGES[range];
    const now = Math.floor(Date.now() / 1000);
    const from = Math.floor((now - span) / bucket) * bucket;
    const [stats, nodes, blocked] = await Promise.all([
      get(`/stats${qs({ from, to: now + 60, bucket })}`),
      get('/nodes').catch(() => []),
      get('/blocked').catch(() => []),
    ]);
    if (chart) { chart.destroy(); chart = null; }
    body.replaceChildren();
    const tot = stats.totals || {};
    const nlive = (nodes || []).filter((n) => !n.revoked).length;
    const tile = (label, v, id) => el('div', { class: 'col' }, el('div', { class: 'card shadow-sm' },
      el('div', { class: 'card-body' }, el('div', { class: 'text-muted small' }, label),
        el('div', { class: 'stat-num', id }, str(v)))));
    body.appendChild(el('div', { class: 'row row-cols-2 row-cols-md-4 g-3 mb-3' },
      tile('Detections', tot.detections || 0, 'tot-detections'), tile('Events', tot.events || 0, 'tot-events'),
      tile('Nodes', nlive, 'tot-nodes'), tile('Blocked addresses', (blocked || []).length, 'tot-blocked')));

    const [cc, cb] = card('Detections over time');
    const canvas = el('canvas', { id: 'chart-detections', role: 'img', 'aria-label': 'Detections over time' });
    cb.appendChild(el('div', { class: 'chart-box' }, canvas));
    body.appendChild(cc);
    const buckets = stats.buckets || [];
    chart = new window.Chart(canvas, {
      type: 'bar',
      data: {
        labels: buckets.map((b) => bucketLabel(b.t, bucket)),
        datasets: [
          { label: 'Detections', data: buckets.map((b) => b.detections || 0), backgroundColor: 'rgba(220,53,69,0.8)' },
          { label: 'All events', data: buckets.map((b) => b.events || 0), backgroundColor: 'rgba(108,117,125,0.35)' },
        ],
      },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        scales: { x: { stacked: false, ticks: { autoSkip: true, maxTicksLimit: 12 } },
                  y: { beginAtZero: true, ticks: { precision: 0 } } },
        plugins: { legend: { position: 'bottom' } },
      },
    });

    body.appendChild(el('div', { class: 'row g-3' },
      el('div', { class: 'col-lg-4' }, topTable('Top threats', stats.top_threats, 'top-threats', 'threat')),
      el('div', { class: 'col-lg-4' }, topTable('Top clients', stats.top_clients, 'top-clients', 'client')),
      el('div', { class: 'col-lg-4' }, topTable('Top URLs', stats.top_urls, 'top-urls', 'q'))));

    const [nc, nb] = card('Nodes', el('a', { href: '#/nodes', class: 'small' }, 'manage'));
    nb.appendChild(table([
      { title: 'Node', get: (n) => str(n.name) },
      { title: 'Group', get: (n) => str(n.group) },
      { title: 'Health', get: (n) => (n.revoked ? el('span', { class: 'badge text-bg-dark' }, 'revoked') : healthBadge(n.health)) },
      { title: 'Last seen', get: (n) => fmtAge(n.last_seen) },
      { title: 'Database', get: (n) => str(n.db_version) || '—' },
      { title: 'Database age', get: (n) => fmtAge(n.db_time) },
      { title: 'Backlog', get: (n) => str(n.backlog ?? '—') },
    ], nodes || [], { id: 'dash-nodes', empty: 'No node enrolled yet: create an enrolment token on the Nodes page.' }));
    const [bc, bb] = card('Blocked addresses', el('a', { href: '#/blocked', class: 'small' }, 'manage'));
    bb.appendChild(table([
      { title: 'Address', get: (b) => str(b.address) },
      { title: 'Node', get: (b) => str(b.node) },
      { title: 'Since', get: (b) => fmtTime(b.time) },
      { title: 'Reason', get: (b) => str(b.reason) },
    ], blocked || [], { id: 'dash-blocked', empty: 'No blocked address.' }));
    body.appendChild(el('div', { class: 'row g-3 mt-0' },
      el('div', { class: 'col-xl-7' }, nc), el('div', { class: 'col-xl-5' }, bc)));
    body.dataset.loaded = String(Date.now());
  }

  sel.addEventListener('change', () => { range = sel.value; sessionStorage.setItem('bw.dash.range', range); load(); });
  refresh.addEventListener('click', () => load());
  await load();
  timer = setInterval(() => { if (!document.hidden) load().catch(() => {}); }, 30000);
  return () => { clearInterval(timer); if (chart) chart.destroy(); };
}
