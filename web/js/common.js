// Small pieces several pages share.
import {api, listAll} from './api.js';
import {h} from './dom.js';

// id -> domain, for showing user@domain.
export async function domainMap() {
	const {items} = await listAll('/domains', {}, 10000);
	return new Map(items.map((d) => [d.id, d]));
}

export function aor(sub, domains) {
	const d = domains && domains.get(sub.domain_id);
	return `${sub.user_part}@${d ? d.name : 'domain ' + sub.domain_id}`;
}

export function yesNo(b) {
	return b ? 'yes' : 'no';
}

// A table: columns [[header, item => cell content]...]; rows of items.
export function table(columns, items, {empty = 'None yet.', rowAttrs} = {}) {
	if (!items.length) return h('p.muted.empty', {}, empty);
	return h('div.table-wrap', {}, h('table', {},
		h('thead', {}, h('tr', {}, columns.map(([t]) => h('th', {scope: 'col'}, t)))),
		h('tbody', {}, items.map((it) => h('tr', rowAttrs ? rowAttrs(it) : {},
			columns.map(([t, cell]) => h('td', {'data-label': t}, cell(it))))))));
}

export function section(title, ...children) {
	return h('section.card', {}, h('h2', {}, title), children);
}

// Reads one resource and its ETag.
export async function getOne(path) {
	const {data, etag} = await api('GET', path);
	return {data, etag};
}

export const groupKinds = ['marshal_ua', 'marshal_gateway', 'redirect', 'feature', 'cdr', 'provisioning', 'heartbeat', 'voicemail'];
export const transports = ['udp', 'tcp', 'tls', 'sctp', 'ws', 'wss'];
