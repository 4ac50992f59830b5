// Subscribers: the list (search, keyset paging with the API's after/next)
// and the form for a new one.
import {api} from '../api.js';
import {h, replace, link} from '../dom.js';
import {field, form} from '../form.js';
import {aor, domainMap, table, yesNo} from '../common.js';
import {go} from '../app.js';

const PAGE = 50;

// #/subscribers?q=...&after=...&prev=a,b,c: prev holds the cursors of the
// pages before, so Previous goes back without the API paging backwards.
export async function renderList(main, params, query, current) {
	const q = query.get('q') || '';
	const after = query.get('after') || '';
	const prev = (query.get('prev') || '').split(',').filter((x) => /^[0-9]+$/.test(x));
	const [domains, page] = await Promise.all([domainMap(),
		api('GET', '/subscribers', {query: {q, limit: PAGE, after}})]);
	if (!current()) return;
	const items = page.data.items;
	const hash = (o) => {
		const s = new URLSearchParams();
		for (const [k, v] of Object.entries(o)) if (v) s.set(k, v);
		const t = s.toString();
		return '#/subscribers' + (t ? '?' + t : '');
	};
	const search = h('form.search', {role: 'search'},
		h('label', {for: 'sub-q', class: 'sr-only'}, 'Search'),
		h('input', {id: 'sub-q', name: 'q', type: 'search', placeholder: 'Number or name', value: q, maxlength: 64}),
		h('button', {type: 'submit'}, 'Search'),
		q ? h('a.button', {href: '#/subscribers'}, 'Clear') : null);
	search.addEventListener('submit', (ev) => {
		ev.preventDefault();
		location.hash = hash({q: search.elements.q.value.trim()});
	});
	const pager = h('nav.pager', {'aria-label': 'Pages'},
		prev.length
			? h('a', {href: hash({q, after: prev[prev.length - 1] === '0' ? '' : prev[prev.length - 1], prev: prev.slice(0, -1).join(',')})}, '← Previous')
			: h('span.muted', {}, '← Previous'),
		page.data.next !== null
			? h('a', {href: hash({q, after: String(page.data.next), prev: [...prev, after || '0'].join(',')})}, 'Next →')
			: h('span.muted', {}, 'Next →'));
	replace(main,
		h('div.heading', {}, h('h1', {}, 'Subscribers'), h('span.actions', {},
			h('a.button', {href: '#/subscribers/import'}, 'Import CSV'),
			h('a.button.primary', {href: '#/subscribers/new'}, 'New subscriber'))),
		search,
		h('section.card', {}, table([
			['Address', (s) => link(aor(s, domains), 'subscribers', s.id)],
			['Name', (s) => s.display_name],
			['Authentication', (s) => s.auth_kind],
			['Password', (s) => yesNo(s.has_password)],
			['Enabled', (s) => yesNo(s.enabled)],
		], items, {empty: q ? 'No subscriber matches.' : 'No subscribers yet.', rowAttrs: (s) => ({'data-id': s.id})}),
		pager));
}

export async function renderCreate(main, params, query, current) {
	const domains = await domainMap();
	if (!current()) return;
	const opts = [...domains.values()].map((d) => [d.id, d.name]);
	if (!opts.length) {
		replace(main, h('h1', {}, 'New subscriber'),
			h('p', {}, 'Subscribers live in a domain; ', h('a', {href: '#/domains'}, 'create a domain'), ' first.'));
		return;
	}
	const f = form({
		submit: 'Create',
		fields: [
			field({name: 'domain_id', label: 'Domain', type: 'select', options: opts, value: opts[0][0]}),
			field({name: 'user_part', label: 'Number or user name', required: true, maxlength: 64, autocapitalize: 'none', spellcheck: 'false'}),
			field({name: 'display_name', label: 'Display name', maxlength: 128}),
			field({name: 'auth_kind', label: 'Authentication', type: 'select', value: 'digest',
				options: [['digest', 'digest (password)'], ['ip', 'IP address'], ['none', 'none']]}),
			field({name: 'enabled', label: 'Enabled', type: 'checkbox', value: true}),
		],
		onsubmit: async (v) => {
			const {data} = await api('POST', '/subscribers', {body: {...v, domain_id: Number(v.domain_id)}});
			go(`subscribers/${data.id}`);
		},
	});
	replace(main, h('p.crumbs', {}, link('Subscribers', 'subscribers')), h('h1', {}, 'New subscriber'), h('section.card', {}, f));
}
