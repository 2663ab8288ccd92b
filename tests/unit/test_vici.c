// SPDX-License-Identifier: GPL-2.0-only
/* Unit tests for the VICI codec (user/vici_codec.c) and client
 * (user/vici.c). The client talks to a fake charon in this process: a
 * unix socket in a temp dir, served on the client's own sd-event loop,
 * that answers "version", confirms some event registrations, streams
 * list-sa events, hangs, and misbehaves on request. No strongSwan, no
 * root. The loop runs until a deadline timer fires; nothing sleeps.
 * NW_TEST_VERBOSE=1 shows the client's log. */
#define _GNU_SOURCE
#define TMPDIR_TEMPLATE "/tmp/nw-test-vici.XXXXXX"
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <math.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <cjson/cJSON.h>
#include <systemd/sd-event.h>

#include "loop.h"
#include "tmpdir.h"
#include "log.h"
#include "util.h"
#include "vici.h"
#include "vici_fake.h"

/* --- byte builder --------------------------------------------------------- */

struct bb {
	uint8_t *b;
	size_t n, cap;
};

static void bb_put(struct bb *b, const void *p, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2 + 64;
		b->b = realloc(b->b, b->cap);
		assert_non_null(b->b);
	}
	memcpy(b->b + b->n, p, n);
	b->n += n;
}

static void bb_u8(struct bb *b, uint8_t v)
{
	bb_put(b, &v, 1);
}

static void bb_name(struct bb *b, const char *s)
{
	bb_u8(b, (uint8_t)strlen(s));
	bb_put(b, s, strlen(s));
}

static void bb_val(struct bb *b, const void *v, size_t n)
{
	bb_u8(b, (uint8_t)(n >> 8));
	bb_u8(b, (uint8_t)n);
	bb_put(b, v, n);
}

static void sec(struct bb *b, const char *n) { bb_u8(b, 1); bb_name(b, n); }
static void end(struct bb *b) { bb_u8(b, 2); }
static void kv(struct bb *b, const char *k, const char *v)
{
	bb_u8(b, 3);
	bb_name(b, k);
	bb_val(b, v, strlen(v));
}
static void ls(struct bb *b, const char *n) { bb_u8(b, 4); bb_name(b, n); }
static void li(struct bb *b, const char *v) { bb_u8(b, 5); bb_val(b, v, strlen(v)); }
static void le(struct bb *b) { bb_u8(b, 6); }

static cJSON *J(const char *json)
{
	cJSON *j = cJSON_Parse(json);

	assert_non_null(j);
	return j;
}

static int decode(const struct bb *b, cJSON **out)
{
	return nw_vici_decode(b->b, b->n, out);
}

/* decodes b, which must give exactly json */
static void assert_decodes_to(const uint8_t *buf, size_t len, const char *json)
{
	cJSON *got = NULL;
	char *txt;

	assert_int_equal(nw_vici_decode(buf, len, &got), 0);
	txt = cJSON_PrintUnformatted(got);
	assert_string_equal(txt, json);
	free(txt);
	cJSON_Delete(got);
}

/* --- codec: encoding ------------------------------------------------------ */

static void test_encode_bytes(void **state)
{
	cJSON *m = J("{\"a\":\"1\",\"s\":{\"t\":{\"k\":\"\"},\"l\":[\"x\",\"yz\"]},"
		     "\"e\":[],\"o\":{}}");
	struct bb want = { 0 };
	uint8_t *out;
	size_t len;
	(void)state;

	kv(&want, "a", "1");
	sec(&want, "s");
	sec(&want, "t");
	kv(&want, "k", "");
	end(&want);
	ls(&want, "l");
	li(&want, "x");
	li(&want, "yz");
	le(&want);
	end(&want);
	ls(&want, "e");
	le(&want);
	sec(&want, "o");
	end(&want);
	assert_int_equal(nw_vici_encode(m, &out, &len), 0);
	assert_int_equal(len, want.n);
	assert_memory_equal(out, want.b, len);
	free(out);
	cJSON_Delete(m);
	free(want.b);
}

static void roundtrip(const char *json)
{
	cJSON *m = J(json), *back = NULL;
	uint8_t *out;
	size_t len;

	assert_int_equal(nw_vici_encode(m, &out, &len), 0);
	assert_int_equal(nw_vici_decode(out, len, &back), 0);
	assert_true(cJSON_Compare(m, back, 1));
	free(out);
	cJSON_Delete(m);
	cJSON_Delete(back);
}

static void test_roundtrip(void **state)
{
	(void)state;
	roundtrip("{}");
	roundtrip("{\"a\":\"\"}");
	roundtrip("{\"a\":[]}");
	roundtrip("{\"a\":{}}");
	roundtrip("{\"a\":[\"\",\"x\"]}");
	roundtrip("{\"gw1\":{\"uniqueid\":\"7\",\"state\":\"ESTABLISHED\","
		  "\"local-host\":\"10.66.0.10\",\"child-sas\":{\"net-1\":{"
		  "\"state\":\"INSTALLED\",\"local-ts\":[\"10.0.0.0/24\"],"
		  "\"remote-ts\":[\"10.1.0.0/24\",\"10.2.0.0/24\"]}},"
		  "\"tasks-active\":[]},\"up\":\"yes\"}");
	roundtrip("{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":\"deep\"}}}},\"z\":\"\\u00e9t\\u00e9\"}");
}

static void test_encode_empty(void **state)
{
	cJSON *m = J("{}");
	uint8_t *out = NULL;
	size_t len = 1;
	(void)state;

	assert_int_equal(nw_vici_encode(NULL, &out, &len), 0);
	assert_non_null(out);
	assert_int_equal(len, 0);
	free(out);
	assert_int_equal(nw_vici_encode(m, &out, &len), 0);
	assert_int_equal(len, 0);
	free(out);
	cJSON_Delete(m);
	assert_decodes_to(NULL, 0, "{}");
}

static void test_encode_scalars(void **state)
{
	cJSON *m = J("{\"n\":42,\"f\":1.5,\"neg\":-7,\"t\":true,\"F\":false,\"l\":[1,true,\"s\"]}");
	uint8_t *out;
	size_t len;
	(void)state;

	assert_int_equal(nw_vici_encode(m, &out, &len), 0);
	assert_decodes_to(out, len, "{\"n\":\"42\",\"f\":\"1.5\",\"neg\":\"-7\",\"t\":\"yes\","
				    "\"F\":\"no\",\"l\":[\"1\",\"yes\",\"s\"]}");
	free(out);
	cJSON_Delete(m);
}

static void expect_encode(cJSON *m, int err)
{
	uint8_t *out = NULL;
	size_t len = 0;
	int r = nw_vici_encode(m, &out, &len);

	assert_int_equal(r, err);
	if (!r)
		free(out);
	else
		assert_null(out);
	cJSON_Delete(m);
}

