// Web accounts: carrier administrators and subscribers' own logins.
// Passwords are set here and never shown (provd keeps Argon2id hashes).
// Below them, the API tokens scripts use: made here, shown once, revoked.
import {api, listAll} from '../api.js';
import {h, replace, fmtTime} from '../dom.js';
import {confirmButton, errorBox, field, form} from '../form.js';
import {table} from '../common.js';
import {go, session} from '../app.js';

export async function render(main, params, query, current) {
	const {items} = await listAll('/accounts', {}, 10000);
	if (!current()) return;
	const reload = () => go('accounts');
	const subField = field({name: 'subscriber_id', label: 'Subscriber id', type: 'number', min: 1,
		hint: 'the subscriber this login belongs to'});
	const create = form({
		submit: 'Create account', cls: 'compact',
		fields: [
			field({name: 'login', label: 'Login', maxlength: 64, required: true, autocapitalize: 'none', spellcheck: 'false', autocomplete: 'off'}),
			field({name: 'password', label: 'Password', type: 'password', autocomplete: 'new-password', required: true, hint: 'at least 10 characters'}),
			field({name: 'role', label: 'Role', type: 'select', value: 'subscriber',
				options: [['subscriber', 'subscriber'], ['admin', 'carrier administrator']]}),
			subField,
		],
		onsubmit: async (v) => {
			const body = {login: v.login.trim(), password: v.password, role: v.role};
			if (v.role === 'subscriber' && v.subscriber_id !== '') body.subscriber_id = v.subscriber_id;
			await api('POST', '/accounts', {body});
			reload();
		},
	});
	const role = create.querySelector('[name="role"]');
	const sync = () => (subField.hidden = role.value !== 'subscriber');
	role.addEventListener('change', sync);
	sync();

	const actions = (a) => {
		if (session.account && a.id === session.account.id) return h('span.muted', {}, 'you');
		const toggle = h('button', {type: 'button'}, a.enabled === false ? 'Enable' : 'Disable');
		toggle.addEventListener('click', async () => {
			toggle.disabled = true;
			try {
				const {etag} = await api('GET', `/accounts/${a.id}`);
				await api('PATCH', `/accounts/${a.id}`, {etag, body: {enabled: a.enabled === false}});
				reload();
			} catch (e) {
				toggle.disabled = false;
				replace(err, e.message);
			}
		});
		const pw = h('button', {type: 'button'}, 'Set password');
		pw.addEventListener('click', () => {
			const tr = pw.closest('tr');
			replace(tr, h('td.edit-cell', {colspan: 7}, form({
				submit: 'Set password', cls: 'compact',
				fields: [field({name: 'password', label: `New password for ${a.login}`, type: 'password', autocomplete: 'new-password', required: true})],
				extra: h('button', {type: 'button', onclick: reload}, 'Cancel'),
				onsubmit: async (v) => {
					await api('PUT', `/accounts/${a.id}/password`, {body: {password: v.password}});
					reload();
				},
			})));
		});
		const err = h('span.form-error', {role: 'alert'});
		return h('span.row-actions', {}, toggle, ' ', pw, ' ', confirmButton('Delete', async () => {
			const {etag} = await api('GET', `/accounts/${a.id}`);
			await api('DELETE', `/accounts/${a.id}`, {etag});
			reload();
		}), err);
	};
	replace(main, h('h1', {}, 'Accounts'),
		h('section.card', {}, table([
			['Login', (a) => a.login],
			['Role', (a) => (a.role === 'admin' ? 'administrator' : a.role)],
			['Subscriber', (a) => (a.subscriber_id ? h('a', {href: `#/subscribers/${Number(a.subscriber_id)}`}, String(a.subscriber_id)) : '')],
			['Enabled', (a) => (a.enabled === false ? 'no' : 'yes')],
			['Last login', (a) => fmtTime(a.last_login_at) || 'never'],
			['Locked until', (a) => (a.locked_until && new Date(a.locked_until) > new Date() ? fmtTime(a.locked_until) : '')],
			['', actions],
		], items, {empty: 'No accounts.'})),
		h('section.card', {}, h('h2', {}, 'New account'), create),
		tokensSection());
}

// Named API tokens (POST /api/v1/tokens): the token is in the answer to
// its creation only, so it is shown until the page is left, with a note.
function tokensSection() {
	const list = h('div');
	const fresh = h('div', {'aria-live': 'polite'});
	const load = async () => {
		try {
			const {items} = await listAll('/tokens', {}, 10000);
			replace(list, table([
				['Name', (t) => t.name],
				['Made by', (t) => t.created_by_login],
				['Expires', (t) => fmtTime(t.expires_at) || 'never'],
				['Last used', (t) => fmtTime(t.last_used_at) || 'never'],
				['Enabled', (t) => (t.enabled ? 'yes' : 'no')],
				['', (t) => {
					const toggle = h('button', {type: 'button'}, t.enabled ? 'Disable' : 'Enable');
					toggle.addEventListener('click', async () => {
						toggle.disabled = true;
						const {etag} = await api('GET', `/tokens/${t.id}`);
						await api('PATCH', `/tokens/${t.id}`, {etag, body: {enabled: !t.enabled}});
						load();
					});
					return h('span.row-actions', {}, toggle, ' ', confirmButton('Revoke', async () => {
						const {etag} = await api('GET', `/tokens/${t.id}`);
						await api('DELETE', `/tokens/${t.id}`, {etag});
						load();
					}));
				}],
			], items, {empty: 'No API tokens.'}));
		} catch (e) {
			replace(list, errorBox(e));
		}
	};
	const create = form({
		submit: 'Make token', cls: 'compact',
		fields: [
			field({name: 'name', label: 'Token name', maxlength: 64, required: true, autocapitalize: 'none',
				spellcheck: 'false', autocomplete: 'off', hint: 'what uses it, e.g. billing-sync; the audit log shows it'}),
			field({name: 'valid_days', label: 'Valid for (days)', type: 'number', min: 1, max: 3650,
				hint: 'empty: no expiry'}),
		],
		onsubmit: async (v, f) => {
			const body = {name: v.name.trim()};
			if (v.valid_days !== '') body.valid_days = Number(v.valid_days);
			const {data} = await api('POST', '/tokens', {body});
			f.reset();
			replace(fresh, h('div.notice', {role: 'status'},
				h('p', {}, `Token ${data.name}: copy it now, it is not shown again.`),
				h('code.secret', {id: 'new-token'}, data.token)));
			load();
		},
	});
	load();
	return h('section.card', {id: 'tokens'}, h('h2', {}, 'API tokens'),
		h('p.hint', {}, 'Scripts send Authorization: Bearer TOKEN and act as an administrator.'),
		fresh, list, h('h3', {}, 'New token'), create);
}
