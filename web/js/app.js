// The GUI's shell: the session (GET /api/v1/session), the navigation for
// a carrier administrator or a subscriber, and hash routing to the pages.
import {api, setCsrfToken, onSessionExpired} from './api.js';
import {h, replace} from './dom.js';
import {errorBox} from './form.js';
import {webPasswordSection} from './sections.js';
import * as login from './pages/login.js';
import * as dashboard from './pages/dashboard.js';
import * as subscribers from './pages/subscribers.js';
import * as subscriber from './pages/subscriber.js';
import * as domains from './pages/domains.js';
import * as servers from './pages/servers.js';
import * as dialplans from './pages/dialplans.js';
import * as accounts from './pages/accounts.js';
import * as audit from './pages/audit.js';
import * as registrations from './pages/registrations.js';
import * as importPage from './pages/import.js';
import * as me from './pages/me.js';

// The signed-in account ({id, login, role, subscriber_id}) or null.
export const session = {account: null};

// Routes: a pattern of path segments (":name" takes one), who may see it,
// and the page's render(main, params, query).
const routes = [
	{path: 'login', role: null, page: login.render},
	{path: '', role: 'admin', page: dashboard.render},
	{path: 'subscribers', role: 'admin', page: subscribers.renderList},
	{path: 'subscribers/new', role: 'admin', page: subscribers.renderCreate},
	{path: 'subscribers/import', role: 'admin', page: importPage.render},
	{path: 'subscribers/:id', role: 'admin', page: subscriber.render},
	{path: 'domains', role: 'admin', page: domains.renderList},
	{path: 'domains/:id', role: 'admin', page: domains.renderOne},
	{path: 'server-groups', role: 'admin', page: servers.renderGroups},
	{path: 'server-groups/:id', role: 'admin', page: servers.renderGroup},
	{path: 'dial-plans', role: 'admin', page: dialplans.renderList},
	{path: 'dial-plans/:id', role: 'admin', page: dialplans.renderPlan},
	{path: 'accounts', role: 'admin', page: accounts.render},
	{path: 'registrations', role: 'admin', page: registrations.render},
	{path: 'audit', role: 'admin', page: audit.render},
	{path: 'password', role: 'admin', page: adminPassword},
	{path: '', role: 'subscriber', page: me.renderProfile},
	{path: 'devices', role: 'subscriber', page: me.renderDevices},
	{path: 'passwords', role: 'subscriber', page: me.renderPasswords},
	{path: 'features', role: 'subscriber', page: me.renderFeatures},
];

const navs = {
	admin: [['', 'Dashboard'], ['subscribers', 'Subscribers'], ['registrations', 'Registrations'], ['domains', 'Domains'],
		['server-groups', 'Servers'], ['dial-plans', 'Dial plans'], ['accounts', 'Accounts'], ['audit', 'Audit log']],
	subscriber: [['', 'My line'], ['devices', 'Devices'], ['features', 'Features'], ['passwords', 'Passwords']],
};

function parseHash() {
	let raw = location.hash.replace(/^#\/?/, '');
	let query = new URLSearchParams();
	const qi = raw.indexOf('?');
	if (qi >= 0) {
		query = new URLSearchParams(raw.slice(qi + 1));
		raw = raw.slice(0, qi);
	}
	const parts = raw.split('/').filter((p) => p !== '').map((p) => {
		try {
			return decodeURIComponent(p);
		} catch {
			return p;
		}
	});
	return {parts, query};
}

function match(route, parts) {
	const want = route.path === '' ? [] : route.path.split('/');
	if (want.length !== parts.length) return null;
	const params = {};
	for (let i = 0; i < want.length; i++) {
		if (want[i].startsWith(':')) {
			if (!/^[1-9][0-9]{0,17}$/.test(parts[i])) return null;
			params[want[i].slice(1)] = parts[i];
		} else if (want[i] !== parts[i]) {
			return null;
		}
	}
	return params;
}

export function go(path) {
	const target = '#/' + path;
	if (location.hash === target) route();
	else location.hash = target;
}

function renderNav(parts) {
	const nav = document.getElementById('nav');
	const who = document.getElementById('who');
	const toggle = document.getElementById('menu-toggle');
	const acct = session.account;
	if (!acct) {
		nav.replaceChildren();
		who.replaceChildren();
		toggle.hidden = true;
		return;
	}
	const here = parts[0] || '';
	replace(nav, h('ul', {}, (navs[acct.role] || []).map(([p, t]) =>
		h('li', {}, h('a', {href: '#/' + p, 'aria-current': here === p ? 'page' : null}, t)))));
	const out = h('button', {type: 'button', class: 'link', id: 'logout'}, 'Log out');
	out.addEventListener('click', logout);
	const me = acct.role === 'admin'
		? h('a.login', {href: '#/password', title: 'carrier administrator: change your web password'}, acct.login)
		: h('span.login', {title: 'subscriber'}, acct.login);
	replace(who, me, ' ', out);
	toggle.hidden = false;
}

async function adminPassword(main) {
	replace(main, h('h1', {}, 'Your web password'), webPasswordSection());
}

async function logout() {
	try {
		await api('DELETE', '/session');
	} catch {
		/* gone already: the same outcome */
	}
	session.account = null;
	setCsrfToken(null);
	go('login');
}

// Called by the login page.
export function signedIn(body) {
	session.account = body.account;
	setCsrfToken(body.csrf_token);
	go('');
}

let generation = 0;

async function route() {
	const gen = ++generation;
	const main = document.getElementById('app');
	const {parts, query} = parseHash();
	document.body.classList.remove('menu-open');
	document.getElementById('menu-toggle').setAttribute('aria-expanded', 'false');
	if (!session.account && parts[0] !== 'login') {
		location.replace('#/login');
		return;
	}
	if (session.account && parts[0] === 'login') {
		location.replace('#/');
		return;
	}
	renderNav(parts);
	const role = session.account ? session.account.role : null;
	for (const r of routes) {
		if (r.role !== role) continue;
		const params = match(r, parts);
		if (!params) continue;
		replace(main, h('p.loading', {}, 'Loading…'));
		try {
			await r.page(main, params, query, () => gen === generation);
		} catch (e) {
			if (gen === generation) replace(main, errorBox(e));
		}
		if (gen === generation && !main.contains(document.activeElement)) main.focus({preventScroll: true});
		return;
	}
	replace(main, h('h1', {}, 'Not found'), h('p', {}, 'No such page. '), h('a', {href: '#/'}, 'Start page'));
}

async function start() {
	const toggle = document.getElementById('menu-toggle');
	toggle.addEventListener('click', () => {
		const open = document.body.classList.toggle('menu-open');
		toggle.setAttribute('aria-expanded', String(open));
	});
	onSessionExpired(() => {
		session.account = null;
		setCsrfToken(null);
		go('login');
	});
	try {
		const {data} = await api('GET', '/session');
		session.account = data.account;
		setCsrfToken(data.csrf_token);
	} catch {
		session.account = null;
	}
	window.addEventListener('hashchange', route);
	route();
}

start();
