// SPDX-License-Identifier: Apache-2.0
// Tasks: what the console asked nodes to do and how it went (queued, sent,
// done, failed with the node's message); an admin creates one for a node or
// a whole group.  Quarantine and blocked-address pages create theirs here too.
import { get, post, isAdmin } from '../api.js';
import { el, card, table, fmtTime, str, flash } from '../dom.js';

export const TASK_TYPES = [
  ['update', 'Update the signature databases now', null],
  ['reload', 'Reload the configuration', null],
  ['reload-bases', 'Reload the signature databases', null],
  ['quarantine.restore', 'Restore a quarantined object', 'id'],
  ['quarantine.delete', 'Delete a quarantined object', 'id'],
  ['unblock', 'Unblock an address', 'address'],
];

// Queues a task; target {node} or {group}.  Returns the ids or throws.
export async function createTask(type, target, args) {
  const body = { type, ...target };
  if (args) body.args = args;
  const r = await post('/tasks', body);
  return r.tasks || [];
}

const STATE = { queued: 'secondary', sent: 'info', done: 'success', failed: 'danger' };

export async function render(root, arg) {
  root.appendChild(el('h1', { class: 'h4 mb-3' }, 'Tasks'));
  const nodes = await get('/nodes').catch(() => []);
  if (isAdmin()) root.appendChild(createForm(nodes, Object.fromEntries(new URLSearchParams(arg || '')), () => load()));
  const list = el('div', { id: 'tasks-list' });
  root.appendChild(list);

  async function load() {
    const tasks = await get('/tasks');
    const [c, b] = card('Recent tasks', el('button', { type: 'button', class: 'btn btn-sm btn-outline-secondary', id: 'tasks-refresh', onclick: () => load() }, 'Refresh'));
    b.appendChild(table([
      { title: '#', get: (t) => str(t.id) },
      { title: 'Type', cls: 'text-nowrap', get: (t) => str(t.type) },
      { title: 'Arguments', get: (t) => (t.args && Object.keys(t.args).length ? Object.entries(t.args).map(([k, v]) => `${k}=${str(v)}`).join(' ') : '') },
      { title: 'Node', cls: 'text-nowrap', get: (t) => str(t.node_name || t.node) },
      { title: 'State', cls: 'text-nowrap', get: (t) => el('span', { class: `badge text-bg-${STATE[t.state] || 'secondary'}` }, str(t.state)) },
      { title: 'Result', get: (t) => str(t.result) },
      { title: 'Created', cls: 'text-nowrap', get: (t) => `${fmtTime(t.created)}${t.created_by ? ` by ${t.created_by}` : ''}` },
      { title: 'Updated', cls: 'text-nowrap', get: (t) => fmtTime(t.updated) },
    ], tasks || [], { id: 'tasks-table', empty: 'No task yet.' }));
    list.replaceChildren(c);
  }
  await load();
}

function createForm(nodes, preset, done) {
  const live = (nodes || []).filter((n) => !n.revoked);
  const groups = [...new Set(live.map((n) => n.group).filter(Boolean))].sort();
  const type = el('select', { class: 'form-select form-select-sm', id: 'task-type' },
    TASK_TYPES.map(([v, label]) => el('option', { value: v, selected: preset.type === v }, label)));
  const target = el('select', { class: 'form-select form-select-sm', id: 'task-target' },
    el('optgroup', { label: 'Node' }, live.map((n) => el('option', { value: `node:${n.id}`, selected: preset.node === n.name || preset.node === n.id }, str(n.name)))),
    el('optgroup', { label: 'Group (every node in it)' }, groups.map((g) => el('option', { value: `group:${g}` }, `group ${g}`))));
  const argLabel = el('label', { class: 'form-label small mb-0', for: 'task-arg' }, 'Argument');
  const arg = el('input', { class: 'form-control form-control-sm', id: 'task-arg', value: preset.id || preset.address || '' });
  const argBox = el('div', { class: 'col-md-3' }, argLabel, arg);
  const sync = () => {
    const need = TASK_TYPES.find(([v]) => v === type.value)[2];
    argBox.classList.toggle('d-none', !need);
    argLabel.textContent = need === 'id' ? 'Quarantine id' : 'Address';
    arg.required = !!need;
  };
  type.addEventListener('change', sync);
  sync();
  const form = el('form', { class: 'row g-2 align-items-end', id: 'task-form' },
    el('div', { class: 'col-md-3' }, el('label', { class: 'form-label small mb-0', for: 'task-type' }, 'Task'), type),
    el('div', { class: 'col-md-3' }, el('label', { class: 'form-label small mb-0', for: 'task-target' }, 'For'), target),
    argBox,
    el('div', { class: 'col-auto' }, el('button', { type: 'submit', class: 'btn btn-sm btn-primary bw-action', id: 'task-create', disabled: !live.length }, 'Create task')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const [kind, ...rest] = target.value.split(':');
    const need = TASK_TYPES.find(([v]) => v === type.value)[2];
    try {
      const ids = await createTask(type.value, { [kind]: rest.join(':') }, need ? { [need]: arg.value.trim() } : undefined);
      flash('success', `Task queued (${ids.length} node${ids.length === 1 ? '' : 's'}); nodes pick it up at their next poll.`);
    } catch (err) { flash('danger', `Task refused: ${err.message}`); }
    done();
  });
  const [c, b] = card('Create a task');
  b.appendChild(live.length ? form : el('p', { class: 'text-muted mb-0' }, 'No node enrolled yet.'));
  return c;
}
