/* Authentication and authorization rules of provd (auth.h). */
#include "provisioning/auth.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

int api_authorize(enum api_access access, const struct api_principal *who, long long path_id)
{
	if (access == ACCESS_PUBLIC || access == ACCESS_LOGIN)
		return 0;
	if (who->role == ROLE_NONE)
		return 401;
	switch (access) {
	case ACCESS_PUBLIC:
	case ACCESS_LOGIN:
	case ACCESS_ANY:
		return 0;
	case ACCESS_SESSION:
		/* the token is no web login: it has no session to show */
		return who->cookie ? 0 : 401;
	case ACCESS_OWN:
		if (who->role != ROLE_SUBSCRIBER)
			return 0;
		return path_id == who->subscriber_id ? 0 : 404;
	case ACCESS_ADMIN:
		break;
	}
	return who->role == ROLE_SUBSCRIBER ? 403 : 0;
}

bool api_method_changes(const char *method)
{
	return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 &&
	       strcmp(method, "OPTIONS") != 0;
}

int cookie_session_id(const char *cookie, char *out)
{
	static const char name[] = SESSION_COOKIE "=";
	if (!cookie)
		return -1;
	/* RFC 6265 5.4: pairs separated by "; " (a lone ";" tolerated) */
	for (const char *c = cookie; *c;) {
		while (*c == ' ' || *c == ';' || *c == '\t')
			c++;
		size_t n = strcspn(c, ";");
		if (n > sizeof(name) - 1 && strncmp(c, name, sizeof(name) - 1) == 0) {
			const char *v = c + sizeof(name) - 1;
			size_t vn = n - (sizeof(name) - 1);
			while (vn && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
				vn--;
			if (vn != SESSION_ID_HEX || strspn(v, "0123456789abcdef") < SESSION_ID_HEX)
				return -1;
			memcpy(out, v, SESSION_ID_HEX);
			out[SESSION_ID_HEX] = 0;
			return 0;
		}
		c += n;
	}
	return -1;
}

bool csrf_token_ok(const char *expected, const char *given)
{
	size_t n = strlen(expected);
	if (!given || !n || strlen(given) != n)
		return false;
	return sodium_memcmp(expected, given, n) == 0;
}

bool origin_ok(const char *origin, const char *host, const char *configured)
{
	if (!origin)
		return true;
	if (configured && configured[0])
		return strcasecmp(origin, configured) == 0;
	if (!host || !host[0])
		return false;
	const char *rest = strncasecmp(origin, "http://", 7) == 0    ? origin + 7
			   : strncasecmp(origin, "https://", 8) == 0 ? origin + 8
								     : NULL;
	return rest && strcasecmp(rest, host) == 0;
}

void session_cookie(char *out, size_t cap, const char *id, bool secure)
{
	/* HttpOnly: no script reads it; SameSite=Strict: no other site's page
	 * makes the browser send it; clearing sets it empty and expired */
	snprintf(out, cap, "%s=%s; Path=/; HttpOnly; SameSite=Strict%s%s", SESSION_COOKIE,
		 id ? id : "", id ? "" : "; Max-Age=0", secure ? "; Secure" : "");
}
