/*
 * The RFC 3880 schema, built into the library: a script server must not
 * depend on files at run time, and the schema is part of the program's
 * meaning. The assembler's .incbin copies feature/cpl.xsd (relative to the
 * top of the tree, where make runs) into read-only data, so the file stays
 * the RFC's text, diffable against Appendix C, with no generated C.
 */
#include "feature/cpl_internal.h"

__asm__(".section .rodata\n"
	".global cpl_xsd\n"
	"cpl_xsd:\n"
	".incbin \"feature/cpl.xsd\"\n"
	".global cpl_xsd_end\n"
	"cpl_xsd_end:\n"
	".byte 0\n"
	".previous\n");
