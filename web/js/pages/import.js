// Bulk import of subscribers from a CSV file (POST /subscribers/import):
// all or nothing, or the good rows with the bad ones listed, each error
// with its row number in the file, the column and what is wrong.
import {api} from '../api.js';
import {h, link, replace} from '../dom.js';
import {field, form, problemText} from '../form.js';
import {table} from '../common.js';

const MAX_BYTES = 64 * 1024 * 1024; // provd's import.max_bytes default

function errorsTable(errors) {
	return table([
		['Row', (e) => String(e.row)],
		['Column', (e) => e.field || ''],
		['Problem', (e) => e.detail],
	], errors || [], {empty: 'No errors.'});
}

export async function render(main, params, query, current) {
	const result = h('div', {'aria-live': 'polite'});
	const f = form({
		submit: 'Import',
		fields: [
			field({name: 'file', label: 'CSV file', type: 'file', accept: '.csv,text/csv', required: true,
				hint: 'header row: user_part, domain (both required), display_name, password, auth_kind'}),
			field({name: 'partial', label: 'Import the good rows and list the bad ones', type: 'checkbox',
				hint: 'unticked: any error imports nothing'}),
		],
		onsubmit: async (v, el) => {
			const file = el.elements.file.files[0];
			replace(result);
			if (!file) throw new Error('Choose a CSV file first.');
			if (file.size > MAX_BYTES) throw new Error('The file is larger than 64 MiB; split it.');
			const text = await file.text();
			try {
				const {data} = await api('POST', '/subscribers/import', {
					body: text, type: 'text/csv', query: {partial: v.partial ? 'true' : ''}});
				replace(result, h('section.card', {id: 'import-result'}, h('h2', {}, 'Imported'),
					h('p', {role: 'status'}, `${data.created} of ${data.rows} rows imported` +
						(data.refused ? `, ${data.refused} refused:` : '.')),
					data.refused ? errorsTable(data.errors) : null,
					h('p', {}, link('See the subscribers', 'subscribers'))));
			} catch (e) {
				const errors = e.problem && Array.isArray(e.problem.errors) ? e.problem.errors : null;
				if (!errors) throw e;
				replace(result, h('section.card', {id: 'import-result'}, h('h2', {}, 'Nothing imported'),
					h('p.form-error', {role: 'alert'}, problemText(e)),
					errorsTable(errors)));
			}
		},
	});
	replace(main, h('p.crumbs', {}, link('Subscribers', 'subscribers')),
		h('h1', {}, 'Import subscribers'),
		h('section.card', {}, f, h('p.hint', {},
			'Passwords are stored as digests only. Rows are numbered as in the file (the header is row 1).')),
		result);
}
