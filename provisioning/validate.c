/* Request-body validation of the provisioning API (validate.h). */
#include "provisioning/validate.h"

#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "regex_guard.h"

int problem_set(struct problem *p, int status, const char *title, const char *fmt, ...)
{
	va_list ap;
	p->status = status;
	snprintf(p->title, sizeof(p->title), "%s", title);
	va_start(ap, fmt);
	vsnprintf(p->detail, sizeof(p->detail), fmt, ap);
	va_end(ap);
	return -1;
}

static bool is_alnum_lower(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* RFC 1035 labels, lower case, as the domains.name CHECK. */
bool valid_domain_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 253)
		return false;
	const char *label = s;
	for (const char *c = s;; c++) {
		if (*c == '.' || *c == 0) {
			size_t l = (size_t)(c - label);
			if (l == 0 || l > 63 || !is_alnum_lower(label[0]) || !is_alnum_lower(c[-1]))
				return false;
			if (*c == 0)
				return true;
			label = c + 1;
		} else if (!is_alnum_lower(*c) && *c != '-') {
			return false;
		}
	}
}

/* Printable ASCII without '"' and '\\' (it goes into a quoted-string),
 * no blank at either end, 1 to 128 bytes. */
bool valid_realm(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 128 || s[0] == ' ' || s[n - 1] == ' ')
		return false;
	for (const char *c = s; *c; c++)
		if (*c < 0x20 || *c > 0x7e || *c == '"' || *c == '\\')
			return false;
	return true;
}

/* RFC 3261 user: unreserved, user-unreserved, escaped; 1 to 64 bytes. */
bool valid_user_part(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("_.!~*'()&=+$,;?/-", c))
			continue;
		if (c == '%' && s[i + 1] && s[i + 2] &&
		    strchr("0123456789abcdefABCDEF", s[i + 1]) && strchr("0123456789abcdefABCDEF", s[i + 2])) {
			i += 2;
			continue;
		}
		return false;
	}
	return true;
}

/* E.164 with its '+', as the dids.number CHECK: ^\+[1-9][0-9]{1,14}$ */
bool valid_e164(const char *s)
{
	size_t n = strlen(s);
	if (n < 3 || n > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9')
		return false;
	return strspn(s + 1, "0123456789") == n - 1;
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool valid_group_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 63 || !is_alnum(s[0]))
		return false;
	for (const char *c = s + 1; *c; c++)
		if (!is_alnum(*c) && !strchr("_.-", *c))
			return false;
	return true;
}

static const char *const server_kinds[] = {"marshal_ua", "marshal_gateway", "redirect", "feature",
					   "cdr", "provisioning", "heartbeat", "voicemail", NULL};
static const char *const transports[] = {"udp", "tcp", "tls", "sctp", "ws", "wss", NULL};

static bool one_of(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return true;
	return false;
}

bool valid_server_kind(const char *s)
{
	return one_of(s, server_kinds);
}

bool valid_transport(const char *s)
{
	return one_of(s, transports);
}

/* The servers.host CHECK: at most 253 bytes and either
 * ^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$ or ^[0-9A-Fa-f:.]+$ */
bool valid_host(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 253)
		return false;
	if (strspn(s, "0123456789abcdefABCDEF:.") == n)
		return true;
	if (!is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return false;
	for (const char *c = s; *c; c++)
		if (!is_alnum(*c) && *c != '.' && *c != '-')
			return false;
	return true;
}

/* Counts UTF-8 characters (jansson has checked the encoding). */
static size_t utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* The body as a JSON object, or a 400 problem. */
static json_t *load_object(const char *text, size_t len, struct problem *p)
{
	json_error_t e;
	if (len > API_BODY_MAX) {
		problem_set(p, 413, "Request body too large", "the body is %zu bytes, at most %d are accepted",
			    len, API_BODY_MAX);
		return NULL;
	}
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e);
	if (!root) {
		problem_set(p, 400, "Malformed JSON", "line %d, column %d: %s", e.line, e.column, e.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		problem_set(p, 400, "Malformed request", "the body must be a JSON object");
		return NULL;
	}
	return root;
}

