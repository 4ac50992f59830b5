// The web GUI end to end in headless Debian chromium, driven by
// playwright-core (no browser download: executablePath). Started by
// tests/integration/web_gui_test.sh, which gives provd's address (BASE), its
// bearer token (TOKEN, used here only to set up and to check through the
// API, never by the browser pages under test), two seeded subscribers
// (OWN_ID with a registered phone, OTHER_ID), the harness PostgreSQL's URI
// (DB_URI) and its psql (PSQL), and where screenshots go.
//
// Runs with node's test runner: node --test gui.test.mjs.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {execFileSync, spawn} from 'node:child_process';
import {chromium} from 'playwright-core';

const BASE = process.env.BASE;
const TOKEN = process.env.TOKEN;
const OWN_ID = Number(process.env.OWN_ID);
const OTHER_ID = Number(process.env.OTHER_ID);
const DOMAIN_ID = Number(process.env.DOMAIN_ID);
const SHOTS = process.env.SCREENSHOTS || '';
const DB_URI = process.env.DB_URI;
const PSQL = process.env.PSQL || 'psql';
assert.ok(BASE && TOKEN && OWN_ID && OTHER_ID && DOMAIN_ID && DB_URI, 'run me from tests/integration/web_gui_test.sh');

const XSS = '<img src=x onerror=alert(1)><script>alert(1)</script>';
const ADMIN = {login: 'gui-admin', password: 'admin-Password-1'};
const SUBSCRIBER = {login: 'gui-alice', password: 'alice-Password-1'};
// the subscriber the carrier creates for the feature tests, and its login
const FEATURED = {user: '3100', login: 'gui-dave', password: 'dave-Password-1'};

let browser;
let featuredId = 0;        // FEATURED's subscriber id
let featureGroupId = 0;    // a server group of kind feature
let adminContext;
let adminPage;
let createdId = 0;
const dialogs = [];        // every alert/confirm/prompt any page opened
const pageErrors = [];     // uncaught exceptions and CSP violations

// The API with the bearer token, for set-up and checks.
async function api(method, path, body, headers = {}) {
	const res = await fetch(BASE + '/api/v1' + path, {
		method,
		headers: {Authorization: `Bearer ${TOKEN}`, ...(body !== undefined ? {'Content-Type': 'application/json'} : {}), ...headers},
		body: body === undefined ? undefined : JSON.stringify(body),
	});
	const text = await res.text();
	return {status: res.status, body: text ? JSON.parse(text) : null, etag: res.headers.get('ETag')};
}

function watch(page) {
	page.on('dialog', async (d) => {
		dialogs.push(`${d.type()}: ${d.message()}`);
		await d.dismiss().catch(() => {});
	});
	page.on('pageerror', (e) => pageErrors.push(`pageerror: ${e.message}`));
	page.on('console', (m) => {
		if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) pageErrors.push(`console: ${m.text()}`);
	});
	return page;
}

async function newContext(viewport = {width: 1280, height: 800}) {
	return browser.newContext({viewport, baseURL: BASE});
}

async function login(page, who) {
	await page.goto('/#/login');
	await page.getByLabel('Login').fill(who.login);
	await page.getByLabel('Password').fill(who.password);
	await page.getByRole('button', {name: 'Log in'}).click();
	await page.locator('#logout').waitFor();
}

async function shot(page, name) {
	if (!SHOTS) return;
	await page.waitForLoadState('networkidle').catch(() => {});
	await page.screenshot({path: `${SHOTS}/${name}.png`, fullPage: true});
}

// One statement in the harness database, its rows as psql -At prints them.
function sql(query) {
	return execFileSync(PSQL, ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', DB_URI, '-c', query], {encoding: 'utf8'}).trim();
}

// A psql session that LISTENs on channel from now on; stop() ends it and
// gives the notifications it printed, as [{channel, payload}] (psql prints
// them after the next statement, here a SELECT sent by stop()).
async function listen(channel) {
	const p = spawn(PSQL, ['-X', '-At', DB_URI], {stdio: ['pipe', 'pipe', 'pipe']});
	let out = '';
	p.stdout.on('data', (d) => (out += d));
	p.stderr.on('data', (d) => (out += d));
	const closed = new Promise((resolve) => p.on('close', resolve));
	p.stdin.write(`LISTEN ${channel};\n`);
	for (let i = 0; !/^LISTEN$/m.test(out); i++) {
		assert.ok(i < 500 && p.exitCode === null, `psql LISTEN did not start: ${out}`);
		await new Promise((r) => setTimeout(r, 20));
	}
	return {
		async stop() {
			p.stdin.end("SELECT 'listen-done';\n");
			await closed;
			assert.match(out, /listen-done/, out);
			return [...out.matchAll(/^Asynchronous notification "([^"]+)" with payload "(.*)" received from server process/gm)]
				.map((m) => ({channel: m[1], payload: JSON.parse(m[2])}));
		},
	};
}

// The subscriber's csrf token and a feature's ETag, then a PUT of body,
// from inside page (the subscriber's own session): {status, detail}.
async function putFromPage(page, sid, feature, body) {
	return page.evaluate(async ([id, name, b]) => {
		const session = await (await fetch('/api/v1/session')).json();
		const got = await fetch(`/api/v1/subscribers/${id}/features/${name}`);
		const res = await fetch(`/api/v1/subscribers/${id}/features/${name}`, {method: 'PUT',
			headers: {'Content-Type': 'application/json', 'X-CSRF-Token': session.csrf_token, 'If-Match': got.headers.get('ETag')},
			body: JSON.stringify(b)});
		const p = await res.json();
		return {status: res.status, detail: p.detail || ''};
	}, [sid, feature, body]);
}

before(async () => {
	const doc = await api('GET', '/openapi.json');
	assert.equal(doc.status, 200);
	assert.ok(doc.body.paths['/api/v1/subscribers/{id}/features/{feature}'], 'provd has the feature routes');
	browser = await chromium.launch({
		executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
		// this machine has no network but loopback: no background traffic
		args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
			'--disable-background-networking', '--disable-component-update', '--disable-sync'],
	});
	let r = await api('POST', '/accounts', {login: ADMIN.login, password: ADMIN.password, role: 'admin'});
	assert.equal(r.status, 201, `create the admin account: ${JSON.stringify(r.body)}`);
	r = await api('POST', '/accounts', {login: SUBSCRIBER.login, password: SUBSCRIBER.password, role: 'subscriber', subscriber_id: OWN_ID});
	assert.equal(r.status, 201, `create the subscriber's account: ${JSON.stringify(r.body)}`);
});

after(async () => {
	await browser?.close();
});

test('the login page loads under the CSP with no script error', async () => {
	const ctx = await browser.newContext({viewport: {width: 1280, height: 800}, baseURL: BASE});
	const page = watch(await ctx.newPage());
	const res = await page.goto('/');
	assert.match(res.headers()['content-security-policy'], /script-src 'self'/);
	await page.getByRole('button', {name: 'Log in'}).waitFor();
	assert.equal(new URL(page.url()).hash, '#/login');
	await shot(page, 'login-1280');
	await page.setViewportSize({width: 390, height: 844});
	await shot(page, 'login-390');
	assert.deepEqual(pageErrors, []);
	await ctx.close();
});

