/*
 * sipcheck: parse captured SIP messages and print their structure, or the
 * fault and its byte offset. For operators looking at a capture, and for
 * tests.
 *
 *   sipcheck [-q] [--stream] [--max-size N] FILE...
 *
 * Exit status: 0 all messages valid, 1 any invalid, 2 usage or I/O error.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "sip/msg.h"
#include "sip/multipart.h"

static bool quiet;

/* Prints a slice with non-printable bytes as \xHH so output stays one line. */
static void show(sip_str s)
{
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.s[i];
		if (c == '\r' && i + 1 < s.len && s.s[i + 1] == '\n') {
			fputs("\\r\\n", stdout);
			i++;
		} else if (c < 0x20 || c == 0x7f || c == '\\') {
			printf("\\x%02x", c);
		} else {
			putchar(c);
		}
	}
}

static void show_params(const struct sip_param *p)
{
	for (; p; p = p->next) {
		printf(" ;");
		show(p->name);
		if (sip_str_present(p->value)) {
			printf(p->quoted ? "=\"" : "=");
			show(p->value);
			if (p->quoted)
				putchar('"');
		}
	}
}

static void show_uri(const struct sip_uri *u)
{
	printf("<%s:", sip_uri_scheme_name(u->scheme));
	if (u->scheme == SIP_URI_OTHER) {
		printf(" scheme=");
		show(u->scheme_name);
		printf(" opaque=");
		show(u->opaque);
		putchar('>');
		return;
	}
	if (u->user.len) {
		printf(u->scheme == SIP_URI_TEL ? " number=" : " user=");
		show(u->user);
	}
	if (sip_str_present(u->password)) {
		printf(" password=");
		show(u->password);
	}
	if (u->host.len) {
		printf(" host=");
		show(u->host);
	}
	if (u->has_port)
		printf(" port=%u", u->port);
	if (u->params.len) {
		printf(" params=");
		show(u->params);
	}
	if (u->headers.len) {
		printf(" headers=");
		show(u->headers);
	}
	putchar('>');
}

static void show_value(const struct sip_hdr *h)
{
	switch (sip_hdr_info[h->type].kind) {
	case SIP_KIND_VIA:
		for (const struct sip_via *v = h->v.via; v; v = v->next) {
			printf("\n    via ");
			show(v->protocol);
			putchar('/');
			show(v->version);
			putchar('/');
			show(v->transport);
			printf(" host=");
			show(v->host);
			if (v->has_port)
				printf(" port=%u", v->port);
			if (sip_str_present(v->branch)) {
				printf(" branch=");
				show(v->branch);
				printf(sip_via_branch_is_rfc3261(v) ? " (rfc3261)" : " (rfc2543)");
			}
			if (v->received.len) {
				printf(" received=");
				show(v->received);
			}
			if (v->rport) {
				if (v->rport_value)
					printf(" rport=%u", v->rport_value);
				else
					printf(" rport");
			}
			if (v->has_ttl)
				printf(" ttl=%u", v->ttl);
			if (v->maddr.len) {
				printf(" maddr=");
				show(v->maddr);
			}
		}
		break;
	case SIP_KIND_ADDR:
	case SIP_KIND_ADDR_LIST:
		for (const struct sip_addr *a = h->v.addr; a; a = a->next) {
			printf("\n    addr");
			if (a->star) {
				printf(" *");
			} else {
				if (a->display.len || a->display_quoted) {
					printf(" display=\"");
					show(a->display);
					putchar('"');
				}
				printf(a->angle ? " name-addr " : " addr-spec ");
				show_uri(&a->uri);
			}
			show_params(a->params);
		}
		break;
	case SIP_KIND_CSEQ:
		printf(" seq=%u method=", h->v.cseq.seq);
		show(h->v.cseq.method);
		break;
	case SIP_KIND_UINT:
		printf(" %u", h->v.uint);
		break;
	case SIP_KIND_DATE:
		printf(" epoch=%lld", (long long)h->v.date);
		break;
	case SIP_KIND_TOKEN_LIST:
	case SIP_KIND_MEDIA:
	case SIP_KIND_MEDIA_LIST:
		for (const struct sip_list_item *it = h->v.list; it; it = it->next) {
			printf(" [");
			show(it->value);
			show_params(it->params);
			putchar(']');
		}
		break;
	case SIP_KIND_CREDENTIALS:
	case SIP_KIND_CHALLENGE:
		printf(" scheme=");
		show(h->v.auth->scheme);
		show_params(h->v.auth->params);
		break;
	case SIP_KIND_WARNING:
		for (const struct sip_warning *w = h->v.warning; w; w = w->next) {
			printf(" [%u ", w->code);
			show(w->agent);
			printf(" \"");
			show(w->text);
			printf("\"]");
		}
		break;
	case SIP_KIND_RETRY_AFTER:
		printf(" %u", h->v.retry->seconds);
		if (h->v.retry->comment.len) {
			putchar(' ');
			show(h->v.retry->comment);
		}
		show_params(h->v.retry->params);
		break;
	case SIP_KIND_CALL_ID:
	case SIP_KIND_OPAQUE:
		printf(" ");
		show(h->value);
		break;
	}
}