/* A string member without NUL bytes into buf (at most max bytes). */
static int get_string(json_t *v, const char *field, char *buf, size_t max, struct problem *p)
{
	if (!json_is_string(v))
		return problem_set(p, 422, "Invalid field", "%s: must be a string", field);
	size_t n = json_string_length(v);
	const char *s = json_string_value(v);
	if (memchr(s, 0, n))
		return problem_set(p, 422, "Invalid field", "%s: must not contain NUL", field);
	if (n > max)
		return problem_set(p, 422, "Invalid field", "%s: too long (at most %zu bytes)", field, max);
	memcpy(buf, s, n);
	buf[n] = 0;
	return 0;
}

static int get_bool(json_t *v, const char *field, bool *out, struct problem *p)
{
	if (!json_is_boolean(v))
		return problem_set(p, 422, "Invalid field", "%s: must be true or false", field);
	*out = json_is_true(v);
	return 0;
}

static int get_int(json_t *v, const char *field, int min, int max, int *out, struct problem *p)
{
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return problem_set(p, 422, "Invalid field", "%s: must be an integer from %d to %d", field,
				   min, max);
	*out = (int)json_integer_value(v);
	return 0;
}

int api_parse_domain(const char *text, size_t len, bool create, struct domain_in *out,
		     struct problem *p)
{
	memset(out, 0, sizeof(*out));
	out->enabled = true;
	json_t *root = load_object(text, len, p);
	if (!root)
		return -1;
	const char *key;
	json_t *v;
	int rc = 0;
	json_object_foreach(root, key, v) {
		if (strcmp(key, "name") == 0) {
			if (!create) {
				rc = problem_set(p, 422, "Read-only field",
						 "name: cannot change; create a new domain instead");
				break;
			}
			if ((rc = get_string(v, "name", out->name, sizeof(out->name) - 1, p)) < 0)
				break;
			if (!valid_domain_name(out->name)) {
				rc = problem_set(p, 422, "Invalid field",
						 "name: must be a lower-case DNS name (labels of a-z, 0-9 and '-')");
				break;
			}
			out->has |= IN_NAME;
		} else if (strcmp(key, "realm") == 0) {
			if ((rc = get_string(v, "realm", out->realm, sizeof(out->realm) - 1, p)) < 0)
				break;
			if (!valid_realm(out->realm)) {
				rc = problem_set(p, 422, "Invalid field",
						 "realm: 1 to 128 printable ASCII characters, no '\"' or '\\', no blank at either end");
				break;
			}
			out->has |= IN_REALM;
		} else if (strcmp(key, "enabled") == 0) {
			if ((rc = get_bool(v, "enabled", &out->enabled, p)) < 0)
				break;
			out->has |= IN_ENABLED;
		} else {
			rc = problem_set(p, 422, "Unknown field", "%.200s: not a field of a domain", key);
			break;
		}
	}
	json_decref(root);
	if (rc < 0)
		return -1;
	if (create && !(out->has & IN_NAME))
		return problem_set(p, 422, "Missing field", "name: required");
	if (create && !(out->has & IN_REALM)) {
		if (!valid_realm(out->name))
			return problem_set(p, 422, "Invalid field", "realm: required");
		memcpy(out->realm, out->name, sizeof(out->realm) - 1);
		out->has |= IN_REALM;
	}
	if (!create && !out->has)
		return problem_set(p, 422, "Nothing to change", "give at least one of realm, enabled");
	return 0;
}