/* sections nested n deep, the innermost holding k = v */
static cJSON *nested(int n)
{
	cJSON *root = cJSON_CreateObject(), *cur = root;

	for (int i = 0; i < n; i++)
		cur = cJSON_AddObjectToObject(cur, "s");
	cJSON_AddStringToObject(cur, "k", "v");
	return root;
}

static void test_encode_errors(void **state)
{
	char *big = malloc(65537), name[258];
	cJSON *m;
	(void)state;

	expect_encode(J("{\"a\":[[\"x\"]]}"), -EINVAL);
	expect_encode(J("{\"a\":[{}]}"), -EINVAL);
	expect_encode(J("{\"a\":null}"), -EINVAL);
	expect_encode(J("{\"a\":[null]}"), -EINVAL);
	expect_encode(J("[\"a\"]"), -EINVAL);
	expect_encode(J("\"a\""), -EINVAL);
	m = cJSON_CreateObject();
	cJSON_AddNumberToObject(m, "nan", NAN);
	expect_encode(m, -EINVAL);
	/* a name twice in one section cannot be sent */
	m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "k", "1");
	cJSON_AddStringToObject(m, "k", "2");
	expect_encode(m, -EINVAL);
	/* but in two sections it can */
	expect_encode(J("{\"k\":\"1\",\"s\":{\"k\":\"2\"}}"), 0);
	/* names up to 255 bytes, values up to 65535 */
	memset(name, 'n', sizeof(name));
	name[255] = 0;
	m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, name, "v");
	expect_encode(m, 0);
	name[255] = 'n';
	name[256] = 0;
	m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, name, "v");
	expect_encode(m, -EINVAL);
	m = cJSON_CreateObject();
	cJSON_AddObjectToObject(m, name);
	expect_encode(m, -EINVAL);
	memset(big, 'v', 65536);
	big[65535] = 0;
	m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "k", big);
	expect_encode(m, 0);
	big[65535] = 'v';
	big[65536] = 0;
	m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "k", big);
	expect_encode(m, -EINVAL);
	m = cJSON_CreateObject();
	cJSON_AddItemToObject(m, "l", cJSON_CreateStringArray((const char *[]){ big }, 1));
	expect_encode(m, -EINVAL);
	/* 16 sections deep, not 17 */
	expect_encode(nested(NW_VICI_MAX_DEPTH), 0);
	expect_encode(nested(NW_VICI_MAX_DEPTH + 1), -EINVAL);
	free(big);
}

/* 8 keys of (1 + 1 + 1 + 2 + vlen) bytes: 7 of 65535, the last so the
 * body is NW_VICI_MAX_PACKET + extra */
static cJSON *sized(long extra)
{
	char *v = malloc(65536);
	cJSON *m = cJSON_CreateObject();
	char k[2] = "a";

	memset(v, 'x', 65535);
	v[65535] = 0;
	for (int i = 0; i < 7; i++, k[0]++)
		cJSON_AddStringToObject(m, k, v);
	v[NW_VICI_MAX_PACKET - 7 * 65540 - 5 + extra] = 0;
	cJSON_AddStringToObject(m, k, v);
	free(v);
	return m;
}

static void test_encode_size(void **state)
{
	cJSON *m = sized(0);
	uint8_t *out;
	size_t len;
	(void)state;

	assert_int_equal(nw_vici_encode(m, &out, &len), 0);
	assert_int_equal(len, NW_VICI_MAX_PACKET);
	free(out);
	/* the same body does not fit in a packet with its type and name */
	assert_int_equal(nw_vici_frame(NW_VICI_CMD_REQUEST, "x", m, &out, &len), -E2BIG);
	cJSON_Delete(m);
	expect_encode(sized(1), -E2BIG);
	m = sized(-3);
	assert_int_equal(nw_vici_frame(NW_VICI_CMD_REQUEST, "x", m, &out, &len), 0);
	assert_int_equal(len, 4 + NW_VICI_MAX_PACKET);
	free(out);
	cJSON_Delete(m);
}

/* --- codec: decoding ------------------------------------------------------ */

/* one top-level section around everything, so only the whole is valid */
static void valid_message(struct bb *b)
{
	sec(b, "top");
	kv(b, "a", "1");
	sec(b, "s");
	kv(b, "k", "");
	ls(b, "l");
	li(b, "x");
	li(b, "");
	le(b);
	sec(b, "deeper");
	end(b);
	end(b);
	ls(b, "e");
	le(b);
	kv(b, "b", "22");
	end(b);
}

static void test_decode_every_prefix(void **state)
{
	struct bb b = { 0 };
	cJSON *m = NULL;
	(void)state;

	valid_message(&b);
	assert_decodes_to(b.b, b.n, "{\"top\":{\"a\":\"1\",\"s\":{\"k\":\"\",\"l\":[\"x\",\"\"],"
				    "\"deeper\":{}},\"e\":[],\"b\":\"22\"}}");
	for (size_t n = 1; n < b.n; n++) {
		uint8_t *cut = malloc(n);	/* exactly n: ASan sees any over-read */

		memcpy(cut, b.b, n);
		assert_int_equal(nw_vici_decode(cut, n, &m), -EBADMSG);
		free(cut);
	}
	assert_int_equal(nw_vici_decode(b.b, 0, &m), 0);
	cJSON_Delete(m);
	free(b.b);
}

#define BAD(...) { (const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ }) }

