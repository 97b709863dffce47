// SPDX-License-Identifier: GPL-2.0-only
/*
 * imds-analyzer kernel side.
 *
 *   cgroup/connect4, cgroup/connect6  remember who connected a socket to IMDS
 *                                     (socket-local storage, freed with the socket)
 *                                     and send that process and its ancestors
 *                                     from the "processes" map
 *   cgroup_skb/egress                 copy the TCP payload sent to IMDS (requests)
 *   cgroup_skb/ingress                parse the status code of IMDS responses; no
 *                                     body byte ever leaves the kernel
 *   raw_tp sched_process_exec/fork/exit  keep every process (argv, exe, parent,
 *                                     start and exit time) in the "processes" LRU map, so
 *                                     that argv and ancestry survive short-lived processes
 *                                     while user space hears only of those touching IMDS
 *
 * Records go to one buffer, "events": a ring buffer, or a perf buffer on
 * kernels without one (user space retypes the map before load and sets
 * use_ringbuf). Everything that cannot be delivered is counted in "stats".
 */
#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>

#include "kernel_types.h"
#include "imds_events.h"

#define AF_INET 2
#define AF_INET6 10
#define SOCK_STREAM 1
#define IPPROTO_TCP 6
#define TCP_FLAG_FIN 0x01
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_RST 0x04
#define IMDS_PORT 80
/* 169.254.169.254 and fd00:ec2::254 as they sit in memory (network order). */
#define IMDS_IPV4 bpf_htonl(0xa9fea9fe)
#define IMDS_IPV6_W0 bpf_htonl(0xfd000ec2)
#define IMDS_IPV6_W3 bpf_htonl(0x00000254)
#define V4_MAPPED_W2 bpf_htonl(0x0000ffff)
/* Scratch slots per CPU: a softirq program may interrupt a process-context one. */
#define SCRATCH_SLOTS 4
/* Processes remembered, running or exited, least recently used first out:
 * 4096 x ~4.5 KB (value 4432 B + key and hash element) = ~18 MB of kernel memory,
 * preallocated at load (charged to RLIMIT_MEMLOCK before 5.11). */
#define PROCESS_ENTRIES 4096
/* Sent at connect(): the connecting process and its 5 nearest ancestors. */
#define LINEAGE_DEPTH 6
/* Hierarchies a css_set links to: at most CGROUP_SUBSYS_COUNT + name=systemd + v2. */
#define MAX_HIERARCHIES 20

char LICENSE[] SEC("license") = "GPL";

/* Set by user space before load; the verifier prunes the branch not taken. */
const volatile bool use_ringbuf = true;
/* The id of the cgroup v1 name=systemd hierarchy (the first field of its line in
 * /proc/self/cgroup), 0 when the host has none: then no cgroup record is sent. */
const volatile __u32 systemd_v1_hierarchy = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct imds_owner);
} owners SEC(".maps");

/* Every process by thread group id, as of its fork or exec; kept after exit
 * (an exited ancestor stays known) until pushed out by newer ones. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PROCESS_ENTRIES);
	__type(key, __u32);
	__type(value, struct imds_exec_record);
} processes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, IMDS_STAT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* Every record type is a member, which also puts each of them in the object's
 * BTF, where the ABI test reads their layout. */
union imds_scratch {
	struct imds_payload_record payload;
	struct imds_response_record response;
	struct imds_close_record close;
	struct imds_process_record process;
	struct imds_exec_record exec;
	struct imds_cgroup_record cgroup;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SCRATCH_SLOTS);
	__type(key, __u32);
	__type(value, union imds_scratch);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} scratch_depth SEC(".maps");

/* Clamp in a way the compiler cannot drop, so that every verifier (5.10's
 * too) sees the upper bound of a variable length. */
static __always_inline __u64 bounded(__u64 value, __u64 max)
{
	asm volatile("" : "+r"(value));
	return value > max ? max : value;
}

static __always_inline void count(__u32 stat)
{
	__u64 *value = bpf_map_lookup_elem(&stats, &stat);

	if (value)
		__sync_fetch_and_add(value, 1);
}

