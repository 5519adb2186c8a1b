// SPDX-License-Identifier: Apache-2.0
// Events: the filterable table (server-side filters, cursor pagination: the
// console answers a page and the cursor of the next one) and the detail page
// of one event.  The table is a DataTables table fed one page at a time;
// every cell is rendered with DataTables' text renderer, which escapes.
import { get, qs } from '../api.js';
import { el, card, fmtTime, str, sevBadge, alertBox } from '../dom.js';

const FILTERS = [
  ['node', 'Node', 'text'], ['component', 'Component', 'select',
    ['', 'icap', 'clamd', 'quarantine', 'update', 'daemon', 'events', 'agent', 'sensor']],
  ['type', 'Type', 'text'], ['threat', 'Threat', 'text'], ['client', 'Client', 'text'],
  ['severity', 'Severity', 'select', ['', 'info', 'low', 'medium', 'high', 'critical']],
  ['q', 'Free text', 'text'],
];

function toLocalInput(sec) {
  const d = new Date(sec * 1000);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

function fromLocalInput(v) {
  if (!v) return '';
  const d = new Date(v);
  return isNaN(d.getTime()) ? '' : Math.floor(d.getTime() / 1000);
}

export async function render(root, arg) {
  const initial = Object.fromEntries(new URLSearchParams(arg || ''));
  const inputs = {};
  const form = el('form', { class: 'row g-2 align-items-end filters mb-3', id: 'events-filters' });
  const field = (name, label, input) => {
    inputs[name] = input;
    form.appendChild(el('div', { class: 'col-6 col-md-3 col-xl' },
      el('label', { class: 'form-label small mb-0', for: `f-${name}` }, label), input));
  };
  field('from', 'From', el('input', { class: 'form-control form-control-sm', type: 'datetime-local', id: 'f-from',
    value: initial.from ? toLocalInput(Number(initial.from)) : '' }));
  field('to', 'To', el('input', { class: 'form-control form-control-sm', type: 'datetime-local', id: 'f-to',
    value: initial.to ? toLocalInput(Number(initial.to)) : '' }));
  for (const [name, label, kind, opts] of FILTERS) {
    const input = kind === 'select'
      ? el('select', { class: 'form-select form-select-sm', id: `f-${name}` },
        opts.map((o) => el('option', { value: o, selected: initial[name] === o }, o || 'any')))
      : el('input', { class: 'form-control form-control-sm', id: `f-${name}`, value: initial[name] || '',
        placeholder: name === 'q' ? 'anywhere in the event' : '' });
    field(name, label, input);
  }
  form.appendChild(el('div', { class: 'col-auto' },
    el('button', { class: 'btn btn-sm btn-primary', type: 'submit', id: 'f-apply' }, 'Filter'), ' ',
    el('button', { class: 'btn btn-sm btn-outline-secondary', type: 'button', id: 'f-reset' }, 'Reset')));

  const older = el('button', { class: 'btn btn-sm btn-outline-secondary', type: 'button', id: 'ev-older' }, 'Older →');
  const newer = el('button', { class: 'btn btn-sm btn-outline-secondary', type: 'button', id: 'ev-newer' }, '← Newer');
  const info = el('span', { class: 'text-muted small', id: 'ev-info' });
  const tbl = el('table', { class: 'table table-sm table-hover w-100', id: 'events-table' });
  root.appendChild(el('h1', { class: 'h4 mb-3' }, 'Events'));
  root.appendChild(form);
  const [c, b] = card('Events, most recently received first', info, newer, older);
  b.appendChild(tbl);
  root.appendChild(c);

  const text = window.$.fn.dataTable.render.text();
  const dt = window.$(tbl).DataTable({
    data: [], paging: false, searching: false, ordering: false, info: false, autoWidth: false,
    language: { emptyTable: 'No event matches these filters.' },
    createdRow: (row) => row.classList.add('clickable'),
    columns: [
      { title: 'Time', data: (e) => fmtTime(e.time), render: text, className: 'text-nowrap' },
      { title: 'Node', data: (e) => str(e.node), render: text, className: 'text-nowrap' },
      { title: 'Component', data: (e) => str(e.component), render: text },
      { title: 'Type', data: (e) => str(e.type), render: text },
      { title: 'Severity', data: (e) => str(e.severity), render: text },
      { title: 'Threat', data: (e) => (Array.isArray(e.threats) ? e.threats.join(', ') : str(e.threats)), render: text },
      { title: 'Action', data: (e) => str(e.action), render: text },
      { title: 'Client', data: (e) => str(e.client && (e.client.ip || e.client.user)), render: text },
      { title: 'Object', data: (e) => str(e.object && (e.object.url || e.object.path)), render: text, className: 'wrap-any' },
    ],
  });
  window.$(tbl).on('click', 'tbody tr', function onRow() {
    const e = dt.row(this).data();
    if (e && e.id) location.hash = `#/event/${encodeURIComponent(e.id)}`;
  });

  const stack = []; // cursors of the pages before the current one
  let cursor = null;
  let next = null;

  function params() {
    const p = {};
    for (const [name, input] of Object.entries(inputs)) {
      p[name] = name === 'from' || name === 'to' ? fromLocalInput(input.value) : input.value.trim();
    }
    return p;
  }

  async function load() {
    const p = params();
    const res = await get(`/events${qs({ ...p, limit: 50, cursor })}`).catch((e) => ({ error: e.message }));
    const prev = root.querySelector('#ev-error');
    if (prev) prev.remove();
    if (res.error) {
      c.before(Object.assign(alertBox('danger', res.error), { id: 'ev-error' }));
      dt.clear().draw();
      return;
    }
    dt.clear().rows.add(res.events || []).draw();
    next = res.next_cursor ?? null;
    older.disabled = next === null;
    newer.disabled = stack.length === 0;
    const n = (res.events || []).length;
    info.textContent = n ? `page ${stack.length + 1}, ${n} events` : '';
    tbl.dataset.loaded = String(Date.now());
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    stack.length = 0;
    cursor = null;
    const p = params();
    const h = new URLSearchParams(Object.entries(p).filter(([, v]) => v !== '')).toString();
    history.replaceState(null, '', `#/events${h ? `/${h}` : ''}`);
    load();
  });
  root.querySelector('#f-reset').addEventListener('click', () => {
    for (const i of Object.values(inputs)) i.value = '';
    form.requestSubmit();
  });
  older.addEventListener('click', () => { if (next !== null) { stack.push(cursor); cursor = next; load(); } });
  newer.addEventListener('click', () => { if (stack.length) { cursor = stack.pop(); load(); } });
  await load();
  return () => dt.destroy();
}