static void test_decode_malformed(void **state)
{
	const struct {
		const uint8_t *b;
		size_t n;
	} bad[] = {
		BAD(0),					/* unknown element types */
		BAD(7),
		BAD(255),
		BAD(2),					/* section end at the root */
		BAD(1, 1, 's', 2, 2),			/* one end too many */
		BAD(5, 0, 0),				/* item outside a list */
		BAD(6),					/* list end outside a list */
		BAD(4, 1, 'l', 3, 1, 'k', 0, 0, 6),	/* key in a list */
		BAD(4, 1, 'l', 1, 1, 's', 2, 6),	/* section in a list */
		BAD(4, 1, 'l', 4, 1, 'm', 6, 6),	/* list in a list */
		BAD(4, 1, 'l', 2),			/* section end in a list */
		BAD(4, 1, 'l'),				/* unclosed list */
		BAD(1, 1, 's'),				/* unclosed section */
		BAD(1, 1, 's', 4, 1, 'l', 5, 0, 0, 2),	/* unclosed list in a section */
		BAD(3, 1, 'k', 0, 1, 0),		/* NUL in a value */
		BAD(3, 1, 'k', 0, 3, 'a', 0, 'b'),
		BAD(4, 1, 'l', 5, 0, 2, 'a', 0, 6),	/* NUL in a list item */
		BAD(3, 2, 'k', 0, 0, 0),		/* NUL in a name */
		BAD(1, 1, 0, 2),
		BAD(4, 2, 'l', 0, 6),
		BAD(3, 5, 'a'),				/* name cut short */
		BAD(3),					/* no name length */
		BAD(3, 1, 'k', 0),			/* value length cut short */
		BAD(3, 1, 'k', 0, 5, 'a'),		/* value cut short */
		BAD(4, 1, 'l', 5, 0),
		BAD(4, 1, 'l', 5, 1, 0, 'a', 6),	/* 256 announced, 1 there */
	};
	cJSON *m = NULL;
	(void)state;

	for (size_t i = 0; i < NW_ARRAY_SIZE(bad); i++) {
		uint8_t *copy = malloc(bad[i].n);

		memcpy(copy, bad[i].b, bad[i].n);
		if (nw_vici_decode(copy, bad[i].n, &m) != -EBADMSG)
			fail_msg("malformed input %zu decoded", i);
		free(copy);
	}
	/* the codec refuses what no packet can hold */
	{
		uint8_t *huge = calloc(1, NW_VICI_MAX_PACKET + 1);

		assert_int_equal(nw_vici_decode(huge, NW_VICI_MAX_PACKET + 1, &m), -EBADMSG);
		free(huge);
	}
}

static void test_decode_depth(void **state)
{
	struct bb ok = { 0 }, deep = { 0 };
	cJSON *m = NULL;
	(void)state;

	for (int i = 0; i < NW_VICI_MAX_DEPTH; i++)
		sec(&ok, "s");
	kv(&ok, "k", "v");
	for (int i = 0; i < NW_VICI_MAX_DEPTH; i++)
		end(&ok);
	assert_int_equal(decode(&ok, &m), 0);
	cJSON_Delete(m);
	for (int i = 0; i <= NW_VICI_MAX_DEPTH; i++)
		sec(&deep, "s");
	for (int i = 0; i <= NW_VICI_MAX_DEPTH; i++)
		end(&deep);
	assert_int_equal(decode(&deep, &m), -EBADMSG);
	free(ok.b);
	free(deep.b);
}

static void test_decode_key_twice(void **state)
{
	struct bb b = { 0 };
	cJSON *m = NULL;
	char k[16];
	(void)state;

	kv(&b, "a", "1");
	kv(&b, "a", "2");
	assert_decodes_to(b.b, b.n, "{\"a\":\"2\"}");
	b.n = 0;
	kv(&b, "a", "1");
	sec(&b, "a");
	kv(&b, "b", "1");
	end(&b);
	assert_decodes_to(b.b, b.n, "{\"a\":{\"b\":\"1\"}}");
	/* a section given again starts afresh: its old keys are gone */
	b.n = 0;
	sec(&b, "s");
	kv(&b, "x", "1");
	end(&b);
	sec(&b, "s");
	kv(&b, "y", "2");
	end(&b);
	sec(&b, "s");
	kv(&b, "x", "3");
	kv(&b, "x", "4");
	end(&b);
	assert_decodes_to(b.b, b.n, "{\"s\":{\"x\":\"4\"}}");
	/* a replaced section's keys stay known to the decoder's table until
	 * the end: growing the table after it must not touch freed items
	 * (found by fuzzing: tests/fuzz/corpus/vici/regress-replaced-section) */
	b.n = 0;
	sec(&b, "D");
	kv(&b, "C", "1");
	end(&b);
	sec(&b, "D");
	end(&b);
	for (int i = 0; i < 200; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		kv(&b, k, "v");
	}
	assert_int_equal(nw_vici_decode(b.b, b.n, &m), 0);
	assert_true(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(m, "D")));
	assert_null(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(m, "D"), "C"));
	cJSON_Delete(m);
	m = NULL;
	/* first, last and middle replaced: the order stays */
	b.n = 0;
	ls(&b, "a");
	li(&b, "x");
	le(&b);
	kv(&b, "b", "2");
	kv(&b, "c", "3");
	kv(&b, "a", "9");
	kv(&b, "c", "8");
	kv(&b, "b", "7");
	kv(&b, "d", "1");
	ls(&b, "d");
	le(&b);
	kv(&b, "e", "5");
	assert_decodes_to(b.b, b.n, "{\"a\":\"9\",\"b\":\"7\",\"c\":\"8\",\"d\":[],\"e\":\"5\"}");
	/* the same name in two sections is two keys */
	b.n = 0;
	kv(&b, "k", "root");
	sec(&b, "s");
	kv(&b, "k", "inner");
	end(&b);
	assert_decodes_to(b.b, b.n, "{\"k\":\"root\",\"s\":{\"k\":\"inner\"}}");
	/* many keys (the table grows), one of them twice */
	b.n = 0;
	for (int i = 0; i < 20000; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		kv(&b, k, "v");
	}
	kv(&b, "k5", "again");
	assert_int_equal(decode(&b, &m), 0);
	assert_int_equal(cJSON_GetArraySize(m), 20000);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(m, "k5")->valuestring, "again");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(m, "k19999")->valuestring, "v");
	cJSON_Delete(m);
	free(b.b);
}

/* --- codec: packets ------------------------------------------------------- */

static void test_packets(void **state)
{
	static const bool named[8] = { 1, 0, 0, 1, 1, 0, 0, 1 };
	static const bool has_msg[8] = { 1, 1, 0, 0, 0, 0, 0, 1 };
	cJSON *m = J("{\"k\":\"v\",\"s\":{\"l\":[\"i\"]}}"), *back;
	char name[256];
	uint8_t *f, type;
	size_t len, off;
	(void)state;

	for (uint8_t t = 0; t <= NW_VICI_EVENT; t++) {
		const char *nm = named[t] ? "ike-updown" : NULL;
		size_t want_off = nm ? 2 + strlen(nm) : 1;

		assert_int_equal(nw_vici_frame(t, nm, has_msg[t] ? m : NULL, &f, &len), 0);
		assert_int_equal((uint32_t)f[0] << 24 | f[1] << 16 | f[2] << 8 | f[3], len - 4);
		assert_int_equal(nw_vici_parse_packet(f + 4, len - 4, &type, name, &off), 0);
		assert_int_equal(type, t);
		assert_string_equal(name, nm ? nm : "");
		assert_int_equal(off, want_off);
		if (has_msg[t]) {
			assert_int_equal(nw_vici_decode(f + 4 + off, len - 4 - off, &back), 0);
			assert_true(cJSON_Compare(m, back, 1));
			cJSON_Delete(back);
		} else {
			assert_int_equal(len - 4, off);
		}
		/* every cut inside the name is malformed */
		for (size_t n = 0; n < want_off; n++) {
			uint8_t *cut = malloc(n + 1);

			memcpy(cut, f + 4, n);
			assert_int_equal(nw_vici_parse_packet(n ? cut : NULL, n, &type, name, &off),
					 -EBADMSG);
			free(cut);
		}
		free(f);
	}
	/* an empty name is a name */
	assert_int_equal(nw_vici_parse_packet((const uint8_t[]){ 7, 0, 3 }, 3, &type, name, &off),
			 0);
	assert_int_equal(type, NW_VICI_EVENT);
	assert_string_equal(name, "");
	assert_int_equal(off, 2);
	assert_int_equal(nw_vici_parse_packet((const uint8_t[]){ 8 }, 1, &type, name, &off),
			 -EBADMSG);
	assert_int_equal(nw_vici_parse_packet((const uint8_t[]){ 255, 0 }, 2, &type, name, &off),
			 -EBADMSG);
	assert_int_equal(nw_vici_parse_packet((const uint8_t[]){ 7, 2, 'a', 0 }, 4, &type, name,
					      &off), -EBADMSG);
	assert_int_equal(nw_vici_parse_packet((const uint8_t[]){ 3, 3, 'a', 'b' }, 4, &type, name,
					      &off), -EBADMSG);
	cJSON_Delete(m);
}

