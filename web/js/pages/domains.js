// Hosted domains: list, create, edit (realm, enabled, the default feature
// server group), delete.
import {api, listAll} from '../api.js';
import {h, replace, link, fmtTime} from '../dom.js';
import {confirmButton, field, form} from '../form.js';
import {table, yesNo} from '../common.js';
import {go} from '../app.js';

export async function renderList(main, params, query, current) {
	const {items, more} = await listAll('/domains', {}, 10000);
	if (!current()) return;
	const create = form({
		submit: 'Create domain',
		fields: [
			field({name: 'name', label: 'Name', placeholder: 'example.com', maxlength: 253, required: true, autocapitalize: 'none', spellcheck: 'false'}),
			field({name: 'realm', label: 'Realm (digest)', hint: 'Empty: the name', maxlength: 128}),
			field({name: 'enabled', label: 'Enabled', type: 'checkbox', value: true}),
		],
		onsubmit: async (v) => {
			const body = {name: v.name.trim(), enabled: v.enabled};
			if (v.realm) body.realm = v.realm;
			const {data} = await api('POST', '/domains', {body});
			go(`domains/${data.id}`);
		},
	});
	replace(main, h('h1', {}, 'Domains'),
		h('section.card', {}, table([
			['Name', (d) => link(d.name, 'domains', d.id)],
			['Realm', (d) => d.realm],
			['Enabled', (d) => yesNo(d.enabled)],
		], items, {empty: 'No domains yet.'}), more ? h('p.muted', {}, 'Only the first 10,000 are shown.') : null),
		h('section.card', {}, h('h2', {}, 'New domain'), create));
}

export async function renderOne(main, params, query, current) {
	const [{data: d, etag}, {items: groups}] = await Promise.all([
		api('GET', `/domains/${params.id}`), listAll('/server-groups', {kind: 'feature'}, 1000)]);
	if (!current()) return;
	let tag = etag;
	replace(main, h('p.crumbs', {}, link('Domains', 'domains')), h('h1', {}, d.name),
		h('section.card', {}, h('h2', {}, 'Settings'),
			h('p.muted', {}, `Created ${fmtTime(d.created_at)}. Changing the realm makes the subscribers' SIP passwords useless until they are set again.`),
			form({
				fields: [
					field({name: 'realm', label: 'Realm (digest)', value: d.realm, maxlength: 128}),
					field({name: 'enabled', label: 'Enabled', type: 'checkbox', value: d.enabled}),
					field({name: 'feature_group_id', label: 'Feature servers', type: 'select',
						value: d.feature_group_id ?? '',
						options: [['', 'none (each feature names its group)'], ...groups.map((g) => [g.id, g.name])],
						hint: 'the group new features of this domain\'s subscribers run in'}),
				],
				onsubmit: async (v) => {
					const body = {...v, feature_group_id: v.feature_group_id === '' ? null : Number(v.feature_group_id)};
					const r = await api('PATCH', `/domains/${params.id}`, {etag: tag, body});
					tag = r.etag;
					return 'Saved.';
				},
			})),
		h('section.card.danger-zone', {}, h('h2', {}, 'Delete'),
			confirmButton('Delete domain', async () => {
				await api('DELETE', `/domains/${params.id}`, {etag: tag});
				go('domains');
			})));
}
