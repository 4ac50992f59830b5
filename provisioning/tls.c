/* provd's TLS files (tls.h). */
#include "provisioning/tls.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

/* A certificate chain or a key is a few KiB; this is only a bound. */
#define TLS_FILE_MAX (1024 * 1024)

const char *tls_priorities(int min_version)
{
	/* -VERS-ALL first: whatever GnuTLS's NORMAL (or the system's policy)
	 * would allow, never SSL 3.0, TLS 1.0 or 1.1 */
	return min_version == TLS_MIN_1_3 ? "NORMAL:-VERS-ALL:+VERS-TLS1.3"
					  : "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2";
}

/* The whole file at path, NUL-terminated, into *out (heap, *size bytes
 * allocated). key: refuse a file that group or others may access. */
static int read_file(const char *what, const char *path, bool key, char **out, size_t *size,
		     char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size > TLS_FILE_MAX) {
		snprintf(err, errlen, "%s %s: not a PEM file (a regular file of at most %d bytes)",
			 what, path, TLS_FILE_MAX);
		close(fd);
		return -1;
	}
	/* fstat of the file opened, not stat of the name: no race with a
	 * rename between the check and the read */
	if (key && (st.st_mode & 077)) {
		snprintf(err, errlen,
			 "%s %s: permissions %04o are too open: group or others may access the "
			 "private key (chmod 600 %s)",
			 what, path, (unsigned)(st.st_mode & 07777), path);
		close(fd);
		return -1;
	}
	size_t cap = (size_t)st.st_size + 1;
	char *buf = malloc(cap);
	size_t len = 0;
	while (buf && len < cap - 1) {
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	int saved = errno;
	close(fd);
	if (!buf || len == 0) {
		snprintf(err, errlen, "%s %s: %s", what, path, buf ? strerror(saved) : "out of memory");
		free(buf);
		return -1;
	}
	buf[len] = 0;
	*out = buf;
	*size = cap;
	return 0;
}

/* OpenSSL's first queued error as text (and the queue emptied). */
static const char *ssl_reason(void)
{
	unsigned long e = ERR_get_error();
	ERR_clear_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;
	return r ? r : "no PEM data";
}

/* An encrypted key is refused rather than asked for a passphrase (there
 * is nobody to type it): the callback gives none. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

static void asn1_time_text(const ASN1_TIME *t, char *out, size_t cap, time_t *when)
{
	struct tm tm;
	if (ASN1_TIME_to_tm(t, &tm) == 1) {
		strftime(out, cap, "%Y-%m-%d %H:%M:%S UTC", &tm);
		*when = timegm(&tm);
	} else {
		snprintf(out, cap, "?");
		*when = 0;
	}
}

int tls_files_load(const char *cert_path, const char *key_path, struct tls_files *f, char *err,
		   size_t errlen)
{
	*f = (struct tls_files){0};
	size_t cert_size;
	if (read_file("tls.cert", cert_path, false, &f->cert, &cert_size, err, errlen) < 0)
		return -1;
	if (read_file("tls.key", key_path, true, &f->key, &f->key_size, err, errlen) < 0) {
		tls_files_free(f);
		return -1;
	}
	int rc = -1;
	X509 *x = NULL;
	EVP_PKEY *pk = NULL;
	BIO *b = BIO_new_mem_buf(f->cert, -1);
	/* the first certificate of the file is the server's; a chain follows */
	if (!b || !(x = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
		snprintf(err, errlen, "tls.cert %s: not a PEM certificate (%s)", cert_path, ssl_reason());
		goto out;
	}
	BIO_free(b);
	b = BIO_new_mem_buf(f->key, -1);
	if (!b || !(pk = PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL))) {
		snprintf(err, errlen, "tls.key %s: not an unencrypted PEM private key (%s)", key_path,
			 ssl_reason());
		goto out;
	}
	if (X509_check_private_key(x, pk) != 1) {
		ERR_clear_error();
		snprintf(err, errlen, "tls.key %s is not the key of the certificate in tls.cert %s",
			 key_path, cert_path);
		goto out;
	}

	BIO *nb = BIO_new(BIO_s_mem());
	if (nb) {
		X509_NAME_print_ex(nb, X509_get_subject_name(x), 0, XN_FLAG_RFC2253);
		int n = BIO_read(nb, f->subject, (int)sizeof(f->subject) - 1);
		f->subject[n > 0 ? n : 0] = 0;
		BIO_free(nb);
	}
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	snprintf(f->serial, sizeof(f->serial), "%s", hex ? hex : "?");
	OPENSSL_free(hex);
	BN_free(bn);

	char from[32];
	time_t start;
	asn1_time_text(X509_get0_notBefore(x), from, sizeof(from), &start);
	asn1_time_text(X509_get0_notAfter(x), f->not_after, sizeof(f->not_after), &f->expires);
	time_t now = time(NULL);
	if (X509_cmp_time(X509_get0_notAfter(x), &now) <= 0) {
		snprintf(err, errlen, "tls.cert %s: the certificate expired on %s", cert_path,
			 f->not_after);
		goto out;
	}
	if (X509_cmp_time(X509_get0_notBefore(x), &now) > 0) {
		snprintf(err, errlen, "tls.cert %s: the certificate is not valid before %s", cert_path,
			 from);
		goto out;
	}
	rc = 0;
	time_t soon = now + (time_t)TLS_EXPIRY_WARN_DAYS * 86400;
	if (X509_cmp_time(X509_get0_notAfter(x), &soon) <= 0) {
		snprintf(err, errlen, "tls.cert %s: the certificate expires on %s, within %d days",
			 cert_path, f->not_after, TLS_EXPIRY_WARN_DAYS);
		rc = 1;
	}
out:
	BIO_free(b);
	X509_free(x);
	EVP_PKEY_free(pk);
	if (rc < 0)
		tls_files_free(f);
	return rc;
}

void tls_files_free(struct tls_files *f)
{
	if (f->key)
		OPENSSL_cleanse(f->key, f->key_size);
	free(f->key);
	free(f->cert);
	*f = (struct tls_files){0};
}