test('a wrong password is refused with the API\'s message', async () => {
	const ctx = await browser.newContext({baseURL: BASE});
	const page = watch(await ctx.newPage());
	await page.goto('/#/login');
	await page.getByLabel('Login').fill(ADMIN.login);
	await page.getByLabel('Password').fill('wrong-password-123');
	await page.getByRole('button', {name: 'Log in'}).click();
	const msg = page.locator('form .form-error');
	await msg.filter({hasText: /\S/}).waitFor();
	assert.match(await msg.textContent(), /Not signed in|Unauthorized|wrong/i);
	assert.equal(await page.locator('#logout').count(), 0);
	await ctx.close();
});

test('an administrator logs in and sees the dashboard', async () => {
	adminContext = await newContext();
	adminPage = watch(await adminContext.newPage());
	await login(adminPage, ADMIN);
	await adminPage.getByRole('heading', {name: 'Dashboard'}).waitFor();
	const tile = (label) => adminPage.locator('.tile').filter({has: adminPage.locator('.tile-label').getByText(label, {exact: true})}).locator('.tile-value');
	const subs = tile('Subscribers');
	await subs.filter({hasText: /^2$/}).waitFor({timeout: 5000});
	const regs = tile('Registered devices');
	await regs.filter({hasText: /^2$/}).waitFor({timeout: 5000});
	await shot(adminPage, 'dashboard-1280');
});

test('the registrations page lists every registered device with its subscriber', async () => {
	const page = adminPage;
	const own = (await api('GET', `/subscribers/${OWN_ID}`)).body;
	const dom = (await api('GET', `/domains/${own.domain_id}`)).body;
	const want = (await api('GET', '/registrations')).body.items;
	assert.ok(want.some((b) => b.subscriber_id === OWN_ID), 'the seeded subscriber has a registration');
	await page.getByRole('navigation', {name: 'Main'}).getByRole('link', {name: 'Registrations'}).click();
	await page.getByRole('heading', {name: 'Registrations'}).waitFor();
	const rows = page.locator('main table tbody tr');
	await rows.first().waitFor();
	const aorLinks = page.locator('main table tbody tr td[data-label="Subscriber"] a');
	assert.deepEqual(await aorLinks.allTextContents(), want.map((b) => b.aor));
	assert.ok(want.some((b) => b.aor === `${own.user_part}@${dom.name}`), 'the AOR is user@domain');
	const ownLink = aorLinks.filter({hasText: `${own.user_part}@${dom.name}`}).first();
	assert.equal(await ownLink.getAttribute('href'), `#/subscribers/${OWN_ID}`);
	assert.deepEqual((await page.locator('main table tbody td[data-label="Contact"]').allTextContents()).sort(),
		want.map((b) => b.contact).sort());
	// another domain's filter shows none of them
	const other = await api('POST', '/domains', {name: 'empty-regs.example'});
	assert.equal(other.status, 201);
	await page.goto(`/#/registrations?domain=${other.body.id}`);
	await page.getByText('No device is registered.').waitFor();
	await api('DELETE', `/domains/${other.body.id}`, undefined, {'If-Match': other.etag});
	await shot(page, 'registrations-1280');
});

