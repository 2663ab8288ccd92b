/* SPDX-License-Identifier: GPL-2.0-only */
/* What a netlink message we build sends the kernel: the alignment padding
 * of every attribute is zero (libmnl 1.0.4 leaves whatever the buffer held;
 * valgrind saw stack bytes go to the kernel). For the route and rule guard
 * tests. */
#ifndef NETWARD_TEST_NLATTR_PADDING_H
#define NETWARD_TEST_NLATTR_PADDING_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <libmnl/libmnl.h>

/* The attributes after a family header of hdrlen bytes: every padding byte
 * is zero, and exactly `padded` of them have padding at all (so the test
 * cannot pass by building nothing that needs it). */
static inline void assert_attr_padding_zero(const struct nlmsghdr *nlh, size_t hdrlen,
					    unsigned padded)
{
	const struct nlattr *a;
	unsigned n = 0;

	mnl_attr_for_each(a, nlh, hdrlen) {
		const uint8_t *p = (const uint8_t *)a;
		size_t end = MNL_ALIGN(a->nla_len);

		if (a->nla_len != end)
			n++;
		for (size_t i = a->nla_len; i < end; i++)
			assert_int_equal(p[i], 0);
	}
	assert_int_equal(n, padded);
}

#endif