static void test_frame_errors(void **state)
{
	cJSON *m = J("{\"k\":\"v\"}");
	char name[257];
	uint8_t *f = NULL;
	size_t len;
	(void)state;

	assert_int_equal(nw_vici_frame(NW_VICI_CMD_REQUEST, NULL, NULL, &f, &len), -EINVAL);
	assert_int_equal(nw_vici_frame(NW_VICI_EVENT, NULL, m, &f, &len), -EINVAL);
	assert_int_equal(nw_vici_frame(NW_VICI_CMD_RESPONSE, "x", m, &f, &len), -EINVAL);
	assert_int_equal(nw_vici_frame(NW_VICI_EVENT_CONFIRM, NULL, m, &f, &len), -EINVAL);
	assert_int_equal(nw_vici_frame(NW_VICI_EVENT_REGISTER, "x", m, &f, &len), -EINVAL);
	assert_int_equal(nw_vici_frame(8, NULL, NULL, &f, &len), -EINVAL);
	memset(name, 'n', 256);
	name[256] = 0;
	assert_int_equal(nw_vici_frame(NW_VICI_EVENT_REGISTER, name, NULL, &f, &len), -EINVAL);
	name[255] = 0;
	assert_int_equal(nw_vici_frame(NW_VICI_EVENT_REGISTER, name, NULL, &f, &len), 0);
	assert_int_equal(len, 4 + 2 + 255);
	free(f);
	cJSON_Delete(m);
}

/* --- the fake charon's answers (vici_fake.h) ------------------------------ */

static void peer_command(struct peer *p, const char *cmd, const cJSON *msg)
{
	struct srv *s = p->s;
	char size[32];

	(void)msg;
	if (!strcmp(cmd, "version")) {
		peer_send_json(p, NW_VICI_CMD_RESPONSE, NULL,
			       "{\"daemon\":\"charon\",\"version\":\"5.9.8\","
			       "\"sysname\":\"Linux\"}");
	} else if (!strcmp(cmd, "echo")) {
		snprintf(size, sizeof(size), "{\"size\":\"%zu\"}", s->last_cmd_len);
		peer_send_json(p, NW_VICI_CMD_RESPONSE, NULL, size);
	} else if (!strcmp(cmd, "list-sas") || !strcmp(cmd, "list-sas-hang")) {
		/* charon streams only to a connection that registered list-sa */
		if (peer_has(p, "list-sa")) {
			peer_send_json(p, NW_VICI_EVENT, "list-sa",
				       "{\"gw1\":{\"state\":\"ESTABLISHED\"}}");
			peer_send_json(p, NW_VICI_EVENT, "list-sa",
				       "{\"gw2\":{\"state\":\"CONNECTING\"}}");
		}
		/* -hang: the listing never ends (an SA charon cannot check out) */
		if (!strcmp(cmd, "list-sas"))
			peer_send(p, NW_VICI_CMD_RESPONSE, NULL, NULL);
	} else if (!strcmp(cmd, "max")) {
		/* exactly 512 KiB: type + body */
		cJSON *big = sized(-1);

		peer_send(p, NW_VICI_CMD_RESPONSE, NULL, big);
		cJSON_Delete(big);
	} else if (!strcmp(cmd, "oversize")) {
		/* 600 KiB announced: over the limit */
		peer_write(p, (const uint8_t[]){ 0x00, 0x09, 0x60, 0x00, 1, 2, 3 }, 7);
	} else if (!strcmp(cmd, "bad-reply")) {
		peer_write(p, (const uint8_t[]){ 0, 0, 0, 3, NW_VICI_CMD_RESPONSE, 2, 2 }, 7);
	} else if (!strcmp(cmd, "confirm")) {
		/* an answer nobody asked for */
		peer_send(p, NW_VICI_EVENT_CONFIRM, NULL, NULL);
	} else if (strcmp(cmd, "hang")) {
		peer_send(p, NW_VICI_CMD_UNKNOWN, NULL, NULL);
	}
}

/* --- the client's side: what came back ------------------------------------ */

struct rec {
	struct nw_vici *v;
	int states[16];
	int n_states;
	int n_events;
	char events[16][32];
	cJSON *last_event;
	char order[256];		/* E:<event> R:<err> in arrival order */
	bool free_in_event, free_in_state;
};

struct reply {
	struct rec *r;
	int done;
	int err;
	cJSON *msg;
	bool free_v;			/* nw_vici_free from inside the callback */
	bool call_again;		/* nw_vici_command from inside the callback */
	int again_err;
};

static void note(struct rec *r, const char *what)
{
	size_t n = strlen(r->order);

	snprintf(r->order + n, sizeof(r->order) - n, "%s ", what);
}

static void on_event(void *ud, const char *event, const cJSON *msg)
{
	struct rec *r = ud;

	assert_true(r->n_events < 16);
	snprintf(r->events[r->n_events++], sizeof(r->events[0]), "%s", event);
	cJSON_Delete(r->last_event);
	r->last_event = cJSON_Duplicate(msg, 1);
	{
		char what[64];

		snprintf(what, sizeof(what), "E:%s", event);
		note(r, what);
	}
	if (r->free_in_event) {
		nw_vici_free(r->v);
		r->v = NULL;
	}
}

static void on_state(void *ud, int connected)
{
	struct rec *r = ud;

	assert_true(r->n_states < 16);
	r->states[r->n_states++] = connected;
	assert_int_equal(nw_vici_connected(r->v), connected);
	if (r->free_in_state) {
		nw_vici_free(r->v);
		r->v = NULL;
	}
}

