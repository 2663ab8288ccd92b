// SPDX-License-Identifier: GPL-2.0-only
/*
 * VICI messages and packets (see vici.h): cJSON trees to bytes and back.
 * Pure: no I/O, no logging, no global state.
 *
 * Values are byte strings on the wire, cJSON strings here. A value holding
 * a NUL byte cannot be a cJSON string, so the decoder refuses the whole
 * message (-EBADMSG) rather than cut the value short: every value netward
 * sends or reads (names, addresses, states, yes/no) is text; only
 * certificate and key blobs (list-certs, load-cert) are binary, and netward
 * never asks for them. Names with a NUL byte are refused the same way.
 *
 * A key given twice in one section keeps the last (strongSwan's own parser
 * does the same); a per-message hash table of (section, name) finds the
 * earlier one, so a 512 KiB message of distinct keys decodes in linear time.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vici.h"

enum {
	EL_SECTION_START = 1,
	EL_SECTION_END = 2,
	EL_KEY_VALUE = 3,
	EL_LIST_START = 4,
	EL_LIST_ITEM = 5,
	EL_LIST_END = 6,
};

#define NAME_MAX_LEN 255
#define VALUE_MAX_LEN 65535

static bool type_named(uint8_t type)
{
	return type == NW_VICI_CMD_REQUEST || type == NW_VICI_EVENT_REGISTER ||
	       type == NW_VICI_EVENT_UNREGISTER || type == NW_VICI_EVENT;
}

static bool type_has_msg(uint8_t type)
{
	return type == NW_VICI_CMD_REQUEST || type == NW_VICI_CMD_RESPONSE ||
	       type == NW_VICI_EVENT;
}

/* --- encoding -------------------------------------------------------------- */

struct wbuf {
	uint8_t *p;
	size_t len, cap;
	size_t max;		/* the whole buffer's limit */
};

static int wb_put(struct wbuf *b, const void *data, size_t n)
{
	if (n > b->max - b->len)
		return -E2BIG;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		uint8_t *p;

		while (cap < b->len + n)
			cap *= 2;
		if (cap > b->max)
			cap = b->max;
		if (!(p = realloc(b->p, cap)))
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	return 0;
}

static int wb_u8(struct wbuf *b, uint8_t v)
{
	return wb_put(b, &v, 1);
}

/* u8 length + name */
static int wb_name(struct wbuf *b, const char *name)
{
	size_t n = name ? strlen(name) : 0;
	int err;

	if (n > NAME_MAX_LEN)
		return -EINVAL;
	if ((err = wb_u8(b, (uint8_t)n)))
		return err;
	return wb_put(b, name, n);
}

/* u16 BE length + the text of a scalar */
static int wb_value(struct wbuf *b, const cJSON *it)
{
	char num[64];
	const char *s;
	size_t n;
	uint8_t hdr[2];
	int err;

	if (cJSON_IsString(it)) {
		s = it->valuestring;
	} else if (cJSON_IsTrue(it)) {
		s = "yes";
	} else if (cJSON_IsFalse(it)) {
		s = "no";
	} else if (cJSON_IsNumber(it)) {
		double d = it->valuedouble;

		if (!isfinite(d))
			return -EINVAL;
		if (d == floor(d) && fabs(d) < 9007199254740992.0)
			snprintf(num, sizeof(num), "%.0f", d);
		else
			snprintf(num, sizeof(num), "%.17g", d);
		s = num;
	} else {
		return -EINVAL;
	}
	if (!s)
		return -EINVAL;
	n = strlen(s);
	if (n > VALUE_MAX_LEN)
		return -EINVAL;
	hdr[0] = (uint8_t)(n >> 8);
	hdr[1] = (uint8_t)n;
	if ((err = wb_put(b, hdr, 2)))
		return err;
	return wb_put(b, s, n);
}

