// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer harness for the netward.json parser and validator
 * (nw_cfg_parse: user/config.c and the section parsers config_*.c).
 * The file is written by an administrator, but a bad one must be refused
 * with a message, never crash or leak the daemon: on error nothing may be
 * left behind (nw_cfg_parse frees it), on success nw_cfg_free must free
 * everything (LeakSanitizer checks both).
 *
 * The input is the JSON text (a NUL-terminated copy: nw_cfg_load reads
 * the file into a string).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* the parser logs nothing today; keep the output quiet if it does */
	nw_log_set_level(LOG_EMERG);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[NW_ERR_LEN], *text;
	struct nw_cfg cfg;
	int r;

	if (size > NW_CONFIG_MAX_BYTES)
		return 0;
	if (!(text = malloc(size + 1)))
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	memset(err, 0x55, sizeof(err));		/* not NUL-terminated until written */
	r = nw_cfg_parse(text, &cfg, err, sizeof(err));
	if (r == 0) {
		nw_cfg_free(&cfg);
	} else {
		/* refused: -EINVAL (-ENOMEM under memory pressure) and a
		 * NUL-terminated, non-empty message */
		if (r != -EINVAL && r != -ENOMEM)
			abort();
		if (!memchr(err, 0, sizeof(err)) || !err[0])
			abort();
	}
	free(text);
	return 0;
}
