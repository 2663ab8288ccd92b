// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer harness for the VICI decoder (user/vici_codec.c): charon's
 * answers and events are untrusted bytes. Whatever it decodes must
 * encode again and decode to the same tree; packet splitting must never
 * read past the buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vici.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON *msg = NULL, *again = NULL;
	uint8_t *buf = NULL, type;
	size_t len, off;
	char name[256];

	if (nw_vici_parse_packet(data, size, &type, name, &off) == 0 && off > size)
		abort();
	if (nw_vici_decode(data, size, &msg) == 0) {
		if (nw_vici_encode(msg, &buf, &len) == 0) {
			if (nw_vici_decode(buf, len, &again) || !cJSON_Compare(msg, again, 1))
				abort();
		}
	}
	cJSON_Delete(again);
	cJSON_Delete(msg);
	free(buf);
	return 0;
}
