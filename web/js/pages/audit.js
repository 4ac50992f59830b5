// The audit log: every change made through the API, who made it (an
// account, or the token scripts use), when, and the members the request
// gave (never a password). Keyset-paged as the API gives it, oldest first;
// filters for one resource's history or one account's changes.
import {api} from '../api.js';
import {h, replace, fmtStamp} from '../dom.js';
import {table} from '../common.js';

const PAGE = 100;

export async function render(main, params, query, current) {
	const filters = {};
	for (const k of ['resource', 'resource_id', 'account']) if (query.get(k)) filters[k] = query.get(k);
	const after = query.get('after') || '';
	const {data} = await api('GET', '/audit', {query: {...filters, limit: PAGE, after}});
	if (!current()) return;
	const items = data.items || [];
	const hash = (o) => {
		const s = new URLSearchParams();
		for (const [k, v] of Object.entries(o)) if (v) s.set(k, v);
		const t = s.toString();
		return '#/audit' + (t ? '?' + t : '');
	};
	const form = h('form.search', {role: 'search'},
		h('label', {for: 'audit-resource', class: 'sr-only'}, 'Resource'),
		h('input', {id: 'audit-resource', name: 'resource', placeholder: 'resource (subscribers, domains…)', value: filters.resource || '', maxlength: 63}),
		h('label', {for: 'audit-id', class: 'sr-only'}, 'Resource id'),
		h('input.short', {id: 'audit-id', name: 'resource_id', placeholder: 'id', value: filters.resource_id || '', inputmode: 'numeric', size: 6}),
		h('button', {type: 'submit'}, 'Filter'),
		Object.keys(filters).length ? h('a.button', {href: '#/audit'}, 'Clear') : null);
	form.addEventListener('submit', (ev) => {
		ev.preventDefault();
		location.hash = hash({resource: form.elements.resource.value.trim(), resource_id: form.elements.resource_id.value.trim()});
	});
	const summary = (e) => {
		const s = e.summary && typeof e.summary === 'object' ? e.summary : {};
		const keys = Object.keys(s);
		return keys.length ? h('code', {}, keys.map((k) => `${k}=${JSON.stringify(s[k])}`).join(' ')) : '';
	};
	replace(main, h('h1', {}, 'Audit log'), form,
		h('section.card', {}, table([
			['When', (e) => h('span.nowrap', {}, fmtStamp(e.at))],
			['Who', (e) => e.actor ?? (e.account_id ? `account ${e.account_id}` : '')],
			['Change', (e) => `${e.method ?? ''} ${e.path ?? ''}`.trim()],
			['Resource', (e) => (e.resource ? `${e.resource}${e.resource_id ? ' ' + e.resource_id : ''}` : '')],
			['Values', summary],
		], items, {empty: 'Nothing recorded.'}),
		h('nav.pager', {'aria-label': 'Pages'},
			after ? h('a', {href: hash(filters)}, '← First page') : h('span.muted', {}, '← First page'),
			data.next !== null && data.next !== undefined
				? h('a', {href: hash({...filters, after: String(data.next)})}, 'Next →')
				: h('span.muted', {}, 'Next →'))));
}
