#include "sip/build.h"

#include <stdarg.h>
#include <stdio.h>

void sip_out_put(struct sip_out *o, const char *s, size_t n)
{
	if (o->len + n <= o->cap && n)
		memcpy(o->p + o->len, s, n);
	o->len += n;
}

void sip_out_str(struct sip_out *o, sip_str s) { sip_out_put(o, s.s, s.len); }

void sip_out_printf(struct sip_out *o, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		sip_out_put(o, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

const char *sip_reason_phrase(unsigned status)
{
	static const struct {
		unsigned code;
		const char *text;
	} t[] = {
		{100, "Trying"}, {180, "Ringing"}, {181, "Call Is Being Forwarded"}, {182, "Queued"},
		{183, "Session Progress"}, {200, "OK"}, {202, "Accepted"},
		{300, "Multiple Choices"}, {301, "Moved Permanently"}, {302, "Moved Temporarily"},
		{305, "Use Proxy"}, {380, "Alternative Service"}, {400, "Bad Request"},
		{401, "Unauthorized"}, {402, "Payment Required"}, {403, "Forbidden"},
		{404, "Not Found"}, {405, "Method Not Allowed"}, {406, "Not Acceptable"},
		{407, "Proxy Authentication Required"}, {408, "Request Timeout"}, {410, "Gone"},
		{413, "Request Entity Too Large"}, {414, "Request-URI Too Long"},
		{415, "Unsupported Media Type"}, {416, "Unsupported URI Scheme"},
		{420, "Bad Extension"}, {421, "Extension Required"}, {423, "Interval Too Brief"},
		{480, "Temporarily Unavailable"}, {481, "Call/Transaction Does Not Exist"},
		{482, "Loop Detected"}, {483, "Too Many Hops"}, {484, "Address Incomplete"},
		{485, "Ambiguous"}, {486, "Busy Here"}, {487, "Request Terminated"},
		{488, "Not Acceptable Here"}, {491, "Request Pending"}, {493, "Undecipherable"},
		{500, "Server Internal Error"}, {501, "Not Implemented"}, {502, "Bad Gateway"},
		{503, "Service Unavailable"}, {504, "Server Time-out"}, {505, "Version Not Supported"},
		{513, "Message Too Large"}, {600, "Busy Everywhere"}, {603, "Decline"},
		{604, "Does Not Exist Anywhere"}, {606, "Not Acceptable"},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].code == status)
			return t[i].text;
	return "";
}

static void put_header_lines(struct sip_out *o, struct sip_msg *m, enum sip_hdr_type type)
{
	for (struct sip_hdr *h = m->first[type]; h; h = h->next_same) {
		sip_out_str(o, h->line);
		sip_out_put(o, "\r\n", 2);
	}
}

size_t sip_build_response(struct sip_msg *req, unsigned status, const char *reason, sip_str to_tag,
			  const char *extra, sip_str body, char *out, size_t cap)
{
	struct sip_out o = {out, cap, 0};
	sip_out_printf(&o, "SIP/2.0 %u %s\r\n", status, reason ? reason : sip_reason_phrase(status));
	put_header_lines(&o, req, SIP_HDR_VIA);
	put_header_lines(&o, req, SIP_HDR_FROM);
	struct sip_hdr *to = req->first[SIP_HDR_TO];
	if (to) {
		sip_out_str(&o, to->line);
		struct sip_addr *a = sip_msg_to(req, NULL);
		if (a && !sip_str_present(a->tag) && status > 100 && to_tag.len) {
			sip_out_put(&o, ";tag=", 5);
			sip_out_str(&o, to_tag);
		}
		sip_out_put(&o, "\r\n", 2);
	}
	put_header_lines(&o, req, SIP_HDR_CALL_ID);
	put_header_lines(&o, req, SIP_HDR_CSEQ);
	if (extra)
		sip_out_put(&o, extra, strlen(extra));
	sip_out_printf(&o, "Content-Length: %zu\r\n\r\n", body.len);
	sip_out_str(&o, body);
	return o.len;
}

/* The first via-parm of the top Via header, as a header line. */
static void put_top_via(struct sip_out *o, struct sip_msg *m)
{
	struct sip_via *v = sip_msg_via(m, NULL);
	if (!v)
		return;
	sip_out_put(o, "Via: ", 5);
	sip_out_str(o, v->text);
	sip_out_put(o, "\r\n", 2);
}

static void put_request_line(struct sip_out *o, const char *method, struct sip_msg *req)
{
	sip_out_printf(o, "%s ", method);
	sip_out_str(o, req->ruri_text);
	sip_out_put(o, " SIP/2.0\r\n", 10);
}

size_t sip_build_ack(struct sip_msg *invite, struct sip_msg *resp, char *out, size_t cap)
{
	struct sip_out o = {out, cap, 0};
	const struct sip_cseq *cs = sip_msg_cseq(invite, NULL);
	put_request_line(&o, "ACK", invite);
	put_top_via(&o, invite);
	sip_out_put(&o, "Max-Forwards: 70\r\n", 18);
	put_header_lines(&o, invite, SIP_HDR_ROUTE);
	put_header_lines(&o, invite, SIP_HDR_FROM);
	put_header_lines(&o, resp, SIP_HDR_TO); /* with the tag the response added */
	put_header_lines(&o, invite, SIP_HDR_CALL_ID);
	sip_out_printf(&o, "CSeq: %u ACK\r\n", cs ? cs->seq : 0);
	sip_out_put(&o, "Content-Length: 0\r\n\r\n", 21);
	return o.len;
}

size_t sip_build_cancel(struct sip_msg *req, char *out, size_t cap)
{
	struct sip_out o = {out, cap, 0};
	const struct sip_cseq *cs = sip_msg_cseq(req, NULL);
	put_request_line(&o, "CANCEL", req);
	put_top_via(&o, req);
	sip_out_put(&o, "Max-Forwards: 70\r\n", 18);
	put_header_lines(&o, req, SIP_HDR_ROUTE);
	put_header_lines(&o, req, SIP_HDR_FROM);
	put_header_lines(&o, req, SIP_HDR_TO);
	put_header_lines(&o, req, SIP_HDR_CALL_ID);
	sip_out_printf(&o, "CSeq: %u CANCEL\r\n", cs ? cs->seq : 0);
	sip_out_put(&o, "Content-Length: 0\r\n\r\n", 21);
	return o.len;
}