static void on_reply(void *ud, int err, const cJSON *reply)
{
	struct reply *rp = ud;

	rp->done++;
	rp->err = err;
	cJSON_Delete(rp->msg);
	rp->msg = reply ? cJSON_Duplicate(reply, 1) : NULL;
	assert_true(!err == !!reply);
	if (rp->r) {
		char what[16];

		snprintf(what, sizeof(what), "R:%d", err);
		note(rp->r, what);
	}
	if (rp->call_again)
		rp->again_err = nw_vici_command(rp->r->v, "version", NULL, 0, on_reply, rp);
	if (rp->free_v) {
		nw_vici_free(rp->r->v);
		rp->r->v = NULL;
	}
}

static const struct nw_vici_ops ops = { .event = on_event, .state = on_state };

static const char *reply_str(const struct reply *rp, const char *key)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(rp->msg, key);

	assert_true(cJSON_IsString(it));
	return it->valuestring;
}

struct fx {
	char *dir;
	sd_event *e;
	struct srv s;
	struct rec r;
};

static struct fx *fx_new(void **state, bool listen)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->dir = *state;
	assert_int_equal(sd_event_new(&f->e), 0);
	srv_init(&f->s, f->e, f->dir);
	f->s.command = peer_command;
	if (listen)
		srv_listen(&f->s);
	return f;
}

static void fx_open(struct fx *f, const char *const *events)
{
	assert_int_equal(nw_vici_open(&f->r.v, f->e, f->s.path, events, &ops, &f->r), 0);
}

static void fx_free(struct fx *f)
{
	nw_vici_free(f->r.v);
	srv_stop(&f->s);
	cJSON_Delete(f->r.last_event);
	sd_event_unref(f->e);
	free(f);
}

static void reply_clear(struct reply *rp)
{
	cJSON_Delete(rp->msg);
	memset(rp, 0, sizeof(*rp));
}

/* --- the client ----------------------------------------------------------- */

static const char *const updown_alert[] = { "ike-updown", "alert", NULL };

/* connect, register, version, an event, charon goes away and comes back */
static void test_client_basic(void **state)
{
	struct fx *f = fx_new(state, true);
	struct reply ver = { 0 }, hang = { 0 };
	struct peer *ep;
	cJSON *ev;

	fx_open(f, updown_alert);
	assert_false(nw_vici_connected(f->r.v));
	assert_true(loop_until_count(f->e, &f->r.n_states, 1, 2000));
	assert_int_equal(f->r.states[0], 1);
	assert_true(nw_vici_connected(f->r.v));
	/* two connections; both names asked for on the event one, in order,
	 * "alert" answered EVENT_UNKNOWN (a charon before 6.0.3) */
	assert_int_equal(f->s.n_peers, 2);
	assert_non_null(ep = srv_peer(&f->s, "ike-updown"));
	assert_int_equal(ep->n_regs, 2);
	assert_string_equal(ep->regs[0], "ike-updown");
	assert_string_equal(ep->regs[1], "alert");

	ver.r = &f->r;
	assert_int_equal(nw_vici_command(f->r.v, "version", NULL, 1000, on_reply, &ver), 0);
	assert_true(loop_until_count(f->e, &ver.done, 1, 2000));
	assert_int_equal(ver.err, 0);
	assert_string_equal(reply_str(&ver, "daemon"), "charon");
	assert_string_equal(reply_str(&ver, "version"), "5.9.8");
	assert_int_equal(ep->n_cmds, 0);	/* commands go on the other one */

	ev = J("{\"gw1\":{\"uniqueid\":\"3\",\"state\":\"ESTABLISHED\"},\"up\":\"yes\"}");
	peer_send(ep, NW_VICI_EVENT, "ike-updown", ev);
	assert_true(loop_until_count(f->e, &f->r.n_events, 1, 2000));
	assert_string_equal(f->r.events[0], "ike-updown");
	assert_true(cJSON_Compare(ev, f->r.last_event, 1));
	cJSON_Delete(ev);

	/* charon goes away: the command in flight fails, state 0 */
	hang.r = &f->r;
	assert_int_equal(nw_vici_command(f->r.v, "hang", NULL, 0, on_reply, &hang), 0);
	assert_true(loop_until_count(f->e, &f->s.n_cmds, 2, 2000));
	srv_drop_all(&f->s);
	assert_true(loop_until_count(f->e, &f->r.n_states, 2, 2000));
	assert_int_equal(hang.done, 1);
	assert_int_equal(hang.err, -ENOTCONN);
	assert_int_equal(f->r.states[1], 0);
	assert_false(nw_vici_connected(f->r.v));

	/* a command given while disconnected waits for the reconnect, and the
	 * events are registered again */
	reply_clear(&ver);
	assert_int_equal(nw_vici_command(f->r.v, "version", NULL, 0, on_reply, &ver), 0);
	assert_true(loop_until_count(f->e, &ver.done, 1, 3000));
	assert_int_equal(ver.err, 0);
	assert_int_equal(f->r.n_states, 3);
	assert_int_equal(f->r.states[2], 1);
	assert_int_equal(f->s.n_peers, 4);
	assert_non_null(ep = srv_peer(&f->s, "alert"));
	assert_int_equal(ep->n_regs, 2);
	assert_int_equal(hang.done, 1);
	reply_clear(&ver);
	reply_clear(&hang);
	fx_free(f);
}

/* list-sas streams list-sa events on the command connection */
static void test_client_stream(void **state)
{
	static const char *const evs[] = { "ike-updown", "list-sa", NULL };
	struct fx *f = fx_new(state, true);
	struct reply rp = { .r = &f->r };
	struct peer *cp;

	fx_open(f, evs);
	assert_true(loop_until_count(f->e, &f->r.n_states, 1, 2000));
	assert_non_null(cp = srv_peer(&f->s, "list-sa"));
	assert_int_equal(cp->n_regs, 1);
	assert_int_equal(srv_peer(&f->s, "ike-updown")->n_regs, 1);
	assert_int_equal(nw_vici_command(f->r.v, "list-sas", NULL, 1000, on_reply, &rp), 0);
	assert_true(loop_until_count(f->e, &rp.done, 1, 2000));
	assert_int_equal(rp.err, 0);
	assert_int_equal(cp->n_cmds, 1);
	assert_string_equal(f->r.order, "E:list-sa E:list-sa R:0 ");
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(f->r.last_event, "gw2"),
						"state")->valuestring, "CONNECTING");
	reply_clear(&rp);
	fx_free(f);
}

/* What SEGW's listing at each connect relies on: a list-sas that streams
 * and then times out has delivered its events; the command connection is
 * made anew and list-sa registered on it before the next command goes;
 * after charon comes back, the same. */