static bool is_scalar(const cJSON *it)
{
	return cJSON_IsString(it) || cJSON_IsBool(it) || cJSON_IsNumber(it);
}

/* a section's names must be unique on the wire */
static bool name_seen_before(const cJSON *obj, const cJSON *it)
{
	for (const cJSON *o = obj->child; o && o != it; o = o->next)
		if (!strcmp(o->string, it->string))
			return true;
	return false;
}

/* the children of obj; depth = sections open around them */
static int enc_section(struct wbuf *b, const cJSON *obj, unsigned depth)
{
	int err;

	for (const cJSON *it = obj->child; it; it = it->next) {
		if (!it->string || name_seen_before(obj, it))
			return -EINVAL;
		if (cJSON_IsObject(it)) {
			if (depth + 1 > NW_VICI_MAX_DEPTH)
				return -EINVAL;
			if ((err = wb_u8(b, EL_SECTION_START)) || (err = wb_name(b, it->string)) ||
			    (err = enc_section(b, it, depth + 1)) ||
			    (err = wb_u8(b, EL_SECTION_END)))
				return err;
		} else if (cJSON_IsArray(it)) {
			if ((err = wb_u8(b, EL_LIST_START)) || (err = wb_name(b, it->string)))
				return err;
			for (const cJSON *li = it->child; li; li = li->next) {
				if (!is_scalar(li))
					return -EINVAL;
				if ((err = wb_u8(b, EL_LIST_ITEM)) || (err = wb_value(b, li)))
					return err;
			}
			if ((err = wb_u8(b, EL_LIST_END)))
				return err;
		} else {
			if ((err = wb_u8(b, EL_KEY_VALUE)) || (err = wb_name(b, it->string)) ||
			    (err = wb_value(b, it)))
				return err;
		}
	}
	return 0;
}

static int enc_msg(struct wbuf *b, const cJSON *msg)
{
	if (!msg)
		return 0;
	if (!cJSON_IsObject(msg))
		return -EINVAL;
	return enc_section(b, msg, 0);
}

int nw_vici_encode(const cJSON *msg, uint8_t **out, size_t *len)
{
	struct wbuf b = { .max = NW_VICI_MAX_PACKET };
	int err;

	if ((err = enc_msg(&b, msg)))
		goto cleanup;
	/* an empty message still gets a buffer of its own */
	if (!b.p && !(b.p = malloc(1))) {
		err = -ENOMEM;
		goto cleanup;
	}
	*out = b.p;
	*len = b.len;
	b.p = NULL;
cleanup:
	free(b.p);
	return err;
}

int nw_vici_frame(uint8_t type, const char *name, const cJSON *msg, uint8_t **out, size_t *len)
{
	/* the 4-byte length is not part of the 512 KiB */
	struct wbuf b = { .max = 4 + (size_t)NW_VICI_MAX_PACKET };
	uint8_t hdr[4] = { 0 };
	size_t plen;
	int err = -EINVAL;

	if (type > NW_VICI_EVENT || !type_named(type) != !name || (msg && !type_has_msg(type)))
		goto cleanup;
	if ((err = wb_put(&b, hdr, 4)) || (err = wb_u8(&b, type)))
		goto cleanup;
	if (name && (err = wb_name(&b, name)))
		goto cleanup;
	if ((err = enc_msg(&b, msg)))
		goto cleanup;
	plen = b.len - 4;
	b.p[0] = (uint8_t)(plen >> 24);
	b.p[1] = (uint8_t)(plen >> 16);
	b.p[2] = (uint8_t)(plen >> 8);
	b.p[3] = (uint8_t)plen;
	*out = b.p;
	*len = b.len;
	b.p = NULL;
cleanup:
	free(b.p);
	return err;
}

/* --- decoding -------------------------------------------------------------- */

/* (section serial, name) -> the item holding that name, open addressing */
struct slot {
	cJSON *item;		/* NULL: free */
	uint32_t sec;
	uint32_t hash;
};

