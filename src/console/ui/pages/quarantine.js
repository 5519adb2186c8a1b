// SPDX-License-Identifier: Apache-2.0
// Quarantine (objects the nodes hold back) and blocked addresses.  Restore,
// delete and unblock are tasks for the node that holds the object or the
// block; the list changes when the node reports the event back.
import { get, isAdmin } from '../api.js';
import { el, card, table, fmtTime, str, confirmModal, actionButton, flash } from '../dom.js';
import { createTask } from './tasks.js';

async function nodeIdOf(name) {
  const nodes = await get('/nodes');
  const n = (nodes || []).find((x) => x.name === name && !x.revoked);
  if (!n) throw new Error(`node ${name} is not enrolled (or revoked)`);
  return n.id;
}

async function task(type, nodeName, args, what) {
  try {
    const id = await nodeIdOf(nodeName);
    await createTask(type, { node: id }, args);
    flash('success', `Task queued: ${what} on ${nodeName}. See the Tasks page for the result.`);
  } catch (e) { flash('danger', `Task refused: ${e.message}`); }
}

export async function render(root) {
  root.appendChild(el('h1', { class: 'h4 mb-3' }, 'Quarantine'));
  const items = await get('/quarantine');
  const cols = [
    { title: 'Time', cls: 'text-nowrap', get: (q) => fmtTime(q.time) },
    { title: 'Node', cls: 'text-nowrap', get: (q) => str(q.node) },
    { title: 'Threat', get: (q) => str(q.threat) },
    { title: 'Object', get: (q) => str(q.object && (q.object.url || q.object.path)) },
    { title: 'Size', get: (q) => str(q.object && q.object.size) },
    { title: 'Quarantine id', get: (q) => el('span', { class: 'mono small' }, str(q.id)) },
  ];
  if (isAdmin()) {
    cols.push({ title: 'Actions', cls: 'text-nowrap', get: (q) => el('span', { class: 'd-inline-flex gap-1' },
      actionButton('Restore', 'btn-outline-primary', async () => {
        if (await confirmModal('Restore', `Restore ${str(q.object && (q.object.url || q.object.path)) || q.id} on ${str(q.node)}? It was detected as ${str(q.threat)}.`, 'Restore', 'btn-warning')) {
          task('quarantine.restore', q.node, { id: q.id }, `restore ${q.id}`);
        }
      }, { 'data-qid': str(q.id) }),
      actionButton('Delete', 'btn-outline-danger', async () => {
        if (await confirmModal('Delete', `Delete quarantined object ${str(q.id)} on ${str(q.node)} for good?`, 'Delete')) {
          task('quarantine.delete', q.node, { id: q.id }, `delete ${q.id}`);
        }
      }, { 'data-qid': str(q.id) })) });
  }
  const [c, b] = card(`Quarantined objects (${(items || []).length})`);
  b.appendChild(table(cols, items || [], { id: 'quarantine-table', empty: 'Nothing in quarantine.' }));
  root.appendChild(c);
}

export async function renderBlocked(root) {
  root.appendChild(el('h1', { class: 'h4 mb-3' }, 'Blocked addresses'));
  const items = await get('/blocked');
  const cols = [
    { title: 'Address', get: (x) => el('span', { class: 'mono' }, str(x.address)) },
    { title: 'Node', get: (x) => str(x.node) },
    { title: 'Since', get: (x) => fmtTime(x.time) },
    { title: 'Reason', get: (x) => str(x.reason) },
    { title: 'Event', get: (x) => (x.event ? el('a', { href: `#/event/${encodeURIComponent(x.event)}` }, 'details') : '') },
  ];
  if (isAdmin()) {
    cols.push({ title: 'Actions', get: (x) => actionButton('Unblock', 'btn-outline-primary', async () => {
      if (await confirmModal('Unblock', `Unblock ${str(x.address)} on ${str(x.node)}?`, 'Unblock', 'btn-primary')) {
        task('unblock', x.node, { address: x.address }, `unblock ${x.address}`);
      }
    }, { 'data-address': str(x.address) }) });
  }
  const [c, b] = card(`Blocked addresses (${(items || []).length})`);
  b.appendChild(table(cols, items || [], { id: 'blocked-table', empty: 'No address is blocked.' }));
  root.appendChild(c);
}
