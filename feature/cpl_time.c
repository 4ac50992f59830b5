/*
 * CPL time switches (RFC 3880 section 4.4, Appendix A): the recurrence
 * subset we run, and the test "does this instant fall in an occurrence".
 *
 * Supported: dtstart (always the first occurrence) with dtend or
 * duration, freq daily/weekly/monthly/yearly, interval, until (date or
 * date-time), count, byday (with numeric prefixes for monthly, and for
 * yearly with bymonth), bymonthday and byyearday (also negative), byweekno
 * (yearly; weeks as RFC 2445 numbers them from wkst), bymonth, byhour,
 * byminute, bysecond, wkst; tzid from the system tz database, or floating
 * time (the server's zone) without one.
 * freq hourly, minutely and secondly count their intervals in wall-clock
 * units from dtstart's (so a repeated hour when clocks go back is one
 * unit).
 * bysetpos picks among the occurrences of each freq period (day, week from
 * wkst, month, year), for freq daily to yearly.
 * Refused at load time as "not supported yet": bysetpos with sub-daily
 * freqs, bysecond=60 (leap second), tzurl
 * without tzid, durations over 366 days, count over 1000 (or reaching more
 * than 200 years ahead). As section 4.4.1 suggests, count is expanded once
 * at load time into the day of the last occurrence, so a match costs a few
 * days' checks, not an enumeration from dtstart.
 *
 * Method: an occurrence starts on some local day at a time of day from
 * the rule's hour x minute x second sets, so the one holding "now" starts
 * on one of the few local days from now - duration to now. For each such
 * day that the rule selects, the latest start not after now (nor until,
 * nor the last counted occurrence) is turned into an instant in the zone
 * (mktime, so a start in a DST gap moves as mktime does) and compared; an
 * earlier start that day would end earlier still. Durations are exact
 * seconds (RFC 2445 says days are nominal; they differ only across a DST
 * change).
 *
 * Time zones: mktime/localtime_r with TZ set to the zone, under a mutex,
 * then TZ restored. Not cheap and process-global, but it reads the system
 * tz database that the rest of the system uses, correctly, in little code;
 * reading tzfile data ourselves is the upgrade if time-switches turn hot.
 */
#include <ctype.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "feature/cpl_internal.h"

#define MAX_DURATION (366L * 86400)
#define MAX_COUNT 1000

/* ---- parsing ------------------------------------------------------------ */

static bool digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

static int days_in_month(int y, int m)
{
	static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return dim[m - 1];
}

/* YYYYMMDD, YYYYMMDDTHHMMSS or YYYYMMDDTHHMMSSZ; date_only says which. */
static bool parse_dt(const char *v, struct cpl_dt *dt, bool *date_only)
{
	memset(dt, 0, sizeof(*dt));
	size_t n = strlen(v);
	if (n < 8 || !digits(v, 4, &dt->y) || !digits(v + 4, 2, &dt->mo) ||
	    !digits(v + 6, 2, &dt->d))
		return false;
	if (dt->y < 1900 || dt->y > 9999 || dt->mo < 1 || dt->mo > 12 || dt->d < 1 ||
	    dt->d > days_in_month(dt->y, dt->mo))
		return false;
	*date_only = n == 8;
	if (n == 8)
		return true;
	if ((n != 15 && n != 16) || v[8] != 'T' || !digits(v + 9, 2, &dt->h) ||
	    !digits(v + 11, 2, &dt->mi) || !digits(v + 13, 2, &dt->s))
		return false;
	if (n == 16) {
		if (v[15] != 'Z')
			return false;
		dt->utc = true;
	}
	return dt->h < 24 && dt->mi < 60 && dt->s < 61;
}

