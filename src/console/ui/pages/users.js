// SPDX-License-Identifier: Apache-2.0
// Users: an admin adds and deletes accounts and sets their role; everyone
// changes their own password (giving the current one).
import { get, post, put, del, isAdmin, session } from '../api.js';
import { el, card, table, fmtTime, str, confirmModal, actionButton, flash } from '../dom.js';

function input(id, label, attrs = {}) {
  const i = el('input', { class: 'form-control form-control-sm', id, ...attrs });
  return [i, el('div', { class: 'col-md-3' }, el('label', { class: 'form-label small mb-0', for: id }, label), i)];
}

export async function render(root) {
  root.appendChild(el('h1', { class: 'h4 mb-3' }, isAdmin() ? 'Users' : 'Your account'));
  const list = el('div', { id: 'users-list' });
  root.appendChild(list);

  async function load() {
    const users = await get('/users');
    const [c, b] = card('Users');
    b.appendChild(table([
      { title: 'Name', get: (u) => str(u.name) },
      { title: 'Role', get: (u) => str(u.role) },
      { title: 'Failed sign-ins', get: (u) => str(u.failures ?? 0) },
      { title: 'Locked until', get: (u) => (u.locked_until ? fmtTime(u.locked_until) : '—') },
      { title: 'Actions', get: (u) => (u.name === session.user ? '' : actionButton('Delete', 'btn-outline-danger', async () => {
        if (!await confirmModal('Delete user', `Delete the account ${str(u.name)}?`, 'Delete')) return;
        try { await del(`/users/${encodeURIComponent(u.name)}`); flash('success', `${u.name} deleted.`); } catch (e) { flash('danger', e.message); }
        load();
      }, { 'data-user': str(u.name) })) },
    ], users || [], { id: 'users-table' }));
    list.replaceChildren(c);
  }

  if (isAdmin()) {
    await load();
    const [name, nameCol] = input('user-name', 'User name', { required: true, autocomplete: 'off' });
    const [pw, pwCol] = input('user-password', 'Password', { type: 'password', required: true, autocomplete: 'new-password' });
    const role = el('select', { class: 'form-select form-select-sm', id: 'user-role' },
      el('option', { value: 'viewer' }, 'viewer (sees everything, changes nothing)'), el('option', { value: 'admin' }, 'admin'));
    const form = el('form', { class: 'row g-2 align-items-end', id: 'user-form' }, nameCol, pwCol,
      el('div', { class: 'col-md-3' }, el('label', { class: 'form-label small mb-0', for: 'user-role' }, 'Role'), role),
      el('div', { class: 'col-auto' }, el('button', { type: 'submit', class: 'btn btn-sm btn-primary bw-action', id: 'user-add' }, 'Add user')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        await post('/users', { name: name.value.trim(), password: pw.value, role: role.value });
        flash('success', `User ${name.value.trim()} added.`);
        form.reset();
      } catch (err) { flash('danger', `Not added: ${err.message}`); }
      load();
    });
    const [c, b] = card('Add a user');
    b.appendChild(form);
    root.appendChild(c);
  }

  const [cur, curCol] = input('pw-current', 'Current password', { type: 'password', required: true, autocomplete: 'current-password' });
  const [nw, nwCol] = input('pw-new', 'New password', { type: 'password', required: true, autocomplete: 'new-password' });
  const [nw2, nw2Col] = input('pw-new2', 'New password again', { type: 'password', required: true, autocomplete: 'new-password' });
  const form = el('form', { class: 'row g-2 align-items-end', id: 'pw-form' }, curCol, nwCol, nw2Col,
    el('div', { class: 'col-auto' }, el('button', { type: 'submit', class: 'btn btn-sm btn-primary', id: 'pw-change' }, 'Change password')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (nw.value !== nw2.value) { flash('danger', 'The two new passwords differ.'); return; }
    try {
      await put(`/users/${encodeURIComponent(session.user)}/password`, { current: cur.value, password: nw.value });
      flash('success', 'Your password is changed.');
      form.reset();
    } catch (err) { flash('danger', `Not changed: ${err.message}`); }
  });
  const [c, b] = card(`Change your password (${session.user})`);
  b.appendChild(form);
  root.appendChild(c);
}