test('the administrator creates a subscriber and finds it in the list', async () => {
	const page = adminPage;
	await page.goto('/#/subscribers/new');
	await page.getByLabel('Domain').selectOption(String(DOMAIN_ID));
	await page.getByLabel('Number or user name').fill('3001');
	await page.getByLabel('Display name').fill('Carol Created');
	await page.getByRole('button', {name: 'Create'}).click();
	await page.getByRole('heading', {name: '3001@gui.test'}).waitFor();
	createdId = Number(/#\/subscribers\/(\d+)/.exec(page.url())[1]);
	assert.ok(createdId > 0);
	const r = await api('GET', `/subscribers/${createdId}`);
	assert.equal(r.body.display_name, 'Carol Created');

	// the same user part again: the API's 409 next to the field
	await page.goto('/#/subscribers/new');
	await page.getByLabel('Domain').selectOption(String(DOMAIN_ID));
	await page.getByLabel('Number or user name').fill('3001');
	await page.getByRole('button', {name: 'Create'}).click();
	const err = page.locator('.field', {has: page.getByLabel('Number or user name')}).locator('.field-error');
	await err.filter({hasText: /Conflict/}).waitFor();

	await page.goto('/#/subscribers');
	await page.getByRole('link', {name: '3001@gui.test'}).waitFor();
	await page.getByRole('searchbox').fill('carol');
	await page.getByRole('button', {name: 'Search'}).click();
	await page.waitForURL(/q=carol/);
	// the list is replaced when the search's answer comes: wait for it,
	// then count (a count taken in between sees the old or no table)
	await page.locator('tbody tr').filter({hasText: 'Carol Created'}).waitFor();
	await page.waitForFunction(() => document.querySelectorAll('tbody tr').length === 1, null, {timeout: 5000})
		.catch(() => {});
	assert.equal(await page.locator('tbody tr').count(), 1);
	await shot(page, 'subscribers-1280');
});

test('the administrator pages through the subscribers', async () => {
	for (let i = 0; i < 55; i++) {
		const r = await api('POST', '/subscribers', {domain_id: DOMAIN_ID, user_part: `page${String(i).padStart(2, '0')}`});
		assert.equal(r.status, 201);
	}
	const page = adminPage;
	await page.goto('/#/subscribers');
	await page.locator('tbody tr').first().waitFor();
	assert.equal(await page.locator('tbody tr').count(), 50);
	await page.getByRole('link', {name: 'Next →'}).click();
	await page.waitForURL(/after=/);
	await page.getByRole('link', {name: 'page54@gui.test'}).waitFor();
	assert.equal(await page.locator('tbody tr').count(), 8); // 3 + 55 = 58 in all
	await page.getByRole('link', {name: '← Previous'}).click();
	await page.getByRole('link', {name: '2001@gui.test'}).waitFor();
});

test('the administrator imports subscribers from a CSV file: all or nothing, then partial', async () => {
	const page = adminPage;
	const dom = (await api('GET', `/domains/${DOMAIN_ID}`)).body.name;
	const csv = `user_part,domain,display_name,password\n4001,${dom},Imported <b>One</b>,imported-pass-1\n4002,nowhere.example,Bad Domain,\n`;
	await page.goto('/#/subscribers');
	await page.getByRole('link', {name: 'Import CSV'}).click();
	await page.getByRole('heading', {name: 'Import subscribers'}).waitFor();
	const file = {name: 'subs.csv', mimeType: 'text/csv', buffer: Buffer.from(csv)};
	await page.getByLabel('CSV file').setInputFiles(file);
	await page.getByRole('button', {name: 'Import'}).click();
	const result = page.locator('#import-result');
	await result.getByRole('heading', {name: 'Nothing imported'}).waitFor();
	const cells = await result.locator('tbody td').allTextContents();
	assert.deepEqual(cells.slice(0, 2), ['3', 'domain'], 'the bad row by its line in the file, and its column');
	assert.ok(cells[2].length > 0, 'and what is wrong');
	assert.equal((await api('GET', '/subscribers?q=4001')).body.items.length, 0, 'all or nothing: nothing written');
	await page.getByLabel('Import the good rows and list the bad ones').check();
	await page.getByLabel('CSV file').setInputFiles(file);
	await page.getByRole('button', {name: 'Import'}).click();
	await result.getByRole('heading', {name: 'Imported'}).waitFor();
	assert.match(await result.getByRole('status').textContent(), /1 of 2 rows imported, 1 refused/);
	assert.equal(await result.locator('tbody tr').count(), 1);
	const made = (await api('GET', '/subscribers?q=4001')).body.items;
	assert.equal(made.length, 1);
	assert.equal(made[0].display_name, 'Imported <b>One</b>');
	assert.equal(made[0].has_password, true);
	await shot(page, 'import-1280');
	await api('DELETE', `/subscribers/${made[0].id}`, undefined, {'If-Match': '*'});
});

test('the administrator edits the display name (If-Match) and sets the SIP password', async () => {
	const page = adminPage;
	await page.goto(`/#/subscribers/${createdId}`);
	const profile = page.locator('#profile');
	await profile.getByLabel('Display name').fill('Carol Edited');
	await profile.getByRole('button', {name: 'Save'}).click();
	await profile.locator('.form-ok').filter({hasText: 'Saved'}).waitFor();
	assert.equal((await api('GET', `/subscribers/${createdId}`)).body.display_name, 'Carol Edited');

	// a second save with the new ETag works; a change behind our back is a 412
	await profile.getByLabel('Display name').fill('Carol Again');
	await profile.getByRole('button', {name: 'Save'}).click();
	await profile.locator('.form-ok').filter({hasText: 'Saved'}).waitFor();
	const cur = await api('GET', `/subscribers/${createdId}`);
	assert.equal(cur.body.display_name, 'Carol Again');
	await api('PATCH', `/subscribers/${createdId}`, {display_name: 'Changed Elsewhere'}, {'If-Match': cur.etag});
	await profile.getByLabel('Display name').fill('Carol Stale');
	await profile.getByRole('button', {name: 'Save'}).click();
	await profile.locator('.form-error').filter({hasText: /changed this since/}).waitFor();
	assert.equal((await api('GET', `/subscribers/${createdId}`)).body.display_name, 'Changed Elsewhere');

	// the field holds no more than the API takes
	await page.reload();
	await profile.getByLabel('Display name').fill('x'.repeat(129));
	assert.equal((await profile.getByLabel('Display name').inputValue()).length, 128);

	const pw = page.locator('#sip-password');
	assert.equal((await api('GET', `/subscribers/${createdId}`)).body.has_password, false);
	await pw.getByLabel('New SIP password').fill('sip-secret-1');
	await pw.getByLabel('The same again').fill('sip-secret-2');
	await pw.getByRole('button', {name: 'Set SIP password'}).click();
	await pw.locator('.field-error').filter({hasText: /differ/}).waitFor();
	await pw.getByLabel('New SIP password').fill('sip-secret-1');
	await pw.getByLabel('The same again').fill('sip-secret-1');
	await pw.getByRole('button', {name: 'Set SIP password'}).click();
	await pw.locator('.form-ok').filter({hasText: 'SIP password set'}).waitFor();
	assert.equal((await api('GET', `/subscribers/${createdId}`)).body.has_password, true);
});

test('aliases, DIDs and registrations of a subscriber', async () => {
	const page = adminPage;
	await page.goto(`/#/subscribers/${OTHER_ID}`);
	const nums = page.locator('#numbers');
	await nums.getByLabel('New alias (user part)').fill('bob');
	await nums.getByRole('button', {name: 'Add alias'}).click();
	await nums.getByRole('cell', {name: 'bob@gui.test'}).waitFor();
	await nums.getByLabel('New DID (E.164, with +)').fill('12345');
	await nums.getByRole('button', {name: 'Add DID'}).click();
	await nums.locator('.field-error').filter({hasText: /number/}).waitFor();
	await nums.getByLabel('New DID (E.164, with +)').fill('+15550002002');
	await nums.getByRole('button', {name: 'Add DID'}).click();
	await nums.getByRole('cell', {name: '+15550002002'}).waitFor();
	await shot(page, 'subscriber-1280');
	await page.setViewportSize({width: 390, height: 844});
	await shot(page, 'subscriber-390');
	await page.setViewportSize({width: 1280, height: 800});

	const regs = page.locator('#registrations');
	await regs.getByText('TestPhone/' + OTHER_ID).waitFor();
	await regs.getByRole('button', {name: 'Remove'}).click();
	await regs.getByRole('button', {name: 'Really remove?'}).click();
	await regs.getByText('Not registered.').waitFor();
	assert.equal((await api('GET', `/subscribers/${OTHER_ID}/registrations`)).body.items.length, 0);

	// every feature kind, none subscribed yet
	const feats = page.locator('#features');
	await feats.locator('details.feature').first().waitFor();
	const kinds = (await api('GET', '/feature-kinds')).body.items.map((k) => k.name);
	assert.deepEqual(await feats.locator('details.feature').evaluateAll((ds) => ds.map((d) => d.dataset.feature)), kinds);
	assert.equal(await feats.getByText('not subscribed').count(), kinds.length);
});

test('the administrator deletes a subscriber (If-Match), asked twice', async () => {
	const list = await api('GET', '/subscribers', undefined);
	const victim = list.body.items.find((x) => x.user_part === 'page00');
	assert.ok(victim);
	const page = adminPage;
	await page.goto(`/#/subscribers/${victim.id}`);
	await page.getByRole('heading', {name: 'page00@gui.test'}).waitFor();
	await page.getByRole('button', {name: 'Delete subscriber'}).click();
	await page.getByRole('button', {name: 'Cancel'}).click();
	assert.equal((await api('GET', `/subscribers/${victim.id}`)).status, 200, 'Cancel deletes nothing');
	await page.getByRole('button', {name: 'Delete subscriber'}).click();
	await page.getByRole('button', {name: 'Really delete this subscriber?'}).click();
	await page.waitForURL(/#\/subscribers$/);
	assert.equal((await api('GET', `/subscribers/${victim.id}`)).status, 404);
});

test('the administrator gives a subscriber a web login', async () => {
	const page = adminPage;
	await page.goto(`/#/subscribers/${OTHER_ID}`);
	const sec = page.locator('#web-login');
	await sec.getByText('cannot log in to the web GUI yet').waitFor();
	await sec.getByLabel('Login').fill('gui-bob');
	await sec.getByLabel('Password').fill('short');
	await sec.getByRole('button', {name: 'Create web login'}).click();
	await sec.locator('.field-error, .form-error').filter({hasText: /password/i}).first().waitFor();
	await sec.getByLabel('Password').fill('bob-Password-1');
	await sec.getByRole('button', {name: 'Create web login'}).click();
	await sec.getByText('gui-bob').waitFor();
	const r = await api('GET', `/accounts?subscriber=${OTHER_ID}`);
	assert.deepEqual(r.body.items.map((a) => [a.login, a.role]), [['gui-bob', 'subscriber']]);
});

test('a display name holding markup is shown as text', async () => {
	const page = adminPage;
	await page.goto(`/#/subscribers/${createdId}`);
	const profile = page.locator('#profile');
	await page.reload();
	await profile.getByLabel('Display name').fill(XSS);
	await profile.getByRole('button', {name: 'Save'}).click();
	await profile.locator('.form-ok').filter({hasText: 'Saved'}).waitFor();
	assert.equal((await api('GET', `/subscribers/${createdId}`)).body.display_name, XSS);
	for (const hash of [`#/subscribers/${createdId}`, '#/subscribers', '#/subscribers?q=script']) {
		await page.goto('/' + hash);
		await page.getByText(XSS, {exact: true}).first().waitFor();
		await page.waitForTimeout(200);
		assert.equal(await page.locator('#app img, #app script').count(), 0, `${hash}: no element injected`);
	}
	assert.deepEqual(dialogs, [], 'no dialog was opened');
	assert.equal(await page.evaluate(() => document.querySelectorAll('img[src="x"], main script').length), 0);
});

test('domains, server groups and dial plans', async () => {
	const page = adminPage;
	await page.goto('/#/domains');
	await page.getByLabel('Name', {exact: true}).fill('Bad_Name');
	await page.getByRole('button', {name: 'Create domain'}).click();
	await page.locator('.field-error').filter({hasText: /name/}).waitFor();
	await page.getByLabel('Name', {exact: true}).fill('second.test');
	await page.getByRole('button', {name: 'Create domain'}).click();
	await page.getByRole('heading', {name: 'second.test'}).waitFor();
	await page.getByLabel('Realm (digest)').fill('Second Realm');
	await page.getByRole('button', {name: 'Save'}).click();
	await page.locator('.form-ok').filter({hasText: 'Saved'}).waitFor();
	await page.goto('/#/domains');
	await page.getByRole('cell', {name: 'Second Realm'}).waitFor();
	await shot(page, 'domains-1280');

	await page.goto('/#/server-groups');
	await page.getByLabel('Name', {exact: true}).fill('edge-1');
	await page.getByRole('button', {name: 'Create group'}).click();
	await page.getByRole('heading', {name: 'edge-1'}).waitFor();
	const add = page.locator('section', {has: page.getByRole('heading', {name: 'Add a server'})});
	await add.getByLabel('Host').fill('192.0.2.1');
	await add.getByRole('button', {name: 'Add server'}).click();
	await page.getByRole('cell', {name: '192.0.2.1'}).waitFor();
	await page.getByRole('row', {name: /192\.0\.2\.1/}).getByRole('button', {name: 'Edit'}).click();
	const edit = page.locator('td form');
	await edit.getByLabel('Port', {exact: true}).fill('5080');
	await edit.getByRole('button', {name: 'Save'}).click();
	await page.getByRole('cell', {name: '5080', exact: true}).waitFor();
	await shot(page, 'servers-1280');
	// a feature group that skips its hop, made the second domain's default
	await page.goto('/#/server-groups');
	await page.getByLabel('Name', {exact: true}).fill('features-skip');
	await page.getByLabel('Kind').selectOption('feature');
	await page.getByLabel('When no server answers').selectOption('skip');
	await page.getByRole('button', {name: 'Create group'}).click();
	await page.getByRole('heading', {name: 'features-skip'}).waitFor();
	const fg = (await api('GET', '/server-groups?kind=feature')).body.items.find((g) => g.name === 'features-skip');
	assert.equal(fg.on_failure, 'skip');
	const second = (await api('GET', '/domains')).body.items.find((d) => d.name === 'second.test');
	await page.goto(`/#/domains/${second.id}`);
	await page.getByLabel('Feature servers').selectOption(String(fg.id));
	await page.getByRole('button', {name: 'Save'}).click();
	await page.locator('.form-ok').filter({hasText: 'Saved'}).waitFor();
	assert.equal((await api('GET', `/domains/${second.id}`)).body.feature_group_id, fg.id);
	await page.getByLabel('Feature servers').selectOption('');
	await page.getByRole('button', {name: 'Save'}).click();
	await page.locator('.form-ok').filter({hasText: 'Saved'}).waitFor();
	assert.equal((await api('GET', `/domains/${second.id}`)).body.feature_group_id, null);

	await page.goto('/#/dial-plans');
	await page.getByLabel('Name', {exact: true}).fill('pstn');
	await page.getByRole('button', {name: 'Create dial plan'}).click();
	await page.getByRole('heading', {name: 'pstn'}).waitFor();
	const entry = page.locator('section', {has: page.getByRole('heading', {name: 'Add an entry'})});
	await entry.getByLabel('Pattern (POSIX extended regex)').fill('^(\\+1[0-9]{10}$');
	await entry.getByLabel('Contact template').fill('sip:\\1@gw.example');
	await entry.getByRole('button', {name: 'Add entry'}).click();
	await entry.locator('.field-error').filter({hasText: /pattern/}).waitFor();
	await entry.getByLabel('Pattern (POSIX extended regex)').fill('^(\\+1[0-9]{10})$');
	await entry.getByRole('button', {name: 'Add entry'}).click();
	await page.getByRole('cell', {name: '^(\\+1[0-9]{10})$'}).waitFor();
	await page.getByRole('row', {name: /gw\.example/}).getByRole('button', {name: 'Edit'}).click();
	const editEntry = page.locator('td form');
	await editEntry.getByLabel('Contact template').fill('sip:\\1@gw2.example');
	await shot(page, 'dialplan-edit-1280');
	await editEntry.getByRole('button', {name: 'Save'}).click();
	await page.getByRole('cell', {name: 'sip:\\1@gw2.example'}).waitFor();
	await shot(page, 'dialplan-1280');
	await page.setViewportSize({width: 390, height: 844});
	await shot(page, 'dialplan-390');
	await page.setViewportSize({width: 1280, height: 800});
});

test('accounts and the audit log', async () => {
	const page = adminPage;
	await page.goto('/#/accounts');
	await page.getByRole('cell', {name: SUBSCRIBER.login}).waitFor();
	await shot(page, 'accounts-1280');
	await page.goto('/#/audit');
	await page.locator('tbody tr').first().waitFor();
	await page.getByText('/api/v1/subscribers').first().waitFor();
	await shot(page, 'audit-1280');
});

test('the administrator makes an API token, shown once, and revokes it', async () => {
	const page = adminPage;
	await page.goto('/#/accounts');
	const sec = page.locator('#tokens');
	await sec.getByLabel('Token name').fill('gui-script');
	await sec.getByLabel('Valid for (days)').fill('7');
	await sec.getByRole('button', {name: 'Make token'}).click();
	const shown = page.locator('#new-token');
	await shown.waitFor();
	const token = (await shown.textContent()).trim();
	assert.match(token, /^vocal_[0-9a-f]{64}$/);
	await sec.getByRole('cell', {name: 'gui-script'}).waitFor();
	const asScript = async () => (await fetch(`${BASE}/api/v1/subscribers/${OWN_ID}`, {headers: {Authorization: `Bearer ${token}`}})).status;
	assert.equal(await asScript(), 200, 'the token works for a script');
	// shown once: a reload of the page does not show it again
	await page.reload();
	await sec.getByRole('cell', {name: 'gui-script'}).waitFor();
	assert.equal(await page.locator('#new-token').count(), 0);
	assert.equal((await page.content()).includes(token), false, 'the token is nowhere on the page');
	const row = sec.locator('tr', {has: page.getByRole('cell', {name: 'gui-script'})});
	await row.getByRole('button', {name: 'Revoke'}).click();
	await row.getByRole('button', {name: 'Really revoke?'}).click();
	await sec.getByText('No API tokens.').waitFor();
	assert.equal(await asScript(), 401, 'a revoked token is refused');
	await shot(page, 'tokens-1280');
});

test('a forged cross-site POST with the administrator\'s cookie is refused', async (t) => {
	const port = new URL(BASE).port;
	// the attacker: another origin (same host, another port: the same
	// "site", so SameSite=Strict still sends the cookie and the CSRF and
	// Origin checks must do the work)
	const body = JSON.stringify({domain_id: DOMAIN_ID, user_part: 'forged'});
	const evil = http.createServer((req, res) => {
		res.writeHead(200, {'Content-Type': 'text/html'});
		res.end(`<!doctype html><form id=f method=POST enctype="text/plain" action="${BASE}/api/v1/subscribers">
<input name='{"domain_id":${DOMAIN_ID},"user_part":"forged2","x":"' value='"}'></form>
<script>
fetch(${JSON.stringify(BASE + '/api/v1/subscribers')}, {method: 'POST', mode: 'no-cors', credentials: 'include',
  headers: {'Content-Type': 'text/plain'}, body: ${JSON.stringify(body)}})
  .finally(() => document.getElementById('f').submit());
</script>`);
	});
	await new Promise((r) => evil.listen(0, '127.0.0.1', r));
	const evilPort = evil.address().port;
	assert.notEqual(String(evilPort), port);
	const page = watch(await adminContext.newPage());
	const statuses = [];
	page.on('response', (r) => {
		if (r.url().startsWith(BASE + '/api/v1/subscribers') && r.request().method() === 'POST') statuses.push(r.status());
	});
	await page.goto(`http://127.0.0.1:${evilPort}/`);
	await page.waitForURL(BASE + '/api/v1/subscribers', {timeout: 5000}).catch(() => {});
	await page.waitForTimeout(500);
	evil.close();
	await page.close();
	t.diagnostic(`forged POSTs from http://127.0.0.1:${evilPort} answered ${statuses.join(', ')}`);
	assert.ok(statuses.length >= 2, `both forged requests were sent (${statuses})`);
	// 403, not 401: the cookie went along (same site), and the CSRF and
	// Origin checks refused the request
	for (const s of statuses) assert.equal(s, 403, `forged POST answered ${s}`);
	const list = await api('GET', '/subscribers', undefined);
	assert.ok(!list.body.items.some((s) => /^forged/.test(s.user_part)), 'no subscriber was created');

	// from provd's own page, but without the CSRF token: refused too
	const own = await adminPage.evaluate(async ([b, d]) => (await fetch('/api/v1/subscribers', {method: 'POST',
		headers: {'Content-Type': 'application/json'}, body: JSON.stringify({domain_id: d, user_part: b})})).status, ['forged3', DOMAIN_ID]);
	assert.equal(own, 403);
});

test('the administrator logs out', async () => {
	const page = adminPage;
	await page.locator('#logout').click();
	await page.getByRole('button', {name: 'Log in'}).waitFor();
	const st = await page.evaluate(async () => (await fetch('/api/v1/session')).status);
	assert.equal(st, 401);
	await page.goto('/#/subscribers');
	await page.waitForURL(/#\/login/);
	await adminContext.close();
});

test('a subscriber sees only their own line and changes their display name', async () => {
	const ctx = await newContext({width: 390, height: 844});
	const page = watch(await ctx.newPage());
	await page.goto('/#/login');
	await page.getByLabel('Login').fill(SUBSCRIBER.login);
	await page.getByLabel('Password').fill(SUBSCRIBER.password);
	await page.getByRole('button', {name: 'Log in'}).click();
	await page.getByRole('heading', {name: '2001', exact: false}).first().waitFor();
	await page.getByText('Alice Own').first().waitFor();
	await shot(page, 'me-390');
	// on a phone the menu folds behind a button
	assert.equal(await page.getByRole('link', {name: 'Devices'}).isVisible(), false);
	await page.getByRole('button', {name: 'Menu'}).click();
	await page.getByRole('link', {name: 'Devices'}).waitFor();
	await shot(page, 'menu-390');
	await page.getByRole('button', {name: 'Menu'}).click();
	assert.equal(await page.getByRole('link', {name: 'Devices'}).isVisible(), false);
	await page.setViewportSize({width: 1280, height: 800});
	await shot(page, 'me-1280');
	// the carrier's pages are not there, and the API refuses the rest
	await page.goto(`/#/subscribers/${OTHER_ID}`);
	await page.getByRole('heading', {name: 'Not found'}).waitFor();
	assert.equal(await page.getByText('Bob Other').count(), 0);
	const codes = await page.evaluate(async (other) => Promise.all([
		`/api/v1/subscribers/${other}`, `/api/v1/subscribers/${other}/registrations`, '/api/v1/subscribers', '/api/v1/accounts',
	].map(async (u) => (await fetch(u)).status)), OTHER_ID);
	assert.deepEqual(codes, [404, 404, 403, 403]);

	await page.goto('/#/');
	const profile = page.locator('#profile');
	await profile.getByLabel('Display name').fill('Alice Renamed');
	await profile.getByRole('button', {name: 'Save'}).click();
	await profile.locator('.form-ok').filter({hasText: 'Saved'}).waitFor();
	assert.equal((await api('GET', `/subscribers/${OWN_ID}`)).body.display_name, 'Alice Renamed');

	await page.goto('/#/devices');
	const regs = page.locator('#registrations');
	await regs.getByText('TestPhone/' + OWN_ID).waitFor();
	await shot(page, 'devices-1280');
	await regs.getByRole('button', {name: 'Remove'}).click();
	await regs.getByRole('button', {name: 'Really remove?'}).click();
	await regs.getByText('No device is registered now.').waitFor();

	await page.goto('/#/features');
	await page.locator('#features').getByText('Your carrier offers you no features yet.').waitFor();
	assert.equal(await page.locator('#features').locator('input, select, textarea').count(), 0);

	await page.goto('/#/passwords');
	const sip = page.locator('#sip-password');
	await sip.getByLabel('New SIP password').fill('alice-sip-1');
	await sip.getByLabel('The same again').fill('alice-sip-1');
	await sip.getByRole('button', {name: 'Set SIP password'}).click();
	await sip.locator('.form-ok').waitFor();
	assert.equal((await api('GET', `/subscribers/${OWN_ID}`)).body.has_password, true);
	const web = page.locator('#web-password');
	await web.getByLabel('Current web password').fill('not-the-password');
	await web.getByLabel('New web password', {exact: true}).fill('alice-Password-2');
	await web.getByLabel('The same again').fill('alice-Password-2');
	await web.getByRole('button', {name: 'Change web password'}).click();
	await web.locator('.form-error, .field-error').filter({hasText: /\S/}).first().waitFor();
	await web.getByLabel('Current web password').fill(SUBSCRIBER.password);
	await web.getByRole('button', {name: 'Change web password'}).click();
	await web.locator('.form-ok').waitFor();
	await shot(page, 'passwords-1280');

	await page.locator('#logout').click();
	await page.getByRole('button', {name: 'Log in'}).waitFor();
	await login(page, {login: SUBSCRIBER.login, password: 'alice-Password-2'});
	await ctx.close();
});

test('the carrier subscribes a new subscriber to features: offers forwarding, locks call blocking', async () => {
	let r = await api('POST', '/server-groups', {name: 'features-gui', kind: 'feature'});
	assert.equal(r.status, 201, JSON.stringify(r.body));
	featureGroupId = r.body.id;

	const ctx = await newContext();
	const page = watch(await ctx.newPage());
	await login(page, ADMIN);
	// a new subscriber, and a web login for it
	await page.goto('/#/subscribers/new');
	await page.getByLabel('Domain').selectOption(String(DOMAIN_ID));
	await page.getByLabel('Number or user name').fill(FEATURED.user);
	await page.getByLabel('Display name').fill('Dave Features');
	await page.getByRole('button', {name: 'Create'}).click();
	await page.getByRole('heading', {name: `${FEATURED.user}@gui.test`}).waitFor();
	featuredId = Number(/#\/subscribers\/(\d+)/.exec(page.url())[1]);
	const web = page.locator('#web-login');
	await web.getByLabel('Login').fill(FEATURED.login);
	await web.getByLabel('Password').fill(FEATURED.password);
	await web.getByRole('button', {name: 'Create web login'}).click();
	await web.getByText(FEATURED.login).waitFor();

	// forward on no answer: offered, not switched on. The domain has no
	// default feature group: provd's 400 goes next to the group's select.
	const fna = page.locator('#feature-forward_no_answer');
	await fna.locator('summary').click();
	assert.equal(await fna.getByLabel('Offered to the subscriber').isChecked(), true, 'a new subscription is offered');
	assert.equal(await fna.getByLabel('On', {exact: true}).isChecked(), false);
	// no target: the carrier offers the forward and leaves the target to
	// the subscriber
	await fna.getByRole('button', {name: 'Subscribe'}).click();
	const groupErr = fna.locator('.field', {has: page.getByLabel('Feature server group')}).locator('.field-error');
	await groupErr.filter({hasText: /group_id: not given/}).waitFor();
	assert.equal((await api('GET', `/subscribers/${featuredId}/features`)).body.items.length, 0);
	await fna.getByLabel('Feature server group').selectOption(String(featureGroupId));
	await fna.getByRole('button', {name: 'Subscribe'}).click();
	await fna.locator('.form-ok').filter({hasText: 'Subscribed.'}).waitFor();
	r = await api('GET', `/subscribers/${featuredId}/features/forward_no_answer`);
	assert.equal(r.status, 200);
	assert.deepEqual([r.body.admin_enabled, r.body.user_enabled, r.body.locked, r.body.group_id],
		[true, false, false, featureGroupId]);
	assert.deepEqual(r.body.settings, {}, 'offered with no target chosen');
	await fna.locator('summary').getByText('off').waitFor();

	// call blocking: on and locked by the carrier, its message holding markup
	const cb = page.locator('#feature-call_blocking');
	await cb.locator('summary').click();
	await cb.getByLabel('On', {exact: true}).check();
	await cb.getByLabel('Locked (the subscriber cannot change it)').check();
	await cb.getByLabel('Feature server group').selectOption(String(featureGroupId));
	await cb.getByLabel('Blocked prefixes (one per line)').fill('1900\n+4490');
	await cb.getByLabel('Message to the caller').fill(XSS);
	await cb.getByRole('button', {name: 'Subscribe'}).click();
	await cb.locator('.form-ok').filter({hasText: 'Subscribed.'}).waitFor();
	r = await api('GET', `/subscribers/${featuredId}/features/call_blocking`);
	assert.deepEqual([r.body.active, r.body.locked], [true, true]);
	assert.deepEqual(r.body.settings, {prefixes: ['1900', '+4490'], reason: XSS});
	// the settings shown as text, and the generated script as text
	await cb.locator('summary').getByText(XSS, {exact: false}).waitFor();
	await cb.getByRole('button', {name: 'Show the generated script'}).click();
	const script = cb.locator('pre.script');
	await script.waitFor();
	const text = await script.textContent();
	assert.match(text, /<cpl xmlns="urn:ietf:params:xml:ns:cpl">/);
	assert.match(text, /<outgoing>/);
	assert.ok(text.includes('&lt;script&gt;alert(1)&lt;/script&gt;'), text);
	assert.equal(await page.locator('#app img, #app script').count(), 0, 'no element injected');
	await shot(page, 'subscriber-features-1280');

	// caller-ID blocking subscribed but withdrawn: the subscriber must not see it
	const cid = page.locator('#feature-caller_id_blocking');
	await cid.locator('summary').click();
	await cid.getByLabel('Offered to the subscriber').uncheck();
	await cid.getByLabel('Feature server group').selectOption(String(featureGroupId));
	await cid.getByRole('button', {name: 'Subscribe'}).click();
	await cid.locator('.form-ok').filter({hasText: 'Subscribed.'}).waitFor();
	await cid.locator('summary').getByText('not offered').waitFor();
	assert.equal((await api('GET', `/subscribers/${featuredId}/features/caller_id_blocking`)).body.admin_enabled, false);

	// a second subscription to remove again: asked twice, gone from the database
	const fa = page.locator('#feature-forward_all');
	await fa.locator('summary').click();
	await fa.getByLabel('Feature server group').selectOption(String(featureGroupId));
	await fa.getByLabel('Forward to').fill('sip:desk@gui.test');
	await fa.getByRole('button', {name: 'Subscribe'}).click();
	await fa.locator('.form-ok').filter({hasText: 'Subscribed.'}).waitFor();
	assert.equal(sql(`SELECT count(*) FROM subscriber_features WHERE subscriber_id = ${featuredId} AND feature = 'forward_all'`), '1');
	await fa.getByRole('button', {name: 'Remove'}).click();
	await fa.getByRole('button', {name: 'Really remove?'}).click();
	await fa.locator('summary').getByText('not subscribed').waitFor();
	assert.equal(sql(`SELECT count(*) FROM subscriber_features WHERE subscriber_id = ${featuredId} AND feature = 'forward_all'`), '0');
	await page.setViewportSize({width: 390, height: 844});
	await shot(page, 'subscriber-features-390');
	await ctx.close();
});

test('the carrier\'s forms store each kind\'s settings as feature/settings.c reads them', async () => {
	assert.ok(featuredId > 0 && featureGroupId > 0, 'the carrier test ran first');
	// the domain's default group from now on: new subscriptions need no choice
	sql(`UPDATE domains SET feature_group_id = ${featureGroupId} WHERE id = ${DOMAIN_ID}`);
	const ctx = await newContext();
	const page = watch(await ctx.newPage());
	await login(page, ADMIN);
	await page.goto(`/#/subscribers/${featuredId}`);
	const stored = async (kind) => (await api('GET', `/subscribers/${featuredId}/features/${kind}`)).body;
	const subscribe = async (sec) => {
		await sec.getByRole('button', {name: 'Subscribe'}).click();
		await sec.locator('.form-ok').filter({hasText: 'Subscribed.'}).waitFor();
	};

	const scr = page.locator('#feature-call_screening');
	await scr.locator('summary').click();
	await scr.getByLabel('Callers (one per line)').fill('sip:spam@example.com\n\n @junk.example \nanonymous\n+12125550100');
	await scr.getByLabel('What they get').selectOption('busy');
	await scr.getByLabel('Callers (one per line)').press('Tab');
	await subscribe(scr);
	let f = await stored('call_screening');
	assert.equal(f.group_id, featureGroupId, 'the domain default group');
	assert.deepEqual(f.settings, {callers: ['sip:spam@example.com', '@junk.example', 'anonymous', '+12125550100'], action: 'busy'});

	const vm = page.locator('#feature-voicemail');
	await vm.locator('summary').click();
	await vm.getByLabel('Voicemail address').fill('sip:vm@vm.gui.test');
	await vm.getByLabel('When busy').uncheck();
	await vm.getByLabel('Ring time (seconds)').fill('15');
	await subscribe(vm);
	assert.deepEqual((await stored('voicemail')).settings, {uri: 'sip:vm@vm.gui.test', on_busy: false, on_no_answer: true, ring_time: 15});

	// time of day: one period; a bad time goes next to its field
	const tod = page.locator('#feature-time_of_day');
	await tod.locator('summary').click();
	await tod.getByLabel('Calls', {exact: true}).selectOption('outside');
	for (const d of ['Mon', 'Tue', 'Wed', 'Thu', 'Fri']) await tod.getByLabel(d).uncheck();
	for (const d of ['Sat', 'Sun']) await tod.getByLabel(d).check();
	await tod.getByLabel('From (HH:MM)').fill('25:00');
	await tod.getByLabel('To (HH:MM)').fill('06:00');
	await tod.getByLabel('Time zone').fill('Europe/Paris');
	await tod.getByLabel('Go to').fill('2002');
	await tod.getByRole('button', {name: 'Subscribe'}).click();
	await tod.locator('.field', {has: page.getByLabel('From (HH:MM)')}).locator('.field-error')
		.filter({hasText: /time_of_day\.periods\[0\]\.start: must be a time/}).waitFor();
	await tod.getByLabel('From (HH:MM)').fill('22:00');
	await subscribe(tod);
	assert.deepEqual((await stored('time_of_day')).settings,
		{tzid: 'Europe/Paris', when: 'outside', target: '2002', periods: [{days: ['SA', 'SU'], start: '22:00', end: '06:00'}]});

	// a raw script: a comment holding markup is kept and shown as text
	const cpl = page.locator('#feature-cpl');
	await cpl.locator('summary').click();
	const script = '<cpl xmlns="urn:ietf:params:xml:ns:cpl"><!-- <script>alert(1)</script> --><incoming><reject status="busy"/></incoming></cpl>';
	await cpl.getByLabel('CPL script (XML)').fill('<cpl xmlns="urn:ietf:params:xml:ns:cpl"><incoming><nonsense/></incoming></cpl>');
	await cpl.getByRole('button', {name: 'Subscribe'}).click();
	await cpl.locator('.field', {has: page.getByLabel('CPL script (XML)')}).locator('.field-error').filter({hasText: /cpl\.script: /}).waitFor();
	await cpl.getByLabel('CPL script (XML)').fill(script);
	await subscribe(cpl);
	assert.deepEqual((await stored('cpl')).settings, {script});
	await cpl.getByRole('button', {name: 'Show the generated script'}).click();
	// not on: neither side runs it, so no script
	await cpl.getByText('No script: nothing of this side that CPL expresses is active.').first().waitFor();
	await cpl.getByLabel('On', {exact: true}).check();
	await cpl.getByRole('button', {name: 'Save'}).click();
	await cpl.locator('.form-ok').filter({hasText: 'Saved.'}).waitFor();
	assert.equal((await stored('cpl')).active, true);
	await cpl.getByRole('button', {name: 'Show the generated script'}).click();
	await cpl.locator('pre.script').filter({hasText: '<!-- <script>alert(1)</script> -->'}).waitFor();
	assert.equal(await page.locator('#app img, #app script').count(), 0, 'no element injected');
	// switched off again: the subscriber's page test does not expect it
	await cpl.getByLabel('On', {exact: true}).uncheck();
	await cpl.getByRole('button', {name: 'Save'}).click();
	await cpl.locator('.form-ok').filter({hasText: 'Saved.'}).waitFor();
	await ctx.close();
});

test('the subscriber sets forward on no answer on a phone: the row and a NOTIFY say so', async () => {
	assert.ok(featuredId > 0, 'the carrier test ran first');
	const ctx = await newContext();
	const page = watch(await ctx.newPage());
	await login(page, FEATURED);
	await page.setViewportSize({width: 390, height: 844});
	await page.getByRole('button', {name: 'Menu'}).click();
	await page.getByRole('link', {name: 'Features'}).click();
	const card = page.locator('#feature-forward_no_answer');
	await card.waitFor();
	// only what the carrier offers
	assert.deepEqual(await page.locator('#features section.feature').evaluateAll((s) => s.map((x) => x.dataset.feature)),
		['call_blocking', 'cpl', 'call_screening', 'time_of_day', 'forward_no_answer', 'voicemail']);
	// nothing wider than the phone's screen
	assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 390), 'no sideways scrolling at 390px');

	// a bad target: provd's 422 next to the field, nothing stored
	await card.getByLabel('On', {exact: true}).check();
	await card.getByLabel('Forward to').fill('not a target');
	await card.getByRole('button', {name: 'Save'}).click();
	const targetErr = card.locator('.field', {has: page.getByLabel('Forward to')}).locator('.field-error');
	await targetErr.filter({hasText: /forward_no_answer\.target: must be a sip:, sips: or tel: URI/}).waitFor();
	assert.equal(await card.getByLabel('Forward to').getAttribute('aria-invalid'), 'true');
	assert.equal(await card.locator('.form-error').textContent(), '', 'the complaint is beside the field, not above the buttons');
	assert.equal(sql(`SELECT user_enabled FROM subscriber_features WHERE subscriber_id = ${featuredId} AND feature = 'forward_no_answer'`), 'f');

	// target and ring time; featured hears of it by NOTIFY
	const listener = await listen('vocal_changes');
	await card.getByLabel('Forward to').fill('+15550002002');
	await card.getByLabel('Ring time (seconds)').fill('30');
	await card.getByRole('button', {name: 'Save'}).click();
	await card.locator('.form-ok').filter({hasText: 'Saved.'}).waitFor();
	const notes = await listener.stop();
	const row = sql(`SELECT id, user_enabled, admin_enabled, settings::text FROM subscriber_features
		WHERE subscriber_id = ${featuredId} AND feature = 'forward_no_answer'`).split('|');
	assert.deepEqual(row.slice(1, 3), ['t', 't'], 'switched on, still offered');
	assert.deepEqual(JSON.parse(row[3]), {target: '+15550002002', ring_time: 30});
	assert.ok(notes.some((n) => n.channel === 'vocal_changes' && n.payload.table === 'subscriber_features' &&
		n.payload.op === 'UPDATE' && n.payload.id === Number(row[0]) && n.payload.subscriber_id === featuredId),
	`a NOTIFY named subscriber ${featuredId}'s subscriber_features row: ${JSON.stringify(notes)}`);
	await card.getByText('on', {exact: true}).waitFor();
	await card.getByText('to +15550002002 after 30 s').waitFor();
	await shot(page, 'features-390');

	// the carrier's locked call blocking: shown, every control disabled, the
	// markup in its message as text
	const cb = page.locator('#feature-call_blocking');
	await cb.getByText('Set up by your carrier: you cannot change it.').waitFor();
	assert.equal(await cb.getByLabel('On', {exact: true}).isDisabled(), true);
	assert.equal(await cb.getByLabel('On', {exact: true}).isChecked(), true);
	assert.equal(await cb.getByLabel('Blocked prefixes (one per line)').isDisabled(), true);
	assert.equal(await cb.getByLabel('Message to the caller').inputValue(), XSS);
	assert.equal(await cb.getByRole('button', {name: 'Save'}).isDisabled(), true);
	await cb.getByText(XSS, {exact: false}).first().waitFor();
	assert.equal(await page.locator('#app img, #app script').count(), 0, 'no element injected');
	// and the API refuses the subscriber's own session too
	const before = sql(`SELECT user_enabled, settings::text FROM subscriber_features WHERE subscriber_id = ${featuredId} AND feature = 'call_blocking'`);
	let res = await putFromPage(page, featuredId, 'call_blocking', {user_enabled: false});
	assert.equal(res.status, 403);
	assert.match(res.detail, /call_blocking is locked by the carrier/);
	res = await putFromPage(page, featuredId, 'call_blocking', {settings: {prefixes: []}});
	assert.equal(res.status, 403);
	res = await putFromPage(page, featuredId, 'forward_no_answer', {locked: true});
	assert.equal(res.status, 403, 'a subscriber may not lock');
	assert.match(res.detail, /may not change locked/);
	res = await putFromPage(page, featuredId, 'caller_id_blocking', {user_enabled: true});
	assert.equal(res.status, 403, 'nor switch on what the carrier withdrew');
	assert.equal(sql(`SELECT user_enabled, settings::text FROM subscriber_features WHERE subscriber_id = ${featuredId} AND feature = 'call_blocking'`), before);
	await page.setViewportSize({width: 1280, height: 800});
	await shot(page, 'features-1280');
	await page.setViewportSize({width: 390, height: 844});

	// someone else changes it meanwhile: the Save gets 412, the page reloads
	// the current values and says so
	const cur = await api('GET', `/subscribers/${featuredId}/features/forward_no_answer`);
	const changed = await api('PUT', `/subscribers/${featuredId}/features/forward_no_answer`,
		{settings: {target: '2001', ring_time: 45}}, {'If-Match': cur.etag});
	assert.equal(changed.status, 200);
	await card.getByLabel('Ring time (seconds)').fill('25');
	await card.getByRole('button', {name: 'Save'}).click();
	const reloaded = page.locator('#feature-forward_no_answer');
	await reloaded.locator('.notice').filter({hasText: /changed by someone else.*reloaded/}).waitFor();
	assert.equal(await reloaded.getByLabel('Ring time (seconds)').inputValue(), '45');
	assert.equal(await reloaded.getByLabel('Forward to').inputValue(), '2001');
	assert.deepEqual((await api('GET', `/subscribers/${featuredId}/features/forward_no_answer`)).body.settings, {target: '2001', ring_time: 45});
	// saving again now works
	await reloaded.getByLabel('Ring time (seconds)').fill('25');
	await reloaded.getByRole('button', {name: 'Save'}).click();
	await reloaded.locator('.form-ok').filter({hasText: 'Saved.'}).waitFor();
	assert.equal((await api('GET', `/subscribers/${featuredId}/features/forward_no_answer`)).body.settings.ring_time, 25);
	await ctx.close();
});

// last: it blocks logins from 127.0.0.1 for a while
test('too many failed logins: the login page says when to try again', async () => {
	let status = 0;
	for (let i = 0; i < 200 && status !== 429; i++) {
		const r = await fetch(BASE + '/api/v1/session', {method: 'POST', headers: {'Content-Type': 'application/json'},
			body: JSON.stringify({login: `nobody${i}`, password: 'wrong-password-123'})});
		status = r.status;
	}
	assert.equal(status, 429, 'provd throttles failed logins from one address');
	const ctx = await browser.newContext({baseURL: BASE});
	const page = watch(await ctx.newPage());
	await page.goto('/#/login');
	await page.getByLabel('Login').fill(ADMIN.login);
	await page.getByLabel('Password').fill(ADMIN.password);
	await page.getByRole('button', {name: 'Log in'}).click();
	await page.locator('form .form-error').filter({hasText: /Too many attempts; try again/}).waitFor();
	assert.equal(await page.locator('#logout').count(), 0);
	await ctx.close();
});

test('no page raised a script error or a CSP violation, and no dialog opened', () => {
	assert.deepEqual(pageErrors, []);
	assert.deepEqual(dialogs, []);
});