/* RFC 2445 dur-value: [+]P(nW | [nD][T[nH][nM][nS]]). */
static bool parse_duration(const char *v, long *out)
{
	long total = 0;
	if (*v == '+')
		v++;
	if (*v++ != 'P')
		return false;
	bool time = false, any = false;
	while (*v) {
		if (*v == 'T' && !time) {
			time = true;
			v++;
			continue;
		}
		if (!isdigit((unsigned char)*v))
			return false;
		long n = 0;
		while (isdigit((unsigned char)*v)) {
			n = n * 10 + (*v++ - '0');
			if (n > MAX_DURATION)
				return false;
		}
		long unit;
		switch (*v++) {
		case 'W': unit = time ? 0 : 604800; break;
		case 'D': unit = time ? 0 : 86400; break;
		case 'H': unit = time ? 3600 : 0; break;
		case 'M': unit = time ? 60 : 0; break;
		case 'S': unit = time ? 1 : 0; break;
		default: return false;
		}
		if (!unit)
			return false;
		total += n * unit;
		if (total > MAX_DURATION)
			return false;
		any = true;
	}
	*out = total;
	return any;
}

static int weekday_code(const char *s)
{
	static const char *const d[] = {"SU", "MO", "TU", "WE", "TH", "FR", "SA"};
	for (int i = 0; i < 7; i++)
		if (!strncasecmp(s, d[i], 2))
			return i;
	return -1;
}

static bool has_yearday(const struct cpl_time *t)
{
	for (int i = 0; i < 6; i++)
		if (t->byyearday_pos[i] || t->byyearday_neg[i])
			return true;
	return false;
}