// Flattens {"object":{"url":..}} into [["object.url", value], ...].
function flatten(obj, prefix, out) {
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === 'object' && !Array.isArray(v)) flatten(v, key, out);
    else if (Array.isArray(v) && v.some((x) => x && typeof x === 'object')) out.push([key, JSON.stringify(v)]);
    else out.push([key, Array.isArray(v) ? v.join(', ') : v]);
  }
  return out;
}

const ORDER = ['id', 'time', 'received', 'seq', 'node', 'component', 'type', 'severity', 'verdict', 'action', 'threats'];

export async function renderDetail(root, rawId) {
  const id = decodeURIComponent(rawId || '');
  root.appendChild(el('div', { class: 'mb-3' }, el('a', { href: '#/events', id: 'back-events' }, '← Events')));
  const e = await get(`/events/${encodeURIComponent(id)}`);
  const head = Array.isArray(e.threats) && e.threats.length ? e.threats.join(', ') : str(e.type);
  root.appendChild(el('h1', { class: 'h4 mb-3 wrap-any', id: 'event-title' }, head, ' ', sevBadge(e.severity)));
  const rows = flatten(e, '', []);
  rows.sort((a, b) => {
    const ia = ORDER.indexOf(a[0]), ib = ORDER.indexOf(b[0]);
    return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a[0].localeCompare(b[0]);
  });
  const tb = el('tbody');
  for (const [k, v] of rows) {
    let shown = str(v);
    if (k === 'time' || k === 'received') shown = `${str(v)}  (${fmtTime(v)} local)`;
    tb.appendChild(el('tr', {}, el('th', { scope: 'row', class: 'mono small' }, k), el('td', { class: 'wrap-any' }, shown)));
  }
  const [c1, b1] = card('Every field');
  b1.appendChild(el('table', { class: 'table table-sm kv', id: 'event-fields' }, tb));
  const [c2, b2] = card('As received (JSON)');
  b2.appendChild(el('pre', { class: 'event-json mono small', id: 'event-json' }, JSON.stringify(e, null, 2)));
  root.appendChild(c1);
  root.appendChild(c2);
  const links = el('div', { class: 'd-flex gap-2' });
  if (e.node) links.appendChild(el('a', { class: 'btn btn-sm btn-outline-secondary', href: `#/events/node=${encodeURIComponent(e.node)}` }, 'Events of this node'));
  if (Array.isArray(e.threats) && e.threats[0]) links.appendChild(el('a', { class: 'btn btn-sm btn-outline-secondary', href: `#/events/threat=${encodeURIComponent(e.threats[0])}` }, 'Events with this threat'));
  root.appendChild(links);
}
