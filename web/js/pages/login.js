// Sign-in, for carrier administrators and subscribers alike: the API
// says which one the account is.
import {api, ApiError} from '../api.js';
import {h, replace} from '../dom.js';
import {field, form} from '../form.js';
import {signedIn} from '../app.js';

export async function render(main) {
	const f = form({
		submit: 'Log in',
		cls: 'login-form',
		fields: [
			field({name: 'login', label: 'Login', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false'}),
			field({name: 'password', label: 'Password', type: 'password', autocomplete: 'current-password', required: true}),
		],
		onsubmit: async (v) => {
			try {
				const {data} = await api('POST', '/session', {body: {login: v.login, password: v.password}});
				signedIn(data);
			} catch (e) {
				// a wrong login or password is one message, never "which one"
				if (e instanceof ApiError && e.status === 401)
					throw new ApiError(401, {title: 'Not signed in', detail: e.detail || 'wrong login or password'});
				throw e;
			}
		},
	});
	replace(main, h('section.card.narrow', {}, h('h1', {}, 'Log in'),
		h('p.muted', {}, 'Carrier administrators and subscribers sign in here.'), f));
	f.querySelector('input').focus();
}
