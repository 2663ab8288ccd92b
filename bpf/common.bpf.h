/* SPDX-License-Identifier: GPL-2.0-only */
/* Maps and helpers every netward BPF object shares. Each object declares
 * the same maps; netwardd pins them by name in the pin dir, so all objects
 * use one "events" ring buffer, one "counters" record and one "nw_config". */
#ifndef NETWARD_COMMON_BPF_H
#define NETWARD_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_tracing.h>

#include "netward/event.h"
#include "netward/counters.h"
#include "netward/config.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, NW_EVENTS_BYTES);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nw_counters);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nw_config);
} nw_config SEC(".maps");

static __always_inline struct nw_counters *nw_counters_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&counters, &zero);
}

#define NW_COUNT(field)                                           \
	do {                                                      \
		struct nw_counters *__c = nw_counters_get();      \
		if (__c)                                          \
			__c->field++;                             \
	} while (0)

static __always_inline const struct nw_config *nw_config_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&nw_config, &zero);
}

static __always_inline __u32 nw_current_netns(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	return BPF_CORE_READ(task, nsproxy, net_ns, ns.inum);
}

/* True when the current task's netns is not the one this instance guards. */
static __always_inline bool nw_foreign_netns(const struct nw_config *cfg)
{
	if (!cfg->netns)
		return false;
	return nw_current_netns() != cfg->netns;
}

static __always_inline void nw_fill_hdr(struct nw_event_hdr *h, __u16 type,
					__u32 size)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	h->type = type;
	h->version = NW_EVENT_VERSION;
	h->flags = 0;
	h->size = size;
	h->ts_ns = bpf_ktime_get_boot_ns();
	h->pid = (__u32)pid_tgid;
	h->tgid = pid_tgid >> 32;
	h->uid = (__u32)bpf_get_current_uid_gid();
	h->netns = nw_current_netns();
	h->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(h->comm, sizeof(h->comm));
}

#endif