/* Claim this CPU's next free scratch slot; release it with scratch_put(). */
static __always_inline union imds_scratch *scratch_get(void)
{
	__u32 zero = 0;
	__u32 *depth = bpf_map_lookup_elem(&scratch_depth, &zero);
	__u32 slot;

	if (!depth)
		return NULL;
	slot = *depth;
	if (slot >= SCRATCH_SLOTS)
		return NULL;
	*depth = slot + 1;
	return bpf_map_lookup_elem(&scratch, &slot);
}

static __always_inline void scratch_put(void)
{
	__u32 zero = 0;
	__u32 *depth = bpf_map_lookup_elem(&scratch_depth, &zero);

	if (depth && *depth > 0)
		*depth -= 1;
}

static __always_inline long emit(void *ctx, void *data, __u64 size)
{
	if (use_ringbuf)
		return bpf_ringbuf_output(&events, data, size, 0);
	return bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, data, size);
}

static __always_inline void emit_counted(void *ctx, void *data, __u64 size, __u32 lost_stat)
{
	if (emit(ctx, data, size))
		count(lost_stat);
}

/* ---- sockets ------------------------------------------------------------ */

static __always_inline __u64 task_start_ns(struct task_struct *task)
{
	if (bpf_core_field_exists(task->start_boottime))
		return BPF_CORE_READ(task, start_boottime);
	return BPF_CORE_READ((struct task_struct___pre_5_5 *)task, real_start_time);
}

/* Sends the process with this pid and its ancestors as remembered: nearest first,
 * stopping at the first one not remembered (user space asks /proc) or whose pid
 * now belongs to another process. */
static __always_inline void send_lineage(void *ctx, __u32 pid)
{
	struct imds_exec_record *proc;
	__u64 start_ns = 0;
	int depth;

#pragma unroll
	for (depth = 0; depth < LINEAGE_DEPTH; depth++) {
		proc = bpf_map_lookup_elem(&processes, &pid);
		if (!proc || (depth > 0 && proc->proc.start_ns != start_ns))
			return;
		emit_counted(ctx, proc, offsetof(struct imds_exec_record, args) + bounded(proc->args_len, IMDS_MAX_ARGS),
			     IMDS_STAT_PROCESS_EVENTS_LOST);
		pid = proc->proc.ppid;
		start_ns = proc->proc.parent_start_ns;
		if (pid == 0)
			return;
	}
}

/* The current process's cgroup in the v1 name=systemd hierarchy, or NULL. */
static __always_inline struct cgroup *systemd_v1_cgroup(struct task_struct *task)
{
	struct css_set *cset = BPF_CORE_READ(task, cgroups);
	/* The list's head sits in the css_set; its entries in each link's cgrp_link. */
	struct list_head *head = (void *)cset + bpf_core_field_offset(struct css_set, cgrp_links);
	struct list_head *pos = BPF_CORE_READ(cset, cgrp_links.next);
	struct cgrp_cset_link *link;
	struct cgroup *cgrp;
	int i;

#pragma unroll
	for (i = 0; i < MAX_HIERARCHIES; i++) {
		if (!pos || pos == head)
			return NULL;
		link = (void *)pos - bpf_core_field_offset(struct cgrp_cset_link, cgrp_link);
		cgrp = BPF_CORE_READ(link, cgrp);
		if (BPF_CORE_READ(cgrp, root, hierarchy_id) == systemd_v1_hierarchy)
			return cgrp;
		pos = BPF_CORE_READ(pos, next);
	}
	return NULL;
}

/* The caller's cgroup as the kernel knows it now: a short-lived unit's cgroup (and
 * /proc/<pid>/cgroup) may be gone by the time user space reads the connection. Its v2
 * cgroup, unless that is the v2 root (a cgroup v1 host, where every process sits there):
 * then its cgroup in the v1 name=systemd hierarchy, as user space decides too. */
