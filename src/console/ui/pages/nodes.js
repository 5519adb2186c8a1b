// SPDX-License-Identifier: Apache-2.0
// Nodes: every enrolled node with its health, last contact, versions and
// event backlog; an admin moves a node to another group, revokes it, and
// makes one-time enrolment tokens.
import { get, post, patch, isAdmin } from '../api.js';
import { el, card, table, fmtTime, fmtAge, healthBadge, str, confirmModal, actionButton, flash } from '../dom.js';

export async function render(root) {
  root.appendChild(el('h1', { class: 'h4 mb-3' }, 'Nodes'));
  const list = el('div', { id: 'nodes-list' });
  root.appendChild(list);

  async function load() {
    const nodes = await get('/nodes');
    const rows = nodes || [];
    const cols = [
      { title: 'Node', get: (n) => el('span', {}, el('span', { class: 'fw-semibold' }, str(n.name)), el('br'), el('span', { class: 'text-muted small mono' }, str(n.id))) },
      { title: 'Group', get: (n) => str(n.group) },
      { title: 'Health', get: (n) => (n.revoked ? el('span', { class: 'badge text-bg-dark' }, 'revoked') : healthBadge(n.health)) },
      { title: 'Last seen', cls: 'text-nowrap', get: (n) => el('span', { title: fmtTime(n.last_seen) }, fmtAge(n.last_seen)) },
      { title: 'Version', get: (n) => str(n.version) || '—' },
      { title: 'Database', get: (n) => `${str(n.db_version) || '—'} (${fmtAge(n.db_time)})` },
      { title: 'Backlog', get: (n) => `${str(n.backlog ?? '—')}${n.dropped ? `, ${n.dropped} dropped` : ''}` },
      { title: 'Policy', get: (n) => (n.policy_version ? `v${n.policy_version} ${str(n.policy_status)}${n.policy_error ? `: ${n.policy_error}` : ''}` : '—') },
    ];
    if (isAdmin()) {
      cols.push({ title: 'Actions', cls: 'text-nowrap', get: (n) => (n.revoked ? '' : el('span', { class: 'd-inline-flex gap-1' },
        actionButton('Group…', 'btn-outline-primary', () => editGroup(n), { 'data-node': str(n.name) }),
        actionButton('Revoke', 'btn-outline-danger', () => revoke(n), { 'data-node': str(n.name) }))) });
    }
    const [c, b] = card(`Nodes (${rows.length})`);
    b.appendChild(table(cols, rows, { id: 'nodes-table', empty: 'No node enrolled yet.' }));
    list.replaceChildren(c);
  }

  async function editGroup(n) {
    const input = el('input', { class: 'form-control', value: str(n.group), id: 'group-input' });
    const ok = await confirmModal(`Group of ${str(n.name)}`, el('div', {},
      el('label', { class: 'form-label', for: 'group-input' }, 'The node takes the policy of its group.'), input), 'Save', 'btn-primary');
    if (!ok) return;
    try {
      await patch(`/nodes/${encodeURIComponent(n.id)}`, { group: input.value.trim() });
      flash('success', `${n.name} is now in group ${input.value.trim()}.`);
    } catch (e) { flash('danger', e.message); }
    load();
  }

  async function revoke(n) {
    if (!await confirmModal('Revoke node', `Revoke ${str(n.name)}? Its credential stops working at once; it must enrol again.`, 'Revoke')) return;
    try {
      await post(`/nodes/${encodeURIComponent(n.id)}/revoke`);
      flash('success', `${n.name} is revoked.`);
    } catch (e) { flash('danger', e.message); }
    load();
  }

  if (isAdmin()) {
    const grp = el('input', { class: 'form-control form-control-sm', id: 'token-group', value: 'default' });
    const ttl = el('select', { class: 'form-select form-select-sm', id: 'token-ttl' },
      el('option', { value: '3600' }, '1 hour'), el('option', { value: '86400', selected: true }, '1 day'),
      el('option', { value: '604800' }, '7 days'));
    const out = el('div', { id: 'token-out', class: 'mt-2' });
    const form = el('form', { class: 'row g-2 align-items-end', id: 'token-form' },
      el('div', { class: 'col-auto' }, el('label', { class: 'form-label small mb-0', for: 'token-group' }, 'Group'), grp),
      el('div', { class: 'col-auto' }, el('label', { class: 'form-label small mb-0', for: 'token-ttl' }, 'Valid for'), ttl),
      el('div', { class: 'col-auto' }, el('button', { class: 'btn btn-sm btn-primary bw-action', type: 'submit', id: 'token-create' }, 'Create enrolment token')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        const t = await post('/enrollment-tokens', { group: grp.value.trim(), ttl: Number(ttl.value) });
        out.replaceChildren(el('div', { class: 'alert alert-success' },
          'One-time token (shown once), valid until ', fmtTime(t.expires), ':',
          el('pre', { class: 'mono mb-1 mt-2 user-select-all', id: 'token-value' }, str(t.token)),
          'On the node: ', el('code', {}, `bulwark console enroll --url ${location.origin} --token ${str(t.token)}`),
          ' or set EnrollToken in the [console] section of bulwark.conf.'));
      } catch (err) { out.replaceChildren(el('div', { class: 'alert alert-danger' }, err.message)); }
    });
    const [c, b] = card('Enrol a node');
    b.append(form, out);
    root.appendChild(c);
  }
  await load();
}