int cpl_time_parse(struct cpl_time *t, const char *(*get)(void *arg, const char *name),
		   void *arg, char *err, size_t errlen)
{
	memset(t, 0, sizeof(*t));
	t->interval = 1;
	t->wkst = 1;
	const char *v;
	bool date_only;

	if (!(v = get(arg, "dtstart")) || !parse_dt(v, &t->dtstart, &date_only) || date_only) {
		snprintf(err, errlen, "dtstart \"%s\" is not a date-time", v ? v : "");
		return -1;
	}
	if ((v = get(arg, "dtend"))) {
		if (!parse_dt(v, &t->dtend, &date_only) || date_only) {
			snprintf(err, errlen, "dtend \"%s\" is not a date-time", v);
			return -1;
		}
		t->has_dtend = true;
	} else if ((v = get(arg, "duration"))) {
		if (!parse_duration(v, &t->duration) || t->duration <= 0) {
			snprintf(err, errlen,
				 "duration \"%s\" is not a positive duration of at most 366 days "
				 "(longer is not supported yet)",
				 v);
			return -1;
		}
	} else {
		snprintf(err, errlen, "needs dtend or duration");
		return -1;
	}
	if ((v = get(arg, "freq"))) {
		static const char *const f[] = {"daily",  "weekly",   "monthly",  "yearly",
						"hourly", "minutely", "secondly", NULL};
		for (int i = 0; f[i]; i++)
			if (!strcasecmp(v, f[i]))
				t->freq = (uint8_t)(FREQ_DAILY + i);
		if (!t->freq) {
			snprintf(err, errlen, "freq \"%s\" is not supported yet", v);
			return -1;
		}
	}
	if ((v = get(arg, "interval"))) {
		char *end;
		unsigned long n = strtoul(v, &end, 10);
		if (*end || n < 1 || n > 10000) {
			snprintf(err, errlen, "interval \"%s\" is not 1..10000", v);
			return -1;
		}
		t->interval = (unsigned)n;
	}
	if ((v = get(arg, "until"))) {
		if (!parse_dt(v, &t->until, &date_only)) {
			snprintf(err, errlen, "until \"%s\" is not a date or date-time", v);
			return -1;
		}
		if (date_only) { /* the whole day is included */
			t->until.h = 23;
			t->until.mi = 59;
			t->until.s = 59;
		}
		t->has_until = true;
	}
	if ((v = get(arg, "count"))) {
		char *end;
		unsigned long n = strtoul(v, &end, 10);
		if (*end || n < 1 || n > MAX_COUNT) {
			snprintf(err, errlen, "count \"%s\" is not 1..%d (more is not supported yet)",
				 v, MAX_COUNT);
			return -1;
		}
		t->count = (unsigned)n;
	}
	if (t->count && t->has_until) {
		snprintf(err, errlen, "count and until exclude each other");
		return -1;
	}
	if ((v = get(arg, "wkst"))) {
		int d = weekday_code(v);
		if (d < 0 || strlen(v) != 2) {
			snprintf(err, errlen, "wkst \"%s\" is not a weekday", v);
			return -1;
		}
		t->wkst = (uint8_t)d;
	}
	if ((v = get(arg, "bymonth"))) {
		for (const char *p = v; *p;) {
			char *end;
			long m = strtol(p, &end, 10);
			if (end == p || m < 1 || m > 12 || (*end && *end != ',')) {
				snprintf(err, errlen, "bymonth \"%s\" is not a list of 1..12", v);
				return -1;
			}
			t->bymonth |= (uint16_t)(1u << m);
			p = *end ? end + 1 : end;
		}
	}
	if ((v = get(arg, "bymonthday"))) {
		for (const char *p = v; *p;) {
			char *end;
			long d = strtol(p, &end, 10);
			if (end == p || d == 0 || d < -31 || d > 31 || (*end && *end != ',')) {
				snprintf(err, errlen, "bymonthday \"%s\" is not a list of +-1..31", v);
				return -1;
			}
			if (d > 0)
				t->bymonthday_pos |= 1u << d;
			else
				t->bymonthday_neg |= 1u << -d;
			p = *end ? end + 1 : end;
		}
	}
	static const struct {
		const char *name;
		int max;
	} bytime[] = {{"byhour", 23}, {"byminute", 59}, {"bysecond", 59}};
	for (int i = 0; i < 3; i++) {
		if (!(v = get(arg, bytime[i].name)))
			continue;
		uint64_t mask = 0;
		for (const char *p = v; *p;) {
			char *end;
			long x = strtol(p, &end, 10);
			if (end == p || x < 0 || x > bytime[i].max || (*end && *end != ',')) {
				snprintf(err, errlen, "%s \"%s\" is not a list of 0..%d",
					 bytime[i].name, v, bytime[i].max);
				return -1;
			}
			mask |= (uint64_t)1 << x;
			p = *end ? end + 1 : end;
		}
		if (i == 0)
			t->hours = (uint32_t)mask;
		else if (i == 1)
			t->minutes = mask;
		else
			t->seconds = mask;
	}
	if ((v = get(arg, "bysetpos"))) {
		if (!t->freq || t->freq >= FREQ_HOURLY) {
			snprintf(err, errlen,
				 "bysetpos is supported with freq daily, weekly, monthly or yearly "
				 "only (others not supported yet)");
			return -1;
		}
		for (const char *p = v; *p;) {
			char *end;
			long n = strtol(p, &end, 10);
			if (end == p || n == 0 || n < -366 || n > 366 || (*end && *end != ',') ||
			    t->nsetpos >= 32) {
				snprintf(err, errlen, "bysetpos \"%s\" is not a list of up to 32 +-1..366",
					 v);
				return -1;
			}
			t->setpos[t->nsetpos++] = (int16_t)n;
			p = *end ? end + 1 : end;
		}
	}
	if ((v = get(arg, "byyearday"))) {
		for (const char *p = v; *p;) {
			char *end;
			long d = strtol(p, &end, 10);
			if (end == p || d == 0 || d < -366 || d > 366 || (*end && *end != ',')) {
				snprintf(err, errlen, "byyearday \"%s\" is not a list of +-1..366", v);
				return -1;
			}
			uint64_t *mask = d > 0 ? t->byyearday_pos : t->byyearday_neg;
			long k = d > 0 ? d : -d;
			mask[k / 64] |= (uint64_t)1 << (k % 64);
			p = *end ? end + 1 : end;
		}
	}
	if ((v = get(arg, "byweekno"))) {
		for (const char *p = v; *p;) {
			char *end;
			long w = strtol(p, &end, 10);
			if (end == p || w == 0 || w < -53 || w > 53 || (*end && *end != ',')) {
				snprintf(err, errlen, "byweekno \"%s\" is not a list of +-1..53", v);
				return -1;
			}
			if (w > 0)
				t->byweekno_pos |= (uint64_t)1 << w;
			else
				t->byweekno_neg |= (uint64_t)1 << -w;
			p = *end ? end + 1 : end;
		}
		if (t->freq != FREQ_YEARLY) {
			snprintf(err, errlen, "byweekno needs freq yearly (RFC 2445)");
			return -1;
		}
	}
	if ((v = get(arg, "byday"))) {
		for (const char *p = v; *p;) {
			char *end;
			long n = 0;
			if (*p == '+' || *p == '-' || isdigit((unsigned char)*p)) {
				n = strtol(p, &end, 10);
				if (end == p || n == 0 || n < -5 || n > 5)
					goto bad_byday;
				p = end;
			}
			int d = weekday_code(p);
			if (d < 0 || (p[2] && p[2] != ','))
				goto bad_byday;
			if ((t->byday & (1u << d)) && t->byday_n[d] != n) {
				snprintf(err, errlen,
					 "byday \"%s\": one weekday with several prefixes is not "
					 "supported yet",
					 v);
				return -1;
			}
			if (n && !(t->freq == FREQ_MONTHLY || (t->freq == FREQ_YEARLY && t->bymonth))) {
				snprintf(err, errlen,
					 "byday \"%s\": numeric prefixes are supported with freq monthly, "
					 "or yearly with bymonth, only (others not supported yet)",
					 v);
				return -1;
			}
			t->byday |= (uint8_t)(1u << d);
			t->byday_n[d] = (int8_t)n;
			p += p[2] ? 3 : 2;
			continue;
		bad_byday:
			snprintf(err, errlen, "byday \"%s\" is not a list of [+-n]SU..SA", v);
			return -1;
		}
	}
	if (!t->freq && (t->interval != 1 || t->has_until || t->count || t->byday || t->bymonth ||
			 t->bymonthday_pos || t->bymonthday_neg || has_yearday(t) || t->hours ||
			 t->minutes || t->seconds)) {
		snprintf(err, errlen, "recurrence parts without freq");
		return -1;
	}
	return 0;
}

