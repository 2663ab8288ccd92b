// SPDX-License-Identifier: GPL-2.0-only
#include "ctl.h"

int verb_wait_stable(int argc, char **argv)
{
	(void)argc;
	return usage_error("%s: not implemented yet", argv[0]);
}
