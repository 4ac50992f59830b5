// Feature subscriptions (/api/v1/subscribers/{id}/features), as the
// carrier and the subscriber edit them. One form per feature kind; its
// settings fields carry the member names of feature/settings.c (target,
// ring_time, uri, on_busy, on_no_answer, callers, action, prefixes, reason,
// tzid, when, periods[].days/start/end, script), so that provd's one-line
// complaint "forward_no_answer.target: ..." lands next to the field it
// names. Every replace sends the ETag of the list it was shown from; a 412
// reloads the features and says so.
import {api, ApiError, listAll} from './api.js';
import {h, replace} from './dom.js';
import {confirmButton, errorBox, field, form} from './form.js';

// What each kind is called and does, in the subscriber's words.
const KINDS = {
	call_return: {title: 'Call return', about: 'Call back whoever called you last.'},
	call_blocking: {title: 'Call blocking', about: 'Your outgoing calls to numbers starting with one of these prefixes are refused.'},
	cpl: {title: 'Own call script (CPL)', about: 'A call processing script of your own (RFC 3880), run instead of the generated one for the side it has an action for.'},
	caller_id_blocking: {title: 'Caller-ID blocking', about: 'The people you call do not see who is calling.'},
	call_screening: {title: 'Call screening', about: 'Calls from these callers are refused, get busy, or go to voicemail.'},
	time_of_day: {title: 'Time of day', about: 'Calls inside (or outside) some hours of the week go to another number.'},
	forward_all: {title: 'Forward all calls', about: 'Every call goes to another number.'},
	forward_busy: {title: 'Forward when busy', about: 'When you are on the phone, calls go to another number.'},
	forward_no_answer: {title: 'Forward on no answer', about: 'When you do not answer in time, the call goes to another number.'},
	voicemail: {title: 'Voicemail', about: 'Calls you do not take go to voicemail (unless a forward takes them first).'},
};
const DAYS = [['MO', 'Mon'], ['TU', 'Tue'], ['WE', 'Wed'], ['TH', 'Thu'], ['FR', 'Fri'], ['SA', 'Sat'], ['SU', 'Sun']];
const RING_DEFAULT = 20;
const TARGET_HINT = 'a number, a user of your domain, or a sip:, sips: or tel: address';

export function kindTitle(kind) {
	return KINDS[kind] ? KINDS[kind].title : String(kind).replace(/_/g, ' ');
}

const str = (v) => (typeof v === 'string' ? v : '');
const list = (v) => (Array.isArray(v) ? v.filter((x) => typeof x === 'string') : []);

// The settings in one line of text (shown as text: never markup).
export function describe(kind, s) {
	s = s && typeof s === 'object' ? s : {};
	switch (kind) {
	case 'forward_all':
	case 'forward_busy':
		return s.target ? `to ${str(s.target)}` : 'no target yet';
	case 'forward_no_answer':
		return s.target ? `to ${str(s.target)} after ${s.ring_time ?? RING_DEFAULT} s` : 'no target yet';
	case 'voicemail':
		return `${s.uri ? str(s.uri) : 'the carrier\'s voicemail'}; when busy: ${s.on_busy === false ? 'no' : 'yes'}; ` +
			`on no answer: ${s.on_no_answer === false ? 'no' : `after ${s.ring_time ?? RING_DEFAULT} s`}`;
	case 'call_screening': {
		const c = list(s.callers);
		return `${c.length ? c.join(', ') : 'nobody'}: ${str(s.action) || 'reject'}`;
	}
	case 'call_blocking': {
		const p = list(s.prefixes);
		return `${p.length ? p.join(', ') : 'no prefixes'}: “${str(s.reason) || 'Outgoing call blocked'}”`;
	}
	case 'time_of_day': {
		const ps = Array.isArray(s.periods) ? s.periods : [];
		const per = ps.map((p) => `${list(p && p.days).join(' ')} ${str(p && p.start)}–${str(p && p.end)}`).join(', ');
		return `${str(s.when) === 'outside' ? 'outside' : 'inside'} ${per || 'no periods'} (${str(s.tzid)}) to ${str(s.target)}`;
	}
	case 'cpl':
		return s.script ? `a script of ${str(s.script).length} characters` : 'no script yet';
	case 'call_return':
	case 'caller_id_blocking':
		return '';
	default:
		return JSON.stringify(s);
	}
}

