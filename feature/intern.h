/*
 * Compiled scripts shared by their text (feature/intern.c). Generated
 * scripts name no subscriber, so subscribers with the same settings get
 * byte-identical scripts: compiled once, shared with a reference count.
 * Most subscribers (voicemail only, screening of anonymous callers, a
 * carrier's blocking policy) then share a handful of compiled scripts,
 * whatever the number of subscribers.
 */
#ifndef VOCAL_FEATURE_INTERN_H
#define VOCAL_FEATURE_INTERN_H

#include <stddef.h>
#include <stdint.h>

#include "feature/cpl.h"

struct script_intern;
struct interned; /* one shared script */

struct script_intern *script_intern_new(void);
/* Frees the table; scripts still referenced stay valid until put. */
void script_intern_free(struct script_intern *si);

/*
 * The compiled form of xml[0..len) under lim, shared: from the table when
 * the same text was compiled under the same limits generation (gen),
 * compiled now otherwise. Returns the entry (its script in *out) with a
 * reference taken, or NULL with cpl_compile's message in err (failures
 * are not kept).
 */
struct interned *script_intern_get(struct script_intern *si, const char *xml, size_t len,
				   const struct cpl_limits *lim, uint32_t gen, struct cpl_script **out,
				   char *err, size_t errlen);
/* Drops a reference; the script goes with the last one. */
void script_intern_put(struct interned *e);

struct script_intern_stats {
	size_t scripts;     /* distinct compiled scripts held */
	uint64_t shared;    /* gets answered from the table */
	uint64_t compiled;  /* gets that compiled */
};
void script_intern_get_stats(const struct script_intern *si, struct script_intern_stats *out);

#endif