struct seen {
	struct slot *slots;
	size_t cap, used;	/* cap a power of two */
};

static uint32_t name_hash(uint32_t sec, const char *name)
{
	uint32_t h = 2166136261u ^ sec;		/* FNV-1a */

	for (const unsigned char *s = (const unsigned char *)name; *s; s++)
		h = (h ^ *s) * 16777619u;
	return h;
}

static struct slot *seen_find(struct seen *t, uint32_t sec, uint32_t hash, const char *name)
{
	size_t mask = t->cap - 1;

	for (size_t i = hash & mask;; i = (i + 1) & mask) {
		struct slot *s = &t->slots[i];

		if (!s->item ||
		    (s->sec == sec && s->hash == hash && !strcmp(s->item->string, name)))
			return s;
	}
}

static int seen_grow(struct seen *t)
{
	struct seen n = { .cap = t->cap ? t->cap * 2 : 64 };

	if (!(n.slots = calloc(n.cap, sizeof(*n.slots))))
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		struct slot *s = &t->slots[i];

		if (s->item)
			*seen_find(&n, s->sec, s->hash, s->item->string) = *s;
	}
	n.used = t->used;
	free(t->slots);
	*t = n;
	return 0;
}

struct dec {
	const uint8_t *p, *end;
	cJSON *stack[NW_VICI_MAX_DEPTH + 1];	/* [0] the root */
	uint32_t serial[NW_VICI_MAX_DEPTH + 1];
	unsigned depth;
	uint32_t next_serial;
	cJSON *list;		/* the open list, or NULL */
	struct seen seen;
	/* items a later one of the same name replaced: kept until the end,
	 * since the table still points into them (a replaced section's keys) */
	cJSON *replaced;
	char name[NAME_MAX_LEN + 1];
	char *value;		/* VALUE_MAX_LEN + 1 */
};

static int rd_name(struct dec *d)
{
	size_t n;

	if (d->p >= d->end)
		return -EBADMSG;
	n = *d->p++;
	if ((size_t)(d->end - d->p) < n || memchr(d->p, 0, n))
		return -EBADMSG;
	memcpy(d->name, d->p, n);
	d->name[n] = 0;
	d->p += n;
	return 0;
}

static int rd_value(struct dec *d)
{
	size_t n;

	if (d->end - d->p < 2)
		return -EBADMSG;
	n = (size_t)d->p[0] << 8 | d->p[1];
	d->p += 2;
	if ((size_t)(d->end - d->p) < n || memchr(d->p, 0, n))
		return -EBADMSG;
	memcpy(d->value, d->p, n);
	d->value[n] = 0;
	d->p += n;
	return 0;
}

/* puts it (consumed) under d->name in the current section, over an
 * earlier item of that name */
static int add_named(struct dec *d, cJSON *it)
{
	cJSON *sec = d->stack[d->depth];
	uint32_t serial = d->serial[d->depth], hash = name_hash(serial, d->name);
	struct slot *s;
	int err = -ENOMEM;

	if ((d->seen.used + 1) * 2 > d->seen.cap && (err = seen_grow(&d->seen)))
		goto fail;
	s = seen_find(&d->seen, serial, hash, d->name);
	if (s->item) {
		cJSON *holder;

		/* the old one's keys are still in the table: its children live on
		 * in d->replaced until the end, the old item itself goes */
		if ((!d->replaced && !(d->replaced = cJSON_CreateArray())) ||
		    !(holder = cJSON_CreateObject()))
			goto fail;
		holder->child = s->item->child;
		s->item->child = NULL;
		cJSON_AddItemToArray(d->replaced, holder);
		/* the replacement does not take the name over */
		if (!(it->string = strdup(d->name)))
			goto fail;
		cJSON_ReplaceItemViaPointer(sec, s->item, it);
	} else {
		if (!cJSON_AddItemToObject(sec, d->name, it))
			goto fail;
		s->sec = serial;
		s->hash = hash;
		d->seen.used++;
	}
	s->item = it;
	return 0;
fail:
	cJSON_Delete(it);
	return err;
}

