// Forms: labelled fields with a place for the API's complaint about each,
// and one for complaints about the form as a whole.
import {h, replace} from './dom.js';
import {ApiError} from './api.js';

let seq = 0;

// field({name, label, type, value, required, options: [[value, text]...],
//        hint, ...attrs}): a labelled input (or select / textarea / checkbox).
export function field(spec) {
	const {name, label, type = 'text', value, options, hint, ...attrs} = spec;
	const id = `f-${name}-${++seq}`;
	const errId = `${id}-err`;
	let input;
	if (type === 'select') {
		input = h('select', {id, name, ...attrs},
			options.map(([v, t]) => h('option', {value: v, selected: String(v) === String(value ?? '')}, t)));
	} else if (type === 'textarea') {
		input = h('textarea', {id, name, rows: 3, ...attrs});
		input.value = value ?? '';
	} else if (type === 'checkbox') {
		input = h('input', {id, name, type, checked: !!value, ...attrs});
		return h('div.field.check', {},
			h('label', {for: id}, input, ' ', label),
			hint ? h('p.hint', {}, hint) : null,
			h('p.field-error', {id: errId, role: 'alert'}));
	} else {
		input = h('input', {id, name, type, ...attrs});
		input.value = value ?? '';
	}
	input.setAttribute('aria-describedby', errId);
	return h('div.field', {},
		h('label', {for: id}, label),
		input,
		hint ? h('p.hint', {}, hint) : null,
		h('p.field-error', {id: errId, role: 'alert'}));
}

// form({onsubmit, submit: 'Save', fields: [...], extra}): a form whose
// onsubmit(values, form) may throw an ApiError; the error lands next to the
// field it names, or above the buttons.
export function form({onsubmit, submit = 'Save', fields, extra, cls}) {
	const msg = h('p.form-error', {role: 'alert'});
	const ok = h('p.form-ok', {role: 'status'});
	const button = h('button', {type: 'submit', class: 'primary'}, submit);
	const f = h('form', {class: cls, novalidate: true}, fields, msg, ok, h('div.actions', {}, button, extra));
	f.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		clearProblems(f);
		button.disabled = true;
		try {
			const done = await onsubmit(values(f), f);
			if (typeof done === 'string') replace(ok, done);
		} catch (e) {
			showProblem(f, e);
		} finally {
			button.disabled = false;
		}
	});
	return f;
}

// The form's values: text as typed, checkboxes as booleans, number inputs
// as numbers ('' stays '').
export function values(f) {
	const out = {};
	for (const el of f.elements) {
		if (!el.name) continue;
		if (el.type === 'checkbox') out[el.name] = el.checked;
		else if (el.type === 'number') out[el.name] = el.value === '' ? '' : Number(el.value);
		else out[el.name] = el.value;
	}
	return out;
}

export function clearProblems(f) {
	for (const e of f.querySelectorAll('.field-error, .form-error, .form-ok')) e.replaceChildren();
	for (const e of f.querySelectorAll('[aria-invalid]')) e.removeAttribute('aria-invalid');
}

// The problem next to its field when the form has one by that name, else
// in the form's message line.
export function showProblem(f, e) {
	const text = problemText(e);
	const input = e instanceof ApiError && e.field ? f.querySelector(`[name="${CSS.escape(e.field)}"]`) : null;
	if (input) {
		input.setAttribute('aria-invalid', 'true');
		const err = f.querySelector('#' + CSS.escape(input.getAttribute('aria-describedby')));
		if (err) {
			replace(err, text);
			input.focus();
			return;
		}
	}
	replace(f.querySelector('.form-error'), text);
}

export function problemText(e) {
	if (e instanceof ApiError) {
		if (e.status === 412) return 'Someone changed this since you opened it; reload the page and try again.';
		if (e.status === 429)
			return `Too many attempts; try again ${e.retryAfter ? `in ${e.retryAfter} seconds` : 'later'}.`;
		return e.detail ? `${e.title}: ${e.detail}` : e.title;
	}
	return String(e && e.message ? e.message : e);
}

// A message box for a whole section (load errors).
export function errorBox(e) {
	return h('p.error-box', {role: 'alert'}, problemText(e));
}

// A button that asks once more before doing something that cannot be
// undone: the first click turns it into "Really …?" with a Cancel beside it
// (no window.confirm, which a page can be tricked into suppressing).
export function confirmButton(label, action, {confirmLabel} = {}) {
	const wrap = h('span.confirm');
	const start = h('button', {type: 'button', class: 'danger'}, label);
	const status = h('span.form-error', {role: 'alert'});
	const reset = () => replace(wrap, start, status);
	start.addEventListener('click', () => {
		const yes = h('button', {type: 'button', class: 'danger'}, confirmLabel || `Really ${label.toLowerCase()}?`);
		const no = h('button', {type: 'button'}, 'Cancel');
		no.addEventListener('click', reset);
		yes.addEventListener('click', async () => {
			yes.disabled = no.disabled = true;
			try {
				await action();
			} catch (e) {
				reset();
				replace(status, problemText(e));
			}
		});
		replace(wrap, yes, ' ', no);
		yes.focus();
	});
	reset();
	return wrap;
}
