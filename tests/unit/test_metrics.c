// SPDX-License-Identifier: GPL-2.0-only
/* Unit tests for user/metrics.c and user/config_metrics.c: the Prometheus
 * text built from fixed inputs, checked by a strict parser of the text
 * exposition format 0.0.4 written here; the atomic file write; the writer
 * on an sd-event loop; the "metrics" config section. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "metrics.h"
#include "netward/event.h"
#include "util.h"

#define TMPDIR_TEMPLATE "/tmp/nw-test-metrics.XXXXXX"
#include "tmpdir.h"

/* --- a strict parser of the text exposition format ----------------------------- */

struct label {
	char *name, *value;
};

struct sample {
	char *name;
	struct label l[8];
	size_t nl;
	double value;
	char *key;		/* name{sorted labels}: no two alike */
	size_t fam;
};

struct family {
	char *name;
	char type[16];
	bool help, typed;
	size_t first, n;	/* its samples */
};

struct expo {
	struct sample s[1024];
	size_t ns;
	struct family f[128];
	size_t nf;
	char err[256];
};

static void expo_free(struct expo *x)
{
	for (size_t i = 0; i < x->ns; i++) {
		free(x->s[i].name);
		free(x->s[i].key);
		for (size_t j = 0; j < x->s[i].nl; j++) {
			free(x->s[i].l[j].name);
			free(x->s[i].l[j].value);
		}
	}
	for (size_t i = 0; i < x->nf; i++)
		free(x->f[i].name);
	memset(x, 0, sizeof(*x));
}

