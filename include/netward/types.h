/* SPDX-License-Identifier: GPL-2.0-only */
/* Fixed-width types for headers shared by BPF programs and user space. */
#ifndef NETWARD_TYPES_H
#define NETWARD_TYPES_H

#ifdef __bpf__
/* BPF side: vmlinux.h already provides __u8 .. __u64. */
#else
#include <linux/types.h>
#endif

#endif