static __always_inline void send_cgroup_path(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct imds_cgroup_record *rec;
	union imds_scratch *slot;
	struct cgroup *cgrp;
	long name_len;
	int i;

	cgrp = BPF_CORE_READ(task, cgroups, dfl_cgrp);
	if (systemd_v1_hierarchy && (!cgrp || BPF_CORE_READ(cgrp, level) <= 0))
		cgrp = systemd_v1_cgroup(task);
	if (!cgrp)
		return;
	slot = scratch_get();
	if (!slot) {
		count(IMDS_STAT_PROCESS_EVENTS_LOST);
		return;
	}
	rec = &slot->cgroup;
	rec->head.type = IMDS_RECORD_CGROUP;
	rec->head.flags = 0;
	rec->head.ts_ns = bpf_ktime_get_ns();
	rec->pid = BPF_CORE_READ(task, tgid);
	rec->start_ns = task_start_ns(BPF_CORE_READ(task, group_leader));
	rec->levels = 0;
	for (i = 0; i < IMDS_CGROUP_LEVELS; i++) {
		if (!cgrp || BPF_CORE_READ(cgrp, level) <= 0)
			break;
		name_len = bpf_probe_read_kernel_str(rec->names[i], IMDS_CGROUP_NAME, BPF_CORE_READ(cgrp, kn, name));
		if (name_len < 0)
			rec->names[i][0] = 0;
		if (name_len == IMDS_CGROUP_NAME)
			rec->head.flags |= IMDS_FLAG_CGROUP_TRUNCATED;
		rec->levels = i + 1;
		cgrp = (struct cgroup *)BPF_CORE_READ(cgrp, self.parent);
	}
	if (cgrp && BPF_CORE_READ(cgrp, level) > 0)
		rec->head.flags |= IMDS_FLAG_CGROUP_TRUNCATED;
	emit_counted(ctx, rec, sizeof(*rec), IMDS_STAT_PROCESS_EVENTS_LOST);
	scratch_put();
}

static __always_inline void record_owner(struct bpf_sock_addr *ctx)
{
	struct imds_owner *owner;
	__u64 pid_tgid, uid_gid;

	if (ctx->type != SOCK_STREAM)
		return;
	count(IMDS_STAT_CONNECTS);
	owner = bpf_sk_storage_get(&owners, ctx->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!owner) {
		count(IMDS_STAT_OWNER_STORE_FAILED);
		return;
	}
	pid_tgid = bpf_get_current_pid_tgid();
	uid_gid = bpf_get_current_uid_gid();
	owner->pid = pid_tgid >> 32;
	owner->tid = (__u32)pid_tgid;
	owner->uid = (__u32)uid_gid;
	owner->gid = uid_gid >> 32;
	owner->cgroup_id = bpf_get_current_cgroup_id();
	owner->connect_ns = bpf_ktime_get_ns();
	owner->stream_start_known = 0; /* until this connection's SYN */
	bpf_get_current_comm(owner->comm, sizeof(owner->comm));
	/* The caller is alive here, so its pid is still its own: the map entry is its. */
	send_lineage(ctx, owner->pid);
	send_cgroup_path(ctx);
}

SEC("cgroup/connect4")
int imds_connect4(struct bpf_sock_addr *ctx)
{
	if (ctx->user_ip4 == IMDS_IPV4 && ctx->user_port == bpf_htons(IMDS_PORT))
		record_owner(ctx);
	return 1;
}

SEC("cgroup/connect6")
int imds_connect6(struct bpf_sock_addr *ctx)
{
	__u32 w0, w1, w2, w3;

	if (ctx->user_port != bpf_htons(IMDS_PORT))
		return 1;
	w0 = ctx->user_ip6[0];
	w1 = ctx->user_ip6[1];
	w2 = ctx->user_ip6[2];
	w3 = ctx->user_ip6[3];
	if ((w0 == IMDS_IPV6_W0 && w1 == 0 && w2 == 0 && w3 == IMDS_IPV6_W3) ||
	    (w0 == 0 && w1 == 0 && w2 == V4_MAPPED_W2 && w3 == IMDS_IPV4))
		record_owner(ctx);
	return 1;
}

/* Is the socket's peer IMDS port 80? Reads only __sk_buff context fields (the
 * socket's addresses), no packet bytes, so that the machine's other traffic
 * pays a handful of instructions. Returns the family of the IMDS address. */