static int bad(struct expo *x, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad(struct expo *x, int line, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(x->err, sizeof(x->err), "line %d: ", line);

	va_start(ap, fmt);
	vsnprintf(x->err + n, sizeof(x->err) - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static bool name_start(char c, bool colon)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
}

static bool name_char(char c, bool colon)
{
	return name_start(c, colon) || (c >= '0' && c <= '9');
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* (metric) or [a-zA-Z_][a-zA-Z0-9_]* (label) */
static size_t name_len(const char *s, bool colon)
{
	size_t n = 0;

	if (!name_start(s[0], colon))
		return 0;
	while (name_char(s[n], colon))
		n++;
	return n;
}

/* a float as Go's strconv would take it, or NaN, +Inf, -Inf */
static bool parse_value(const char *s, double *out)
{
	char *end;

	if (!strcmp(s, "NaN")) {
		*out = NAN;
		return true;
	}
	if (!strcmp(s, "+Inf") || !strcmp(s, "-Inf")) {
		*out = s[0] == '+' ? INFINITY : -INFINITY;
		return true;
	}
	if (!*s || strspn(s, "+-0123456789.eE") != strlen(s))
		return false;
	errno = 0;
	*out = strtod(s, &end);
	return !*end && !errno;
}

static struct family *family_of(struct expo *x, const char *name)
{
	for (size_t i = 0; i < x->nf; i++)
		if (!strcmp(x->f[i].name, name))
			return &x->f[i];
	return NULL;
}

static bool ends_with(const char *s, const char *fam, const char *suffix)
{
	size_t n = strlen(fam);

	return !strncmp(s, fam, n) && !strcmp(s + n, suffix);
}

/* does sample name belong to family f (by its type)? */
static bool belongs(const struct family *f, const char *name)
{
	if (!strcmp(f->type, "histogram"))
		return ends_with(name, f->name, "_bucket") || ends_with(name, f->name, "_sum") ||
		       ends_with(name, f->name, "_count");
	if (!strcmp(f->type, "summary"))
		return !strcmp(name, f->name) || ends_with(name, f->name, "_sum") ||
		       ends_with(name, f->name, "_count");
	return !strcmp(name, f->name);
}

static const struct sample *find(const struct expo *x, const char *key)
{
	for (size_t i = 0; i < x->ns; i++)
		if (!strcmp(x->s[i].key, key))
			return &x->s[i];
	return NULL;
}

static const char *label(const struct sample *s, const char *name)
{
	for (size_t i = 0; i < s->nl; i++)
		if (!strcmp(s->l[i].name, name))
			return s->l[i].value;
	return NULL;
}

static int cmp_label(const void *a, const void *b)
{
	return strcmp(((const struct label *)a)->name, ((const struct label *)b)->name);
}

/* name{a="x",b="y"} with labels sorted; skip: leave that label out */
static char *series_key(const struct sample *s, const char *skip)
{
	struct label l[8];
	char *buf = NULL;
	size_t n = 0, k = 0;
	FILE *f = open_memstream(&buf, &n);

	for (size_t i = 0; i < s->nl; i++)
		if (!skip || strcmp(s->l[i].name, skip))
			l[k++] = s->l[i];
	qsort(l, k, sizeof(l[0]), cmp_label);
	fprintf(f, "%s{", skip ? "" : s->name);
	for (size_t i = 0; i < k; i++)
		fprintf(f, "%s%s=\"%s\"", i ? "," : "", l[i].name, l[i].value);
	fputc('}', f);
	fclose(f);
	return buf;
}

/* {name="value",...}: values with \\ \" \n escapes only */
static int parse_labels(struct expo *x, int ln, const char **pp, struct sample *s)
{
	const char *p = *pp + 1;

	while (*p != '}') {
		size_t n = name_len(p, false);
		char *v;
		size_t k = 0;

		if (!n)
			return bad(x, ln, "bad label name at \"%.10s\"", p);
		if (s->nl == NW_ARRAY_SIZE(s->l))
			return bad(x, ln, "too many labels");
		/* owned by s from here on (expo_free) */
		s->l[s->nl++].name = strndup(p, n);
		if (!strncmp(p, "__", 2))
			return bad(x, ln, "label name %.*s is reserved", (int)n, p);
		for (size_t i = 0; i + 1 < s->nl; i++)
			if (!strcmp(s->l[i].name, s->l[s->nl - 1].name))
				return bad(x, ln, "label %s twice", s->l[i].name);
		p += n;
		if (p[0] != '=' || p[1] != '"')
			return bad(x, ln, "expected =\" after a label name");
		p += 2;
		v = calloc(1, strlen(p) + 1);
		s->l[s->nl - 1].value = v;
		for (; *p != '"'; p++) {
			if (!*p)
				return bad(x, ln, "unterminated label value");
			if (*p == '\\') {
				p++;
				if (*p == 'n')
					v[k++] = '\n';
				else if (*p == '\\' || *p == '"')
					v[k++] = *p;
				else
					return bad(x, ln, "bad escape \\%c in a label value", *p);
			} else {
				v[k++] = *p;
			}
		}
		p++;
		if (*p == ',') {
			p++;
			if (*p == '}')
				return bad(x, ln, "trailing comma in labels");
		} else if (*p != '}') {
			return bad(x, ln, "expected , or } after a label value");
		}
	}
	*pp = p + 1;
	return 0;
}

static int parse_sample(struct expo *x, int ln, const char *line, struct family *cur)
{
	struct sample *s;
	const char *p = line;
	size_t n = name_len(p, true);

	if (!n)
		return bad(x, ln, "bad metric name at \"%.20s\"", p);
	if (x->ns == NW_ARRAY_SIZE(x->s))
		return bad(x, ln, "too many samples");
	s = &x->s[x->ns++];
	s->name = strndup(p, n);
	p += n;
	if (!cur || !belongs(cur, s->name))
		return bad(x, ln, "%s: not of the family whose TYPE came last (%s)", s->name,
			   cur ? cur->name : "none");
	if (*p == '{' && parse_labels(x, ln, &p, s))
		return -1;
	if (*p != ' ')
		return bad(x, ln, "expected one space before the value");
	p++;
	if (strchr(p, ' '))
		return bad(x, ln, "a timestamp or more after the value: \"%s\"", p);
	if (!parse_value(p, &s->value))
		return bad(x, ln, "\"%s\" is not a value", p);
	s->fam = (size_t)(cur - x->f);
	cur->n++;
	{
		bool bucket = ends_with(s->name, cur->name, "_bucket") &&
			      !strcmp(cur->type, "histogram");
		bool le = false;

		for (size_t i = 0; i < s->nl; i++)
			le |= !strcmp(s->l[i].name, "le");
		if (bucket != le)
			return bad(x, ln, "%s: le is for histogram buckets, and they need it", s->name);
	}
	if (!strcmp(cur->type, "counter") && !(s->value >= 0))
		return bad(x, ln, "%s: a counter below 0 or NaN", s->name);
	s->key = series_key(s, NULL);
	for (size_t i = 0; i + 1 < x->ns; i++)
		if (!strcmp(x->s[i].key, s->key))
			return bad(x, ln, "series %s twice", s->key);
	return 0;
}

/* "# HELP name text" or "# TYPE name type"; no other comments */
static int parse_meta(struct expo *x, int ln, const char *line, struct family **cur)
{
	bool help = !strncmp(line, "# HELP ", 7), type = !strncmp(line, "# TYPE ", 7);
	const char *p = line + 7;
	size_t n = name_len(p, true);
	struct family *f;
	char name[128];

	if (!help && !type)
		return bad(x, ln, "a comment that is neither HELP nor TYPE");
	if (!n || n >= sizeof(name) || p[n] != ' ')
		return bad(x, ln, "bad metric name in %.6s", line + 2);
	snprintf(name, sizeof(name), "%.*s", (int)n, p);
	p += n + 1;
	f = family_of(x, name);
	if (f && f != *cur)
		return bad(x, ln, "%s: its metadata again, after another family", name);
	if (!f) {
		if (x->nf == NW_ARRAY_SIZE(x->f))
			return bad(x, ln, "too many families");
		f = &x->f[x->nf++];
		f->name = strdup(name);
		f->first = x->ns;
	}
	if (f->n)
		return bad(x, ln, "%s: %s after its samples", name, help ? "HELP" : "TYPE");
	*cur = f;
	if (help) {
		if (f->help)
			return bad(x, ln, "%s: HELP twice", name);
		f->help = true;
		for (; *p; p++)
			if (*p == '\\' && p[1] != '\\' && p[1] != 'n')
				return bad(x, ln, "%s: bad escape in HELP", name);
			else if (*p == '\\')
				p++;
		return 0;
	}
	if (f->typed)
		return bad(x, ln, "%s: TYPE twice", name);
	if (strcmp(p, "counter") && strcmp(p, "gauge") && strcmp(p, "histogram") &&
	    strcmp(p, "summary") && strcmp(p, "untyped"))
		return bad(x, ln, "%s: \"%s\" is not a type", name, p);
	snprintf(f->type, sizeof(f->type), "%s", p);
	f->typed = true;
	return 0;
}

/* one series of histogram f (group: its labels without le): buckets in
 * rising le order, cumulative, ending with +Inf == _count; a _sum */
static int check_group(struct expo *x, const struct family *f, const char *group)
{
	double last_le = -INFINITY, last = 0, le;
	const struct sample *cnt, *sum;
	char name[160];
	bool inf = false;

	for (size_t j = f->first; j < f->first + f->n; j++) {
		const struct sample *b = &x->s[j];
		char *g;
		bool mine;

		if (!ends_with(b->name, f->name, "_bucket"))
			continue;
		g = series_key(b, "le");
		mine = !strcmp(g, group);
		free(g);
		if (!mine)
			continue;
		if (inf || !parse_value(label(b, "le"), &le) || !(le > last_le))
			return bad(x, 0, "%s: le=\"%s\" out of order", f->name, label(b, "le"));
		if (b->value < last)
			return bad(x, 0, "%s: buckets not cumulative at le=\"%s\"", f->name,
				   label(b, "le"));
		last_le = le;
		last = b->value;
		inf = isinf(le);
	}
	if (!inf)
		return bad(x, 0, "%s%s: no le=\"+Inf\" bucket", f->name, group);
	snprintf(name, sizeof(name), "%s_count%s", f->name, group);
	cnt = find(x, name);
	snprintf(name, sizeof(name), "%s_sum%s", f->name, group);
	sum = find(x, name);
	if (!cnt || cnt->value != last || !sum)
		return bad(x, 0, "%s%s: _count missing or not the +Inf bucket, or no _sum", f->name,
			   group);
	return 0;
}

static int check_histogram(struct expo *x, const struct family *f)
{
	int r = 0;

	/* every group, and a _sum or _count without buckets is a group too */
	for (size_t i = f->first; !r && i < f->first + f->n; i++) {
		char *group = series_key(&x->s[i], "le");

		r = check_group(x, f, group);
		free(group);
	}
	return r;
}

static int expo_parse(struct expo *x, const char *text)
{
	struct family *cur = NULL;
	const char *p = text;
	int ln = 0;

	memset(x, 0, sizeof(*x));
	if (!*text || text[strlen(text) - 1] != '\n')
		return bad(x, 0, "the text does not end with a newline");
	while (*p) {
		const char *nl = strchr(p, '\n');
		char *line = strndup(p, (size_t)(nl - p));
		int r;

		ln++;
		if (!*line)
			r = bad(x, ln, "an empty line");
		else if (line[0] == '#')
			r = parse_meta(x, ln, line, &cur);
		else
			r = parse_sample(x, ln, line, cur);
		free(line);
		if (r)
			return r;
		p = nl + 1;
	}
	for (size_t i = 0; i < x->nf; i++) {
		if (!x->f[i].typed)
			return bad(x, 0, "%s: no TYPE", x->f[i].name);
		if (!x->f[i].help)
			return bad(x, 0, "%s: no HELP", x->f[i].name);
		if (!strcmp(x->f[i].type, "histogram") && check_histogram(x, &x->f[i]))
			return -1;
	}
	return 0;
}

static void parse_or_fail(struct expo *x, const char *text)
{
	if (expo_parse(x, text))
		fail_msg("not valid exposition text: %s\n%s", x->err, text);
}

/* the value of a series, which must be there */
static double val(const struct expo *x, const char *key)
{
	const struct sample *s = find(x, key);

	if (!s)
		fail_msg("no series %s", key);
	return s->value;
}

static bool has_family(const struct expo *x, const char *name)
{
	return family_of((struct expo *)x, name) != NULL;
}

static void test_parser_rejects(void **state)
{
	static const char *const bad_texts[] = {
		"a 1",							/* no newline */
		"# TYPE a gauge\na 1\n\n",				/* empty line */
		"a 1\n",						/* no TYPE */
		"# HELP a x\n# TYPE a gauge\n1a 1\n",			/* bad name */
		"# HELP a x\n# TYPE a gauge\na{b=\"1\"} 1\na{b=\"1\"} 2\n", /* duplicate */
		"# HELP a x\n# TYPE a gauge\na{b=\"\\t\"} 1\n",		/* bad escape */
		"# HELP a x\n# TYPE a gauge\na{b=\"1\",} 1\n",		/* trailing comma */
		"# HELP a x\n# TYPE a gauge\na{b=\"1\",b=\"2\"} 1\n",	/* label twice */
		"# HELP a x\n# TYPE a gauge\na one\n",			/* bad value */
		"# HELP a x\n# TYPE a gauge\na  1\n",			/* two spaces */
		"# HELP a x\n# TYPE a counter\na -1\n",			/* negative counter */
		"# HELP a x\n# TYPE a gauge\na 1\n# TYPE a gauge\n",	/* TYPE twice */
		"# HELP a x\n# TYPE a gauge\n# HELP b x\n# TYPE b gauge\nb 1\na 1\n", /* interleaved */
		"# HELP a x\n# TYPE a gauge\na 1\n# HELP b x\n# TYPE b gauge\nb 1\n# HELP a y\n",
		"# HELP a x\n# TYPE a gage\na 1\n",			/* bad type */
		"# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
		"h_sum 1\nh_count 1\n",					/* not cumulative */
		"# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",
		"# HELP h x\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n",
		"# HELP h x\n# TYPE h histogram\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"1\"} 1\n"
		"h_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",	/* le out of order */
		"# HELP h x\n# TYPE h histogram\nh_bucket 1\nh_sum 1\nh_count 1\n", /* no le */
		"# HELP h x\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n", /* no _sum */
		"# HELP a x\n# TYPE a gauge\na 1 123\n",		/* timestamp: we never write one */
		"# comment\n",
	};
	struct expo *x = calloc(1, sizeof(*x));

	(void)state;
	assert_non_null(x);
	for (size_t i = 0; i < NW_ARRAY_SIZE(bad_texts); i++) {
		if (!expo_parse(x, bad_texts[i]))
			fail_msg("accepted bad text %zu:\n%s", i, bad_texts[i]);
		expo_free(x);
	}
	if (expo_parse(x, "# HELP h x \\\\ \\n\n# TYPE h histogram\nh_bucket{a=\"\\\"\",le=\"0.5\"} 1\n"
			  "h_bucket{a=\"\\\"\",le=\"+Inf\"} 2\nh_sum{a=\"\\\"\"} 3.5\n"
			  "h_count{a=\"\\\"\"} 2\n# HELP g y\n# TYPE g gauge\ng NaN\ng{x=\"\"} -Inf\n"))
		fail_msg("rejected good text: %s", x->err);
	assert_string_equal(label(find(x, "h_count{a=\"\"\"}"), "a"), "\"");
	expo_free(x);
	free(x);
}

/* --- the text from fixed inputs ---------------------------------------------------- */

static cJSON *json(const char *text)
{
	cJSON *j = cJSON_Parse(text);

	assert_non_null(j);
	return j;
}

static void feed(struct nw_metrics *m, unsigned type, const char *ev)
{
	cJSON *j = json(ev);

	nw_metrics_note_event(m, type, j);
	cJSON_Delete(j);
}

static void fixed_input(struct nw_metrics_input *in)
{
	memset(in, 0, sizeof(*in));
	in->version = "1.2.3 \"q\" \\ \n";
	in->start_time_s = 1700000000.25;
	in->has_bpf = true;
	in->bpf.bind_denied = 7;
	in->bpf.rtnl_route_del = 12345678901ull;
	in->route_guard = json("{\"protected\": [{}, {}], \"mode\": \"restore\","
			       " \"rules\": {\"protected\": [{}, {}, {}]}}");
	in->connectivity = json(
		"{\"state\": \"offline\", \"level\": 2, \"failed_attempts\": 1, \"probes\": ["
		"{\"name\": \"gw\", \"type\": \"icmp\", \"role\": \"gateway\", \"state\": \"up\","
		" \"last_rtt_us\": 1234, \"failures\": 3},"
		"{\"name\": \"web\\\"1\\\\\\n\", \"type\": \"https\", \"role\": \"internet\","
		" \"state\": \"down\", \"last_rtt_us\": 500000, \"failures\": 10},"
		"{\"name\": \"dns\", \"type\": \"dns\", \"role\": \"internet\", \"state\": \"unknown\","
		" \"last_rtt_us\": null, \"failures\": 0}]}");
	in->tunnels = json("{\"tunnels\": ["
			   "{\"name\": \"web\", \"status\": \"down\", \"down\": true, \"unit_starts\": 1},"
			   "{\"name\": \"api\", \"status\": \"healthy\", \"down\": false,"
			   " \"unit_starts\": 0},"
			   "{\"name\": \"new\", \"status\": \"sideways\", \"down\": false,"
			   " \"unit_starts\": 0}]}");
	in->segw = json("{\"connections\": ["
			"{\"name\": \"corp\", \"gateway\": \"10.0.0.2\", \"state\": \"up\","
			" \"attempts\": 0, \"failovers\": 2},"
			"{\"name\": \"lab\", \"gateway\": \"2001:db8::1\", \"state\": \"exhausted\","
			" \"attempts\": 5, \"failovers\": 5}]}");
	in->reloads = 3;
	in->reload_failures = 1;
}

static void free_input(struct nw_metrics_input *in)
{
	cJSON_Delete(in->route_guard);
	cJSON_Delete(in->connectivity);
	cJSON_Delete(in->tunnels);
	cJSON_Delete(in->segw);
}

static void test_render_fixed(void **state)
{
	struct nw_metrics *m;
	struct nw_metrics_input in;
	struct expo *x = calloc(1, sizeof(*x));
	char *text = NULL, key[160];
	size_t len;
	static const unsigned lat[] = { 50, 100, 250, 300, 2000, 1500000 };

	(void)state;
	assert_non_null(x);
	assert_int_equal(nw_metrics_new(&m), 0);
	for (size_t i = 0; i < NW_ARRAY_SIZE(lat); i++) {
		snprintf(key, sizeof(key), "{\"type\": \"route_restored\", \"latency_us\": %u}", lat[i]);
		feed(m, NW_EV_ROUTE_RESTORED, key);
	}
	feed(m, NW_EV_BIND_AUDIT, "{\"action\": \"audit\"}");
	feed(m, NW_EV_BIND_DENIED, "{\"action\": \"deny\"}");
	feed(m, NW_EV_BIND_DENIED, "{\"action\": \"deny\"}");
	feed(m, NW_EV_BIND_REWRITTEN, "{\"action\": \"rewrite\"}");
	feed(m, NW_EV_WILDCARD_LISTENER, "{\"action\": \"kill\"}");
	feed(m, NW_EV_WILDCARD_LISTENER, "{\"action\": \"audit\", \"source\": \"scan\"}");
	feed(m, NW_EV_BIND_AUDIT, "{\"action\": \"frobnicate\"}");
	feed(m, NW_EV_DAEMON, "{}");
	feed(m, NW_EV_RTNL_REQUEST, "{}");	/* not public: no series */
	fixed_input(&in);
	assert_int_equal(nw_metrics_render(m, &in, &text, &len), 0);
	assert_int_equal(strlen(text), len);
	parse_or_fail(x, text);

	assert_true(val(x, "netward_up{}") == 1);
	assert_true(val(x, "netward_build_info{version=\"1.2.3 \"q\" \\ \n\"}") == 1);
	assert_non_null(strstr(text, "version=\"1.2.3 \\\"q\\\" \\\\ \\n\""));
	assert_true(val(x, "netward_start_time_seconds{}") == 1700000000.25);

	assert_true(val(x, "netward_events_total{type=\"route_restored\"}") == 6);
	assert_true(val(x, "netward_events_total{type=\"bind_denied\"}") == 2);
	assert_true(val(x, "netward_events_total{type=\"wildcard_listener\"}") == 2);
	assert_true(val(x, "netward_events_total{type=\"daemon\"}") == 1);
	assert_true(val(x, "netward_events_total{type=\"segw_up\"}") == 0);
	assert_null(find(x, "netward_events_total{type=\"rtnl_request\"}"));
	assert_null(find(x, "netward_events_total{type=\"none\"}"));
	assert_true(val(x, "netward_bind_events_total{action=\"allow\"}") == 0);
	assert_true(val(x, "netward_bind_events_total{action=\"audit\"}") == 1);
	assert_true(val(x, "netward_bind_events_total{action=\"deny\"}") == 2);
	assert_true(val(x, "netward_bind_events_total{action=\"rewrite\"}") == 1);
	assert_true(val(x, "netward_bind_events_total{action=\"kill\"}") == 1);
	assert_true(val(x, "netward_bind_events_total{action=\"other\"}") == 1);

#define LAT "netward_route_restore_latency_seconds"
	assert_string_equal(family_of(x, LAT)->type, "histogram");
	assert_true(val(x, LAT "_bucket{le=\"0.0001\"}") == 2);	/* 50, 100: le is inclusive */
	assert_true(val(x, LAT "_bucket{le=\"0.00025\"}") == 3);
	assert_true(val(x, LAT "_bucket{le=\"0.0005\"}") == 4);
	assert_true(val(x, LAT "_bucket{le=\"0.001\"}") == 4);
	assert_true(val(x, LAT "_bucket{le=\"0.0025\"}") == 5);
	assert_true(val(x, LAT "_bucket{le=\"1\"}") == 5);
	assert_true(val(x, LAT "_bucket{le=\"+Inf\"}") == 6);
	assert_true(val(x, LAT "_count{}") == 6);
	assert_non_null(strstr(text, "\n" LAT "_sum 1.502700\n"));
	assert_int_equal(family_of(x, LAT)->n, 13);

	assert_true(val(x, "netward_bpf_bind_denied_total{}") == 7);
	assert_true(val(x, "netward_bpf_rtnl_route_del_total{}") == 12345678901.0);
	assert_non_null(strstr(text, "\nnetward_bpf_rtnl_route_del_total 12345678901\n"));
	assert_true(val(x, "netward_bpf_quarantine_denied_total{}") == 0);
	assert_null(strstr(text, "A counter of the BPF programs"));	/* each has its HELP */
	for (size_t i = 0; i < nw_counter_count; i++) {
		snprintf(key, sizeof(key), "netward_bpf_%s_total", nw_counter_names[i]);
		assert_string_equal(family_of(x, key)->type, "counter");
	}

	assert_true(val(x, "netward_protected_routes{}") == 2);
	assert_true(val(x, "netward_protected_rules{}") == 3);

	assert_true(val(x, "netward_probe_up{probe=\"gw\",role=\"gateway\",type=\"icmp\"}") == 1);
	assert_true(val(x, "netward_probe_up{probe=\"web\"1\\\n\",role=\"internet\","
			"type=\"https\"}") == 0);
	assert_true(val(x, "netward_probe_up{probe=\"dns\",role=\"internet\",type=\"dns\"}") == 0);
	assert_true(val(x, "netward_probe_rtt_seconds{probe=\"gw\"}") == 0.001234);
	assert_int_equal(family_of(x, "netward_probe_rtt_seconds")->n, 1);	/* only while up */
	assert_true(val(x, "netward_probe_failures_total{probe=\"gw\"}") == 3);
	assert_true(val(x, "netward_probe_failures_total{probe=\"web\"1\\\n\"}") == 10);
	assert_true(val(x, "netward_probe_failures_total{probe=\"dns\"}") == 0);
	assert_true(val(x, "netward_connectivity{}") == 0);
	assert_true(val(x, "netward_recovery_level{}") == 2);
	assert_true(val(x, "netward_recovery_failed_attempts{}") == 1);

	assert_true(val(x, "netward_tunnel_down{tunnel=\"web\"}") == 1);
	assert_true(val(x, "netward_tunnel_down{tunnel=\"api\"}") == 0);
	assert_true(val(x, "netward_tunnel_status{status=\"down\",tunnel=\"web\"}") == 1);
	assert_true(val(x, "netward_tunnel_status{status=\"healthy\",tunnel=\"web\"}") == 0);
	assert_true(val(x, "netward_tunnel_status{status=\"healthy\",tunnel=\"api\"}") == 1);
	assert_true(val(x, "netward_tunnel_status{status=\"unknown\",tunnel=\"api\"}") == 0);
	assert_true(val(x, "netward_tunnel_status{status=\"inactive\",tunnel=\"api\"}") == 0);
	assert_true(val(x, "netward_tunnel_status{status=\"degraded\",tunnel=\"api\"}") == 0);
	assert_true(val(x, "netward_tunnel_status{status=\"sideways\",tunnel=\"new\"}") == 1);
	assert_int_equal(family_of(x, "netward_tunnel_status")->n, 16);
	assert_true(val(x, "netward_tunnel_unit_started_total{tunnel=\"web\"}") == 1);
	assert_true(val(x, "netward_tunnel_unit_started_total{tunnel=\"api\"}") == 0);

	assert_true(val(x, "netward_segw_up{connection=\"corp\",gateway=\"10.0.0.2\"}") == 1);
	assert_true(val(x, "netward_segw_up{connection=\"lab\",gateway=\"2001:db8::1\"}") == 0);
	assert_true(val(x, "netward_segw_attempts{connection=\"lab\"}") == 5);
	assert_true(val(x, "netward_segw_failovers_total{connection=\"corp\"}") == 2);

	assert_true(val(x, "netward_reloads_total{}") == 3);
	assert_true(val(x, "netward_reload_failures_total{}") == 1);
	assert_true(val(x, "netward_metrics_write_errors_total{}") == 0);
	/* the last line: a reader that has it has the whole file */
	assert_string_equal(x->s[x->ns - 1].name, "netward_metrics_write_errors_total");
	/* every family is netward_ */
	for (size_t i = 0; i < x->nf; i++)
		assert_int_equal(strncmp(x->f[i].name, "netward_", 8), 0);

	free(text);
	free_input(&in);
	expo_free(x);
	free(x);
	nw_metrics_free(m);
}

/* Nothing seen, no modules: still valid, the histogram all zeros. */
static void test_render_minimal(void **state)
{
	struct nw_metrics *m;
	struct nw_metrics_input in = { .version = "0.1.0" };
	struct expo *x = calloc(1, sizeof(*x));
	char *text = NULL;
	size_t len;

	(void)state;
	assert_int_equal(nw_metrics_new(&m), 0);
	assert_int_equal(nw_metrics_render(m, &in, &text, &len), 0);
	parse_or_fail(x, text);
	assert_true(val(x, LAT "_bucket{le=\"+Inf\"}") == 0);
	assert_true(val(x, LAT "_count{}") == 0);
	assert_true(val(x, LAT "_sum{}") == 0);
	assert_true(val(x, "netward_events_total{type=\"route_restored\"}") == 0);
	assert_false(has_family(x, "netward_bpf_bind_denied_total"));
	assert_false(has_family(x, "netward_probe_up"));
	assert_false(has_family(x, "netward_connectivity"));
	assert_false(has_family(x, "netward_tunnel_down"));
	assert_false(has_family(x, "netward_segw_up"));
	assert_false(has_family(x, "netward_protected_routes"));

	/* probes configured but none yet: no probe families, the rest there */
	in.connectivity = json("{\"state\": \"unknown\", \"level\": 0, \"failed_attempts\": 0,"
			       " \"probes\": []}");
	in.tunnels = json("{\"tunnels\": []}");
	free(text);
	expo_free(x);
	assert_int_equal(nw_metrics_render(m, &in, &text, &len), 0);
	parse_or_fail(x, text);
	assert_false(has_family(x, "netward_probe_up"));
	assert_false(has_family(x, "netward_tunnel_status"));
	assert_true(val(x, "netward_connectivity{}") == -1);
	free_input(&in);
	free(text);
	expo_free(x);
	free(x);
	nw_metrics_free(m);
}

/* --- the file ------------------------------------------------------------------------ */

static size_t dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

static void test_write_file(void **state)
{
	const char *dir = *state;
	char path[256], bad_path[256], *text = NULL;
	struct stat st1, st2;
	mode_t old = umask(077);

	snprintf(path, sizeof(path), "%s/netward.prom", dir);
	assert_int_equal(nw_metrics_write_file(path, "a 1\n", 4), 0);
	assert_int_equal(nw_read_file(path, &text, 1024), 0);
	assert_string_equal(text, "a 1\n");
	free(text);
	assert_int_equal(stat(path, &st1), 0);
	assert_int_equal(st1.st_mode & 07777, 0644);	/* whatever the umask */
	assert_int_equal(dir_entries(dir), 1);		/* no temp file left */

	assert_int_equal(nw_metrics_write_file(path, "a 2\n", 4), 0);
	assert_int_equal(stat(path, &st2), 0);
	assert_true(st1.st_ino != st2.st_ino);		/* replaced, not rewritten */
	assert_int_equal(dir_entries(dir), 1);

	snprintf(bad_path, sizeof(bad_path), "%s/missing/netward.prom", dir);
	assert_int_equal(nw_metrics_write_file(bad_path, "a 1\n", 4), -ENOENT);
	snprintf(bad_path, sizeof(bad_path), "%s/", dir);
	assert_int_equal(nw_metrics_write_file(bad_path, "a 1\n", 4), -EINVAL);
	assert_int_equal(nw_metrics_write_file("netward.prom", "a 1\n", 4), -EINVAL);
	assert_int_equal(dir_entries(dir), 1);
	umask(old);
}

/* --- the writer on a loop ------------------------------------------------------------ */

static unsigned collects;

static void collect(void *ud, struct nw_metrics_input *in)
{
	(void)ud;
	collects++;
	in->version = "9.9.9";
	in->connectivity = json("{\"state\": \"connected\", \"level\": 0, \"failed_attempts\": 0,"
				" \"probes\": []}");
}

static const struct nw_metrics_ops ops = { .collect = collect };

static double status_num(struct nw_metrics *m, const char *key)
{
	cJSON *o = cJSON_CreateObject();
	double v;

	nw_metrics_status(m, o);
	v = cJSON_GetObjectItemCaseSensitive(o, key)->valuedouble;
	cJSON_Delete(o);
	return v;
}

/* runs the loop for ms */
static void run_for(sd_event *e, unsigned ms)
{
	uint64_t end = nw_now_ns(CLOCK_MONOTONIC) + ms * 1000000ull, now;

	while ((now = nw_now_ns(CLOCK_MONOTONIC)) < end)
		assert_true(sd_event_run(e, (end - now) / 1000) >= 0);
}

static void test_writer(void **state)
{
	const char *dir = *state;
	char path[256], other[256], *text = NULL;
	struct nw_metrics_cfg cfg = { .textfile = path, .interval_ms = 2000 };
	struct nw_metrics *m;
	struct expo *x = calloc(1, sizeof(*x));
	sd_event *e;
	cJSON *st;

	snprintf(path, sizeof(path), "%s/netward.prom", dir);
	snprintf(other, sizeof(other), "%s/other.prom", dir);
	assert_int_equal(sd_event_new(&e), 0);
	assert_int_equal(nw_metrics_new(&m), 0);
	collects = 0;
	/* off: nothing written */
	assert_int_equal(nw_metrics_configure(m, e, &(struct nw_metrics_cfg){ 0 }, &ops, NULL), 0);
	run_for(e, 50);
	assert_int_equal(dir_entries(dir), 0);

	/* on: written at once */
	assert_int_equal(nw_metrics_configure(m, e, &cfg, &ops, NULL), 0);
	run_for(e, 100);
	assert_int_equal(collects, 1);
	assert_int_equal(nw_read_file(path, &text, 1 << 20), 0);
	parse_or_fail(x, text);
	assert_true(val(x, "netward_build_info{version=\"9.9.9\"}") == 1);
	assert_true(val(x, "netward_connectivity{}") == 1);
	expo_free(x);
	free(text);
	assert_true(status_num(m, "writes") == 1);

	/* a burst of changes: one write, a second after the last (the
	 * interval, 2 s, is not what writes it) */
	for (int i = 0; i < 100; i++)
		nw_metrics_note_event(m, NW_EV_ROUTE_RESTORED, NULL);
	run_for(e, 600);
	assert_int_equal(collects, 1);
	run_for(e, 600);
	assert_int_equal(collects, 2);
	assert_int_equal(nw_read_file(path, &text, 1 << 20), 0);
	parse_or_fail(x, text);
	assert_true(val(x, "netward_events_total{type=\"route_restored\"}") == 100);
	expo_free(x);
	free(text);

	/* unwritable: counted, in the status, and in the next good file */
	snprintf(other, sizeof(other), "%s/missing/netward.prom", dir);
	cfg.textfile = other;
	assert_int_equal(nw_metrics_configure(m, e, &cfg, &ops, NULL), 0);
	assert_int_equal(access(path, F_OK), -1);	/* the old file is removed */
	run_for(e, 1100);
	assert_true(status_num(m, "errors") >= 1);
	st = cJSON_CreateObject();
	nw_metrics_status(m, st);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(st, "textfile")->valuestring, other);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(st, "last_error")->valuestring,
			    strerror(ENOENT));
	assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(st, "last_write")));
	cJSON_Delete(st);
	cfg.textfile = path;
	assert_int_equal(nw_metrics_configure(m, e, &cfg, &ops, NULL), 0);
	run_for(e, 1100);
	assert_int_equal(nw_read_file(path, &text, 1 << 20), 0);
	parse_or_fail(x, text);
	assert_true(val(x, "netward_metrics_write_errors_total{}") >= 1);
	expo_free(x);
	free(text);

	/* textfile null: the file goes */
	assert_int_equal(nw_metrics_configure(m, e, &(struct nw_metrics_cfg){ 0 }, &ops, NULL), 0);
	assert_int_equal(access(path, F_OK), -1);
	st = cJSON_CreateObject();
	nw_metrics_status(m, st);
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(st, "textfile")));
	cJSON_Delete(st);

	/* freed: the file goes too */
	assert_int_equal(nw_metrics_configure(m, e, &cfg, &ops, NULL), 0);
	run_for(e, 1100);
	assert_int_equal(access(path, F_OK), 0);
	nw_metrics_free(m);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(dir_entries(dir), 0);
	sd_event_unref(e);
	free(x);
}

