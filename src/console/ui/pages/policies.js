// SPDX-License-Identifier: Apache-2.0
// Policies: per group, a bulwark.conf fragment.  Saving sends it to the
// console, which validates it with bulwarkd's own key schema and answers
// "policy:LINE: Key: what" when it is wrong (nothing stored then); the page
// shows that error as it is.  Below: which nodes of the group applied which
// version, and the exact error of those that refused it.
import { get, put, isAdmin } from '../api.js';
import { el, card, table, fmtTime, fmtAge, str } from '../dom.js';

const EXAMPLE = '# bulwark.conf settings for every node of this group, e.g.\n' +
  '# [policy]\n# OnInfected = deny\n';

export async function render(root, arg) {
  root.appendChild(el('h1', { class: 'h4 mb-3' }, 'Policies'));
  const [policies, nodes] = await Promise.all([get('/policies'), get('/nodes').catch(() => [])]);
  const groups = [...new Set([...(policies || []).map((p) => p.group),
    ...(nodes || []).filter((n) => !n.revoked).map((n) => n.group), 'default'].filter(Boolean))].sort();
  let group = decodeURIComponent(arg || '') || groups[0];
  if (!groups.includes(group)) groups.push(group);

  const sel = el('select', { class: 'form-select form-select-sm w-auto', id: 'policy-group', 'aria-label': 'Group' },
    groups.map((g) => el('option', { value: g, selected: g === group }, `group ${g}`)));
  const newGroup = el('input', { class: 'form-control form-control-sm w-auto', id: 'policy-new-group', placeholder: 'other group…' });
  root.appendChild(el('div', { class: 'd-flex gap-2 mb-3 align-items-center' }, sel, isAdmin() ? newGroup : null));
  const body = el('div', { id: 'policy-body' });
  root.appendChild(body);

  async function load() {
    const p = await get(`/policies/${encodeURIComponent(group)}`).catch((e) => (e.status === 404 ? null : Promise.reject(e)));
    const ta = el('textarea', { class: 'form-control policy-conf', id: 'policy-conf', spellcheck: 'false', readonly: !isAdmin(),
      'aria-label': 'bulwark.conf fragment', placeholder: EXAMPLE });
    ta.value = p ? str(p.conf) : '';
    const status = el('div', { id: 'policy-status', class: 'mt-2' });
    const meta = el('span', { class: 'text-muted small', id: 'policy-version' },
      p ? `version ${p.version}, saved ${fmtTime(p.updated)}${p.updated_by ? ` by ${p.updated_by}` : ''}` : 'no policy yet: nodes of this group keep their own bulwark.conf');
    const [c, b] = card(`Policy of group ${group}`, meta);
    b.appendChild(ta);
    if (isAdmin()) {
      const save = el('button', { type: 'button', class: 'btn btn-primary btn-sm mt-2 bw-action', id: 'policy-save' }, 'Validate and save');
      save.addEventListener('click', async () => {
        save.disabled = true;
        try {
          const r = await put(`/policies/${encodeURIComponent(group)}`, { conf: ta.value });
          status.replaceChildren(el('div', { class: 'alert alert-success mb-0', id: 'policy-ok' },
            `Saved as version ${r.version}. Nodes of group ${group} fetch it at their next heartbeat, validate it and reload.`));
          meta.textContent = `version ${r.version}, saved just now`;
          setTimeout(() => loadNodes(), 0);
        } catch (e) {
          status.replaceChildren(el('div', { class: 'alert alert-danger mb-0', id: 'policy-error' },
            el('strong', {}, 'Not saved: '), el('span', { class: 'mono' }, e.message)));
        } finally { save.disabled = false; }
      });
      b.append(save);
    }
    b.append(status);
    // The card and its Refresh button stay; only the table is replaced.
    const [nc, nb] = card(`Nodes of group ${group}`, el('button', { type: 'button', class: 'btn btn-sm btn-outline-secondary', id: 'policy-nodes-refresh', onclick: () => loadNodes() }, 'Refresh'));
    const nodesBox = el('div', { id: 'policy-nodes' }, nc);
    body.replaceChildren(c, nodesBox);

    async function loadNodes() {
      const all = await get('/nodes').catch(() => []);
      const mine = (all || []).filter((n) => n.group === group && !n.revoked);
      nb.replaceChildren(table([
        { title: 'Node', get: (n) => str(n.name) },
        { title: 'Applied version', get: (n) => (n.policy_version ? `v${n.policy_version}` : '—') },
        { title: 'Status', get: (n) => {
          const s = str(n.policy_status);
          const cls = s === 'applied' ? 'success' : s === 'failed' ? 'danger' : 'secondary';
          return el('span', { class: `badge text-bg-${cls}` }, s || 'unknown');
        } },
        { title: 'Error', get: (n) => el('span', { class: 'mono small' }, str(n.policy_error)) },
        { title: 'Last seen', get: (n) => fmtAge(n.last_seen) },
      ], mine, { id: 'policy-nodes-table', empty: 'No node in this group.' }));
    }
    await loadNodes();
  }

  sel.addEventListener('change', () => { location.hash = `#/policies/${encodeURIComponent(sel.value)}`; });
  newGroup.addEventListener('change', () => {
    const g = newGroup.value.trim();
    if (g) location.hash = `#/policies/${encodeURIComponent(g)}`;
  });
  await load();
}