static __always_inline __u16 imds_peer(struct __sk_buff *skb)
{
	__u32 family;

	/* remote_port holds the network-order port in its upper half on
	 * little-endian machines, which bpf_htonl() reproduces. */
	if (skb->remote_port != bpf_htonl(IMDS_PORT))
		return 0;
	family = skb->family;
	if (family == AF_INET)
		return skb->remote_ip4 == IMDS_IPV4 ? IMDS_FAMILY_IPV4 : 0;
	if (family != AF_INET6)
		return 0;
	if (skb->remote_ip6[0] == IMDS_IPV6_W0 && skb->remote_ip6[1] == 0 &&
	    skb->remote_ip6[2] == 0 && skb->remote_ip6[3] == IMDS_IPV6_W3)
		return IMDS_FAMILY_IPV6;
	if (skb->remote_ip6[0] == 0 && skb->remote_ip6[1] == 0 &&
	    skb->remote_ip6[2] == V4_MAPPED_W2 && skb->remote_ip6[3] == IMDS_IPV4)
		return IMDS_FAMILY_IPV4;
	return 0;
}

/* The flow as the socket has it: the real peer address and port (imds_peer() chose them),
 * so that user space checks what was on the wire, not a constant. An IPv4-mapped peer of an
 * IPv6 socket is written as the IPv4 address it maps (family IPv4). */
static __always_inline void fill_flow(struct __sk_buff *skb, struct imds_flow *flow, __u16 family)
{
	flow->cookie = bpf_get_socket_cookie(skb);
	flow->family = family;
	flow->dport = bpf_ntohl(skb->remote_port);
	flow->_pad = 0;
	__builtin_memset(flow->daddr, 0, sizeof(flow->daddr));
	if (skb->family == AF_INET) {
		__u32 addr = skb->remote_ip4;

		__builtin_memcpy(flow->daddr, &addr, sizeof(addr));
	} else if (family == IMDS_FAMILY_IPV4) {
		__u32 addr = skb->remote_ip6[3];

		__builtin_memcpy(flow->daddr, &addr, sizeof(addr));
	} else {
		__u32 words[4] = { skb->remote_ip6[0], skb->remote_ip6[1], skb->remote_ip6[2], skb->remote_ip6[3] };

		__builtin_memcpy(flow->daddr, words, sizeof(words));
	}
}

struct tcp_segment {
	__u32 payload_off;
	__u32 payload_len;
	__u32 seq;
	__u32 ack;
	__u8 flags;
};

/* Locate the TCP payload. The program sees the packet from its IP header. */
static __always_inline int parse_segment(struct __sk_buff *skb, struct tcp_segment *seg)
{
	__u8 ip_first, proto;
	__u32 ip_len, tcp_len;
	__u8 tcp[14];

	if (bpf_skb_load_bytes(skb, 0, &ip_first, 1))
		return -1;
	if ((ip_first >> 4) == 4) {
		ip_len = (ip_first & 0x0f) * 4;
		if (bpf_skb_load_bytes(skb, 9, &proto, 1))
			return -1;
	} else if ((ip_first >> 4) == 6) {
		ip_len = 40;
		if (bpf_skb_load_bytes(skb, 6, &proto, 1))
			return -1;
	} else {
		return -1;
	}
	if (proto != IPPROTO_TCP || ip_len < 20)
		return -1;
	if (bpf_skb_load_bytes(skb, ip_len, tcp, sizeof(tcp)))
		return -1;
	tcp_len = (tcp[12] >> 4) * 4;
	if (tcp_len < 20)
		return -1;
	seg->seq = ((__u32)tcp[4] << 24) | ((__u32)tcp[5] << 16) | ((__u32)tcp[6] << 8) | tcp[7];
	seg->ack = ((__u32)tcp[8] << 24) | ((__u32)tcp[9] << 16) | ((__u32)tcp[10] << 8) | tcp[11];
	seg->flags = tcp[13];
	/* A SYN occupies the ISN: data it carries (TCP Fast Open) starts one later. */
	if (seg->flags & TCP_FLAG_SYN)
		seg->seq += 1;
	seg->payload_off = ip_len + tcp_len;
	seg->payload_len = skb->len > seg->payload_off ? skb->len - seg->payload_off : 0;
	return 0;
}

