// Live registrations: every binding the registrar holds (GET
// /api/v1/registrations), newest id last, keyset-paged; a domain filter,
// and a remove button (the device comes back when it registers again).
import {api} from '../api.js';
import {h, link, replace, fmtTime} from '../dom.js';
import {domainMap, table} from '../common.js';
import {confirmButton, errorBox} from '../form.js';

const PAGE = 100;

export async function render(main, params, query, current) {
	const domain = query.get('domain') || '';
	const after = query.get('after') || '';
	const [{data}, domains] = await Promise.all([
		api('GET', '/registrations', {query: {domain, limit: PAGE, after}}), domainMap()]);
	if (!current()) return;
	const hash = (o) => {
		const s = new URLSearchParams();
		for (const [k, v] of Object.entries(o)) if (v) s.set(k, v);
		const t = s.toString();
		return '#/registrations' + (t ? '?' + t : '');
	};
	const select = h('select', {id: 'reg-domain', name: 'domain'},
		h('option', {value: ''}, 'All domains'),
		...[...domains.values()].map((d) => h('option', {value: String(d.id), selected: String(d.id) === domain}, d.name)));
	select.addEventListener('change', () => { location.hash = hash({domain: select.value}); });
	const status = h('div');
	replace(main, h('h1', {}, 'Registrations'),
		h('form.search', {role: 'search'}, h('label', {for: 'reg-domain'}, 'Domain'), select),
		status,
		h('section.card', {}, table([
			['Subscriber', (r) => link(r.aor ?? `subscriber ${r.subscriber_id}`, 'subscribers', r.subscriber_id)],
			['Contact', (r) => h('code', {}, r.contact)],
			['Device', (r) => r.user_agent || ''],
			['From', (r) => r.received || ''],
			['Expires', (r) => fmtTime(r.expires_at)],
			['', (r) => confirmButton('Remove', async () => {
				try {
					await api('DELETE', `/subscribers/${r.subscriber_id}/registrations/${r.id}`);
					render(main, params, query, current);
				} catch (e) {
					replace(status, errorBox(e));
				}
			})],
		], data.items || [], {empty: 'No device is registered.'}),
		h('nav.pager', {'aria-label': 'Pages'},
			after ? h('a', {href: hash({domain})}, '← First page') : h('span.muted', {}, '← First page'),
			data.next !== null && data.next !== undefined
				? h('a', {href: hash({domain, after: String(data.next)})}, 'Next →')
				: h('span.muted', {}, 'Next →'))));
}