static void test_client_stream_again(void **state)
{
	static const char *const evs[] = { "ike-updown", "list-sa", NULL };
	struct fx *f = fx_new(state, true);
	struct reply hang = { .r = &f->r }, rp = { .r = &f->r };
	struct peer *cp;

	fx_open(f, evs);
	assert_true(loop_until_count(f->e, &f->r.n_states, 1, 2000));
	assert_int_equal(nw_vici_command(f->r.v, "list-sas-hang", NULL, 50, on_reply, &hang), 0);
	assert_int_equal(nw_vici_command(f->r.v, "list-sas", NULL, 1000, on_reply, &rp), 0);
	assert_true(loop_until_count(f->e, &rp.done, 1, 2000));
	assert_int_equal(hang.err, -ETIMEDOUT);
	assert_int_equal(rp.err, 0);
	assert_string_equal(f->r.order, "E:list-sa E:list-sa R:-110 E:list-sa E:list-sa R:0 ");
	assert_int_equal(f->r.n_states, 1);		/* the event connection stayed */
	assert_int_equal(f->s.n_peers, 3);
	assert_non_null(cp = srv_peer(&f->s, "list-sa"));
	assert_int_equal(cp->n_regs, 1);
	assert_int_equal(cp->n_cmds, 1);

	/* charon restarts */
	srv_drop_all(&f->s);
	assert_true(loop_until_count(f->e, &f->r.n_states, 3, 3000));
	assert_int_equal(f->r.states[1], 0);
	assert_int_equal(f->r.states[2], 1);
	f->r.order[0] = 0;
	reply_clear(&rp);
	rp.r = &f->r;
	assert_int_equal(nw_vici_command(f->r.v, "list-sas", NULL, 1000, on_reply, &rp), 0);
	assert_true(loop_until_count(f->e, &rp.done, 1, 2000));
	assert_int_equal(rp.err, 0);
	assert_string_equal(f->r.order, "E:list-sa E:list-sa R:0 ");
	assert_int_equal(f->s.n_peers, 5);
	assert_non_null(cp = srv_peer(&f->s, "list-sa"));
	assert_int_equal(cp->n_regs, 1);
	assert_int_equal(cp->n_cmds, 1);
	reply_clear(&hang);
	reply_clear(&rp);
	fx_free(f);
}

/* timeouts, CMD_UNKNOWN, a bad answer: the event connection stays */
static void test_client_timeout(void **state)
{
	struct fx *f = fx_new(state, true);
	struct reply hang = { .r = &f->r }, ver = { .r = &f->r }, nope = { .r = &f->r },
		     bad = { .r = &f->r };

	fx_open(f, updown_alert);
	assert_true(loop_until_count(f->e, &f->r.n_states, 1, 2000));
	assert_int_equal(nw_vici_command(f->r.v, "hang", NULL, 50, on_reply, &hang), 0);
	assert_int_equal(nw_vici_command(f->r.v, "version", NULL, 1000, on_reply, &ver), 0);
	assert_true(loop_until_count(f->e, &ver.done, 1, 2000));
	assert_int_equal(hang.err, -ETIMEDOUT);
	assert_int_equal(ver.err, 0);
	assert_string_equal(f->r.order, "R:-110 R:0 ");
	assert_true(loop_until_count(f->e, &f->s.n_eof, 1, 1000));
	/* a new command connection, the same event one, no state change */
	assert_int_equal(f->s.n_peers, 3);
	assert_int_equal(srv_open_peers(&f->s), 2);
	assert_int_equal(f->r.n_states, 1);

	assert_int_equal(nw_vici_command(f->r.v, "nope", NULL, 1000, on_reply, &nope), 0);
	assert_int_equal(nw_vici_command(f->r.v, "bad-reply", NULL, 1000, on_reply, &bad), 0);
	assert_true(loop_until_count(f->e, &bad.done, 1, 2000));
	assert_int_equal(nope.err, -EBADMSG);
	assert_int_equal(bad.err, -EBADMSG);
	assert_int_equal(f->r.n_states, 1);
	reply_clear(&hang);
	reply_clear(&ver);
	reply_clear(&nope);
	reply_clear(&bad);
	fx_free(f);
}

/* 600 KiB announced, or an answer out of turn: drop both, reconnect */
static void test_client_protocol_errors(void **state)
{
	struct fx *f = fx_new(state, true);
	struct reply big = { .r = &f->r }, ver = { .r = &f->r }, conf = { .r = &f->r };

	fx_open(f, updown_alert);
	assert_true(loop_until_count(f->e, &f->r.n_states, 1, 2000));
	assert_int_equal(nw_vici_command(f->r.v, "oversize", NULL, 1000, on_reply, &big), 0);
	assert_int_equal(nw_vici_command(f->r.v, "version", NULL, 1000, on_reply, &ver), 0);
	assert_true(loop_until_count(f->e, &ver.done, 1, 3000));
	assert_int_equal(big.err, -ENOTCONN);
	assert_int_equal(ver.err, 0);
	assert_int_equal(f->r.n_states, 3);
	assert_int_equal(f->r.states[1], 0);
	assert_int_equal(f->r.states[2], 1);
	assert_int_equal(f->s.n_peers, 4);

	/* 512 KiB is still fine */
	reply_clear(&ver);
	ver.r = &f->r;
	assert_int_equal(nw_vici_command(f->r.v, "max", NULL, 1000, on_reply, &ver), 0);
	assert_true(loop_until_count(f->e, &ver.done, 1, 3000));
	assert_int_equal(ver.err, 0);
	assert_int_equal(cJSON_GetArraySize(ver.msg), 8);
	assert_int_equal(f->r.n_states, 3);

	/* the same on the event connection */
	peer_write(srv_peer(&f->s, "alert"), (const uint8_t[]){ 0x00, 0x09, 0x60, 0x00 }, 4);
	assert_true(loop_until_count(f->e, &f->r.n_states, 5, 3000));
	assert_int_equal(f->r.states[3], 0);
	assert_int_equal(f->r.states[4], 1);

	/* EVENT_CONFIRM with no registration asked for */
	assert_int_equal(nw_vici_command(f->r.v, "confirm", NULL, 1000, on_reply, &conf), 0);
	assert_true(loop_until_count(f->e, &f->r.n_states, 7, 3000));
	assert_int_equal(conf.err, -ENOTCONN);
	assert_int_equal(f->r.states[6], 1);
	reply_clear(&big);
	reply_clear(&ver);
	reply_clear(&conf);
	fx_free(f);
}

/* charon says what it should not: a bad event is dropped, anything out of
 * turn drops both connections */
