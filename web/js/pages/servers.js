// Server groups and their servers (RFC 2782 priority and weight).
import {api, listAll} from '../api.js';
import {h, append, replace, link} from '../dom.js';
import {confirmButton, field, form} from '../form.js';
import {groupKinds, table, transports, yesNo} from '../common.js';
import {go} from '../app.js';

export async function renderGroups(main, params, query, current) {
	const {items} = await listAll('/server-groups', {}, 10000);
	if (!current()) return;
	replace(main, h('h1', {}, 'Server groups'),
		h('section.card', {}, table([
			['Name', (g) => link(g.name, 'server-groups', g.id)],
			['Kind', (g) => g.kind],
			['Description', (g) => g.description],
		], items, {empty: 'No server groups yet.'})),
		h('section.card', {}, h('h2', {}, 'New group'), form({
			submit: 'Create group',
			fields: [
				field({name: 'name', label: 'Name', maxlength: 63, required: true}),
				field({name: 'kind', label: 'Kind', type: 'select', options: groupKinds.map((k) => [k, k]), value: 'marshal_ua'}),
				field({name: 'description', label: 'Description', maxlength: 1024}),
				onFailureField('fail', 'feature groups only'),
			],
			onsubmit: async (v) => {
				const {data} = await api('POST', '/server-groups', {body: v});
				go(`server-groups/${data.id}`);
			},
		})));
}

// A feature group's choice when none of its servers answers.
function onFailureField(value, note) {
	return field({name: 'on_failure', label: 'When no server answers', type: 'select', value,
		options: [['fail', 'fail the call (blocking and screening are never skipped)'],
			['skip', 'skip these features, the call goes on']],
		hint: note});
}

function serverFields(s = {}) {
	return [
		field({name: 'host', label: 'Host', value: s.host, maxlength: 253, required: true, autocapitalize: 'none', spellcheck: 'false'}),
		field({name: 'port', label: 'Port', type: 'number', value: s.port ?? 5060, min: 1, max: 65535}),
		field({name: 'transport', label: 'Transport', type: 'select', options: transports.map((t) => [t, t]), value: s.transport ?? 'udp'}),
		field({name: 'priority', label: 'Priority', type: 'number', value: s.priority ?? 0, min: 0, max: 65535, hint: 'lower first'}),
		field({name: 'weight', label: 'Weight', type: 'number', value: s.weight ?? 1, min: 0, max: 65535}),
		field({name: 'enabled', label: 'Enabled', type: 'checkbox', value: s.enabled ?? true}),
	];
}

// '' (an emptied number field) is left out, so the API's default holds.
function serverBody(v) {
	const b = {};
	for (const [k, x] of Object.entries(v)) if (x !== '') b[k] = x;
	return b;
}

export async function renderGroup(main, params, query, current) {
	const gid = params.id;
	const [{data: g, etag}, {items: servers}] = await Promise.all([
		api('GET', `/server-groups/${gid}`), listAll(`/server-groups/${gid}/servers`, {}, 10000)]);
	if (!current()) return;
	let tag = etag;
	const list = h('div');
	const reload = () => go(`server-groups/${gid}`);
	const editRow = async (s, tr) => {
		const {data, etag: stag} = await api('GET', `/servers/${s.id}`);
		replace(tr, h('td.edit-cell', {colspan: 7}, form({
			cls: 'compact',
			fields: serverFields(data),
			extra: h('button', {type: 'button', onclick: reload}, 'Cancel'),
			onsubmit: async (v) => {
				await api('PATCH', `/servers/${s.id}`, {etag: stag, body: serverBody(v)});
				reload();
			},
		})));
	};
	replace(list, table([
		['Host', (s) => s.host],
		['Port', (s) => s.port],
		['Transport', (s) => s.transport],
		['Priority', (s) => s.priority],
		['Weight', (s) => s.weight],
		['Enabled', (s) => yesNo(s.enabled)],
		['', (s) => {
			const cell = h('span.row-actions');
			const edit = h('button', {type: 'button'}, 'Edit');
			edit.addEventListener('click', () => editRow(s, cell.closest('tr')).catch(() => reload()));
			const del = confirmButton('Delete', async () => {
				const {etag: stag} = await api('GET', `/servers/${s.id}`);
				await api('DELETE', `/servers/${s.id}`, {etag: stag});
				reload();
			});
			return append(cell, [edit, ' ', del]);
		}],
	], servers, {empty: 'No servers in this group.'}));
	replace(main, h('p.crumbs', {}, link('Server groups', 'server-groups')),
		h('h1', {}, g.name), h('p.muted', {}, `Kind: ${g.kind}`),
		h('section.card', {}, h('h2', {}, 'Servers'), list),
		h('section.card', {}, h('h2', {}, 'Add a server'), form({
			submit: 'Add server', cls: 'compact',
			fields: serverFields(),
			onsubmit: async (v) => {
				await api('POST', `/server-groups/${gid}/servers`, {body: serverBody(v)});
				reload();
			},
		})),
		h('section.card', {}, h('h2', {}, 'Group'), form({
			fields: [
				field({name: 'name', label: 'Name', value: g.name, maxlength: 63}),
				field({name: 'description', label: 'Description', value: g.description, maxlength: 1024}),
				g.kind === 'feature' ? onFailureField(g.on_failure) : null,
			],
			onsubmit: async (v) => {
				const r = await api('PATCH', `/server-groups/${gid}`, {etag: tag, body: v});
				tag = r.etag;
				return 'Saved.';
			},
		})),
		h('section.card.danger-zone', {}, h('h2', {}, 'Delete'),
			h('p', {}, 'A group that servers or subscribers use cannot be deleted.'),
			confirmButton('Delete group', async () => {
				await api('DELETE', `/server-groups/${gid}`, {etag: tag});
				go('server-groups');
			})));
}