// The form fields of one kind's settings, filled from s.
export function settingsFields(kind, s) {
	s = s && typeof s === 'object' ? s : {};
	switch (kind) {
	case 'forward_all':
	case 'forward_busy':
		return [field({name: 'target', label: 'Forward to', value: str(s.target), hint: TARGET_HINT,
			maxlength: 256, autocapitalize: 'none', spellcheck: 'false', inputmode: 'email'})];
	case 'forward_no_answer':
		return [
			field({name: 'target', label: 'Forward to', value: str(s.target), hint: TARGET_HINT,
				maxlength: 256, autocapitalize: 'none', spellcheck: 'false', inputmode: 'email'}),
			field({name: 'ring_time', label: 'Ring time (seconds)', type: 'number', value: s.ring_time ?? RING_DEFAULT,
				min: 5, max: 180, step: 1, hint: '5 to 180 seconds before the call is forwarded'}),
		];
	case 'voicemail':
		return [
			field({name: 'uri', label: 'Voicemail address', value: str(s.uri), maxlength: 256,
				autocapitalize: 'none', spellcheck: 'false', hint: 'empty: the carrier\'s voicemail'}),
			field({name: 'on_busy', label: 'When busy', type: 'checkbox', value: s.on_busy !== false}),
			field({name: 'on_no_answer', label: 'When not answered', type: 'checkbox', value: s.on_no_answer !== false}),
			field({name: 'ring_time', label: 'Ring time (seconds)', type: 'number', value: s.ring_time ?? RING_DEFAULT,
				min: 5, max: 180, step: 1, hint: 'used unless forward on no answer is on'}),
		];
	case 'call_screening':
		return [
			field({name: 'callers', label: 'Callers (one per line)', type: 'textarea', value: list(s.callers).join('\n'),
				rows: 4, autocapitalize: 'none', spellcheck: 'false',
				hint: 'sip:user@host, @domain (a whole domain), a number, or anonymous; at most 100'}),
			field({name: 'action', label: 'What they get', type: 'select', value: str(s.action) || 'reject',
				options: [['reject', 'refused'], ['busy', 'busy'], ['voicemail', 'voicemail']]}),
		];
	case 'call_blocking':
		return [
			field({name: 'prefixes', label: 'Blocked prefixes (one per line)', type: 'textarea', value: list(s.prefixes).join('\n'),
				rows: 3, inputmode: 'tel', hint: 'digits, with an optional leading +, e.g. 1900'}),
			field({name: 'reason', label: 'Message to the caller', value: str(s.reason), maxlength: 128,
				hint: 'empty: “Outgoing call blocked”'}),
		];
	case 'time_of_day': {
		const ps = Array.isArray(s.periods) ? s.periods : [];
		const p = ps[0] && typeof ps[0] === 'object' ? ps[0] : {days: ['MO', 'TU', 'WE', 'TH', 'FR'], start: '09:00', end: '17:00'};
		let tz = str(s.tzid);
		if (!tz) {
			try {
				tz = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
			} catch {
				tz = 'UTC';
			}
		}
		return [
			field({name: 'when', label: 'Calls', type: 'select', value: str(s.when) || 'inside',
				options: [['inside', 'inside these hours'], ['outside', 'outside these hours']]}),
			daysField(list(p.days)),
			h('div.pair', {},
				field({name: 'start', label: 'From (HH:MM)', value: str(p.start), maxlength: 5, inputmode: 'numeric', placeholder: '09:00'}),
				field({name: 'end', label: 'To (HH:MM)', value: str(p.end), maxlength: 5, inputmode: 'numeric', placeholder: '17:00',
					hint: 'before From: overnight; 24:00 is midnight'})),
			field({name: 'tzid', label: 'Time zone', value: tz, maxlength: 64, autocapitalize: 'none', spellcheck: 'false',
				hint: 'e.g. Europe/Paris'}),
			field({name: 'target', label: 'Go to', value: str(s.target), hint: TARGET_HINT, maxlength: 256,
				autocapitalize: 'none', spellcheck: 'false'}),
			ps.length > 1 ? h('p.hint', {}, `${ps.length - 1} more period(s), set through the API, are kept as they are.`) : null,
		];
	}
	case 'cpl':
		return [field({name: 'script', label: 'CPL script (XML)', type: 'textarea', value: str(s.script), rows: 12,
			class: 'mono', autocapitalize: 'none', spellcheck: 'false'})];
	case 'call_return':
	case 'caller_id_blocking':
		return [];
	default:
		return [field({name: 'settings_json', label: 'Settings (JSON)', type: 'textarea', value: JSON.stringify(s, null, 2),
			rows: 6, class: 'mono', spellcheck: 'false'})];
	}
}

