/*
 * The caller's identity as featured's native features treat it
 * (feature/privacy.c): caller-ID blocking hides it (RFC 3323), call
 * return remembers it unless the caller hid it.
 */
#ifndef VOCAL_FEATURE_PRIVACY_H
#define VOCAL_FEATURE_PRIVACY_H

#include <stdbool.h>

struct sip_msg;

#define FEATURE_ANONYMOUS_URI "sip:anonymous@anonymous.invalid"

/* Edits req (to be committed with sip_proxy_commit_edits): the From
 * becomes "Anonymous" <sip:anonymous@anonymous.invalid> with its tag kept,
 * and Privacy: id is added (an existing Privacy header is replaced by one
 * with id added). Returns 0, or -1 (no From, no memory). */
int feature_anonymize(struct sip_msg *req);

/* Whether the caller asked not to be identified: a Privacy header other
 * than "none", or an anonymous From (user or host "anonymous", any case,
 * or host anonymous.invalid). */
bool feature_caller_private(struct sip_msg *req);

#endif
