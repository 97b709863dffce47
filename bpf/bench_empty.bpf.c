// SPDX-License-Identifier: GPL-2.0-only
/*
 * Empty cgroup_skb programs for the benchmark: attached beside imds-analyzer's in the
 * same run, their average run time is the floor that the analyzer's per-packet cost
 * is measured against (the timing itself costs tens of ns per run on a VM).
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("cgroup_skb/egress")
int empty_egress(struct __sk_buff *skb)
{
	return 1;
}

SEC("cgroup_skb/ingress")
int empty_ingress(struct __sk_buff *skb)
{
	return 1;
}
