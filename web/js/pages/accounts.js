// Web accounts: carrier administrators and subscribers' own logins.
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
		submit: 'Create account',
		fields: [
			field({name: 'login', label: 'Login', maxlength: 64, required: true, autocapitalize: 'none', spellcheck: 'false', autocomplete: 'off'}),
			field({name: 'password', label: 'Password', type: 'password', autocomplete: 'new-password', required: true}),
			field({name: 'role', label: 'Role', type: 'select', value: 'subscriber',
				options: [['subscriber', 'subscriber'], ['admin', 'carrier administrator']]}),
			subField,
		],
		onsubmit: async (v) => {
			const body = {login: v.login.trim(), password: v.password, role: v.role};
			if (v.role === 'subscriber') body.subscriber_id = v.subscriber_id === '' ? null : v.subscriber_id;
			await api('POST', '/accounts', {body});
			reload();
		},
	});
	const role = create.querySelector('[name="role"]');
	const sync = () => (subField.hidden = role.value !== 'subscriber');
	role.addEventListener('change', sync);
	sync();
	replace(main, h('h1', {}, 'Accounts'),
		h('section.card', {}, table([
			['Login', (a) => a.login],
			['Role', (a) => a.role],
			['Subscriber', (a) => (a.subscriber_id ? h('a', {href: `#/subscribers/${Number(a.subscriber_id)}`}, String(a.subscriber_id)) : '')],
			['Created', (a) => fmtTime(a.created_at)],
			['', (a) => (session.account && a.id === session.account.id ? h('span.muted', {}, 'you') :
				confirmButton('Delete', async () => {
					const {etag} = await api('GET', `/accounts/${a.id}`);
					await api('DELETE', `/accounts/${a.id}`, {etag: etag || '*'});
					reload();
				}))],
		], items, {empty: 'No accounts.'})),
		h('section.card', {}, h('h2', {}, 'New account'), create));
}