/* ---- time zones ----------------------------------------------------- */

bool cpl_tz_known(const char *tzid)
{
	if (!tzid[0] || tzid[0] == '/' || strstr(tzid, "..") || strlen(tzid) > 100)
		return false;
	for (const char *p = tzid; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("/_+-", *p))
			return false;
	char path[160];
	snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", tzid);
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- calendar arithmetic (days since 1970-01-01, proleptic Gregorian) -- */

static long days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	long era = (y >= 0 ? y : y - 399) / 400;
	long yoe = y - era * 400;
	long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(long z, int *y, int *m, int *d)
{
	z += 719468;
	long era = (z >= 0 ? z : z - 146096) / 146097;
	long doe = z - era * 146097;
	long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	long yy = yoe + era * 400;
	long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	long mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yy + (*m <= 2));
}

static int weekday(long day) { return (int)(((day % 7) + 11) % 7); } /* 1970-01-01: Thu */

/* The wall-clock instant of a local day and second of day, in the zone
 * currently set. */
static time_t local_instant(long day, long sec)
{
	int y, m, d;
	civil_from_days(day, &y, &m, &d);
	struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d,
			.tm_hour = (int)(sec / 3600), .tm_min = (int)(sec / 60 % 60),
			.tm_sec = (int)(sec % 60), .tm_isdst = -1};
	return mktime(&tm);
}

static time_t dt_instant(const struct cpl_dt *dt)
{
	long day = days_from_civil(dt->y, dt->mo, dt->d);
	long sec = dt->h * 3600L + dt->mi * 60L + dt->s;
	if (dt->utc)
		return (time_t)(day * 86400 + sec);
	return local_instant(day, sec);
}

