// The subscriber's own pages: profile (display name), registered devices,
// features, and the two passwords (SIP and web).
import {api} from '../api.js';
import {h, replace} from '../dom.js';
import {field, form} from '../form.js';
import {domainMap, aor} from '../common.js';
import {numbersSection, registrationsSection, sipPasswordSection, webPasswordSection} from '../sections.js';
import {myFeaturesSection} from '../features.js';
import {session} from '../app.js';

function sid() {
	return Number(session.account.subscriber_id);
}

export async function renderProfile(main, params, query, current) {
	const [{data: sub, etag}, regs] = await Promise.all([
		api('GET', `/subscribers/${sid()}`),
		api('GET', `/subscribers/${sid()}/registrations`, {query: {limit: 1000}}).catch(() => null)]);
	// a subscriber may not be allowed to list domains: then no domain names
	let domains = null;
	try {
		domains = await domainMap();
	} catch {
		domains = null;
	}
	if (!current()) return;
	let tag = etag;
	const address = domains ? aor(sub, domains) : sub.user_part;
	const heading = h('p.muted', {}, sub.display_name);
	const n = regs ? regs.data.items.length : null;
	replace(main, h('h1', {}, address), heading,
		h('div.tiles', {},
			h('a.tile', {href: '#/devices'}, h('span.tile-value', {}, n === null ? '?' : String(n)),
				h('span.tile-label', {}, n === 1 ? 'device registered' : 'devices registered')),
			h('a.tile', {href: '#/passwords'}, h('span.tile-value', {}, sub.has_password ? 'set' : 'not set'),
				h('span.tile-label', {}, 'SIP password'))),
		h('section.card', {id: 'profile'}, h('h2', {}, 'Display name'),
			h('p.muted', {}, 'The name people you call see, when their phone shows one.'),
			form({
				fields: [field({name: 'display_name', label: 'Display name', value: sub.display_name, maxlength: 128})],
				onsubmit: async (v) => {
					const r = await api('PATCH', `/subscribers/${sid()}`, {etag: tag, body: {display_name: v.display_name}});
					tag = r.etag;
					replace(heading, r.data.display_name);
					return 'Saved.';
				},
			})),
		numbersSection(sid(), {editable: false, domains}));
}

export async function renderDevices(main) {
	replace(main, h('h1', {}, 'Devices'), registrationsSection(sid(), {title: 'Registered devices', own: true}));
}

export async function renderFeatures(main) {
	replace(main, h('h1', {}, 'Features'),
		h('p.muted', {}, 'Forwarding, screening and blocking: what your carrier offers you. Switch each on or off and save it.'),
		myFeaturesSection(sid()));
}

export async function renderPasswords(main) {
	replace(main, h('h1', {}, 'Passwords'), h('div.grid', {}, sipPasswordSection(sid()), webPasswordSection()));
}