int api_parse_subscriber(const char *text, size_t len, bool create, struct subscriber_in *out,
			 struct problem *p)
{
	memset(out, 0, sizeof(*out));
	out->enabled = true;
	strcpy(out->auth_kind, "digest");
	json_t *root = load_object(text, len, p);
	if (!root)
		return -1;
	const char *key;
	json_t *v;
	int rc = 0;
	json_object_foreach(root, key, v) {
		if (strcmp(key, "domain_id") == 0 || strcmp(key, "user_part") == 0) {
			if (!create) {
				/* the HA1s are computed over user and realm */
				rc = problem_set(p, 422, "Read-only field",
						 "%s: cannot change (the stored digests depend on it)", key);
				break;
			}
			if (key[0] == 'd') {
				if (!json_is_integer(v) || json_integer_value(v) <= 0) {
					rc = problem_set(p, 422, "Invalid field",
							 "domain_id: must be a positive integer");
					break;
				}
				out->domain_id = json_integer_value(v);
				out->has |= IN_DOMAIN_ID;
			} else {
				if ((rc = get_string(v, "user_part", out->user_part,
						     sizeof(out->user_part) - 1, p)) < 0)
					break;
				if (!valid_user_part(out->user_part)) {
					rc = problem_set(p, 422, "Invalid field",
							 "user_part: 1 to 64 characters of an RFC 3261 user part");
					break;
				}
				out->has |= IN_USER;
			}
		} else if (strcmp(key, "display_name") == 0) {
			if ((rc = get_string(v, "display_name", out->display_name,
					     sizeof(out->display_name) - 1, p)) < 0)
				break;
			if (utf8_chars(out->display_name) > 128) {
				rc = problem_set(p, 422, "Invalid field",
						 "display_name: too long (at most 128 characters)");
				break;
			}
			for (const char *c = out->display_name; *c; c++)
				if ((unsigned char)*c < 0x20 || *c == 0x7f) {
					rc = problem_set(p, 422, "Invalid field",
							 "display_name: must not contain control characters");
					break;
				}
			if (rc < 0)
				break;
			out->has |= IN_DISPLAY;
		} else if (strcmp(key, "auth_kind") == 0) {
			if ((rc = get_string(v, "auth_kind", out->auth_kind, sizeof(out->auth_kind) - 1,
					     p)) < 0) {
				rc = problem_set(p, 422, "Invalid field",
						 "auth_kind: must be one of none, ip, digest");
				break;
			}
			if (strcmp(out->auth_kind, "none") && strcmp(out->auth_kind, "ip") &&
			    strcmp(out->auth_kind, "digest")) {
				rc = problem_set(p, 422, "Invalid field",
						 "auth_kind: must be one of none, ip, digest");
				break;
			}
			out->has |= IN_AUTH_KIND;
		} else if (strcmp(key, "enabled") == 0) {
			if ((rc = get_bool(v, "enabled", &out->enabled, p)) < 0)
				break;
			out->has |= IN_ENABLED;
		} else {
			rc = problem_set(p, 422, "Unknown field", "%.200s: not a field of a subscriber",
					 key);
			break;
		}
	}
	json_decref(root);
	if (rc < 0)
		return -1;
	if (create && !(out->has & IN_DOMAIN_ID))
		return problem_set(p, 422, "Missing field", "domain_id: required");
	if (create && !(out->has & IN_USER))
		return problem_set(p, 422, "Missing field", "user_part: required");
	if (!create && !out->has)
		return problem_set(p, 422, "Nothing to change",
				   "give at least one of display_name, auth_kind, enabled");
	return 0;
}

int api_parse_password(const char *text, size_t len, struct password_in *out, struct problem *p)
{
	memset(out, 0, sizeof(*out));
	json_t *root = load_object(text, len, p);
	if (!root)
		return -1;
	const char *key;
	json_t *v;
	int rc = 0;
	bool has = false;
	json_object_foreach(root, key, v) {
		if (strcmp(key, "password") != 0) {
			rc = problem_set(p, 422, "Unknown field", "%.200s: only password is accepted", key);
			break;
		}
		if ((rc = get_string(v, "password", out->password, sizeof(out->password) - 1, p)) < 0)
			break;
		if (!out->password[0]) {
			rc = problem_set(p, 422, "Invalid field", "password: must not be empty");
			break;
		}
		has = true;
	}
	json_decref(root);
	if (rc < 0)
		return -1;
	if (!has)
		return problem_set(p, 422, "Missing field", "password: required");
	return 0;
}