let daySeq = 0;

// Seven checkboxes named days, sharing one place for the complaint.
function daysField(selected) {
	const errId = `f-days-${++daySeq}-err`;
	return h('fieldset.field.days', {},
		h('legend', {}, 'Days'),
		h('div.day-list', {}, DAYS.map(([d, t]) => h('label', {},
			h('input', {type: 'checkbox', name: 'days', value: d, checked: selected.includes(d), 'aria-describedby': errId}), ' ', t))),
		h('p.field-error', {id: errId, role: 'alert'}));
}

function invalid(fieldName, text) {
	return new ApiError(422, {title: 'Invalid field', detail: `${fieldName}: ${text}`});
}

// The settings object the form f holds for kind (old: the stored settings,
// for what the form does not show), or undefined for kinds without
// settings.
// Settings with nothing chosen yet (a forward without its target): not
// sent while the feature is off, so the carrier can offer a forward and
// leave the target to the subscriber (provd checks them once it is on).
function unchosen(kind, settings) {
	return settings && typeof settings === 'object' && 'target' in settings && settings.target === '';
}

export function readSettings(kind, f, old) {
	const el = (n) => f.elements.namedItem(n);
	const text = (n) => (el(n) ? el(n).value.trim() : '');
	const lines = (n) => text(n).split('\n').map((x) => x.trim()).filter(Boolean);
	const ring = (o) => {
		const v = el('ring_time') ? el('ring_time').value.trim() : '';
		if (v !== '') o.ring_time = Number(v);
		return o;
	};
	switch (kind) {
	case 'forward_all':
	case 'forward_busy':
		return {target: text('target')};
	case 'forward_no_answer':
		return ring({target: text('target')});
	case 'voicemail': {
		const o = {on_busy: el('on_busy').checked, on_no_answer: el('on_no_answer').checked};
		if (text('uri')) o.uri = text('uri');
		return ring(o);
	}
	case 'call_screening':
		return {callers: lines('callers'), action: el('action').value};
	case 'call_blocking': {
		const o = {prefixes: lines('prefixes')};
		if (el('reason').value !== '') o.reason = el('reason').value;
		return o;
	}
	case 'time_of_day': {
		const days = [...f.querySelectorAll('input[name="days"]:checked')].map((x) => x.value);
		const rest = old && Array.isArray(old.periods) ? old.periods.slice(1) : [];
		return {tzid: text('tzid'), when: el('when').value, target: text('target'),
			periods: [{days, start: text('start'), end: text('end')}, ...rest]};
	}
	case 'cpl':
		return {script: el('script').value};
	case 'call_return':
	case 'caller_id_blocking':
		return undefined;
	default: {
		let v;
		try {
			v = JSON.parse(el('settings_json').value || '{}');
		} catch {
			throw invalid('settings_json', 'not valid JSON');
		}
		if (!v || typeof v !== 'object' || Array.isArray(v)) throw invalid('settings_json', 'must be a JSON object');
		return v;
	}
	}
}

// The form field a settings complaint names: "forward_no_answer.target:
// ..." is target, "call_screening.callers[2]: ..." callers,
// "time_of_day.periods[0].start: ..." start.
export function settingsProblemField(detail) {
	const m = /^[a-z_]+\.([a-z_]+)(?:\[\d+\])?(?:\.([a-z_]+))?: /.exec(detail || '');
	return m ? m[2] || m[1] : null;
}

function statusText(f) {
	if (!f) return 'not subscribed';
	const parts = [f.active ? 'on' : 'off'];
	if (!f.admin_enabled) parts.push('not offered');
	if (f.locked) parts.push('locked by the carrier');
	return parts.join(', ');
}

function summaryLine(f) {
	const d = f ? describe(f.feature, f.settings) : '';
	return d ? h('span.feature-settings', {}, d) : null;
}

