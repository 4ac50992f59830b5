/* Targets of featured's attempts (see target.h). */
#include "feature/target.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sip/build.h"

/* Appends the URI's parameters, leaving out those named in drop. */
static void params_without(struct sip_out *o, sip_str params, const char *const *drop)
{
	sip_str cur = params, name, value;
	while (sip_uri_param_next(&cur, &name, &value)) {
		bool skip = false;
		for (size_t i = 0; drop[i] && !skip; i++)
			skip = sip_str_caseeq_lit(name, drop[i]);
		if (skip || !name.len)
			continue;
		sip_out_printf(o, ";%.*s", (int)name.len, name.s);
		if (value.s)
			sip_out_printf(o, "=%.*s", (int)value.len, value.s);
	}
}

static int finish(struct sip_out *o, char *out, size_t cap)
{
	if (o->len >= cap)
		return -1;
	out[o->len] = 0;
	return (int)o->len;
}

int feature_target_continue(const struct sip_uri *ruri, char *out, size_t cap)
{
	if (ruri->scheme != SIP_URI_SIP && ruri->scheme != SIP_URI_SIPS)
		return -1;
	static const char *const drop[] = {"maddr", "transport", NULL};
	struct sip_out o = {out, cap, 0};
	sip_out_printf(&o, "%s:", ruri->scheme == SIP_URI_SIPS ? "sips" : "sip");
	if (ruri->user.len)
		sip_out_printf(&o, "%.*s@", (int)ruri->user.len, ruri->user.s);
	sip_out_str(&o, ruri->host);
	params_without(&o, ruri->params, drop);
	return finish(&o, out, cap);
}

static bool has_scheme(const char *t)
{
	return !strncasecmp(t, "sip:", 4) || !strncasecmp(t, "sips:", 5) || !strncasecmp(t, "tel:", 4);
}

bool feature_target_is_self(const char *url, const struct sip_uri *ruri)
{
	if (!url || !*url)
		return false;
	if (!has_scheme(url)) {
		const char *at = strchr(url, '@');
		size_t n = at ? (size_t)(at - url) : strlen(url);
		return n == ruri->user.len && !memcmp(url, ruri->user.s, n) &&
		       (!at || sip_str_caseeq_lit(ruri->host, at + 1));
	}
	struct sip_uri u;
	if (sip_uri_parse(&u, url, strlen(url), NULL) < 0)
		return false;
	if (u.scheme == SIP_URI_TEL)
		return sip_str_eq(u.user, ruri->user);
	if (u.scheme != SIP_URI_SIP && u.scheme != SIP_URI_SIPS)
		return false;
	return sip_str_eq(u.user, ruri->user) && sip_str_caseeq(u.host, ruri->host);
}

int feature_target_forward(const char *t, sip_str domain, const uint8_t key[FEATURE_HOP_KEY_LEN],
			   sip_str call_id, uint32_t forwards, char *out, size_t cap)
{
	if (!t || !*t || forwards == 0 || strlen(t) > 1024)
		return -1;
	char text[1100];
	struct sip_out o = {text, sizeof(text), 0};
	if (!strncasecmp(t, "tel:", 4)) {
		const char *num = t + 4;
		size_t n = strcspn(num, ";");
		if (!n || !domain.len)
			return -1;
		sip_out_printf(&o, "sip:%.*s@%.*s;user=phone", (int)n, num, (int)domain.len, domain.s);
	} else if (has_scheme(t)) {
		sip_out_printf(&o, "%s", t);
	} else if (strchr(t, '@')) {
		sip_out_printf(&o, "sip:%s", t);
	} else {
		if (!domain.len)
			return -1;
		sip_out_printf(&o, "sip:%s@%.*s", t, (int)domain.len, domain.s);
	}
	if (o.len >= sizeof(text))
		return -1;
	struct sip_uri u;
	if (sip_uri_parse(&u, text, o.len, NULL) < 0 ||
	    (u.scheme != SIP_URI_SIP && u.scheme != SIP_URI_SIPS) || !u.user.len || !u.host.len)
		return -1;
	static const char *const drop[] = {"maddr", FEATURE_HOP_PARAM, NULL};
	struct sip_out w = {out, cap, 0};
	sip_out_printf(&w, "%s:%.*s@%.*s", u.scheme == SIP_URI_SIPS ? "sips" : "sip", (int)u.user.len,
		       u.user.s, (int)u.host.len, u.host.s);
	if (u.has_port)
		sip_out_printf(&w, ":%u", u.port);
	params_without(&w, u.params, drop);
	struct feature_hop h = {.phase = FEATURE_HOP_RETARGETED, .forwards = forwards};
	char val[FEATURE_HOP_MAX];
	int n = feature_hop_format(&h, key, call_id, u.user, u.host, val, sizeof(val));
	if (n < 0)
		return -1;
	sip_out_printf(&w, ";%s=%.*s", FEATURE_HOP_PARAM, n, val);
	return finish(&w, out, cap);
}

enum cpl_proxy_status feature_outcome(unsigned status, bool timed_out)
{
	if (timed_out)
		return CPL_PROXY_NOANSWER;
	if (status >= 200 && status < 300)
		return CPL_PROXY_ANSWERED;
	if (status >= 300 && status < 400)
		return CPL_PROXY_REDIRECTION;
	switch (status) {
	case 486:
	case 600: return CPL_PROXY_BUSY;
	case 408:
	case 480: return CPL_PROXY_NOANSWER;
	default: return CPL_PROXY_FAILURE;
	}
}
