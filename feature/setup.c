/* featured_configure: a configuration turned into featured's working parts. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "feature/featured.h"
#include "feature/intern.h"
#include "log.h"

static int read_secret(const char *path, char *out, size_t cap)
{
	FILE *fp = fopen(path, "r");
	if (!fp) {
		log_warn("features.secret_file %s", path);
		return -1;
	}
	size_t n = fread(out, 1, cap - 1, fp);
	fclose(fp);
	out[n] = 0;
	while (n && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' '))
		out[--n] = 0;
	return 0;
}

int featured_configure(struct featured *f, const struct featured_conf *c)
{
	uint8_t key[FEATURE_HOP_KEY_LEN];
	char secret[256];
	if (c->secret[0])
		snprintf(secret, sizeof(secret), "%s", c->secret);
	else if (!c->secret_file[0]) {
		log_warnx("features.secret or features.secret_file: the feature-hop secret is needed");
		return -1;
	} else if (read_secret(c->secret_file, secret, sizeof(secret)) < 0)
		return -1;
	if (feature_hop_key_parse(secret, key) < 0) {
		log_warnx("features.secret: 64 hex digits are needed");
		return -1;
	}
	struct sip_peer p;
	if (sip_peer_from_numeric(&p, SIP_TP_UDP, c->redirect.host, strlen(c->redirect.host),
				  c->redirect.port) < 0) {
		log_warnx("redirect %s: a numeric address is needed", c->redirect.host);
		return -1;
	}
	if (c->voicemail[0]) {
		struct sip_uri u;
		if (sip_uri_parse(&u, c->voicemail, strlen(c->voicemail), NULL) < 0 ||
		    (u.scheme != SIP_URI_SIP && u.scheme != SIP_URI_SIPS && u.scheme != SIP_URI_TEL)) {
			log_warnx("features.voicemail: a sip, sips or tel URI is needed");
			return -1;
		}
	}
	if (!c->call_return_code[0] || strlen(c->call_return_code) > 32) {
		log_warnx("features.call_return_code: 1 to 32 characters");
		return -1;
	}
	if (!mail_addr_valid(c->mail_from, strlen(c->mail_from))) {
		log_warnx("mail.from: a plain address (local@domain) is needed");
		return -1;
	}
	struct mailer_conf mc = {
		.command = c->mail_command, .max_children = (unsigned)c->mail_max_children,
		.max_per_minute = (unsigned)c->mail_max_per_minute,
		.max_per_subscriber = (unsigned)c->mail_max_per_subscriber,
		.timeout_ms = (unsigned)c->mail_timeout,
	};
	char err[300];
	if (!f->mailer && !(f->mailer = mailer_new(f->loop, &f->stats.mail)))
		return -1;
	if (mailer_configure(f->mailer, &mc, err, sizeof(err)) < 0) {
		log_warnx("mail.command: %s", err);
		return -1;
	}
	if (!f->table && !(f->table = feature_table_new()))
		return -1;
	if (!f->cache) {
		if (!(f->cache = feature_cache_new((size_t)c->cache_size)))
			return -1;
	} else {
		feature_cache_resize(f->cache, (size_t)c->cache_size);
	}
	struct cpl_limits lim = {
		.max_bytes = (size_t)c->cpl_max_bytes, .max_nodes = (unsigned)c->cpl_max_nodes,
		.max_depth = (unsigned)c->cpl_max_depth, .max_locations = (unsigned)c->cpl_max_locations,
		.max_subactions = (unsigned)c->cpl_max_subactions, .max_steps = (unsigned)c->cpl_max_steps,
	};
	if (!f->intern && !(f->intern = script_intern_new()))
		return -1;
	if (f->conf && memcmp(&lim, &f->limits, sizeof(lim)) != 0) {
		/* scripts compiled under other limits: compile again */
		feature_cache_clear(f->cache);
		f->limits_gen++;
	}
	f->limits = lim;
	memcpy(f->key, key, sizeof(key));
	bool v6 = strchr(c->redirect.host, ':') != NULL;
	snprintf(f->redirect_uri, sizeof(f->redirect_uri), "sip:%s%s%s:%u", v6 ? "[" : "",
		 c->redirect.host, v6 ? "]" : "", c->redirect.port);
	static const int levels[] = {LOG_WARNING, LOG_INFO, LOG_DEBUG};
	if (log_getlevel() < LOG_DEBUG)
		log_setlevel(levels[c->log_level]);
	f->conf = c;
	return 0;
}

void featured_unconfigure(struct featured *f)
{
	mailer_free(f->mailer);
	f->mailer = NULL;
	feature_cache_free(f->cache);
	feature_table_free(f->table);
	script_intern_free(f->intern);
	f->cache = NULL;
	f->table = NULL;
	f->intern = NULL;
}
