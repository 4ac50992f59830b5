/*
 * provd's TLS files: tls.cert and tls.key read into memory and checked
 * before libmicrohttpd (GnuTLS) is given them, so that a bad pair stops
 * provd at start, at `provd -n` or at a SIGHUP with a sentence that names
 * the file, rather than with a GnuTLS error or a server nobody can reach.
 *
 * Checked: the key file is a regular file that neither group nor others
 * may access (mode 0600 or stricter, as ssh asks of its keys); both are
 * PEM (the key unencrypted); the key is the certificate's; the certificate
 * is valid now. It expiring within TLS_EXPIRY_WARN_DAYS is a warning, not
 * an error. The checks use OpenSSL's libcrypto, which provd links already.
 */
#ifndef VOCAL_PROVISIONING_TLS_H
#define VOCAL_PROVISIONING_TLS_H

#include <stddef.h>
#include <time.h>

/* tls.min_version's values, in its names' order. */
enum tls_version { TLS_MIN_1_2 = 0, TLS_MIN_1_3 };

#define TLS_EXPIRY_WARN_DAYS 30

struct tls_files {
	char *cert;          /* PEM text, NUL-terminated (heap) */
	char *key;           /* PEM text, NUL-terminated (heap; zeroed when freed) */
	size_t key_size;     /* bytes of key's buffer, for the zeroing */
	char subject[256];   /* the certificate's subject, RFC 2253 */
	char serial[80];     /* its serial number, hex */
	char not_after[32];  /* "2027-11-25 22:19:37 UTC" */
	time_t expires;      /* the same as a time */
};

/*
 * Reads and checks cert_path and key_path (see above) into *f, which the
 * caller frees with tls_files_free. Returns 0; 1 when the pair is good but
 * the certificate expires within TLS_EXPIRY_WARN_DAYS (the warning in
 * err); -1 with the reason in err (nothing to free).
 */
int tls_files_load(const char *cert_path, const char *key_path, struct tls_files *f, char *err,
		   size_t errlen);

/* Zeroes the key's bytes, frees both texts; safe on a zeroed struct. */
void tls_files_free(struct tls_files *f);

/* GnuTLS's priority string for libmicrohttpd (MHD_OPTION_HTTPS_PRIORITIES):
 * GnuTLS's NORMAL suites with only TLS 1.3, or 1.3 and 1.2. */
const char *tls_priorities(int min_version);

#endif
