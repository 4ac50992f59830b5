// Web accounts: carrier administrators and subscribers' own logins.
// Passwords are set here and never shown (provd keeps Argon2id hashes).
import {api, listAll} from '../api.js';
import {h, replace, fmtTime} from '../dom.js';
import {confirmButton, field, form} from '../form.js';
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
		h('section.card', {}, h('h2', {}, 'New account'), create));
}