/* An instant's local day and second of day, in the zone currently set. */
static void local_of(time_t t, long *day, long *sec)
{
	struct tm tm;
	localtime_r(&t, &tm);
	*day = days_from_civil(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
	*sec = tm.tm_hour * 3600L + tm.tm_min * 60L + tm.tm_sec;
}

/* ---- the rule ------------------------------------------------------- */

struct anchor {
	long day, sec; /* dtstart, local */
	int y, m, d, wd;
};

static bool monthday_matches(const struct cpl_time *t, int y, int m, int d)
{
	int dim = days_in_month(y, m);
	return (t->bymonthday_pos & (1u << d)) || (t->bymonthday_neg & (1u << (dim - d + 1)));
}

static bool weekday_matches(const struct cpl_time *t, int y, int m, int d, int wd)
{
	if (!(t->byday & (1u << wd)))
		return false;
	int n = t->byday_n[wd];
	if (n > 0)
		return (d - 1) / 7 + 1 == n;
	if (n < 0)
		return (days_in_month(y, m) - d) / 7 + 1 == -n;
	return true;
}

static bool bit366(const uint64_t *mask, long k)
{
	return k >= 1 && k <= 366 && (mask[k / 64] >> (k % 64) & 1);
}

static bool yearday_matches(const struct cpl_time *t, int y, long day)
{
	long first = days_from_civil(y, 1, 1), next = days_from_civil(y + 1, 1, 1);
	return bit366(t->byyearday_pos, day - first + 1) || bit366(t->byyearday_neg, next - day);
}

/* Start of ISO-style week 1 of year y with weeks starting on wkst: the
 * week holding 4 January (RFC 2445: the first week with at least four
 * days of the year). */
static long week1_start(int y, int wkst)
{
	long jan4 = days_from_civil(y, 1, 4);
	return jan4 - (weekday(jan4) - wkst + 7) % 7;
}

static bool weekno_matches(const struct cpl_time *t, int y, long day)
{
	long w1 = week1_start(y, t->wkst), w1next = week1_start(y + 1, t->wkst);
	if (day < w1) { /* the last week of the previous week-year */
		w1next = w1;
		w1 = week1_start(y - 1, t->wkst);
	} else if (day >= w1next) {
		w1 = w1next;
		w1next = week1_start(y + 2, t->wkst);
	}
	long wn = (day - w1) / 7 + 1, weeks = (w1next - w1) / 7;
	return (t->byweekno_pos >> wn & 1) || (t->byweekno_neg >> (weeks - wn + 1) & 1);
}

/* Whether occurrences start on local day `day` (at the rule's times). */
/* Whether the rule selects local day `day`, before bysetpos and without
 * regard to dtstart. */
static bool day_selected(const struct cpl_time *t, const struct anchor *a, long day)
{
	int y, m, d;
	civil_from_days(day, &y, &m, &d);
	int wd = weekday(day);
	if (t->bymonth && !(t->bymonth & (1u << m)))
		return false;
	bool by_md = t->bymonthday_pos || t->bymonthday_neg;
	bool by_yd = has_yearday(t), by_wn = t->byweekno_pos || t->byweekno_neg;
	if (by_yd && !yearday_matches(t, y, day))
		return false;
	if (by_wn && !weekno_matches(t, y, day))
		return false;
	switch (t->freq) {
	case FREQ_DAILY:
		if ((day - a->day) % t->interval)
			return false;
		return (!t->byday || weekday_matches(t, y, m, d, wd)) &&
		       (!by_md || monthday_matches(t, y, m, d));
	case FREQ_WEEKLY: {
		long ws = day - (wd - t->wkst + 7) % 7;
		long ws0 = a->day - (a->wd - t->wkst + 7) % 7;
		if (((ws - ws0) / 7) % t->interval)
			return false;
		if (t->byday ? !(t->byday & (1u << wd)) : wd != a->wd)
			return false;
		return !by_md || monthday_matches(t, y, m, d);
	}
	case FREQ_MONTHLY:
		if ((((long)y - a->y) * 12 + m - a->m) % t->interval)
			return false;
		if (!by_md && !t->byday)
			return d == a->d;
		return (!by_md || monthday_matches(t, y, m, d)) &&
		       (!t->byday || weekday_matches(t, y, m, d, wd));
	case FREQ_HOURLY:
	case FREQ_MINUTELY:
	case FREQ_SECONDLY: /* intervals are checked per time (unit_ok) */
		return (!t->byday || weekday_matches(t, y, m, d, wd)) &&
		       (!by_md || monthday_matches(t, y, m, d));
	case FREQ_YEARLY:
		if ((y - a->y) % (int)t->interval)
			return false;
		if (by_wn && !by_md && !by_yd && !t->byday)
			return wd == a->wd;
		if (by_yd || by_wn)
			return (!by_md || monthday_matches(t, y, m, d)) &&
			       (!t->byday || weekday_matches(t, y, m, d, wd));
		if (!by_md && !t->byday)
			return d == a->d && (t->bymonth || m == a->m);
		return (!by_md || monthday_matches(t, y, m, d)) &&
		       (!t->byday || weekday_matches(t, y, m, d, wd));
	}
	return false;
}

/* For freq hourly, minutely and secondly: whether the hour (level 0),
 * minute (1) or second (2) of day `day` lies a multiple of interval units
 * after dtstart's, counted in wall-clock time. Other levels and freqs
 * pass. */
static bool unit_ok(const struct cpl_time *t, const struct anchor *a, long day, int h, int m,
		    int sec, int level)
{
	int want = t->freq == FREQ_HOURLY ? 0 : t->freq == FREQ_MINUTELY ? 1
		 : t->freq == FREQ_SECONDLY ? 2 : -1;
	if (level != want || t->interval == 1)
		return true;
	long long units = (long long)(day - a->day) * 24 + h - a->sec / 3600;
	if (level >= 1)
		units = units * 60 + m - a->sec / 60 % 60;
	if (level == 2)
		units = units * 60 + sec - a->sec % 60;
	return units % t->interval == 0;
}

static bool day_matches(const struct cpl_time *t, const struct anchor *a, long day)
{
	return day >= a->day && day_selected(t, a, day);
}

/* bysetpos: the period (of freq's unit, RFC 2445) holding `day`, as
 * [first, end) in days. */
static void period_of(const struct cpl_time *t, long day, long *first, long *end)
{
	int y, m, d;
	civil_from_days(day, &y, &m, &d);
	switch (t->freq) {
	case FREQ_WEEKLY:
		*first = day - (weekday(day) - t->wkst + 7) % 7;
		*end = *first + 7;
		return;
	case FREQ_MONTHLY:
		*first = days_from_civil(y, m, 1);
		*end = *first + days_in_month(y, m);
		return;
	case FREQ_YEARLY:
		*first = days_from_civil(y, 1, 1);
		*end = days_from_civil(y + 1, 1, 1);
		return;
	default:
		*first = day;
		*end = day + 1;
	}
}

/* bysetpos: selected days of day's period before it, and in all. */
static void period_rank(const struct cpl_time *t, const struct anchor *a, long day,
			long *before, long *total)
{
	long first, end;
	period_of(t, day, &first, &end);
	*before = *total = 0;
	for (long k = first; k < end; k++)
		if (day_selected(t, a, k)) {
			*before += k < day;
			++*total;
		}
}

/* Whether the occurrence numbered idx (1-based) of total in its period is
 * one bysetpos picks (true without bysetpos). */
static bool setpos_ok(const struct cpl_time *t, long idx, long total)
{
	if (!t->nsetpos)
		return true;
	for (unsigned i = 0; i < t->nsetpos; i++)
		if (t->setpos[i] == idx || t->setpos[i] == -(total - idx + 1))
			return true;
	return false;
}

/* The latest time of day (seconds) on `day` at or before limit whose
 * hour, minute and second are all in the rule's sets (and a whole number
 * of intervals after dtstart for sub-daily freqs); -1 when none. */
static long prev_time(const struct cpl_time *t, const struct anchor *a, long day, long limit)
{
	if (limit < 0)
		return -1;
	int lh = (int)(limit / 3600), lm = (int)(limit / 60 % 60), ls = (int)(limit % 60);
	if (limit >= 86400) {
		lh = 23;
		lm = 59;
		ls = 59;
	}
	for (int h = lh; h >= 0; h--) {
		if (!(t->hours >> h & 1) || !unit_ok(t, a, day, h, 0, 0, 0))
			continue;
		for (int m = h == lh ? lm : 59; m >= 0; m--) {
			if (!(t->minutes >> m & 1) || !unit_ok(t, a, day, h, m, 0, 1))
				continue;
			for (int sec = h == lh && m == lm ? ls : 59; sec >= 0; sec--)
				if (t->seconds >> sec & 1 && unit_ok(t, a, day, h, m, sec, 2))
					return h * 3600L + m * 60L + sec;
		}
	}
	return -1;
}

/* The earliest such time at or after from; -1 when none. */
static long next_time(const struct cpl_time *t, const struct anchor *a, long day, long from)
{
	if (from >= 86400)
		return -1;
	int fh = (int)(from / 3600), fm = (int)(from / 60 % 60), fs = (int)(from % 60);
	for (int h = fh; h < 24; h++) {
		if (!(t->hours >> h & 1) || !unit_ok(t, a, day, h, 0, 0, 0))
			continue;
		for (int m = h == fh ? fm : 0; m < 60; m++) {
			if (!(t->minutes >> m & 1) || !unit_ok(t, a, day, h, m, 0, 1))
				continue;
			for (int sec = h == fh && m == fm ? fs : 0; sec < 60; sec++)
				if (t->seconds >> sec & 1 && unit_ok(t, a, day, h, m, sec, 2))
					return h * 3600L + m * 60L + sec;
		}
	}
	return -1;
}

static void anchor_of(const struct cpl_time *t, struct anchor *a)
{
	local_of(dt_instant(&t->dtstart), &a->day, &a->sec);
	civil_from_days(a->day, &a->y, &a->m, &a->d);
	a->wd = weekday(a->day);
}

static bool match_locked(const struct cpl_time *t, time_t now)
{
	time_t start0 = dt_instant(&t->dtstart);
	long dur = t->has_dtend ? (long)(dt_instant(&t->dtend) - start0) : t->duration;
	if (dur <= 0 || now < start0)
		return false;
	/* dtstart is always the first occurrence (Appendix A step 3) */
	if (now < start0 + dur)
		return true;
	if (!t->freq)
		return false;

	struct anchor a;
	anchor_of(t, &a);
	long uday = LONG_MAX, usec = 0;
	if (t->has_until)
		local_of(dt_instant(&t->until), &uday, &usec);
	if (t->count) {
		uday = t->count_last_day;
		usec = t->count_last_sec;
	}

	long nday, nsec;
	local_of(now, &nday, &nsec);
	/* The candidate days, latest first (one extra for DST shifts); on
	 * each, the latest start not after now, until, and count; an earlier
	 * start on the same day would end earlier still. */
	for (long day = nday; day >= nday - dur / 86400 - 1 && day >= a.day; day--) {
		if (day > uday || !day_matches(t, &a, day))
			continue;
		long limit = day == nday ? nsec : 86400;
		if (day == uday && usec < limit)
			limit = usec;
		long before = 0, total = 0;
		if (t->nsetpos)
			period_rank(t, &a, day, &before, &total);
		for (long guard = 0; guard < 86400; guard++) {
			long sec = prev_time(t, &a, day, limit);
			if (sec < 0 || (day == a.day && sec <= a.sec))
				break; /* none, or not after dtstart (checked above) */
			limit = sec - 1;
			if (t->nsetpos) {
				long idx = 1; /* sec's rank among the day's times */
				for (long x = next_time(t, &a, day, 0); x >= 0 && x < sec;
				     x = next_time(t, &a, day, x + 1))
					idx++;
				if (!setpos_ok(t, before * t->times_per_day + idx,
					       total * t->times_per_day))
					continue;
			}
			time_t st = local_instant(day, sec);
			if (st > now) /* a DST shift: try the previous start */
				continue;
			if (now < st + dur)
				return true;
			break;
		}
	}
	return false;
}

/* The last occurrence for count (local day and second), by enumerating
 * days from dtstart (at most MAX_COUNT_DAYS); false when the count-th
 * occurrence lies further ahead. */
#define MAX_COUNT_DAYS (200L * 366)
static bool count_last_locked(struct cpl_time *t, const struct anchor *a)
{
	unsigned n = 1; /* dtstart */
	if (n == t->count) {
		t->count_last_day = a->day;
		t->count_last_sec = a->sec;
		return true;
	}
	for (long k = a->day; k < a->day + MAX_COUNT_DAYS; k++) {
		if (!day_matches(t, a, k))
			continue;
		long before = 0, total = 0, idx = 0;
		if (t->nsetpos)
			period_rank(t, a, k, &before, &total);
		/* this day's starts, earliest first; on dtstart's day only those
		 * after it */
		for (long next = next_time(t, a, k, 0); next >= 0; next = next_time(t, a, k, next + 1)) {
			idx++;
			if (k == a->day && next <= a->sec)
				continue; /* before dtstart, or dtstart itself */
			if (!setpos_ok(t, before * t->times_per_day + idx, total * t->times_per_day))
				continue;
			if (++n == t->count) {
				t->count_last_day = k;
				t->count_last_sec = next;
				return true;
			}
		}
	}
	return false;
}

/* Runs with TZ set to tzid (NULL: the process's own zone), under the lock.
 * Switching zones costs a tzset() that reads the zone file (about 7 us
 * each way), and a feature server runs many calls of subscribers in the
 * same zone, so TZ stays in the last zone used instead of being restored
 * after every call: the CPL library owns the process's TZ (featured keeps
 * its own clocks in UTC). */
struct tz_saved {
	char unused;
};

static bool tz_switched;        /* TZ is not the process's own */
static char *tz_own;            /* the process's TZ before the first switch */
static bool tz_own_set;
static char tz_now[256];        /* the zone TZ names while tz_switched */

static void tz_enter(const char *tzid, struct tz_saved *sv)
{
	(void)sv;
	pthread_mutex_lock(&tz_lock);
	const char *cur = getenv("TZ");
	if (tz_switched && (!cur || strcmp(cur, tz_now) != 0))
		tz_switched = false; /* the process set TZ itself since: that is its own now */
	if (!tz_switched) {
		free(tz_own);
		tz_own_set = cur != NULL;
		tz_own = strdup(cur ? cur : "");
	}
	if (!tzid) {
		if (tz_switched) {
			if (tz_own_set && tz_own)
				setenv("TZ", tz_own, 1);
			else
				unsetenv("TZ");
			tzset();
			tz_switched = false;
		}
		return;
	}
	if (tz_switched && strcmp(tz_now, tzid) == 0)
		return;
	snprintf(tz_now, sizeof tz_now, "%s", tzid);
	setenv("TZ", tz_now, 1);
	tzset();
	tz_switched = true;
}

static void tz_leave(const char *tzid, struct tz_saved *sv)
{
	(void)tzid, (void)sv;
	pthread_mutex_unlock(&tz_lock);
}

int cpl_time_prepare(struct cpl_time *t, const char *tzid, char *err, size_t errlen)
{
	struct tz_saved sv;
	tz_enter(tzid, &sv);
	struct anchor a;
	anchor_of(t, &a);
	/* units smaller than freq follow dtstart; freq's own unit and larger
	 * ones are free unless a byxxx sets them (Appendix A step 4) */
	if (!t->hours)
		t->hours = t->freq >= FREQ_HOURLY ? (1u << 24) - 1 : 1u << (a.sec / 3600);
	if (!t->minutes)
		t->minutes = t->freq >= FREQ_MINUTELY ? ((uint64_t)1 << 60) - 1
						      : (uint64_t)1 << (a.sec / 60 % 60);
	if (!t->seconds)
		t->seconds = t->freq >= FREQ_SECONDLY ? ((uint64_t)1 << 60) - 1
						      : (uint64_t)1 << (a.sec % 60);
	t->times_per_day = (long)__builtin_popcount(t->hours) * __builtin_popcountll(t->minutes) *
			   __builtin_popcountll(t->seconds);
	bool ok = !t->count || count_last_locked(t, &a);
	tz_leave(tzid, &sv);
	if (!ok) {
		snprintf(err, errlen,
			 "count=\"%u\" reaches more than 200 years past dtstart (not supported)",
			 t->count);
		return -1;
	}
	return 0;
}

bool cpl_time_match(const struct cpl_time *t, const char *tzid, time_t now)
{
	struct tz_saved sv;
	tz_enter(tzid, &sv);
	bool r = match_locked(t, now);
	tz_leave(tzid, &sv);
	return r;
}