int api_parse_alias(const char *text, size_t len, struct alias_in *out, struct problem *p)
{
	memset(out, 0, sizeof(*out));
	json_t *root = load_object(text, len, p);
	if (!root)
		return -1;
	const char *key;
	json_t *v;
	int rc = 0;
	bool has_user = false;
	json_object_foreach(root, key, v) {
		if (strcmp(key, "domain_id") == 0) {
			if (!json_is_integer(v) || json_integer_value(v) <= 0) {
				rc = problem_set(p, 422, "Invalid field", "domain_id: must be a positive integer");
				break;
			}
			out->domain_id = json_integer_value(v);
		} else if (strcmp(key, "user_part") == 0) {
			if ((rc = get_string(v, "user_part", out->user_part, sizeof(out->user_part) - 1,
					     p)) < 0)
				break;
			if (!valid_user_part(out->user_part)) {
				rc = problem_set(p, 422, "Invalid field",
						 "user_part: 1 to 64 characters of an RFC 3261 user part");
				break;
			}
			has_user = true;
		} else {
			rc = problem_set(p, 422, "Unknown field", "%.200s: not a field of an alias", key);
			break;
		}
	}
	json_decref(root);
	if (rc < 0)
		return -1;
	if (!has_user)
		return problem_set(p, 422, "Missing field", "user_part: required");
	return 0;
}

int api_parse_did(const char *text, size_t len, struct did_in *out, struct problem *p)
{
	memset(out, 0, sizeof(*out));
	json_t *root = load_object(text, len, p);
	if (!root)
		return -1;
	const char *key;
	json_t *v;
	int rc = 0;
	bool has = false;
	json_object_foreach(root, key, v) {
		if (strcmp(key, "number") != 0) {
			rc = problem_set(p, 422, "Unknown field", "%.200s: not a field of a DID", key);
			break;
		}
		if ((rc = get_string(v, "number", out->number, sizeof(out->number) - 1, p)) < 0)
			break;
		if (!valid_e164(out->number)) {
			rc = problem_set(p, 422, "Invalid field",
					 "number: an E.164 number: '+', a digit 1-9, 1 to 14 more digits");
			break;
		}
		has = true;
	}
	json_decref(root);
	if (rc < 0)
		return -1;
	if (!has)
		return problem_set(p, 422, "Missing field", "number: required");
	return 0;
}

int api_parse_server_group(const char *text, size_t len, bool create, struct server_group_in *out,
			   struct problem *p)
{
	memset(out, 0, sizeof(*out));
	json_t *root = load_object(text, len, p);
	if (!root)
		return -1;
	const char *key;
	json_t *v;
	int rc = 0;
	json_object_foreach(root, key, v) {
		if (strcmp(key, "name") == 0) {
			if ((rc = get_string(v, "name", out->name, sizeof(out->name) - 1, p)) < 0)
				break;
			if (!valid_group_name(out->name)) {
				rc = problem_set(p, 422, "Invalid field",
						 "name: 1 to 63 of A-Z, a-z, 0-9, '_', '.', '-', starting with a letter or digit");
				break;
			}
			out->has |= IN_NAME;
		} else if (strcmp(key, "kind") == 0) {
			if (!create) {
				rc = problem_set(p, 422, "Read-only field",
						 "kind: cannot change; create a new group instead");
				break;
			}
			if (get_string(v, "kind", out->kind, sizeof(out->kind) - 1, p) < 0 ||
			    !valid_server_kind(out->kind)) {
				rc = problem_set(p, 422, "Invalid field",
						 "kind: must be one of marshal_ua, marshal_gateway, redirect, "
						 "feature, cdr, provisioning, heartbeat, voicemail");
				break;
			}
			out->has |= IN_KIND;
		} else if (strcmp(key, "description") == 0) {
			if ((rc = get_string(v, "description", out->description,
					     sizeof(out->description) - 1, p)) < 0)
				break;
			if (utf8_chars(out->description) > 1024) {
				rc = problem_set(p, 422, "Invalid field",
						 "description: too long (at most 1024 characters)");
				break;
			}
			out->has |= IN_DESCRIPTION;
		} else {
			rc = problem_set(p, 422, "Unknown field", "%.200s: not a field of a server group",
					 key);
			break;
		}
	}
	json_decref(root);
	if (rc < 0)
		return -1;
	if (create && !(out->has & IN_NAME))
		return problem_set(p, 422, "Missing field", "name: required");
	if (create && !(out->has & IN_KIND))
		return problem_set(p, 422, "Missing field", "kind: required");
	if (!create && !out->has)
		return problem_set(p, 422, "Nothing to change", "give at least one of name, description");
	return 0;
}

