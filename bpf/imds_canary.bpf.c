// SPDX-License-Identifier: GPL-2.0-only
/*
 * imds-analyzer canary: inside one cgroup subtree, IMDS answers every tokenless
 * request with its own 401, as it does under HttpTokens=required.
 *
 *   sockops  (attached to the canary's cgroup)  puts each TCP socket that
 *            connects to 169.254.169.254:80 or [fd00:ec2::254]:80 in "canary_socks"
 *   sk_msg   (attached to "canary_socks")       sees every sendmsg() on those
 *            sockets; a request with neither X-aws-ec2-metadata-token nor
 *            X-aws-ec2-metadata-token-ttl-seconds gets an invalid token header
 *            right after its request line, so IMDS itself refuses it (401);
 *            every other byte passes as the client wrote it
 *
 * Each request is judged on its whole header block: a block split over several
 * sendmsg() calls is corked until its end arrives. Whatever cannot be judged or
 * changed with certainty (a header block longer than CANARY_SCAN, a chunked body,
 * a sendmsg() that goes on with another request) is left alone and counted, from
 * then on for the whole connection: the canary never corrupts a request.
 * One object is loaded per canary target; closing it ends that canary.
 */
#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "imds_canary.h"

#define AF_INET 2
#define AF_INET6 10
#define IMDS_PORT 80
#define IMDS_IPV4 bpf_htonl(0xa9fea9fe)
#define IMDS_IPV6_W0 bpf_htonl(0xfd000ec2)
#define IMDS_IPV6_W3 bpf_htonl(0x00000254)
#define V4_MAPPED_W2 bpf_htonl(0x0000ffff)
/* Longest decimal Content-Length taken (a larger body: left alone). */
#define MAX_LENGTH_DIGITS 7

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, CANARY_MAX_SOCKETS);
	__type(key, __u64);
	__type(value, __u64);
} canary_socks SEC(".maps");

/* Where each connection is in its stream of requests. */
struct canary_sock {
	/* Body bytes of the current request still to pass before the next request line. */
	__u32 body_left;
	/* Set once the connection holds something the canary cannot judge: all passes. */
	__u32 left_alone;
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct canary_sock);
} canary_state SEC(".maps");

/* The header line inserted into tokenless requests (user space writes it after load). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct canary_config);
} canary_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CANARY_STAT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} canary_stats SEC(".maps");

/* What the pass over a header block found. */
struct header_scan {
	/* Where each line after the request line starts (line_start[0]: the first header
	 * line, just past the request line). */
	__u16 line_start[CANARY_LINE_SLOTS];
	__u32 lines;
	/* Offset just past the blank line that ends the block, 0 before it was seen. */
	__u32 block_end;
	__u32 has_token;
	__u32 chunked;
	__u32 content_length;
	__u32 bad_length;
};

/* Per CPU: keeps the scan's state out of registers, so that the verifier meets one
 * state at each turn of the scan loop and checks each turn once. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct header_scan);
} canary_scan SEC(".maps");

static __always_inline void count(__u32 stat)
{
	__u64 *slot = bpf_map_lookup_elem(&canary_stats, &stat);
	if (slot)
		__sync_fetch_and_add(slot, 1);
}

static __always_inline bool is_imds_v6(const __u32 *w)
{
	if (w[0] == IMDS_IPV6_W0 && w[1] == 0 && w[2] == 0 && w[3] == IMDS_IPV6_W3)
		return true;
	/* ::ffff:169.254.169.254 on a dual-stack socket */
	return w[0] == 0 && w[1] == 0 && w[2] == V4_MAPPED_W2 && w[3] == IMDS_IPV4;
}

SEC("sockops")
int imds_canary_sockops(struct bpf_sock_ops *skops)
{
	if (skops->op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB)
		return 1;
	if (bpf_ntohl(skops->remote_port) != IMDS_PORT)
		return 1;
	if (skops->family == AF_INET) {
		if (skops->remote_ip4 != IMDS_IPV4)
			return 1;
	} else if (skops->family == AF_INET6) {
		__u32 w[4] = { skops->remote_ip6[0], skops->remote_ip6[1], skops->remote_ip6[2],
			       skops->remote_ip6[3] };
		if (!is_imds_v6(w))
			return 1;
	} else {
		return 1;
	}
	__u64 key = bpf_get_socket_cookie(skops);
	if (bpf_sock_hash_update(skops, &canary_socks, &key, BPF_NOEXIST) == 0)
		count(CANARY_STAT_SOCKETS);
	else
		count(CANARY_STAT_SOCKET_NOT_ADDED);
	return 1;
}

/* ASCII letters folded to lower case 8 bytes at a time; the names compared hold only
 * letters, digits and '-', which the fold leaves alone. */
#define FOLD 0x2020202020202020ULL

static __always_inline __u64 load64(const __u8 *p)
{
	__u64 v;
	__builtin_memcpy(&v, p, 8);
	return v;
}

