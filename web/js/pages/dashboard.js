// The carrier's start page: how many subscribers, registrations, domains,
// server groups and dial plans the API holds.
import {api, listAll} from '../api.js';
import {h, replace} from '../dom.js';
import {errorBox} from '../form.js';

const SUBSCRIBERS_MAX = 20000;   // counted through the paged list
const REG_SUBSCRIBERS_MAX = 500; // subscribers whose registrations are counted

function tile(label, value, href, note) {
	return h('a.tile', {href}, h('span.tile-value', {}, value), h('span.tile-label', {}, label),
		note ? h('span.tile-note', {}, note) : null);
}

// The number of items of a list, paging through it (the API has no count).
async function count(path, max) {
	const {items, more} = await listAll(path, {}, max);
	return {n: items.length, more, items};
}

export async function render(main, params, query, current) {
	const tiles = h('div.tiles');
	const status = h('div');
	replace(main, h('h1', {}, 'Dashboard'), tiles, status);
	try {
		const [subs, domains, groups, plans] = await Promise.all([
			count('/subscribers', SUBSCRIBERS_MAX), count('/domains', 1000),
			count('/server-groups', 1000), count('/dial-plans', 1000)]);
		if (!current()) return;
		const subTile = tile('Subscribers', `${subs.n}${subs.more ? '+' : ''}`, '#/subscribers');
		const regValue = h('span.tile-value', {}, '…');
		const regNote = h('span.tile-note');
		const regTile = h('a.tile', {href: '#/subscribers'}, regValue, h('span.tile-label', {}, 'Registered devices'), regNote);
		replace(tiles, subTile, regTile,
			tile('Domains', domains.n, '#/domains'),
			tile('Server groups', groups.n, '#/server-groups'),
			tile('Dial plans', plans.n, '#/dial-plans'));
		// registrations are listed per subscriber: a few requests at a time
		const ids = subs.items.slice(0, REG_SUBSCRIBERS_MAX).map((s) => s.id);
		let regs = 0, registered = 0, next = 0;
		const worker = async () => {
			while (next < ids.length && current()) {
				const id = ids[next++];
				const {data} = await api('GET', `/subscribers/${id}/registrations`, {query: {limit: 1000}});
				regs += data.items.length;
				if (data.items.length) registered++;
			}
		};
		await Promise.all(Array.from({length: 6}, worker));
		if (!current()) return;
		replace(regValue, String(regs));
		const partial = subs.items.length > ids.length || subs.more;
		replace(regNote, `${registered} subscriber${registered === 1 ? '' : 's'} registered` +
			(partial ? ` (first ${ids.length} subscribers counted)` : ''));
	} catch (e) {
		if (current()) replace(status, errorBox(e));
	}
}
