/*
 * Request bodies of the provisioning API, checked at the edge: JSON text in,
 * a filled struct or a problem (RFC 9457) out. Pure functions (no database,
 * no I/O), so the fuzz target tests/fuzz/fuzz_api_json.c can call them.
 *
 * Rules the database also enforces (the CHECK constraints of
 * provisioning/sql/001_core.sql) are repeated here so that a client gets a
 * message naming the field instead of a constraint name. Unknown fields are
 * refused (422): a typo must not be silently ignored.
 */
#ifndef VOCAL_PROVISIONING_VALIDATE_H
#define VOCAL_PROVISIONING_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define API_BODY_MAX (64 * 1024)  /* bytes of a request body */

/* An error for the client. status is 400 (not JSON), 422 (a field is
 * wrong) or what the caller sets; detail names the field. */
struct problem {
	int status;
	char title[64];
	char detail[512];
};

/* Fills p and returns -1: "return problem_set(p, 422, ...)". */
int problem_set(struct problem *p, int status, const char *title, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Which members of an input were present in the body. */
enum {
	IN_NAME = 1u << 0,
	IN_REALM = 1u << 1,
	IN_ENABLED = 1u << 2,
	IN_DOMAIN_ID = 1u << 3,
	IN_USER = 1u << 4,
	IN_DISPLAY = 1u << 5,
	IN_AUTH_KIND = 1u << 6,
	IN_KIND = 1u << 7,
	IN_DESCRIPTION = 1u << 8,
	IN_HOST = 1u << 9,
	IN_PORT = 1u << 10,
	IN_TRANSPORT = 1u << 11,
	IN_PRIORITY = 1u << 12,
	IN_WEIGHT = 1u << 13,
	IN_POSITION = 1u << 14,
	IN_PATTERN = 1u << 15,
	IN_TEMPLATE = 1u << 16,
	IN_PASSWORD = 1u << 17,
	IN_NUMBER = 1u << 18,
	IN_LOGIN = 1u << 19,
	IN_ROLE = 1u << 20,
	IN_SUBSCRIBER_ID = 1u << 21,
	IN_CURRENT_PASSWORD = 1u << 22,
	IN_NEW_PASSWORD = 1u << 23,
	IN_ADMIN_ENABLED = 1u << 24,
	IN_USER_ENABLED = 1u << 25,
	IN_LOCKED = 1u << 26,
	IN_GROUP_ID = 1u << 27,
	IN_SETTINGS = 1u << 28,
	IN_VALID_DAYS = 1u << 29,
	IN_ON_FAILURE = 1u << 30,
};

/*
 * A request body is described by a table of its members (struct
 * field_spec), walked by one parser, so adding a resource's body is adding
 * a table; api.c builds its INSERT and UPDATE statements from the same
 * table (a member's name is its column's). Every *_in struct below starts
 * with `unsigned has` (the IN_* bits of the members present).
 */
enum field_type {
	FIELD_STRING,                 /* char[size], at most size - 1 bytes, no NUL */
	FIELD_BOOL,                   /* bool */
	FIELD_INT,                    /* int from min to max */
	FIELD_ID,                     /* int64_t, a positive row id */
	FIELD_OBJECT,                 /* json_t *, a JSON object (a reference: body_release) */
};

enum {
	FIELD_REQUIRED = 1u << 0,     /* a create needs it */
	FIELD_FIXED = 1u << 1,        /* given at create only; a PATCH refuses it (why) */
	FIELD_PATH = 1u << 2,         /* given by the path, never by a body (why) */
	FIELD_ENUM = 1u << 3,         /* every fault is check's message (one of a list) */
	FIELD_PARENT_DEFAULT = 1u << 4, /* FIELD_ID: absent (0) takes the parent row's column */
	FIELD_SECRET = 1u << 5,       /* never stored or logged as given (passwords) */
	FIELD_NULLABLE = 1u << 6,     /* FIELD_ID: JSON null is 0, stored as SQL NULL */
};

struct field_spec {
	const char *name;             /* JSON member and column */
	enum field_type type;
	unsigned flags;               /* FIELD_* */
	unsigned bit;                 /* IN_* */
	size_t off, size;             /* where in the *_in struct */
	long long min, max;           /* FIELD_INT */
	long long idef;               /* FIELD_INT, FIELD_BOOL: the default */
	const char *sdef;             /* FIELD_STRING: the default ("" when NULL) */
	/* FIELD_STRING: NULL when s is acceptable, else why (static text or
	 * buf); the detail is "name: why" */
	const char *(*check)(const char *s, char *buf, size_t cap);
	const char *why;              /* the detail of a FIELD_FIXED or FIELD_PATH refusal */
};

struct body_spec {
	const char *unknown;          /* detail after "member: " for a member not in fields */
	size_t size;                  /* of the *_in struct */
	const struct field_spec *fields; /* ends with {0} */
	bool patch;                   /* a PATCH body exists (else: create only) */
	/* after the required members are there: fills derived defaults */
	int (*finish)(void *out, bool create, struct problem *p);
};

/* ---- web logins (session.c) ---- */

/* POST /api/v1/session: any login and password (a wrong one is a 401, not
 * a 422, so that nothing tells which logins exist). */
struct login_in {
	unsigned has;
	char login[65];
	char password[1025];
};

/* An account (POST /accounts; a PATCH may change only enabled). */
struct account_in {
	unsigned has;
	char login[65];               /* ^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}$ */
	char password[1025];          /* the web password policy */
	char role[16];                /* admin, subscriber */
	int64_t subscriber_id;        /* required for role subscriber, refused for admin */
	bool enabled;
};

/* PUT /accounts/{id}/password. */
struct web_password_in {
	unsigned has;
	char password[1025];
};

/* PUT /session/password: one's own, knowing the current one. */
struct own_password_in {
	unsigned has;
	char current_password[1025];
	char new_password[1025];
};

/* An API token for scripts (POST /tokens; a PATCH may change only
 * enabled). The token itself is made by provd, never given. */
struct api_token_in {
	unsigned has;
	char name[65];                /* as a login: ^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}$ */
	int valid_days;               /* 1 to 3650; 0 (absent): no expiry */
	bool enabled;
};

extern const struct body_spec body_login, body_account, body_web_password, body_own_password,
	body_api_token;

bool valid_login(const char *s);
/* The password policy of web logins: NULL when s is acceptable (10
 * characters at least, 1024 bytes at most), else why. */
const char *web_password_policy(const char *s);

extern const struct body_spec body_domain, body_subscriber, body_password, body_alias, body_did,
	body_server_group, body_server, body_dial_plan, body_dial_entry;

/* Parses len bytes of text by spec into out (a struct of spec->size).
 * Returns 0, or -1 with p set (400 not a JSON object, 413, 422). After 0,
 * body_release(spec, out) drops the FIELD_OBJECT members' references
 * (nothing to do for a spec without one); after -1 there are none. */
int body_parse(const struct body_spec *spec, const char *text, size_t len, bool create, void *out,
	       struct problem *p);
void body_release(const struct body_spec *spec, void *out);

/* One member of spec given as text rather than JSON (a CSV cell), checked
 * as body_parse checks it (type, length, check), into out. Returns 0, or
 * -1 with p ("name: why"; text that is not UTF-8 is refused). */
int body_field_text(const struct body_spec *spec, const char *name, const char *text, void *out,
		    struct problem *p);

/* ---- feature subscriptions ---- */

struct json_t;
struct feature_settings;

/* PUT /subscribers/{id}/features/{feature}: every member optional (a new
 * subscription takes the defaults, an existing one keeps what a member
 * leaves out). settings is a reference into the parsed body. */
struct feature_in {
	unsigned has;
	bool admin_enabled;           /* the carrier offers it (VOCAL's adminSet), default true */
	bool user_enabled;            /* the subscriber switched it on (userSet), default false */
	bool locked;                  /* the carrier's settings: the subscriber may not change it */
	int64_t group_id;             /* a server group of kind feature; 0: not given */
	struct json_t *settings;      /* a JSON object; NULL: not given */
};

extern const struct body_spec body_feature;

/* Parses a feature subscription body for a feature of kind (enum
 * feature_kind, feature/settings.h); given settings are validated with
 * feature_settings_from_json() into *settings (free with
 * feature_settings_free; NULL when the body has none), a refusal being 422
 * with its one-line message as the detail (a raw cpl script is compiled:
 * the message says where). Returns 0 (then body_release(&body_feature,
 * out)), or -1 with p set. */
int api_parse_feature(const char *text, size_t len, int kind, struct feature_in *out,
		      struct feature_settings **settings, struct problem *p);

struct domain_in {
	unsigned has;                 /* IN_* */
	char name[254];               /* lower-case DNS name */
	char realm[129];              /* printable ASCII, no '"' or '\\' */
	bool enabled;
	int64_t feature_group_id;     /* new subscriptions' feature group; 0 (null): none */
};

struct subscriber_in {
	unsigned has;
	int64_t domain_id;
	char user_part[65];           /* RFC 3261 user */
	char display_name[4 * 128 + 1]; /* up to 128 characters of UTF-8 */
	char auth_kind[8];            /* none, ip, digest */
	bool enabled;
};

struct password_in {
	unsigned has;
	char password[1025];
};

/* Another user part that reaches a subscriber; domain_id 0: the
 * subscriber's own domain. */
struct alias_in {
	unsigned has;
	int64_t domain_id;
	char user_part[65];
};

/* A DID: an E.164 number with its '+'. */
struct did_in {
	unsigned has;
	char number[17];
};

/* A group of servers of one kind. */
struct server_group_in {
	unsigned has;
	char name[64];                /* ^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$ */
	char kind[16];                /* marshal_ua, marshal_gateway, redirect, feature, ... */
	char description[4 * 1024 + 1]; /* up to 1024 characters of UTF-8 */
	char on_failure[8];           /* a feature group's: fail (the call) or skip (the hop) */
};

/* One server of a group (RFC 2782 priority and weight). */
struct server_in {
	unsigned has;
	char host[254];               /* a host name or an IP literal (IPv6 without brackets) */
	int port;                     /* 1-65535, default 5060 */
	char transport[5];            /* udp, tcp, tls, sctp, ws, wss; default udp */
	int priority;                 /* 0-65535, default 0 */
	int weight;                   /* 0-65535, default 1 */
	bool enabled;
};

/* A dial plan: a named, ordered list of entries. */
struct dial_plan_in {
	unsigned has;
	char name[64];                /* as a server group's */
	char description[4 * 1024 + 1];
};

/* One entry: the first (lowest position) whose pattern matches gives the
 * contact, template with \1..\9 replaced by the pattern's groups. */
struct dial_entry_in {
	unsigned has;
	int position;                 /* >= 0 */
	char pattern[4 * 1024 + 1];   /* 1-1024 characters, compiles with regcomp REG_EXTENDED */
	char contact_template[4 * 1024 + 1]; /* sip:, sips: or tel:, no blanks or controls */
};

/*
 * Each parses len bytes of text (any bytes). create: the body of a POST
 * (required members must be there; for a domain, realm defaults to name);
 * otherwise of a PATCH (any subset, at least one member; members that
 * cannot change are refused). Returns 0 with out filled, or -1 with p set.
 */
int api_parse_domain(const char *text, size_t len, bool create, struct domain_in *out,
		     struct problem *p);
int api_parse_subscriber(const char *text, size_t len, bool create, struct subscriber_in *out,
			 struct problem *p);
int api_parse_password(const char *text, size_t len, struct password_in *out, struct problem *p);
/* create: POST (group: name and kind required; server: host required);
 * otherwise PATCH (a group's kind and a server's group cannot change). */
int api_parse_server_group(const char *text, size_t len, bool create, struct server_group_in *out,
			   struct problem *p);
int api_parse_server(const char *text, size_t len, bool create, struct server_in *out,
		     struct problem *p);
/* create: POST (plan: name; entry: position, pattern, contact_template
 * required); otherwise PATCH (any subset, at least one). A pattern that
 * POSIX regcomp (REG_EXTENDED) refuses is 422 with regerror's text. */
int api_parse_dial_plan(const char *text, size_t len, bool create, struct dial_plan_in *out,
			struct problem *p);
int api_parse_dial_entry(const char *text, size_t len, bool create, struct dial_entry_in *out,
			 struct problem *p);
/* POST bodies only (neither can be changed: delete and add again). */
int api_parse_alias(const char *text, size_t len, struct alias_in *out, struct problem *p);
int api_parse_did(const char *text, size_t len, struct did_in *out, struct problem *p);

/* The field checks on their own (NUL-terminated input). */
bool valid_domain_name(const char *s);
bool valid_realm(const char *s);
bool valid_user_part(const char *s);
bool valid_e164(const char *s);        /* ^\+[1-9][0-9]{1,14}$ */
bool valid_group_name(const char *s);   /* ^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$ */
bool valid_server_kind(const char *s);
bool valid_host(const char *s);         /* as the servers.host CHECK */
bool valid_transport(const char *s);
bool valid_contact_template(const char *s); /* ^(sips?|tel):[^\x01-\x20\x7f]+$, <= 1024 chars */

#endif
