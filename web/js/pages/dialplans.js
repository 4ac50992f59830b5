// Dial plans and their entries: ordered POSIX extended regular expressions
// to contact templates (\1..\9 from the pattern's groups). provd compiles
// each pattern before storing it and says what regcomp found wrong.
import {api, listAll} from '../api.js';
import {h, replace, link} from '../dom.js';
import {confirmButton, field, form} from '../form.js';
import {table} from '../common.js';
import {go} from '../app.js';

export async function renderList(main, params, query, current) {
	const {items} = await listAll('/dial-plans', {}, 10000);
	if (!current()) return;
	replace(main, h('h1', {}, 'Dial plans'),
		h('section.card', {}, table([
			['Name', (p) => link(p.name, 'dial-plans', p.id)],
			['Description', (p) => p.description],
		], items, {empty: 'No dial plans yet.'})),
		h('section.card', {}, h('h2', {}, 'New dial plan'), form({
			submit: 'Create dial plan',
			fields: [
				field({name: 'name', label: 'Name', maxlength: 63, required: true}),
				field({name: 'description', label: 'Description', maxlength: 1024}),
			],
			onsubmit: async (v) => {
				const {data} = await api('POST', '/dial-plans', {body: v});
				go(`dial-plans/${data.id}`);
			},
		})));
}

function entryFields(e = {}) {
	return [
		field({name: 'position', label: 'Position', type: 'number', value: e.position ?? '', min: 0, required: true, hint: 'lowest first'}),
		field({name: 'pattern', label: 'Pattern (POSIX extended regex)', value: e.pattern, maxlength: 1024, required: true, spellcheck: 'false', autocapitalize: 'none', class: 'mono'}),
		field({name: 'contact_template', label: 'Contact template', value: e.contact_template, placeholder: 'sip:\\1@gateway.example', maxlength: 1024, required: true, spellcheck: 'false', autocapitalize: 'none', class: 'mono'}),
	];
}

export async function renderPlan(main, params, query, current) {
	const pid = params.id;
	const [{data: plan, etag}, {items}] = await Promise.all([
		api('GET', `/dial-plans/${pid}`), listAll(`/dial-plans/${pid}/entries`, {}, 10000)]);
	if (!current()) return;
	let tag = etag;
	items.sort((a, b) => a.position - b.position || a.id - b.id);
	const reload = () => go(`dial-plans/${pid}`);
	const next = items.length ? items[items.length - 1].position + 10 : 10;
	const editEntry = async (e, tr) => {
		const {data, etag: etag2} = await api('GET', `/dial-plan-entries/${e.id}`);
		replace(tr, h('td.edit-cell', {colspan: 4}, form({
			cls: 'compact',
			fields: entryFields(data),
			extra: h('button', {type: 'button', onclick: reload}, 'Cancel'),
			onsubmit: async (v) => {
				await api('PATCH', `/dial-plan-entries/${e.id}`, {etag: etag2, body: v});
				reload();
			},
		})));
	};
	replace(main, h('p.crumbs', {}, link('Dial plans', 'dial-plans')), h('h1', {}, plan.name),
		plan.description ? h('p.muted', {}, plan.description) : null,
		h('section.card', {}, h('h2', {}, 'Entries, in order'), table([
			['Position', (e) => e.position],
			['Pattern', (e) => h('code', {}, e.pattern)],
			['Contact', (e) => h('code', {}, e.contact_template)],
			['', (e) => {
				const edit = h('button', {type: 'button'}, 'Edit');
				edit.addEventListener('click', () => editEntry(e, edit.closest('tr')).catch(() => reload()));
				return h('span.row-actions', {}, edit, ' ', confirmButton('Delete', async () => {
					const {etag: etag2} = await api('GET', `/dial-plan-entries/${e.id}`);
					await api('DELETE', `/dial-plan-entries/${e.id}`, {etag: etag2});
					reload();
				}));
			}],
		], items, {empty: 'No entries: nothing is routed by this plan.'})),
		h('section.card', {}, h('h2', {}, 'Add an entry'), form({
			submit: 'Add entry', cls: 'compact',
			fields: entryFields({position: next}),
			onsubmit: async (v) => {
				await api('POST', `/dial-plans/${pid}/entries`, {body: v});
				reload();
			},
		})),
		h('section.card', {}, h('h2', {}, 'Plan'), form({
			fields: [
				field({name: 'name', label: 'Name', value: plan.name, maxlength: 63}),
				field({name: 'description', label: 'Description', value: plan.description, maxlength: 1024}),
			],
			onsubmit: async (v) => {
				const r = await api('PATCH', `/dial-plans/${pid}`, {etag: tag, body: v});
				tag = r.etag;
				return 'Saved.';
			},
		})),
		h('section.card.danger-zone', {}, h('h2', {}, 'Delete'),
			confirmButton('Delete dial plan', async () => {
				await api('DELETE', `/dial-plans/${pid}`, {etag: tag});
				go('dial-plans');
			})));
}
