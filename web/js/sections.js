// Sections of a subscriber's page that the carrier's view and the
// subscriber's own view share: registered devices, aliases and DIDs, the
// SIP password. (Features have their own module, features.js.)
import {api, ApiError} from './api.js';
import {h, replace, fmtTime} from './dom.js';
import {confirmButton, errorBox, field, form} from './form.js';
import {table} from './common.js';

// Registered devices (location bindings), each with a Remove button.
export function registrationsSection(sid, {title = 'Registrations', own = false} = {}) {
	const body = h('div');
	const sec = h('section.card', {id: 'registrations'}, h('h2', {}, title), body);
	const load = async () => {
		try {
			const {data} = await api('GET', `/subscribers/${sid}/registrations`, {query: {limit: 1000}});
			replace(body, table([
				['Contact', (r) => h('code', {}, r.contact)],
				['Device', (r) => r.user_agent || ''],
				['From', (r) => r.received || ''],
				['Expires', (r) => fmtTime(r.expires_at)],
				['', (r) => confirmButton('Remove', async () => {
					await api('DELETE', `/subscribers/${sid}/registrations/${r.id}`);
					await load();
				})],
			], data.items, {empty: own ? 'No device is registered now.' : 'Not registered.'}),
			h('p.hint', {}, 'A removed device comes back when it registers again.'));
		} catch (e) {
			replace(body, errorBox(e));
		}
	};
	load();
	return sec;
}

// Aliases (other user parts) and DIDs (E.164 numbers). editable: the
// carrier adds and removes; a subscriber only sees them.
export function numbersSection(sid, {editable, domains}) {
	const aliases = h('div'), dids = h('div');
	const sec = h('section.card', {id: 'numbers'}, h('h2', {}, 'Aliases and DIDs'),
		h('h3', {}, 'Aliases'), aliases, h('h3', {}, 'DIDs (phone numbers)'), dids);
	const domainName = (id) => (domains && domains.get(id) ? domains.get(id).name : `domain ${id}`);
	const loadAliases = async () => {
		try {
			const {data} = await api('GET', `/subscribers/${sid}/aliases`, {query: {limit: 1000}});
			const cols = [['Alias', (a) => `${a.user_part}@${domainName(a.domain_id)}`]];
			if (editable) cols.push(['', (a) => confirmButton('Remove', async () => {
				await api('DELETE', `/subscribers/${sid}/aliases/${a.id}`);
				await loadAliases();
			})]);
			replace(aliases, table(cols, data.items, {empty: 'No aliases.'}), editable ? form({
				submit: 'Add alias', cls: 'inline',
				fields: [field({name: 'user_part', label: 'New alias (user part)', maxlength: 64, required: true})],
				onsubmit: async (v) => {
					await api('POST', `/subscribers/${sid}/aliases`, {body: {user_part: v.user_part}});
					await loadAliases();
				},
			}) : null);
		} catch (e) {
			replace(aliases, errorBox(e));
		}
	};
	const loadDids = async () => {
		try {
			const {data} = await api('GET', `/subscribers/${sid}/dids`, {query: {limit: 1000}});
			const cols = [['Number', (d) => d.number]];
			if (editable) cols.push(['', (d) => confirmButton('Remove', async () => {
				await api('DELETE', `/subscribers/${sid}/dids/${d.id}`);
				await loadDids();
			})]);
			replace(dids, table(cols, data.items, {empty: 'No DIDs.'}), editable ? form({
				submit: 'Add DID', cls: 'inline',
				fields: [field({name: 'number', label: 'New DID (E.164, with +)', placeholder: '+15550001000', inputmode: 'tel', required: true})],
				onsubmit: async (v) => {
					await api('POST', `/subscribers/${sid}/dids`, {body: {number: v.number.trim()}});
					await loadDids();
				},
			}) : null);
		} catch (e) {
			replace(dids, errorBox(e));
		}
	};
	loadAliases();
	loadDids();
	return sec;
}

