// Building the page without innerHTML: every piece of data becomes a text
// node (textContent), so a display name such as <script>…</script> shows as
// those characters and never as markup.

// h('tag.class', {attr: value, onclick: fn}, child, ...): an element.
// Children: nodes, strings (text nodes), numbers, arrays, null/false (skipped).
export function h(tag, props, ...children) {
	const [name, ...classes] = tag.split('.');
	const el = document.createElement(name || 'div');
	if (classes.length) el.className = classes.join(' ');
	for (const [k, v] of Object.entries(props || {})) {
		if (v === undefined || v === null || v === false) continue;
		if (k === 'class') el.classList.add(...String(v).split(/\s+/).filter(Boolean));
		else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
		else if (k === 'dataset') Object.assign(el.dataset, v);
		else if (k === 'value' || k === 'checked' || k === 'selected' || k === 'disabled') el[k] = v;
		else el.setAttribute(k, v === true ? '' : String(v));
	}
	append(el, children);
	return el;
}

export function append(el, children) {
	for (const c of [children].flat(Infinity)) {
		if (c === undefined || c === null || c === false) continue;
		el.append(c instanceof Node ? c : document.createTextNode(String(c)));
	}
	return el;
}

// Replaces el's children.
export function replace(el, ...children) {
	el.replaceChildren();
	return append(el, children);
}

// A link inside the GUI: href built from path parts, each encoded.
export function link(text, ...parts) {
	return h('a', {href: '#/' + parts.map((p) => encodeURIComponent(String(p))).join('/')}, text);
}

export function fmtTime(iso) {
	if (!iso) return '';
	const d = new Date(iso);
	if (Number.isNaN(d.getTime())) return String(iso);
	return d.toLocaleString(undefined, {dateStyle: 'medium', timeStyle: 'short'});
}

// 2026-11-25 18:58:03 (local time): compact, sortable, for logs.
export function fmtStamp(iso) {
	if (!iso) return '';
	const d = new Date(iso);
	if (Number.isNaN(d.getTime())) return String(iso);
	const p = (n) => String(n).padStart(2, '0');
	return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
