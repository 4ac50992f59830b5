// The carrier's start page: how many subscribers, registrations, domains,
// server groups, servers, dial plans and web accounts there are, from one
// request (GET /api/v1/stats: the database counts).
import {api} from '../api.js';
import {h, replace} from '../dom.js';
import {errorBox} from '../form.js';

function tile(label, value, href, note) {
	return h('a.tile', {href}, h('span.tile-value', {}, value), h('span.tile-label', {}, label),
		note ? h('span.tile-note', {}, note) : null);
}

const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

export async function render(main, params, query, current) {
	const tiles = h('div.tiles');
	const status = h('div');
	replace(main, h('h1', {}, 'Dashboard'), tiles, status);
	try {
		const {data: s} = await api('GET', '/stats');
		if (!current()) return;
		const disabled = s.subscribers.total - s.subscribers.enabled;
		replace(tiles,
			tile('Subscribers', s.subscribers.total, '#/subscribers',
				disabled ? `${disabled} disabled` : null),
			tile('Registered devices', s.registrations.bindings, '#/registrations',
				`${plural(s.registrations.subscribers, 'subscriber', 'subscribers')} registered`),
			tile('Domains', s.domains, '#/domains'),
			tile('Server groups', s.server_groups, '#/server-groups',
				plural(s.servers, 'server', 'servers')),
			tile('Dial plans', s.dial_plans, '#/dial-plans'),
			tile('Web accounts', s.accounts, '#/accounts'));
	} catch (e) {
		if (current()) replace(status, errorBox(e));
	}
}
