// SPDX-License-Identifier: Apache-2.0
// DOM helpers.  Every value that comes from the API goes into the page as
// TEXT (textContent, text nodes, input .value), never as HTML: a threat name
// or URL such as "<script>..." or "<img onerror=...>" is shown as the
// characters it is made of.  Nothing here takes an HTML string.

// el('div', {class: 'x', onclick: fn, dataset: {...}}, child, 'text', ...)
// Children: nodes, strings (made text nodes), arrays, null/undefined (skipped).
export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k === 'value') e.value = v;
    else if (k === 'text') e.textContent = String(v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  append(e, children);
  return e;
}

function append(e, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(e, c);
    else if (c instanceof Node) e.appendChild(c);
    else e.appendChild(document.createTextNode(String(c)));
  }
}

export function clear(e) {
  while (e.firstChild) e.removeChild(e.firstChild);
  return e;
}

// Times from the API come as RFC 3339 strings or as numbers (seconds,
// milliseconds or microseconds since the epoch, told apart by size).
export function toDate(v) {
  if (v === undefined || v === null || v === '' || v === 0) return null;
  if (typeof v === 'number') {
    const ms = v > 1e14 ? v / 1000 : v > 1e11 ? v : v * 1000;
    return new Date(ms);
  }
  const d = new Date(String(v));
  return isNaN(d.getTime()) ? null : d;
}

export function fmtTime(v) {
  const d = toDate(v);
  if (!d) return '—';
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
         `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function fmtAge(v) {
  const d = toDate(v);
  // A time the browser cannot read is shown as the node wrote it.
  if (!d) return typeof v === 'string' && v ? v : '—';
  let s = Math.round((Date.now() - d.getTime()) / 1000);
  const neg = s < 0;
  s = Math.abs(s);
  const t = s < 90 ? `${s} s` : s < 5400 ? `${Math.round(s / 60)} min` :
            s < 172800 ? `${Math.round(s / 3600)} h` : `${Math.round(s / 86400)} days`;
  return neg ? `in ${t}` : `${t} ago`;
}

export function str(v) {
  if (v === undefined || v === null) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

const SEV = { info: 'secondary', low: 'info', medium: 'warning', high: 'danger', critical: 'dark' };
export function sevBadge(sev) {
  return el('span', { class: `badge text-bg-${SEV[sev] || 'secondary'}` }, str(sev) || '—');
}

export function healthBadge(h) {
  const s = str(h).toLowerCase();
  const cls = !s || s === 'unknown' ? 'secondary' : /^(ok|healthy|good)/.test(s) ? 'success' :
              /^(warn|degraded)/.test(s) ? 'warning' : 'danger';
  return el('span', { class: `badge text-bg-${cls}` }, s || 'unknown');
}

// A card with a title and a body; returns [card, body].
export function card(title, ...extra) {
  const body = el('div', { class: 'card-body' });
  const c = el('div', { class: 'card shadow-sm mb-3' },
    el('div', { class: 'card-header d-flex align-items-center gap-2' },
      el('span', { class: 'fw-semibold me-auto' }, title), ...extra),
    body);
  return [c, body];
}

// A simple table: cols [{title, get(row) -> string|Node}], rows.
export function table(cols, rows, opts = {}) {
  const t = el('table', { class: `table table-sm table-hover align-middle ${opts.cls || ''}` });
  if (opts.id) t.id = opts.id;
  t.appendChild(el('thead', {}, el('tr', {}, cols.map((c) => el('th', { scope: 'col' }, c.title)))));
  const tb = el('tbody');
  if (!rows.length) {
    tb.appendChild(el('tr', {}, el('td', { colspan: cols.length, class: 'text-muted' }, opts.empty || 'Nothing yet.')));
  }
  for (const r of rows) {
    tb.appendChild(el('tr', {}, cols.map((c) => {
      const v = c.get(r);
      return el('td', { class: c.cls || 'wrap-any' }, v instanceof Node ? v : str(v));
    })));
  }
  t.appendChild(tb);
  return el('div', { class: 'table-responsive' }, t);
}

export function alertBox(kind, text) {
  return el('div', { class: `alert alert-${kind}`, role: 'alert' }, text);
}

// A Bootstrap modal asking to confirm an action (no window.confirm: the
// page never opens native dialogs).  Resolves true when confirmed.
export function confirmModal(title, text, okLabel = 'Confirm', okClass = 'btn-danger') {
  return new Promise((resolve) => {
    const ok = el('button', { type: 'button', class: `btn ${okClass}`, id: 'confirm-ok' }, okLabel);
    const m = el('div', { class: 'modal fade', tabindex: '-1', id: 'confirm-modal', 'aria-hidden': 'true' },
      el('div', { class: 'modal-dialog' }, el('div', { class: 'modal-content' },
        el('div', { class: 'modal-header' }, el('h5', { class: 'modal-title' }, title),
          el('button', { type: 'button', class: 'btn-close', 'data-bs-dismiss': 'modal', 'aria-label': 'Close' })),
        el('div', { class: 'modal-body wrap-any' }, text),
        el('div', { class: 'modal-footer' },
          el('button', { type: 'button', class: 'btn btn-secondary', 'data-bs-dismiss': 'modal' }, 'Cancel'), ok))));
    document.body.appendChild(m);
    const modal = new window.bootstrap.Modal(m);
    let result = false;
    // Bootstrap ignores hide() while the modal is still fading in: a quick
    // click then hides it as soon as it is shown.
    let shown = false;
    let pending = false;
    m.addEventListener('shown.bs.modal', () => { shown = true; if (pending) modal.hide(); });
    ok.addEventListener('click', () => { result = true; if (shown) modal.hide(); else pending = true; });
    m.addEventListener('hidden.bs.modal', () => { modal.dispose(); m.remove(); resolve(result); });
    modal.show();
  });
}

// A button shown to admins only (a viewer sees no action buttons; the API
// refuses them anyway).
export function actionButton(label, cls, onclick, attrs = {}) {
  return el('button', { type: 'button', class: `btn btn-sm ${cls} bw-action`, onclick, ...attrs }, label);
}

// A message at the top of the page (success of an action, or its error).
let flashTimer = null;
export function flash(kind, text) {
  const f = document.getElementById('flash');
  f.className = `alert alert-${kind}`;
  f.textContent = text;
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => f.classList.add('d-none'), kind === 'danger' ? 20000 : 8000);
}