static __always_inline void emit_close(struct __sk_buff *skb, __u16 family, __u8 tcp_flags)
{
	struct imds_close_record rec = {};

	rec.head.type = IMDS_RECORD_CLOSE;
	rec.head.flags = (tcp_flags & TCP_FLAG_RST) ? IMDS_FLAG_RESET : 0;
	rec.head.ts_ns = bpf_ktime_get_ns();
	fill_flow(skb, &rec.flow, family);
	emit_counted(skb, &rec, sizeof(rec), IMDS_STAT_EVENTS_LOST);
}

static __always_inline void emit_payload(struct __sk_buff *skb, __u16 family, struct tcp_segment *seg)
{
	struct imds_payload_record *rec;
	struct imds_owner *owner;
	struct bpf_sock *sk;
	__u64 captured = seg->payload_len;
	union imds_scratch *slot = scratch_get();

	count(IMDS_STAT_SEGMENTS);
	if (!slot) {
		count(IMDS_STAT_EVENTS_LOST);
		return;
	}
	rec = &slot->payload;
	if (captured > IMDS_MAX_PAYLOAD) {
		captured = IMDS_MAX_PAYLOAD;
		count(IMDS_STAT_SEGMENTS_TRUNCATED);
	}
	/* captured >= 1 here; computing it as 1 + [0, MAX-1] hands even 5.10's
	 * verifier a non-zero lower bound that survives register copies. */
	captured = bounded(captured - 1, IMDS_MAX_PAYLOAD - 1) + 1;
	rec->head.type = IMDS_RECORD_PAYLOAD;
	rec->head.flags = 0;
	rec->head.ts_ns = bpf_ktime_get_ns();
	fill_flow(skb, &rec->flow, family);
	__builtin_memset(&rec->owner, 0, sizeof(rec->owner));
	sk = skb->sk;
	if (sk)
		sk = bpf_sk_fullsock(sk);
	owner = sk ? bpf_sk_storage_get(&owners, sk, 0, 0) : NULL;
	if (owner) {
		rec->owner = *owner;
		rec->head.flags |= IMDS_FLAG_OWNER_KNOWN;
		if (owner->stream_start_known)
			rec->head.flags |= IMDS_FLAG_STREAM_START_KNOWN;
	} else {
		count(IMDS_STAT_SEGMENTS_NO_OWNER);
	}
	rec->socket_cgroup_id = bpf_skb_cgroup_id(skb);
	rec->socket_uid = bpf_get_socket_uid(skb);
	rec->seq = seg->seq;
	rec->wire_len = seg->payload_len;
	if (bpf_skb_load_bytes(skb, seg->payload_off, rec->data, captured)) {
		count(IMDS_STAT_PARSE_ERRORS);
		captured = 0;
	}
	rec->captured_len = captured;
	emit_counted(skb, rec, offsetof(struct imds_payload_record, data) + bounded(captured, IMDS_MAX_PAYLOAD),
		     IMDS_STAT_EVENTS_LOST);
	scratch_put();
}

/* The SYN tells where the request stream starts, so that user space can tell a
 * connection seen from its first byte from one joined mid-stream (or whose first
 * record was lost). Only sockets whose connect() we saw have storage. */
static __always_inline void remember_stream_start(struct __sk_buff *skb, __u32 start)
{
	struct bpf_sock *sk = skb->sk;
	struct imds_owner *owner;

	if (sk)
		sk = bpf_sk_fullsock(sk);
	owner = sk ? bpf_sk_storage_get(&owners, sk, 0, 0) : NULL;
	if (!owner)
		return;
	owner->stream_start = start;
	owner->stream_start_known = 1;
}

