// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer harness for the Cloudflare API reply handler (user/cf_api.c):
 * nw_cf_parse_tunnel (GET .../cfd_tunnel/{id}: status, body, Retry-After)
 * and nw_cf_parse_ready (cloudflared's /ready). The body and the header
 * come from the network (or whoever answers in its place).
 *
 * Input layout:
 *   bytes 0-1  HTTP status, little endian, modulo 700 (0: no answer)
 *   byte  2    flags: bit 0 pass a Retry-After value, bit 1 pass a
 *              transport error (curl's message), bit 2 pass body NULL
 *              when it is empty
 *   byte  3    n: length of the Retry-After value (bit 0 of the flags)
 *   then       n bytes of Retry-After (a NUL-terminated copy: curl hands
 *              headers over as strings), the rest is the body (a copy of
 *              exactly its size, not terminated: the handlers take a length)
 * The same body also goes to nw_cf_parse_ready with the same status.
 *
 * Oracles: the documented ranges of what is filled in (outcome, status
 * only with NW_CF_OK, retry_after_s 0..3600 and only for 429, error
 * NUL-terminated, non-empty unless OK, and without control characters).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cf_api.h"

/* 2023-11-14T22:13:20Z: HTTP dates in the seeds are around it */
#define NOW_S 1700000000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nw_cf_reply out;
	char *retry = NULL, *body;
	long status;
	uint8_t flags, n;
	size_t blen;
	int conns = -2;
	bool ready;

	if (size < 4)
		return 0;
	status = (long)((data[0] | (unsigned)data[1] << 8) % 700);
	flags = data[2];
	n = data[3];
	data += 4;
	size -= 4;
	if (flags & 1) {
		if (n > size)
			n = (uint8_t)size;
		if (!(retry = malloc((size_t)n + 1)))
			return 0;
		memcpy(retry, data, n);
		retry[n] = 0;
		data += n;
		size -= n;
	}
	blen = size;
	if (!(body = malloc(blen ? blen : 1))) {
		free(retry);
		return 0;
	}
	memcpy(body, data, blen);

	nw_cf_parse_tunnel(status, (flags & 4) && !blen ? NULL : body, blen, retry, NOW_S,
			   (flags & 2) ? "Connection timed out after 2000 milliseconds" : NULL,
			   &out);
	if ((unsigned)out.outcome > NW_CF_BAD_REPLY || (unsigned)out.status > NW_TUNNEL_INACTIVE)
		abort();
	if (out.outcome != NW_CF_OK && out.status != NW_TUNNEL_UNKNOWN)
		abort();
	if (out.outcome == NW_CF_OK && out.status == NW_TUNNEL_UNKNOWN)
		abort();
	if (out.retry_after_s > 3600 || (out.retry_after_s && out.outcome != NW_CF_RATE))
		abort();
	if (!memchr(out.error, 0, sizeof(out.error)) || (out.outcome != NW_CF_OK && !out.error[0]))
		abort();
	for (const char *p = out.error; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			abort();
	if (strcmp(nw_cf_outcome_name(out.outcome), "unknown") == 0)
		abort();
	(void)nw_tunnel_status_name(out.status);

	ready = nw_cf_parse_ready(status, (flags & 4) && !blen ? NULL : body, blen, &conns);
	if (conns < -1 || conns > 1000000 || (ready && status != 200))
		abort();

	free(body);
	free(retry);
	return 0;
}
