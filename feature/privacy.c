/* Caller privacy (see privacy.h). */
#include "feature/privacy.h"

#include <stdio.h>
#include <string.h>

#include "sip/addr.h"
#include "sip/build.h"
#include "sip/msg.h"

int feature_anonymize(struct sip_msg *req)
{
	struct sip_addr *from = sip_msg_from(req, NULL);
	struct sip_hdr *h = req->first[SIP_HDR_FROM];
	if (!from || !h)
		return -1;
	char line[512];
	struct sip_out o = {line, sizeof(line), 0};
	sip_out_printf(&o, "From: \"Anonymous\" <%s>", FEATURE_ANONYMOUS_URI);
	if (sip_str_present(from->tag))
		sip_out_printf(&o, ";tag=%.*s", (int)from->tag.len, from->tag.s);
	if (o.len >= sizeof(line) || sip_msg_replace_header(req, h, line, o.len) < 0)
		return -1;
	struct sip_hdr *p = req->first[SIP_HDR_PRIVACY];
	if (!p)
		return sip_msg_insert_header(req, NULL, "Privacy: id", 11);
	/* keep what the caller asked for besides, "none" excepted */
	char v[512];
	struct sip_out w = {v, sizeof(v), 0};
	sip_out_printf(&w, "Privacy: id");
	for (struct sip_hdr *x = p; x; x = x->next_same) {
		const char *s = x->value.s, *end = s + x->value.len;
		while (s < end) {
			const char *semi = memchr(s, ';', (size_t)(end - s));
			const char *e = semi ? semi : end;
			const char *a = s, *b = e;
			while (a < b && (*a == ' ' || *a == '\t' || *a == ','))
				a++;
			while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == ','))
				b--;
			sip_str tok = sip_str_make(a, (size_t)(b - a));
			if (tok.len && !sip_str_caseeq_lit(tok, "id") && !sip_str_caseeq_lit(tok, "none"))
				sip_out_printf(&w, ";%.*s", (int)tok.len, tok.s);
			s = semi ? semi + 1 : end;
		}
		if (x != p)
			sip_msg_remove_header(x);
	}
	if (w.len >= sizeof(v))
		return -1;
	return sip_msg_replace_header(req, p, v, w.len);
}

bool feature_caller_private(struct sip_msg *req)
{
	for (struct sip_hdr *p = req->first[SIP_HDR_PRIVACY]; p; p = p->next_same) {
		sip_str v = p->value;
		while (v.len && (v.s[v.len - 1] == ' ' || v.s[v.len - 1] == '\t'))
			v.len--;
		if (v.len && !sip_str_caseeq_lit(v, "none"))
			return true;
	}
	struct sip_addr *from = sip_msg_from(req, NULL);
	if (!from)
		return true;
	return sip_str_caseeq_lit(from->uri.user, "anonymous") ||
	       sip_str_caseeq_lit(from->uri.host, "anonymous") ||
	       sip_str_caseeq_lit(from->uri.host, "anonymous.invalid");
}