int api_parse_server(const char *text, size_t len, bool create, struct server_in *out,
		     struct problem *p)
{
	memset(out, 0, sizeof(*out));
	out->port = 5060;
	strcpy(out->transport, "udp");
	out->weight = 1;
	out->enabled = true;
	json_t *root = load_object(text, len, p);
	if (!root)
		return -1;
	const char *key;
	json_t *v;
	int rc = 0;
	json_object_foreach(root, key, v) {
		if (strcmp(key, "host") == 0) {
			if ((rc = get_string(v, "host", out->host, sizeof(out->host) - 1, p)) < 0)
				break;
			if (!valid_host(out->host)) {
				rc = problem_set(p, 422, "Invalid field",
						 "host: a host name or an IP address (IPv6 without brackets)");
				break;
			}
			out->has |= IN_HOST;
		} else if (strcmp(key, "port") == 0) {
			if ((rc = get_int(v, "port", 1, 65535, &out->port, p)) < 0)
				break;
			out->has |= IN_PORT;
		} else if (strcmp(key, "transport") == 0) {
			if (get_string(v, "transport", out->transport, sizeof(out->transport) - 1, p) < 0 ||
			    !valid_transport(out->transport)) {
				rc = problem_set(p, 422, "Invalid field",
						 "transport: must be one of udp, tcp, tls, sctp, ws, wss");
				break;
			}
			out->has |= IN_TRANSPORT;
		} else if (strcmp(key, "priority") == 0) {
			if ((rc = get_int(v, "priority", 0, 65535, &out->priority, p)) < 0)
				break;
			out->has |= IN_PRIORITY;
		} else if (strcmp(key, "weight") == 0) {
			if ((rc = get_int(v, "weight", 0, 65535, &out->weight, p)) < 0)
				break;
			out->has |= IN_WEIGHT;
		} else if (strcmp(key, "enabled") == 0) {
			if ((rc = get_bool(v, "enabled", &out->enabled, p)) < 0)
				break;
			out->has |= IN_ENABLED;
		} else if (strcmp(key, "group_id") == 0) {
			rc = problem_set(p, 422, "Read-only field",
					 "group_id: given by the path; a server cannot move to another group");
			break;
		} else {
			rc = problem_set(p, 422, "Unknown field", "%.200s: not a field of a server", key);
			break;
		}
	}
	json_decref(root);
	if (rc < 0)
		return -1;
	if (create && !(out->has & IN_HOST))
		return problem_set(p, 422, "Missing field", "host: required");
	if (!create && !out->has)
		return problem_set(p, 422, "Nothing to change",
				   "give at least one of host, port, transport, priority, weight, enabled");
	return 0;
}

bool valid_contact_template(const char *s)
{
	size_t skip = strncmp(s, "sip:", 4) == 0 ? 4 : strncmp(s, "sips:", 5) == 0 ? 5
		    : strncmp(s, "tel:", 4) == 0 ? 4 : 0;
	if (!skip || !s[skip] || utf8_chars(s) > 1024)
		return false;
	for (const unsigned char *c = (const unsigned char *)s + skip; *c; c++)
		if (*c <= 0x20 || *c == 0x7f)
			return false;
	return true;
}