static void test_client_misbehaving(void **state)
{
	struct fx *f = fx_new(state, true);
	static const uint8_t bad_event[] = { 0, 0, 0, 6, NW_VICI_EVENT, 2, 'e', 'v', 6, 6 };
	static const uint8_t bad[][6] = {
		{ 0, 0, 0, 1, NW_VICI_CMD_RESPONSE },		/* nobody asked */
		{ 0, 0, 0, 1, 9 },				/* no such type */
		{ 0, 0, 0, 2, NW_VICI_CMD_REQUEST, 0 },	/* charon asks */
		{ 0, 0, 0, 2, NW_VICI_EVENT_REGISTER, 0 },
		{ 0, 0, 0, 2, NW_VICI_EVENT, 5 },		/* name cut short */
		{ 0, 0, 0, 0 },					/* an empty packet */
	};
	int want = 1;

	fx_open(f, updown_alert);
	assert_true(loop_until_count(f->e, &f->r.n_states, 1, 2000));
	peer_write(srv_peer(&f->s, "alert"), bad_event, sizeof(bad_event));
	peer_send_json(srv_peer(&f->s, "alert"), NW_VICI_EVENT, "ike-updown", "{\"up\":\"yes\"}");
	assert_true(loop_until_count(f->e, &f->r.n_events, 1, 2000));
	assert_string_equal(f->r.events[0], "ike-updown");
	assert_int_equal(f->r.n_states, 1);
	for (size_t i = 0; i < NW_ARRAY_SIZE(bad); i++) {
		struct peer *p = srv_peer(&f->s, "alert");

		peer_write(p, bad[i], 4 + bad[i][3]);
		want += 2;
		if (!loop_until_count(f->e, &f->r.n_states, want, 3000))
			fail_msg("bad packet %zu: states %d", i, f->r.n_states);
		assert_int_equal(f->r.states[want - 2], 0);
		assert_int_equal(f->r.states[want - 1], 1);
	}
	fx_free(f);
}

/* a timeout while charon is gone: no new command connection, so both go */
static void test_client_timeout_charon_gone(void **state)
{
	struct fx *f = fx_new(state, true);
	struct reply hang = { .r = &f->r }, ver = { .r = &f->r };

	fx_open(f, updown_alert);
	assert_true(loop_until_count(f->e, &f->r.n_states, 1, 2000));
	assert_int_equal(nw_vici_command(f->r.v, "hang", NULL, 50, on_reply, &hang), 0);
	assert_true(loop_until_count(f->e, &f->s.n_cmds, 1, 2000));
	srv_unlisten(&f->s);
	assert_true(loop_until_count(f->e, &f->r.n_states, 2, 2000));
	assert_int_equal(hang.err, -ETIMEDOUT);
	assert_int_equal(f->r.states[1], 0);
	assert_true(loop_until_count(f->e, &f->s.n_eof, 2, 2000));	/* the event one went too */
	assert_int_equal(nw_vici_command(f->r.v, "version", NULL, 1000, on_reply, &ver), 0);
	srv_listen(&f->s);
	assert_true(loop_until_count(f->e, &ver.done, 1, 3000));
	assert_int_equal(ver.err, 0);
	assert_int_equal(f->r.states[2], 1);
	reply_clear(&hang);
	reply_clear(&ver);
	fx_free(f);
}

/* partial reads (one byte per turn) and partial writes (a 420 KB command) */
static void test_client_partial(void **state)
{
	struct fx *f = fx_new(state, true);
	struct reply rp = { .r = &f->r };
	cJSON *m = cJSON_CreateObject();
	char *v = malloc(60001), k[2] = "a";

	memset(v, 'x', 60000);
	v[60000] = 0;
	for (int i = 0; i < 7; i++, k[0]++)
		cJSON_AddStringToObject(m, k, v);
	f->s.trickle = true;
	fx_open(f, updown_alert);
	assert_true(loop_until_count(f->e, &f->r.n_states, 1, 5000));
	assert_int_equal(nw_vici_command(f->r.v, "echo", m, 5000, on_reply, &rp), 0);
	assert_true(loop_until_count(f->e, &rp.done, 1, 5000));
	assert_int_equal(rp.err, 0);
	assert_int_equal(strtoul(reply_str(&rp, "size"), NULL, 10), 1 + 1 + 4 + 7 * 60005);
	assert_int_equal(f->s.last_cmd_len, 1 + 1 + 4 + 7 * 60005);
	reply_clear(&rp);
	cJSON_Delete(m);
	free(v);
	fx_free(f);
}

/* charon is not there yet: commands wait, backoff retries find it */
static void test_client_late_charon(void **state)
{
	struct fx *f = fx_new(state, false);
	struct reply ver = { .r = &f->r };

	fx_open(f, updown_alert);
	assert_int_equal(nw_vici_command(f->r.v, "version", NULL, 1000, on_reply, &ver), 0);
	loop_for(f->e, 250);	/* retries at 100 and 300 ms */
	assert_int_equal(ver.done, 0);
	assert_int_equal(f->r.n_states, 0);
	srv_listen(&f->s);
	assert_true(loop_until_count(f->e, &ver.done, 1, 3000));
	assert_int_equal(ver.err, 0);
	assert_int_equal(f->r.n_states, 1);
	assert_int_equal(f->r.states[0], 1);
	reply_clear(&ver);
	fx_free(f);
}

/* at most 256 queued; a free cancels them all */
static void test_client_queue_full(void **state)
{
	struct fx *f = fx_new(state, false);
	struct reply rp = { .r = &f->r, .call_again = true };

	fx_open(f, NULL);
	for (int i = 0; i < 256; i++)
		assert_int_equal(nw_vici_command(f->r.v, "version", NULL, 0, on_reply, &rp), 0);
	assert_int_equal(nw_vici_command(f->r.v, "version", NULL, 0, on_reply, &rp), -ENOBUFS);
	assert_int_equal(rp.done, 0);
	nw_vici_free(f->r.v);
	f->r.v = NULL;
	assert_int_equal(rp.done, 256);
	assert_int_equal(rp.err, -ECANCELED);
	assert_int_equal(rp.again_err, -ECANCELED);	/* no new ones while freeing */
	reply_clear(&rp);
	fx_free(f);
}