static void show_message(struct sip_msg *m)
{
	if (m->is_request) {
		printf("  request method=");
		show(m->method);
		printf(m->method_id ? " (known)" : " (extension)");
		printf(" uri=");
		show_uri(&m->ruri);
		putchar('\n');
	} else {
		printf("  response status=%u reason=\"", m->status);
		show(m->reason);
		printf("\"\n");
	}
	for (unsigned i = 0; i < m->hdr_count; i++) {
		const struct sip_hdr *h = &m->hdrs[i];
		printf("  header ");
		show(h->name);
		if (h->type != SIP_HDR_OTHER)
			printf(" (%s)", sip_hdr_info[h->type].name);
		putchar(':');
		show_value(h);
		putchar('\n');
	}
	printf("  body %zu bytes", m->body.len);
	struct sip_hdr *ct = m->first[SIP_HDR_CONTENT_TYPE];
	if (ct && ct->v.list) {
		printf(" type=");
		show(ct->v.list->value);
		const struct sip_param *b = sip_param_find(ct->v.list->params, "boundary");
		if (sip_str_caseeq_lit(ct->v.list->type, "multipart") && b) {
			struct sip_part *parts = NULL;
			struct sip_error perr = {.base = m->buf};
			int n = sip_multipart_parse(m->body, b->value, &m->arena, &parts, &perr);
			printf(" parts=%d", n);
			for (struct sip_part *p = parts; p; p = p->next) {
				printf("\n    part %zu bytes type=", p->body.len);
				show(p->content_type);
			}
		}
	}
	putchar('\n');
}

static int check_file(const char *path, const struct sip_parse_opts *opts)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "sipcheck: %s: %s\n", path, strerror(errno));
		return 2;
	}
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	size_t n;
	while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap) {
			char *nb = realloc(buf, cap *= 2);
			if (!nb) {
				free(buf);
				buf = NULL;
			}
			buf = nb;
		}
	}
	int rerr = ferror(f);
	fclose(f);
	if (!buf || rerr) {
		fprintf(stderr, "sipcheck: %s: cannot read\n", path);
		free(buf);
		return 2;
	}

	struct sip_msg m;
	struct sip_error err = {.base = buf};
	int rc = sip_msg_parse(&m, buf, len, opts, &err);
	if (rc == 0)
		rc = sip_msg_check(&m, &err);
	if (rc == 0)
		rc = sip_msg_parse_all(&m, &err);
	if (rc == 0) {
		printf("%s: valid (%s, %zu bytes", path, m.is_request ? "request" : "response", m.len);
		if (m.buf + m.len < buf + len)
			printf(", %zu trailing bytes ignored", (size_t)(buf + len - (m.buf + m.len)));
		printf(")\n");
		if (!quiet)
			show_message(&m);
	} else {
		printf("%s: invalid: %s at byte %zu: %s (answer %d)\n", path, sip_fault_name(err.fault),
		       err.offset, err.detail, sip_fault_status(err.fault));
	}
	sip_msg_free(&m);
	free(buf);
	return rc == 0 ? 0 : 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: sipcheck [-q] [--stream] [--max-size BYTES] FILE...\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"quiet", no_argument, NULL, 'q'},
		{"stream", no_argument, NULL, 's'},
		{"max-size", required_argument, NULL, 'm'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct sip_parse_opts opts = {0};
	int c;
	while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'q':
			quiet = true;
			break;
		case 's':
			opts.stream = true;
			break;
		case 'm': {
			char *end;
			errno = 0;
			unsigned long long v = strtoull(optarg, &end, 10);
			if (errno || *end || v == 0 || v > (1u << 30)) {
				fprintf(stderr, "sipcheck: bad --max-size '%s'\n", optarg);
				return 2;
			}
			opts.max_size = (size_t)v;
			break;
		}
		case 'h':
			usage();
			return 0;
		default:
			usage();
			return 2;
		}
	}
	if (optind >= argc) {
		usage();
		return 2;
	}
	int worst = 0;
	for (int i = optind; i < argc; i++) {
		int r = check_file(argv[i], &opts);
		if (r > worst)
			worst = r;
	}
	return worst;
}