static int dec_element(struct dec *d)
{
	uint8_t el = *d->p++;
	cJSON *it;
	int err;

	if (d->list && el != EL_LIST_ITEM && el != EL_LIST_END)
		return -EBADMSG;
	switch (el) {
	case EL_SECTION_START:
		if (d->depth >= NW_VICI_MAX_DEPTH)
			return -EBADMSG;
		if ((err = rd_name(d)))
			return err;
		if (!(it = cJSON_CreateObject()))
			return -ENOMEM;
		if ((err = add_named(d, it)))
			return err;
		d->stack[++d->depth] = it;
		d->serial[d->depth] = ++d->next_serial;
		return 0;
	case EL_SECTION_END:
		if (!d->depth)
			return -EBADMSG;
		d->depth--;
		return 0;
	case EL_KEY_VALUE:
		if ((err = rd_name(d)) || (err = rd_value(d)))
			return err;
		if (!(it = cJSON_CreateString(d->value)))
			return -ENOMEM;
		return add_named(d, it);
	case EL_LIST_START:
		if ((err = rd_name(d)))
			return err;
		if (!(it = cJSON_CreateArray()))
			return -ENOMEM;
		if ((err = add_named(d, it)))
			return err;
		d->list = it;
		return 0;
	case EL_LIST_ITEM:
		if (!d->list)
			return -EBADMSG;
		if ((err = rd_value(d)))
			return err;
		if (!(it = cJSON_CreateString(d->value)))
			return -ENOMEM;
		if (!cJSON_AddItemToArray(d->list, it)) {
			cJSON_Delete(it);
			return -ENOMEM;
		}
		return 0;
	case EL_LIST_END:
		if (!d->list)
			return -EBADMSG;
		d->list = NULL;
		return 0;
	default:
		return -EBADMSG;
	}
}

int nw_vici_decode(const uint8_t *buf, size_t len, cJSON **out)
{
	struct dec d = { .p = buf, .end = buf + len };
	cJSON *root = NULL;
	int err = -ENOMEM;

	if (!buf && len)
		return -EINVAL;
	if (len > NW_VICI_MAX_PACKET)
		return -EBADMSG;
	if (!(root = cJSON_CreateObject()))
		goto cleanup;
	/* a value is never longer than what is left of the message */
	if (!(d.value = malloc((len < VALUE_MAX_LEN ? len : VALUE_MAX_LEN) + 1)))
		goto cleanup;
	d.stack[0] = root;
	err = 0;
	while (!err && d.p < d.end)
		err = dec_element(&d);
	if (!err && (d.depth || d.list))
		err = -EBADMSG;
	if (err)
		goto cleanup;
	*out = root;
	root = NULL;
cleanup:
	cJSON_Delete(root);
	cJSON_Delete(d.replaced);
	free(d.value);
	free(d.seen.slots);
	return err;
}

int nw_vici_parse_packet(const uint8_t *pkt, size_t len, uint8_t *type, char name[256],
			 size_t *body_off)
{
	size_t off = 1;
	uint8_t t;

	if (!pkt || len < 1 || len > NW_VICI_MAX_PACKET)
		return -EBADMSG;
	t = pkt[0];
	if (t > NW_VICI_EVENT)
		return -EBADMSG;
	name[0] = 0;
	if (type_named(t)) {
		size_t n;

		if (len < 2)
			return -EBADMSG;
		n = pkt[1];
		if (len - 2 < n || memchr(pkt + 2, 0, n))
			return -EBADMSG;
		memcpy(name, pkt + 2, n);
		name[n] = 0;
		off = 2 + n;
	}
	*type = t;
	*body_off = off;
	return 0;
}