SEC("cgroup_skb/egress")
int imds_egress(struct __sk_buff *skb)
{
	struct tcp_segment seg;
	__u16 family = imds_peer(skb);

	if (!family)
		return 1;
	if (parse_segment(skb, &seg)) {
		count(IMDS_STAT_PARSE_ERRORS);
		return 1;
	}
	if (seg.flags & TCP_FLAG_SYN)
		remember_stream_start(skb, seg.seq);
	if (seg.payload_len > 0)
		emit_payload(skb, family, &seg);
	if (seg.flags & (TCP_FLAG_FIN | TCP_FLAG_RST))
		emit_close(skb, family, seg.flags);
	return 1;
}

static __always_inline bool is_digit(__u8 c)
{
	return c >= '0' && c <= '9';
}

SEC("cgroup_skb/ingress")
int imds_ingress(struct __sk_buff *skb)
{
	struct imds_response_record rec = {};
	struct tcp_segment seg;
	__u8 line[12];
	__u16 family = imds_peer(skb);

	if (!family)
		return 1;
	if (parse_segment(skb, &seg) || seg.payload_len < sizeof(line))
		return 1;
	/* Only "HTTP/1.x NNN" is read: the status code, never the body. */
	if (bpf_skb_load_bytes(skb, seg.payload_off, line, sizeof(line)))
		return 1;
	if (line[0] != 'H' || line[1] != 'T' || line[2] != 'T' || line[3] != 'P' ||
	    line[4] != '/' || line[8] != ' ' || !is_digit(line[9]) ||
	    !is_digit(line[10]) || !is_digit(line[11]))
		return 1;
	count(IMDS_STAT_RESPONSES);
	rec.head.type = IMDS_RECORD_RESPONSE;
	rec.head.ts_ns = bpf_ktime_get_ns();
	fill_flow(skb, &rec.flow, family);
	rec.seq = seg.seq;
	rec.ack = seg.ack;
	rec.status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
	emit_counted(skb, &rec, sizeof(rec), IMDS_STAT_EVENTS_LOST);
	return 1;
}

/* ---- processes ---------------------------------------------------------- */

static __always_inline void fill_process(struct imds_process_record *rec, struct task_struct *task)
{
	struct task_struct *parent = BPF_CORE_READ(task, real_parent);
	struct pid *pid = BPF_CORE_READ(task, thread_pid);
	unsigned int level = BPF_CORE_READ(pid, level);
	struct upid upid = {};
	__u64 uid_gid = bpf_get_current_uid_gid();

	rec->head.type = IMDS_RECORD_PROCESS;
	rec->head.flags = 0;
	rec->head.ts_ns = bpf_ktime_get_ns();
	rec->exit_ns = 0;
	rec->pid = BPF_CORE_READ(task, tgid);
	rec->ppid = BPF_CORE_READ(parent, tgid);
	rec->uid = (__u32)uid_gid;
	rec->gid = uid_gid >> 32;
	rec->start_ns = task_start_ns(BPF_CORE_READ(task, group_leader));
	rec->parent_start_ns = task_start_ns(BPF_CORE_READ(parent, group_leader));
	/* pid namespaces nest at most 32 deep. */
	level &= 31;
	bpf_core_read(&upid, sizeof(upid), &pid->numbers[level]);
	rec->ns_pid = upid.nr;
	rec->ns_level = level;
	BPF_CORE_READ_STR_INTO(&rec->comm, task, comm);
}

static __always_inline void store_process(struct imds_exec_record *rec)
{
	__u32 pid = rec->proc.pid;

	if (bpf_map_update_elem(&processes, &pid, rec, BPF_ANY))
		count(IMDS_STAT_PROCESS_STORE_FAILED);
}

/* The process remembered under this pid, if it is the one that started then. */
static __always_inline struct imds_exec_record *remembered(__u32 pid, __u64 start_ns)
{
	struct imds_exec_record *proc = bpf_map_lookup_elem(&processes, &pid);

	return proc && proc->proc.start_ns == start_ns ? proc : NULL;
}

