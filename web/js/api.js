// The JSON API under /api/v1, as the GUI uses it: the session cookie goes
// along by itself (same origin); every request that changes something
// carries the session's CSRF token in X-CSRF-Token; answers that are not
// 2xx become an ApiError holding the problem document (RFC 9457).

let csrfToken = null;
let onExpired = null;

export function setCsrfToken(token) {
	csrfToken = token || null;
}

// fn(): called when a request other than the session's own gets a 401
// (the session ended or expired).
export function onSessionExpired(fn) {
	onExpired = fn;
}

export class ApiError extends Error {
	constructor(status, problem, retryAfter) {
		const p = problem && typeof problem === 'object' ? problem : {};
		super(p.detail || p.title || `HTTP ${status}`);
		this.status = status;
		this.title = p.title || `HTTP ${status}`;
		this.detail = p.detail || '';
		this.retryAfter = retryAfter;
		this.field = problemField(this.detail);
		this.problem = p;          // the whole document (an import's errors)
	}
}

// The field a problem's detail names: "display_name: too long ..." or
// PostgreSQL's "Key (domain_id, user_part)=(1, 1000) already exists."
export function problemField(detail) {
	if (!detail) return null;
	let m = /^([a-z_][a-z0-9_]*): /.exec(detail);
	if (m) return m[1];
	m = /^Key \(([a-z_][a-z0-9_]*)(, ([a-z_][a-z0-9_]*))*\)=/.exec(detail);
	if (m) return m[3] || m[1];
	return null;
}

// api(method, path, {body, type, etag, query, text}): {status, data, etag}.
// path is under /api/v1 ("/subscribers/7"); query an object of parameters;
// body is sent as JSON, or as it is with type as its Content-Type (a CSV
// file); with text, data is the answer as text (a CPL script), not JSON.
export async function api(method, path, opts = {}) {
	const headers = {Accept: 'application/json, application/problem+json'};
	if (opts.text) headers.Accept = 'application/xml, application/problem+json';
	if (opts.body !== undefined) headers['Content-Type'] = opts.type || 'application/json';
	if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
	if (opts.etag) headers['If-Match'] = opts.etag;
	let url = '/api/v1' + path;
	if (opts.query) {
		const q = new URLSearchParams();
		for (const [k, v] of Object.entries(opts.query))
			if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
		const s = q.toString();
		if (s) url += '?' + s;
	}
	let res;
	try {
		res = await fetch(url, {
			method,
			headers,
			body: opts.body === undefined ? undefined : opts.type ? opts.body : JSON.stringify(opts.body),
			credentials: 'same-origin',
			cache: 'no-store',
			redirect: 'error',
		});
	} catch (e) {
		throw new ApiError(0, {title: 'Network error', detail: 'provd did not answer; check the connection and try again'});
	}
	const text = await res.text();
	let data = null;
	if (text && opts.text && res.ok) {
		data = text;
	} else if (text) {
		try {
			data = JSON.parse(text);
		} catch {
			data = null;
		}
	}
	if (!res.ok) {
		const err = new ApiError(res.status, data, res.headers.get('Retry-After'));
		if (res.status === 401 && !path.startsWith('/session') && onExpired) onExpired();
		throw err;
	}
	return {status: res.status, data, etag: res.headers.get('ETag')};
}

// Every item of a keyset-paged list ({items, next}), at most max items.
// Returns {items, more}: more is true when max cut the list short.
export async function listAll(path, query = {}, max = 10000) {
	const items = [];
	let after;
	for (;;) {
		const {data} = await api('GET', path, {query: {...query, limit: 1000, after}});
		items.push(...data.items);
		if (data.next === null || data.next === undefined) return {items, more: false};
		if (items.length >= max) return {items, more: true};
		after = data.next;
	}
}