// PUT one subscription. A settings complaint goes next to its field; a 412
// (someone else changed it) reloads the features, saying so beside this
// one; the promise then resolves to null.
async function putFeature(sid, kind, etag, body, reload) {
	try {
		return await api('PUT', `/subscribers/${sid}/features/${encodeURIComponent(kind)}`, {etag, body});
	} catch (e) {
		if (e instanceof ApiError && e.status === 412) {
			await reload({kind, text: `${kindTitle(kind)} was changed by someone else since this page was shown: ` +
				'it has been reloaded with the current values. Check them and save again.'});
			return null;
		}
		if (e instanceof ApiError) {
			const fld = settingsProblemField(e.detail);
			if (fld) e.field = fld;
		}
		throw e;
	}
}

// A message about one feature after a reload: {kind, text, ok}.
function notice(n, kind) {
	if (!n || n.kind !== kind) return null;
	return n.ok ? h('p.form-ok', {role: 'status'}, n.text) : h('p.notice', {role: 'alert'}, n.text);
}

// ---- the subscriber's own features ----------------------------------------

// The features the carrier offers this subscriber, each a form that
// switches it and changes its settings; locked ones shown with every
// control disabled.
export function myFeaturesSection(sid) {
	const body = h('div', {}, h('p.loading', {}, 'Loading…'));
	const sec = h('div', {id: 'features'}, body);
	const load = async (note) => {
		try {
			const {data} = await api('GET', `/subscribers/${sid}/features`);
			const offered = (data.items || []).filter((f) => f.admin_enabled);
			replace(body, offered.length
				? h('div.feature-cards', {}, offered.map((f) => myFeatureCard(sid, f, load, note)))
				: h('p.muted.empty', {}, 'Your carrier offers you no features yet.'));
			const n = note && body.querySelector(`#feature-${CSS.escape(note.kind)} .notice`);
			if (n) n.scrollIntoView({block: 'center'});
		} catch (e) {
			replace(body, errorBox(e));
		}
	};
	load();
	return sec;
}

function myFeatureCard(sid, f, reload, note) {
	const kind = f.feature;
	const info = KINDS[kind] || {title: kindTitle(kind), about: ''};
	let tag = f.etag;
	let stored = f.settings;
	const status = h('p.feature-status', {}, statusText(f));
	const summary = h('p.feature-summary', {}, summaryLine(f));
	const fm = form({
		submit: 'Save',
		fields: h('fieldset.plain', {disabled: f.locked},
			h('legend.sr-only', {}, info.title),
			field({name: 'user_enabled', label: 'On', type: 'checkbox', value: f.user_enabled}),
			settingsFields(kind, f.settings)),
		onsubmit: async (v, el) => {
			const body = {user_enabled: el.elements.namedItem('user_enabled').checked};
			const settings = readSettings(kind, el, stored);
			if (settings !== undefined && !(unchosen(kind, settings) && !body.user_enabled)) body.settings = settings;
			const r = await putFeature(sid, kind, tag, body, reload);
			if (!r) return undefined;
			tag = r.etag;
			stored = r.data.settings;
			replace(status, statusText(r.data));
			replace(summary, summaryLine(r.data));
			return 'Saved.';
		},
	});
	if (f.locked) fm.querySelector('button[type="submit"]').disabled = true;
	return h('section.card.feature', {id: `feature-${kind}`, dataset: {feature: kind}},
		h('h2', {}, info.title),
		h('p.muted', {}, info.about),
		status,
		f.locked ? h('p.hint.locked', {}, 'Set up by your carrier: you cannot change it.') : null,
		summary,
		notice(note, kind),
		fm);
}

// ---- the carrier's view of one subscriber ---------------------------------

// Every feature kind: subscribe, offer or withdraw (admin_enabled), switch
// (user_enabled), lock, the feature server group, the settings; remove;
// the generated CPL script, as text.
export function carrierFeaturesSection(sid) {
	const body = h('div', {}, h('p.loading', {}, 'Loading…'));
	const sec = h('section.card', {id: 'features'}, h('h2', {}, 'Features'),
		h('p.muted', {}, 'Offered features the subscriber can switch on and set up, unless locked. ' +
			'A feature is active when it is both offered and on.'), body);
	const open = new Set();
	const load = async (note) => {
		try {
			const [{data: kinds}, {data: subs}, groups] = await Promise.all([
				api('GET', '/feature-kinds'),
				api('GET', `/subscribers/${sid}/features`),
				listAll('/server-groups', {kind: 'feature'}, 1000),
			]);
			for (const d of body.querySelectorAll('details.feature[open]')) open.add(d.dataset.feature);
			if (note) open.add(note.kind);
			const byKind = new Map((subs.items || []).map((f) => [f.feature, f]));
			replace(body, (kinds.items || []).map((k) =>
				carrierFeature(sid, k, byKind.get(k.name), groups.items, {reload: load, note, open})));
		} catch (e) {
			replace(body, errorBox(e));
		}
	};
	load();
	return sec;
}