// The SIP password phones use (stored as HA1 digests only).
export function sipPasswordSection(sid) {
	return h('section.card', {id: 'sip-password'}, h('h2', {}, 'SIP password'),
		h('p.muted', {}, 'The password phones register with. provd keeps only its digests; it cannot be shown again.'),
		form({
			submit: 'Set SIP password',
			fields: [
				field({name: 'password', label: 'New SIP password', type: 'password', autocomplete: 'new-password', maxlength: 1024, required: true}),
				field({name: 'confirm', label: 'The same again', type: 'password', autocomplete: 'new-password', maxlength: 1024, required: true}),
			],
			onsubmit: async (v, f) => {
				if (!v.password)
					throw new ApiError(422, {title: 'Invalid field', detail: 'password: must not be empty'});
				if (v.password !== v.confirm)
					throw new ApiError(422, {title: 'Invalid field', detail: 'confirm: the two passwords differ'});
				await api('PUT', `/subscribers/${sid}/password`, {body: {password: v.password}});
				f.reset();
				return 'SIP password set. Phones must use the new one from their next registration.';
			},
		}));
}

// The signed-in account's own web password (PUT /session/password).
export function webPasswordSection() {
	return h('section.card', {id: 'web-password'}, h('h2', {}, 'Web password'),
		h('p.muted', {}, 'The password you log in here with.'),
		form({
			submit: 'Change web password',
			fields: [
				field({name: 'current_password', label: 'Current web password', type: 'password', autocomplete: 'current-password', required: true}),
				field({name: 'new_password', label: 'New web password', type: 'password', autocomplete: 'new-password', required: true}),
				field({name: 'confirm', label: 'The same again', type: 'password', autocomplete: 'new-password', required: true}),
			],
			onsubmit: async (v, f) => {
				if (v.new_password !== v.confirm)
					throw new ApiError(422, {title: 'Invalid field', detail: 'confirm: the two passwords differ'});
				await api('PUT', '/session/password', {body: {current_password: v.current_password, new_password: v.new_password}});
				f.reset();
				return 'Web password changed.';
			},
		}));
}

// The subscriber's web logins (accounts with this subscriber_id), and a
// form for a new one. Left out while provd has no accounts API (404).
export function webLoginSection(sid) {
	const body = h('div');
	const sec = h('section.card', {id: 'web-login'}, h('h2', {}, 'Web login'), body);
	const load = async () => {
		try {
			const {data} = await api('GET', '/accounts', {query: {subscriber: sid, limit: 100}});
			replace(body, data.items.length
				? h('ul.plain', {}, data.items.map((a) => h('li', {}, h('strong', {}, a.login),
					a.enabled === false ? ' (disabled)' : '', ' — last login ', a.last_login_at ? fmtTime(a.last_login_at) : 'never')))
				: h('p.muted', {}, 'This subscriber cannot log in to the web GUI yet.'),
			form({
				submit: 'Create web login', cls: 'compact',
				fields: [
					field({name: 'login', label: 'Login', maxlength: 64, required: true, autocapitalize: 'none', spellcheck: 'false', autocomplete: 'off'}),
					field({name: 'password', label: 'Password', type: 'password', autocomplete: 'new-password', required: true, hint: 'at least 10 characters'}),
				],
				onsubmit: async (v) => {
					await api('POST', '/accounts', {body: {login: v.login.trim(), password: v.password, role: 'subscriber', subscriber_id: Number(sid)}});
					await load();
				},
			}),
			h('p.hint', {}, h('a', {href: `#/audit?resource=subscribers&resource_id=${Number(sid)}`}, 'History of this subscriber in the audit log')));
		} catch (e) {
			if (e instanceof ApiError && e.status === 404) sec.hidden = true;
			else replace(body, errorBox(e));
		}
	};
	load();
	return sec;
}
