/*
 * What the libFuzzer targets share: CHECK(cond), a property that must hold;
 * when it does not, say which and trap, so that libFuzzer keeps the input.
 */
#ifndef VOCAL_FUZZ_CHECK_H
#define VOCAL_FUZZ_CHECK_H

#include <stdio.h>

#define CHECK(cond)                                                                      \
	do {                                                                             \
		if (!(cond)) {                                                           \
			fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, \
				#cond);                                                  \
			__builtin_trap();                                                \
		}                                                                        \
	} while (0)

#endif