function carrierFeature(sid, kind, f, groups, {reload, note, open}) {
	const name = kind.name;
	const info = KINDS[name] || {title: kindTitle(name), about: ''};
	const path = `/subscribers/${sid}/features/${encodeURIComponent(name)}`;
	const groupOptions = groups.map((g) => [g.id, `${g.name} (group ${g.id})`]);
	if (f && !groups.some((g) => g.id === f.group_id)) groupOptions.unshift([f.group_id, `group ${f.group_id}`]);
	if (!f) groupOptions.unshift(['', 'the domain\'s default feature group']);
	const fm = form({
		submit: f ? 'Save' : 'Subscribe',
		fields: [
			h('div.checks', {},
				field({name: 'admin_enabled', label: 'Offered to the subscriber', type: 'checkbox', value: f ? f.admin_enabled : true}),
				field({name: 'user_enabled', label: 'On', type: 'checkbox', value: f ? f.user_enabled : false}),
				field({name: 'locked', label: 'Locked (the subscriber cannot change it)', type: 'checkbox', value: f ? f.locked : false})),
			field({name: 'group_id', label: 'Feature server group', type: 'select', value: f ? f.group_id : '', options: groupOptions}),
			settingsFields(name, f && f.settings),
		],
		onsubmit: async (v, el) => {
			const body = {admin_enabled: v.admin_enabled, user_enabled: v.user_enabled, locked: v.locked};
			if (v.group_id !== '') body.group_id = Number(v.group_id);
			const settings = readSettings(name, el, f && f.settings);
			if (settings !== undefined && !(unchosen(name, settings) && !v.user_enabled)) body.settings = settings;
			const r = await putFeature(sid, name, f ? f.etag : undefined, body, reload);
			if (r) await reload({kind: name, text: f ? 'Saved.' : 'Subscribed.', ok: true});
			return undefined;
		},
		extra: f ? confirmButton('Remove', async () => {
			try {
				await api('DELETE', path, {etag: f.etag});
			} catch (e) {
				if (e instanceof ApiError && e.status === 412) {
					await reload({kind: name, text: `${info.title} was changed by someone else meanwhile: reloaded; remove it again if you still want to.`});
					return;
				}
				throw e;
			}
			await reload();
		}, {confirmLabel: 'Really remove?'}) : null,
	});
	const d = h('details.feature', {id: `feature-${name}`, dataset: {feature: name}, open: open.has(name)},
		h('summary', {},
			h('span.feature-title', {}, info.title),
			h('span.feature-status', {}, statusText(f)),
			summaryLine(f)),
		h('p.muted', {}, info.about, ` Runs on the ${kind.side === 'both' ? 'calling and called' : kind.side} side.`),
		notice(note, name),
		fm,
		f ? scriptViewer(sid, name, kind.side) : null);
	return d;
}

// The CPL featured runs for the subscriber's hop on the feature's side(s),
// shown as text in a <pre>.
function scriptViewer(sid, name, side) {
	const out = h('div.scripts');
	const button = h('button', {type: 'button'}, 'Show the generated script');
	button.addEventListener('click', async () => {
		button.disabled = true;
		const sides = side === 'both' ? ['called', 'calling'] : [side];
		try {
			const shown = await Promise.all(sides.map(async (s) => {
				const r = await api('GET', `/subscribers/${sid}/features/${encodeURIComponent(name)}/script`,
					{text: true, query: side === 'both' ? {side: s} : undefined});
				return [h('h3', {}, `${s} side`),
					r.status === 204 || !r.data
						? h('p.muted', {}, 'No script: nothing of this side that CPL expresses is active.')
						: h('pre.script', {tabindex: 0}, h('code', {}, r.data))];
			}));
			replace(out, shown);
		} catch (e) {
			replace(out, errorBox(e));
		} finally {
			button.disabled = false;
		}
	});
	return h('div.script-view', {}, h('div.actions', {}, button), out);
}
