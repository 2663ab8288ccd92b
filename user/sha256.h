/* SPDX-License-Identifier: GPL-2.0-only */
/* SHA-256 (FIPS 180-4), one shot: enough for ids of secrets. The working
 * state (which holds the message) is wiped before returning. */
#ifndef NETWARD_SHA256_H
#define NETWARD_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define NW_SHA256_LEN 32

void nw_sha256(const void *data, size_t len, uint8_t out[NW_SHA256_LEN]);

#endif