/* Copies argv of the current process (its memory is current's) into rec. */
static __always_inline void read_args(struct imds_exec_record *rec, struct task_struct *task)
{
	unsigned long arg_start = BPF_CORE_READ(task, mm, arg_start);
	unsigned long arg_end = BPF_CORE_READ(task, mm, arg_end);
	__u64 args_len = arg_end > arg_start ? arg_end - arg_start : 0;

	if (args_len > IMDS_MAX_ARGS) {
		args_len = IMDS_MAX_ARGS;
		rec->proc.head.flags |= IMDS_FLAG_ARGS_TRUNCATED;
	}
	args_len = bounded(args_len, IMDS_MAX_ARGS);
	if (args_len && bpf_probe_read_user(rec->args, args_len, (void *)arg_start)) {
		rec->proc.head.flags |= IMDS_FLAG_ARGS_UNREADABLE;
		args_len = 0;
	}
	rec->args_len = args_len;
}

SEC("raw_tp/sched_process_exec")
int imds_exec(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *task = (struct task_struct *)ctx->args[0];
	struct linux_binprm *bprm = (struct linux_binprm *)ctx->args[2];
	struct imds_exec_record *rec, *forked;
	union imds_scratch *slot;
	long name_len;

	slot = scratch_get();
	if (!slot) {
		count(IMDS_STAT_PROCESS_STORE_FAILED);
		return 0;
	}
	rec = &slot->exec;
	fill_process(&rec->proc, task);
	/* The parent recorded at fork survives re-parenting: if it exited before this
	 * exec, real_parent is already init or a subreaper. */
	forked = remembered(rec->proc.pid, rec->proc.start_ns);
	if (forked) {
		rec->proc.ppid = forked->proc.ppid;
		rec->proc.parent_start_ns = forked->proc.parent_start_ns;
	}
	name_len = bpf_probe_read_kernel_str(rec->filename, sizeof(rec->filename),
					     BPF_CORE_READ(bprm, filename));
	rec->filename_len = name_len > 1 ? name_len - 1 : 0;
	/* argv lives in the new image's memory, which is current's. */
	read_args(rec, task);
	store_process(rec);
	scratch_put();
	return 0;
}

SEC("raw_tp/sched_process_fork")
int imds_fork(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *child = (struct task_struct *)ctx->args[1];
	struct imds_exec_record *rec, *parent;
	union imds_scratch *slot;
	__u64 args_len;

	/* New threads share their process's entry. */
	if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid))
		return 0;
	slot = scratch_get();
	if (!slot) {
		count(IMDS_STAT_PROCESS_STORE_FAILED);
		return 0;
	}
	rec = &slot->exec;
	/* A child runs its parent's program until it execs. */
	parent = remembered(BPF_CORE_READ(child, real_parent, tgid),
			    task_start_ns(BPF_CORE_READ(child, real_parent, group_leader)));
	if (parent) {
		args_len = bounded(parent->args_len, IMDS_MAX_ARGS);
		rec->filename_len = bounded(parent->filename_len, IMDS_MAX_FILENAME - 1);
		__builtin_memcpy(rec->filename, parent->filename, sizeof(rec->filename));
		if (bpf_probe_read_kernel(rec->args, args_len, parent->args))
			args_len = 0;
		rec->args_len = args_len;
	}
	fill_process(&rec->proc, child);
	rec->proc.head.flags = IMDS_FLAG_NOT_EXECED;
	if (parent) {
		rec->proc.head.flags |= parent->proc.head.flags & (IMDS_FLAG_ARGS_TRUNCATED | IMDS_FLAG_ARGS_UNREADABLE);
	} else {
		/* A parent older than us: its memory (current's) holds the same argv. */
		rec->filename_len = 0;
		rec->filename[0] = 0;
		read_args(rec, child);
	}
	store_process(rec);
	scratch_put();
	return 0;
}

SEC("raw_tp/sched_process_exit")
int imds_exit(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *task = (struct task_struct *)ctx->args[0];
	struct imds_exec_record *proc;

	if (BPF_CORE_READ(task, pid) != BPF_CORE_READ(task, tgid))
		return 0;
	proc = remembered(BPF_CORE_READ(task, tgid), task_start_ns(task));
	if (proc)
		proc->proc.exit_ns = bpf_ktime_get_ns();
	return 0;
}