/* nw_vici_free from inside a reply, an event and a state callback */
static void test_client_free_in_callback(void **state)
{
	struct fx *f = fx_new(state, true);
	struct reply first = { .r = &f->r, .free_v = true }, second = { .r = &f->r };

	fx_open(f, updown_alert);
	assert_true(loop_until_count(f->e, &f->r.n_states, 1, 2000));
	assert_int_equal(nw_vici_command(f->r.v, "version", NULL, 1000, on_reply, &first), 0);
	assert_int_equal(nw_vici_command(f->r.v, "version", NULL, 1000, on_reply, &second), 0);
	assert_true(loop_until_count(f->e, &first.done, 1, 2000));
	assert_null(f->r.v);
	assert_int_equal(first.err, 0);
	assert_int_equal(second.done, 1);
	assert_int_equal(second.err, -ECANCELED);
	loop_for(f->e, 50);
	assert_int_equal(first.done + second.done, 2);
	assert_int_equal(srv_open_peers(&f->s), 0);	/* both closed */
	reply_clear(&first);
	reply_clear(&second);

	/* from an event, with a command in flight and another packet behind */
	f->r.free_in_event = true;
	fx_open(f, updown_alert);
	assert_true(loop_until_count(f->e, &f->r.n_states, 2, 2000));
	first = (struct reply){ .r = &f->r };
	assert_int_equal(nw_vici_command(f->r.v, "hang", NULL, 1000, on_reply, &first), 0);
	assert_true(loop_until_count(f->e, &f->s.n_cmds, 2, 2000));
	peer_send_json(srv_peer(&f->s, "ike-updown"), NW_VICI_EVENT, "ike-updown", "{}");
	peer_send_json(srv_peer(&f->s, "ike-updown"), NW_VICI_EVENT, "ike-updown", "{}");
	assert_true(loop_until_count(f->e, &f->r.n_events, 1, 2000));
	assert_null(f->r.v);
	assert_int_equal(first.err, -ECANCELED);
	loop_for(f->e, 50);
	assert_int_equal(f->r.n_events, 1);
	reply_clear(&first);

	/* from a timeout, and from a command failed by a lost connection */
	f->r.free_in_event = false;
	fx_open(f, updown_alert);
	assert_true(loop_until_count(f->e, &f->r.n_states, 3, 2000));
	first = (struct reply){ .r = &f->r, .free_v = true };
	second = (struct reply){ .r = &f->r };
	assert_int_equal(nw_vici_command(f->r.v, "hang", NULL, 30, on_reply, &first), 0);
	assert_int_equal(nw_vici_command(f->r.v, "version", NULL, 0, on_reply, &second), 0);
	assert_true(loop_until_count(f->e, &first.done, 1, 2000));
	assert_null(f->r.v);
	assert_int_equal(first.err, -ETIMEDOUT);
	assert_int_equal(second.err, -ECANCELED);
	reply_clear(&first);
	reply_clear(&second);
	fx_open(f, updown_alert);
	assert_true(loop_until_count(f->e, &f->r.n_states, 4, 2000));
	first = (struct reply){ .r = &f->r, .free_v = true };
	assert_int_equal(nw_vici_command(f->r.v, "hang", NULL, 0, on_reply, &first), 0);
	assert_int_equal(nw_vici_command(f->r.v, "version", NULL, 0, on_reply, &second), 0);
	assert_true(loop_until_count(f->e, &f->s.n_cmds, 4, 2000));
	srv_drop_all(&f->s);
	assert_true(loop_until_count(f->e, &first.done, 1, 2000));
	assert_int_equal(first.err, -ENOTCONN);
	assert_int_equal(second.err, -ECANCELED);
	loop_for(f->e, 200);
	assert_int_equal(f->r.n_states, 4);	/* no state 0: freed before */
	reply_clear(&first);
	reply_clear(&second);

	/* from the state callback (connected 1) */
	f->r.free_in_state = true;
	fx_open(f, updown_alert);
	assert_true(loop_until_count(f->e, &f->r.n_states, 5, 2000));
	assert_null(f->r.v);
	loop_for(f->e, 200);
	assert_int_equal(f->r.n_states, 5);
	fx_free(f);
}

static void test_client_open_errors(void **state)
{
	struct fx *f = fx_new(state, false);
	char path[200], long_ev[257];
	const char *const long_name[] = { long_ev, NULL };
	struct nw_vici *v = NULL;
	struct reply rp = { 0 };
	cJSON *arr = J("[\"x\"]");

	memset(long_ev, 'e', sizeof(long_ev) - 1);
	long_ev[sizeof(long_ev) - 1] = 0;
	memset(path, 'p', sizeof(path) - 1);
	path[sizeof(path) - 1] = 0;
	path[0] = '/';
	assert_int_equal(nw_vici_open(&v, f->e, "tcp://127.0.0.1:4502", NULL, &ops, NULL), -EINVAL);
	assert_int_equal(nw_vici_open(&v, f->e, "unix://", NULL, &ops, NULL), -EINVAL);
	assert_int_equal(nw_vici_open(&v, f->e, path, NULL, &ops, NULL), -ENAMETOOLONG);
	assert_int_equal(nw_vici_open(&v, f->e, f->s.path, long_name, &ops, NULL), -EINVAL);
	assert_null(v);
	assert_int_equal(nw_vici_open(&v, f->e, "unix:///nonexistent/charon.vici", NULL, NULL,
				      NULL), 0);
	assert_int_equal(nw_vici_command(v, NULL, NULL, 0, on_reply, &rp), -EINVAL);
	assert_int_equal(nw_vici_command(v, "x", NULL, 0, NULL, &rp), -EINVAL);
	assert_int_equal(nw_vici_command(v, "x", arr, 0, on_reply, &rp), -EINVAL);
	assert_false(nw_vici_connected(v));
	assert_false(nw_vici_connected(NULL));
	loop_for(f->e, 150);
	nw_vici_free(v);
	nw_vici_free(NULL);
	assert_int_equal(rp.done, 0);
	cJSON_Delete(arr);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_bytes),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_encode_empty),
		cmocka_unit_test(test_encode_scalars),
		cmocka_unit_test(test_encode_errors),
		cmocka_unit_test(test_encode_size),
		cmocka_unit_test(test_decode_every_prefix),
		cmocka_unit_test(test_decode_malformed),
		cmocka_unit_test(test_decode_depth),
		cmocka_unit_test(test_decode_key_twice),
		cmocka_unit_test(test_packets),
		cmocka_unit_test(test_frame_errors),
		TMPDIR_TEST(test_client_basic),
		TMPDIR_TEST(test_client_stream),
		TMPDIR_TEST(test_client_stream_again),
		TMPDIR_TEST(test_client_timeout),
		TMPDIR_TEST(test_client_protocol_errors),
		TMPDIR_TEST(test_client_misbehaving),
		TMPDIR_TEST(test_client_timeout_charon_gone),
		TMPDIR_TEST(test_client_partial),
		TMPDIR_TEST(test_client_late_charon),
		TMPDIR_TEST(test_client_queue_full),
		TMPDIR_TEST(test_client_free_in_callback),
		TMPDIR_TEST(test_client_open_errors),
	};
	const char *verbose = getenv("NW_TEST_VERBOSE");

	nw_log_set_level(verbose && *verbose == '1' ? LOG_DEBUG : LOG_EMERG);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