static __always_inline __u32 load32(const __u8 *p)
{
	__u32 v;
	__builtin_memcpy(&v, p, 4);
	return v;
}

/* Little-endian words of the lower-case names ("x-aws-ec", "2-metada", "ta-token"...). */
#define W(a, b, c, d, e, f, g, h)                                                              \
	((__u64)(a) | (__u64)(b) << 8 | (__u64)(c) << 16 | (__u64)(d) << 24 | (__u64)(e) << 32 | \
	 (__u64)(f) << 40 | (__u64)(g) << 48 | (__u64)(h) << 56)
#define W4(a, b, c, d) ((__u32)(a) | (__u32)(b) << 8 | (__u32)(c) << 16 | (__u32)(d) << 24)

/* Judges the header line starting at offset `s` of the pulled bytes; updates `scan`. */
static __always_inline void judge_line(struct sk_msg_md *msg, __u32 s, struct header_scan *scan)
{
	__u8 *data = msg->data;
	__u8 *end = msg->data_end;
	__u8 *p = data + s;
	__u64 w0;

	if (p + 25 > end)
		goto short_names;
	w0 = load64(p) | FOLD;
	__u64 w1 = load64(p + 8) | FOLD, w2 = load64(p + 16) | FOLD;
	/* x-aws-ec2-metadata-token: and x-aws-ec2-metadata-token-ttl-seconds: */
	if (w0 == W('x', '-', 'a', 'w', 's', '-', 'e', 'c') && w1 == W('2', '-', 'm', 'e', 't', 'a', 'd', 'a') &&
	    w2 == W('t', 'a', '-', 't', 'o', 'k', 'e', 'n')) {
		if (p[24] == ':')
			scan->has_token = 1;
		else if (p + 37 <= end && (load64(p + 24) | FOLD) == W('-', 't', 't', 'l', '-', 's', 'e', 'c') &&
			 (load32(p + 32) | 0x20202020) == W4('o', 'n', 'd', 's') && p[36] == ':')
			scan->has_token = 1;
		return;
	}
short_names:
	if (p + 18 > end)
		return;
	w0 = load64(p) | FOLD;
	/* transfer-encoding: (any: the canary does not follow chunks) */
	if (w0 == W('t', 'r', 'a', 'n', 's', 'f', 'e', 'r') &&
	    (load64(p + 8) | FOLD) == W('-', 'e', 'n', 'c', 'o', 'd', 'i', 'n') && (p[16] | 0x20) == 'g' &&
	    p[17] == ':') {
		scan->chunked = 1;
		return;
	}
	/* content-length: N */
	if (w0 == W('c', 'o', 'n', 't', 'e', 'n', 't', '-') && (load32(p + 8) | 0x20202020) == W4('l', 'e', 'n', 'g') &&
	    (p[12] | 0x20) == 't' && (p[13] | 0x20) == 'h' && p[14] == ':') {
		__u32 value = 0, digits = 0, at = 15;
#pragma unroll
		for (int k = 0; k < 3; k++) {
			if (p + at + 1 > end || (p[at] != ' ' && p[at] != '\t'))
				break;
			at++;
		}
#pragma unroll
		for (int d = 0; d < MAX_LENGTH_DIGITS; d++) {
			if (p + at + d + 1 > end)
				break;
			__u8 c = p[at + d];
			if (c < '0' || c > '9')
				break;
			value = value * 10 + (c - '0');
			digits++;
		}
		if (digits == 0 || digits == MAX_LENGTH_DIGITS || (scan->content_length && scan->content_length != value))
			scan->bad_length = 1;
		else
			scan->content_length = value;
	}
}

static __always_inline struct header_scan *scan_slot(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&canary_scan, &zero);
}

/*
 * Where each line of the pulled bytes starts. One branch per byte (the bound): a
 * newline advances the count without one, so that the verifier's work stays linear
 * in CANARY_SCAN. Global functions (as judge_lines) are verified once, on their own,
 * whatever state their caller is in.
 */
__noinline int find_lines(struct sk_msg_md *msg)
{
	struct header_scan *scan = scan_slot();
	if (!scan)
		return -1;
	__u32 lines = 0;
	for (__u32 i = 0; i < CANARY_SCAN; i++) {
		__u8 *data = msg->data;
		if (data + i + 1 > (__u8 *)msg->data_end)
			break;
		__u32 newline = (((__u32)data[i] ^ '\n') - 1) >> 31;
		/* Past the last slot every count writes to it: the judged ones stay. The
		 * barrier keeps the compiler from turning this back into a branch. */
		__u32 past = ((CANARY_LINE_SLOTS - 1) - lines) >> 31;
		asm volatile("" : "+r"(past));
		scan->line_start[(lines | -past) & (CANARY_LINE_SLOTS - 1)] = i + 1;
		lines += newline;
	}
	scan->lines = lines;
	return 0;
}