int api_parse_dial_plan(const char *text, size_t len, bool create, struct dial_plan_in *out,
			struct problem *p)
{
	memset(out, 0, sizeof(*out));
	json_t *root = load_object(text, len, p);
	if (!root)
		return -1;
	const char *key;
	json_t *v;
	int rc = 0;
	json_object_foreach(root, key, v) {
		if (strcmp(key, "name") == 0) {
			if ((rc = get_string(v, "name", out->name, sizeof(out->name) - 1, p)) < 0)
				break;
			if (!valid_group_name(out->name)) {
				rc = problem_set(p, 422, "Invalid field",
						 "name: 1 to 63 of A-Z, a-z, 0-9, '_', '.', '-', starting with a letter or digit");
				break;
			}
			out->has |= IN_NAME;
		} else if (strcmp(key, "description") == 0) {
			if ((rc = get_string(v, "description", out->description,
					     sizeof(out->description) - 1, p)) < 0)
				break;
			if (utf8_chars(out->description) > 1024) {
				rc = problem_set(p, 422, "Invalid field",
						 "description: too long (at most 1024 characters)");
				break;
			}
			out->has |= IN_DESCRIPTION;
		} else {
			rc = problem_set(p, 422, "Unknown field", "%.200s: not a field of a dial plan", key);
			break;
		}
	}
	json_decref(root);
	if (rc < 0)
		return -1;
	if (create && !(out->has & IN_NAME))
		return problem_set(p, 422, "Missing field", "name: required");
	if (!create && !out->has)
		return problem_set(p, 422, "Nothing to change", "give at least one of name, description");
	return 0;
}

int api_parse_dial_entry(const char *text, size_t len, bool create, struct dial_entry_in *out,
			 struct problem *p)
{
	memset(out, 0, sizeof(*out));
	json_t *root = load_object(text, len, p);
	if (!root)
		return -1;
	const char *key;
	json_t *v;
	int rc = 0;
	json_object_foreach(root, key, v) {
		if (strcmp(key, "position") == 0) {
			if ((rc = get_int(v, "position", 0, 2147483647, &out->position, p)) < 0)
				break;
			out->has |= IN_POSITION;
		} else if (strcmp(key, "pattern") == 0) {
			if ((rc = get_string(v, "pattern", out->pattern, sizeof(out->pattern) - 1, p)) < 0)
				break;
			if (!out->pattern[0] || utf8_chars(out->pattern) > 1024) {
				rc = problem_set(p, 422, "Invalid field", "pattern: 1 to 1024 characters");
				break;
			}
			const char *why = regex_too_costly(out->pattern);
			if (why) {
				rc = problem_set(p, 422, "Invalid field",
						 "pattern: too costly to compile: %s", why);
				break;
			}
			/* the router's engine must accept it */
			regex_t re;
			int e = regcomp(&re, out->pattern, REG_EXTENDED);
			if (e) {
				char msg[128];
				regerror(e, &re, msg, sizeof(msg));
				rc = problem_set(p, 422, "Invalid field",
						 "pattern: not a POSIX extended regular expression: %s", msg);
				break;
			}
			regfree(&re);
			out->has |= IN_PATTERN;
		} else if (strcmp(key, "contact_template") == 0) {
			if ((rc = get_string(v, "contact_template", out->contact_template,
					     sizeof(out->contact_template) - 1, p)) < 0)
				break;
			if (!valid_contact_template(out->contact_template)) {
				rc = problem_set(p, 422, "Invalid field",
						 "contact_template: a sip:, sips: or tel: URI of at most 1024 "
						 "characters, without blanks or control characters");
				break;
			}
			out->has |= IN_TEMPLATE;
		} else if (strcmp(key, "dial_plan_id") == 0) {
			rc = problem_set(p, 422, "Read-only field",
					 "dial_plan_id: given by the path; an entry cannot move to another plan");
			break;
		} else {
			rc = problem_set(p, 422, "Unknown field", "%.200s: not a field of a dial plan entry",
					 key);
			break;
		}
	}
	json_decref(root);
	if (rc < 0)
		return -1;
	if (create && !(out->has & IN_POSITION))
		return problem_set(p, 422, "Missing field", "position: required");
	if (create && !(out->has & IN_PATTERN))
		return problem_set(p, 422, "Missing field", "pattern: required");
	if (create && !(out->has & IN_TEMPLATE))
		return problem_set(p, 422, "Missing field", "contact_template: required");
	if (!create && !out->has)
		return problem_set(p, 422, "Nothing to change",
				   "give at least one of position, pattern, contact_template");
	return 0;
}
