// The audit log: who changed what, when (newest first, as the API pages it).
import {api} from '../api.js';
import {h, replace, fmtTime} from '../dom.js';
import {table} from '../common.js';

const PAGE = 100;

function text(v) {
	if (v === null || v === undefined) return '';
	return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

export async function render(main, params, query, current) {
	const after = query.get('after') || '';
	const {data} = await api('GET', '/audit', {query: {limit: PAGE, after}});
	if (!current()) return;
	const items = data.items || [];
	// the columns the entries have, the usual ones first
	const known = ['at', 'created_at', 'account', 'account_login', 'login', 'action', 'method', 'path', 'resource', 'status'];
	const keys = [...new Set(items.flatMap((i) => Object.keys(i)))]
		.filter((k) => k !== 'id')
		.sort((a, b) => (known.indexOf(a) + 1 || 99) - (known.indexOf(b) + 1 || 99));
	const cols = keys.map((k) => [k.replace(/_/g, ' '), (i) =>
		/(^at$|_at$)/.test(k) ? fmtTime(i[k]) : (typeof i[k] === 'object' && i[k] !== null ? h('code', {}, text(i[k])) : text(i[k]))]);
	replace(main, h('h1', {}, 'Audit log'),
		h('section.card', {}, table(cols, items, {empty: 'Nothing recorded yet.'}),
			h('nav.pager', {'aria-label': 'Pages'},
				after ? h('a', {href: '#/audit'}, '← First page') : h('span.muted', {}, '← First page'),
				data.next !== null && data.next !== undefined
					? h('a', {href: `#/audit?after=${encodeURIComponent(String(data.next))}`}, 'Next →')
					: h('span.muted', {}, 'Next →'))));
}