/* --- the config section --------------------------------------------------------------- */

static void metrics_error(const char *section, const char *msg)
{
	char text[512], err[NW_ERR_LEN] = "";
	struct nw_cfg cfg;

	snprintf(text, sizeof(text), "{\"metrics\": %s}", section);
	if (nw_cfg_parse(text, &cfg, err, sizeof(err)) != -EINVAL)
		fail_msg("%s: accepted, expected %s", text, msg);
	if (strcmp(err, msg))
		fail_msg("%s:\n  got      \"%s\"\n  expected \"%s\"", text, err, msg);
}

static void test_config(void **state)
{
	char err[NW_ERR_LEN] = "";
	struct nw_cfg cfg;

	(void)state;
	assert_int_equal(nw_cfg_parse("{}", &cfg, err, sizeof(err)), 0);
	assert_null(cfg.metrics.textfile);
	assert_int_equal(cfg.metrics.interval_ms, 10000);
	nw_cfg_free(&cfg);
	assert_int_equal(nw_cfg_parse("{\"metrics\": {\"textfile\": \"/var/lib/node_exporter/"
				      "textfile_collector/netward.prom\", \"interval_ms\": 1000}}",
				      &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.metrics.textfile,
			    "/var/lib/node_exporter/textfile_collector/netward.prom");
	assert_int_equal(cfg.metrics.interval_ms, 1000);
	nw_cfg_free(&cfg);
	assert_int_equal(nw_cfg_parse("{\"metrics\": {\"textfile\": null, \"interval_ms\": 3600000}}",
				      &cfg, err, sizeof(err)), 0);
	assert_null(cfg.metrics.textfile);
	assert_int_equal(cfg.metrics.interval_ms, 3600000);
	nw_cfg_free(&cfg);
	assert_int_equal(nw_cfg_parse("{\"metrics\": null}", &cfg, err, sizeof(err)), 0);
	assert_null(cfg.metrics.textfile);
	nw_cfg_free(&cfg);

	metrics_error("{\"textfile\": \"netward.prom\"}",
		      "metrics.textfile: \"netward.prom\" is not an absolute path");
	metrics_error("{\"textfile\": \"\"}", "metrics.textfile: must not be empty");
	metrics_error("{\"textfile\": 1}", "metrics.textfile: expected a string, got a number");
	metrics_error("{\"textfile\": \"/var/lib/x/\"}",
		      "metrics.textfile: \"/var/lib/x/\" names a directory, not a file "
		      "(e.g. /var/lib/x/netward.prom)");
	metrics_error("{\"textfile\": \"/var/lib/..\"}",
		      "metrics.textfile: \"/var/lib/..\" names a directory, not a file "
		      "(e.g. /var/lib/../netward.prom)");
	metrics_error("{\"textfile\": \"/tmp/a\\tb.prom\"}",
		      "metrics.textfile: \"/tmp/a\tb.prom\" contains a control character");
	metrics_error("{\"interval_ms\": 999}",
		      "metrics.interval_ms: 999 is out of range (1000-3600000)");
	metrics_error("{\"interval_ms\": 3600001}",
		      "metrics.interval_ms: 3600001 is out of range (1000-3600000)");
	metrics_error("{\"interval_ms\": 1500.5}", "metrics.interval_ms: 1500.5 is not a whole number");
	metrics_error("{\"interval_ms\": \"10s\"}",
		      "metrics.interval_ms: expected a whole number, got a string");
	metrics_error("{\"listen\": \"127.0.0.1:9100\"}", "metrics.listen: unknown key");
	metrics_error("[]", "metrics: expected an object, got an array");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parser_rejects),
		cmocka_unit_test(test_render_fixed),
		cmocka_unit_test(test_render_minimal),
		TMPDIR_TEST(test_write_file),
		TMPDIR_TEST(test_writer),
		cmocka_unit_test(test_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
