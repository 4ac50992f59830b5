// One subscriber, as the carrier sees it: edit (If-Match), SIP password,
// aliases and DIDs, registrations, features, delete.
import {api} from '../api.js';
import {h, replace, link, fmtTime} from '../dom.js';
import {confirmButton, field, form} from '../form.js';
import {aor, domainMap} from '../common.js';
import {numbersSection, registrationsSection, sipPasswordSection, webLoginSection} from '../sections.js';
import {carrierFeaturesSection} from '../features.js';
import {go} from '../app.js';

export async function render(main, params, query, current) {
	const sid = params.id;
	const [{data: sub, etag}, domains] = await Promise.all([api('GET', `/subscribers/${sid}`), domainMap()]);
	if (!current()) return;
	let tag = etag;
	const title = h('h1', {}, aor(sub, domains));
	const subtitle = h('p.muted', {}, sub.display_name);
	const edit = form({
		submit: 'Save',
		fields: [
			field({name: 'display_name', label: 'Display name', value: sub.display_name, maxlength: 128}),
			field({name: 'auth_kind', label: 'Authentication', type: 'select', value: sub.auth_kind,
				options: [['digest', 'digest (password)'], ['ip', 'IP address'], ['none', 'none']]}),
			field({name: 'enabled', label: 'Enabled', type: 'checkbox', value: sub.enabled}),
		],
		onsubmit: async (v) => {
			const r = await api('PATCH', `/subscribers/${sid}`, {etag: tag, body: v});
			tag = r.etag;
			replace(subtitle, r.data.display_name);
			return 'Saved.';
		},
	});
	const facts = h('dl.facts', {},
		h('dt', {}, 'Id'), h('dd', {}, String(sub.id)),
		h('dt', {}, 'SIP password'), h('dd', {}, sub.has_password ? 'set' : 'not set'),
		h('dt', {}, 'Created'), h('dd', {}, fmtTime(sub.created_at)));
	replace(main,
		h('p.crumbs', {}, link('Subscribers', 'subscribers')),
		title, subtitle,
		h('div.grid', {},
			h('section.card', {id: 'profile'}, h('h2', {}, 'Profile'), facts, edit),
			sipPasswordSection(sid)),
		numbersSection(sid, {editable: true, domains}),
		registrationsSection(sid),
		carrierFeaturesSection(sid),
		webLoginSection(sid),
		h('section.card.danger-zone', {}, h('h2', {}, 'Delete'),
			h('p', {}, 'Deleting the subscriber removes its aliases, DIDs, registrations and features.'),
			confirmButton('Delete subscriber', async () => {
				await api('DELETE', `/subscribers/${sid}`, {etag: tag});
				go('subscribers');
			}, {confirmLabel: 'Really delete this subscriber?'})));
}
