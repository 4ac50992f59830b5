#include "regex_guard.h"

#include <stdbool.h>
#include <stdlib.h>

const char *regex_too_costly(const char *s)
{
	bool prev_quant = false;
	long product = 1;
	for (size_t i = 0; s[i]; i++) {
		char c = s[i];
		if (c == '\\' && s[i + 1]) {
			i++;
			prev_quant = false;
		} else if (c == '[') {
			size_t j = i + 1;
			if (s[j] == '^')
				j++;
			if (s[j] == ']')
				j++;
			while (s[j] && s[j] != ']') {
				if (s[j] == '[' && (s[j + 1] == ':' || s[j + 1] == '=' || s[j + 1] == '.')) {
					char close = s[j + 1];
					j += 2;
					while (s[j] && !(s[j] == close && s[j + 1] == ']'))
						j++;
					if (s[j])
						j++;
				}
				if (s[j])
					j++;
			}
			if (!s[j])
				return NULL; /* unterminated: regcomp says so */
			i = j;
			prev_quant = false;
		} else if (c == '*' || c == '+' || c == '?') {
			if (prev_quant)
				return "a repetition of a repetition";
			prev_quant = true;
		} else if (c == '{' && s[i + 1] >= '0' && s[i + 1] <= '9') {
			char *end;
			/* huge numbers are refused before any arithmetic on them
			 * (strtol saturates; m + 1 would overflow) */
			long m = strtol(s + i + 1, &end, 10), n = m;
			if (m > 1000)
				return "repetition bounds multiplying past 1000";
			if (*end == ',') {
				if (end[1] >= '0' && end[1] <= '9') {
					n = strtol(end + 1, &end, 10);
					if (n > 1000)
						return "repetition bounds multiplying past 1000";
				} else {
					end++;
					n = m + 1;
				}
			}
			if (*end != '}')
				return NULL; /* not a bound: regcomp judges it */
			if (prev_quant)
				return "a repetition of a repetition";
			if ((product *= (n > m ? n : m) + 1) > 1000)
				return "repetition bounds multiplying past 1000";
			i = (size_t)(end - s);
			prev_quant = true;
		} else {
			prev_quant = false;
		}
	}
	return NULL;
}