/* Judges each header line up to the blank one that ends the block. */
__noinline int judge_lines(struct sk_msg_md *msg)
{
	struct header_scan *scan = scan_slot();
	if (!scan)
		return -1;
	for (__u32 k = 0; k < CANARY_MAX_LINES; k++) {
		if (k >= scan->lines)
			break;
		__u32 s = scan->line_start[k] & (CANARY_SCAN - 1);
		__u8 *p = (__u8 *)msg->data + s;
		if (p + 1 > (__u8 *)msg->data_end)
			break;
		if (p[0] == '\n') {
			scan->block_end = s + 1;
			break;
		}
		if (p + 2 <= (__u8 *)msg->data_end && p[0] == '\r' && p[1] == '\n') {
			scan->block_end = s + 2;
			break;
		}
		judge_line(msg, s, scan);
	}
	return 0;
}

/* Writes the canary's header line at `at` (bytes pushed there already). */
static __always_inline bool write_header(struct sk_msg_md *msg, __u32 at, const struct canary_config *config)
{
	if (bpf_msg_pull_data(msg, at, at + CANARY_HEADER_LEN, 0))
		return false;
	__u8 *p = msg->data;
	if (p + CANARY_HEADER_LEN > (__u8 *)msg->data_end)
		return false;
	__builtin_memcpy(p, config->header, CANARY_HEADER_LEN);
	return true;
}

SEC("sk_msg")
int imds_canary_msg(struct sk_msg_md *msg)
{
	struct bpf_sock *sk = msg->sk;
	if (!sk)
		return SK_PASS;
	struct canary_sock *state = bpf_sk_storage_get(&canary_state, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!state) {
		count(CANARY_STAT_LEFT_ALONE_NO_STATE);
		return SK_PASS;
	}
	if (state->left_alone)
		return SK_PASS;
	__u32 size = msg->size;
	if (size == 0)
		return SK_PASS;
	if (state->body_left) {
		/* The rest of a body, alone in its sendmsg() (see below). */
		if (state->body_left < size) {
			count(CANARY_STAT_LEFT_ALONE_PIPELINED);
			state->left_alone = 1;
		} else {
			state->body_left -= size;
		}
		return SK_PASS;
	}

	__u32 zero = 0;
	struct header_scan *scan = scan_slot();
	const struct canary_config *config = bpf_map_lookup_elem(&canary_config, &zero);
	if (!scan || !config)
		return SK_PASS;
	__builtin_memset(scan, 0, sizeof(*scan));
	__u32 len = size < CANARY_SCAN ? size : CANARY_SCAN;
	if (bpf_msg_pull_data(msg, 0, len, 0)) {
		count(CANARY_STAT_LEFT_ALONE_PULL);
		state->left_alone = 1;
		return SK_PASS;
	}
	if (find_lines(msg) || judge_lines(msg))
		return SK_PASS;

	if (!scan->block_end) {
		if (size < CANARY_SCAN && scan->lines < CANARY_MAX_LINES) {
			/* The header block goes on in a later sendmsg(): judge it whole. */
			bpf_msg_cork_bytes(msg, size + 1);
			count(CANARY_STAT_CORKED);
			return SK_PASS;
		}
		count(CANARY_STAT_LEFT_ALONE_LONG);
		state->left_alone = 1;
		return SK_PASS;
	}
	if (scan->chunked || scan->bad_length) {
		count(CANARY_STAT_LEFT_ALONE_BODY);
		state->left_alone = 1;
		return SK_PASS;
	}
	/*
	 * Only a sendmsg() that holds one request (and its body, or the start of it) is
	 * changed: one that goes on with another request is left alone with the rest of its
	 * connection. (Judging the next request in a later run of this program, after
	 * bpf_msg_apply_bytes, is what the self-test found to corrupt the bytes inserted
	 * there; no IMDS client pipelines.)
	 */
	__u32 after_block = size - scan->block_end;
	if (after_block > scan->content_length) {
		count(CANARY_STAT_LEFT_ALONE_PIPELINED);
		state->left_alone = 1;
		return SK_PASS;
	}
	if (scan->has_token) {
		count(CANARY_STAT_PASSED_TOKEN);
	} else {
		__u32 at = scan->line_start[0];
		if (bpf_msg_push_data(msg, at, CANARY_HEADER_LEN, 0)) {
			count(CANARY_STAT_LEFT_ALONE_PUSH);
			state->left_alone = 1;
			return SK_PASS;
		}
		if (!write_header(msg, at, config)) {
			/* Never send the pushed bytes unwritten: take them out again. */
			bpf_msg_pop_data(msg, at, CANARY_HEADER_LEN, 0);
			count(CANARY_STAT_LEFT_ALONE_PUSH);
			state->left_alone = 1;
			return SK_PASS;
		}
		count(CANARY_STAT_REFUSED);
	}
	state->body_left = scan->content_length - after_block;
	return SK_PASS;
}
