/*
 * sipsend: sends one file's bytes as a SIP message over UDP or TCP and
 * prints what comes back, for the wire tests of the torture messages.
 *
 *   sipsend [--tcp] [--rport] [--first] [--print] [--from ADDR] [--wait MS]
 *           HOST PORT FILE
 *
 * Prints the status line of every response received within the wait (one
 * per line, CR stripped), "none" when nothing came, and over TCP "closed"
 * when the server closed the connection; --first stops at the first final
 * response; --print prints every response whole instead (CR stripped),
 * for tests that read its headers; --from sends from that numeric address
 * (any port), e.g. 127.0.0.2 on loopback to play another client. --rport adds ";rport" to the first value of the first Via
 * header, so that over UDP the answer comes back to our port whatever the
 * message's sent-by says (RFC 3581). Exit 0 unless it could not send.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Prints the status line of each response in buf (stream: possibly several). */
static void print_status_lines(const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;
	while (p < end) {
		const char *s = memmem(p, (size_t)(end - p), "SIP/2.0 ", 8);
		if (!s)
			break;
		const char *e = memchr(s, '\r', (size_t)(end - s));
		if (!e)
			e = end;
		printf("%.*s\n", (int)(e - s), s);
		p = e;
		const char *next = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
		if (!next)
			break;
		p = next + 4;
	}
}

/* Inserts ";rport" at the end of the first via-parm of the first Via
 * header: before its first comma outside quotes, or at the end of the
 * header, folded continuation lines included. */
static size_t add_rport(char *msg, size_t len)
{
	char *end = msg + len, *h = NULL;
	for (char *p = msg; p < end; p++) {
		if ((p == msg || p[-1] == '\n') &&
		    (!strncasecmp(p, "Via", 3) || !strncasecmp(p, "v", 1))) {
			char *q = p + (strncasecmp(p, "Via", 3) ? 1 : 3);
			while (q < end && (*q == ' ' || *q == '\t'))
				q++;
			if (q < end && *q == ':') {
				h = q + 1;
				break;
			}
		}
	}
	if (!h)
		return len;
	bool quoted = false;
	char *at = h;
	for (; at < end; at++) {
		if (*at == '"')
			quoted = !quoted;
		if (!quoted && *at == ',')
			break;
		if (at[0] == '\r' && at + 2 < end && at[1] == '\n' && at[2] != ' ' && at[2] != '\t')
			break;
	}
	while (at > h && (at[-1] == ' ' || at[-1] == '\t'))
		at--;
	memmove(at + 6, at, (size_t)(end - at));
	memcpy(at, ";rport", 6);
	return len + 6;
}

/* Prints buf without its CRs, ending with a newline. */
static void print_whole(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i] != '\r')
			putchar(buf[i]);
	if (len && buf[len - 1] != '\n')
		putchar('\n');
}

/* Whether a complete final (non-1xx) response head is in buf. */
static bool has_final(const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;
	while ((p = memmem(p, (size_t)(end - p), "SIP/2.0 ", 8)) != NULL) {
		if (end - p > 9 && p[8] != '1' && memmem(p, (size_t)(end - p), "\r\n\r\n", 4))
			return true;
		p += 8;
	}
	return false;
}

int main(int argc, char **argv)
{
	bool tcp = false, rport = false, first = false, whole = false;
	const char *from = NULL;
	long wait = 1000;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--tcp"))
			tcp = true;
		else if (!strcmp(argv[i], "--rport"))
			rport = true;
		else if (!strcmp(argv[i], "--first"))
			first = true;
		else if (!strcmp(argv[i], "--print"))
			whole = true;
		else if (!strcmp(argv[i], "--from") && i + 1 < argc)
			from = argv[++i];
		else if (!strcmp(argv[i], "--wait") && i + 1 < argc)
			wait = atol(argv[++i]);
		else
			break;
	}
	if (argc - i != 3) {
		fprintf(stderr, "usage: sipsend [--tcp] [--rport] [--first] [--print] [--from ADDR] "
				"[--wait MS] HOST PORT FILE\n");
		return 2;
	}
	FILE *f = fopen(argv[i + 2], "rb");
	if (!f) {
		perror(argv[i + 2]);
		return 2;
	}
	static char msg[1 << 17], out[1 << 17];
	size_t len = fread(msg, 1, sizeof(msg) - 16, f);
	fclose(f);
	if (rport)
		len = add_rport(msg, len);
	struct sockaddr_storage ss = {0};
	socklen_t sl;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, argv[i], &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)atoi(argv[i + 1]));
		sl = sizeof(*s4);
	} else if (inet_pton(AF_INET6, argv[i], &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)atoi(argv[i + 1]));
		sl = sizeof(*s6);
	} else {
		fprintf(stderr, "sipsend: %s is not a numeric address\n", argv[i]);
		return 2;
	}
	int fd = socket(ss.ss_family, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
	if (fd >= 0 && from) {
		struct sockaddr_storage ls = {0};
		struct sockaddr_in *l4 = (struct sockaddr_in *)&ls;
		struct sockaddr_in6 *l6 = (struct sockaddr_in6 *)&ls;
		socklen_t ll = sizeof(*l4);
		if (inet_pton(AF_INET, from, &l4->sin_addr) == 1) {
			l4->sin_family = AF_INET;
		} else if (inet_pton(AF_INET6, from, &l6->sin6_addr) == 1) {
			l6->sin6_family = AF_INET6;
			ll = sizeof(*l6);
		} else {
			fprintf(stderr, "sipsend: %s is not a numeric address\n", from);
			return 2;
		}
		if (bind(fd, (struct sockaddr *)&ls, ll) < 0) {
			perror("sipsend: bind");
			return 1;
		}
	}
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, sl) < 0) {
		perror("sipsend: connect");
		return 1;
	}
	size_t off = 0;
	while (off < len) {
		ssize_t n = send(fd, msg + off, len - off, MSG_NOSIGNAL);
		if (n < 0) {
			perror("sipsend: send");
			return 1;
		}
		off += (size_t)n;
	}
	size_t got = 0;
	bool closed = false;
	long deadline = now_ms() + wait;
	for (long left; (left = deadline - now_ms()) > 0 && got < sizeof(out);) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, (int)left) <= 0)
			break;
		ssize_t n = recv(fd, out + got, sizeof(out) - got, 0);
		if (n == 0 || (n < 0 && errno == ECONNRESET)) {
			closed = true;
			break;
		}
		if (n < 0) {
			if (errno == ECONNREFUSED)
				continue; /* UDP: an ICMP from an earlier datagram */
			break;
		}
		got += (size_t)n;
		if (first && has_final(out, got))
			break;
	}
	if (got && whole)
		print_whole(out, got);
	else if (got)
		print_status_lines(out, got);
	else
		printf("none\n");
	if (closed)
		printf("closed\n");
	close(fd);
	return 0;
}
