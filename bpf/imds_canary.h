/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * The kernel <-> user space ABI of the canary object (bpf/imds_canary.bpf.c): its
 * configuration map and its counters. src/capture/canary-abi.ts mirrors it.
 */
#ifndef IMDS_CANARY_H
#define IMDS_CANARY_H

/* "X-aws-ec2-metadata-token: imds-analyzer-canary-" + 16 hex digits + "\r\n" */
#define CANARY_HEADER_LEN 65
/* Bytes of a request's header block the canary reads to judge it. */
#define CANARY_SCAN 2048
/* IMDS connections of the canary's subtree open at once. */
#define CANARY_MAX_SOCKETS 4096
/* Lines of a header block the canary reads (a power of 2); more: left alone. */
#define CANARY_MAX_LINES 32
/* Slots for line starts (a power of 2, more than CANARY_MAX_LINES). */
#define CANARY_LINE_SLOTS 64

struct canary_config {
	char header[CANARY_HEADER_LEN];
};

enum canary_stat {
	/* IMDS sockets of the subtree taken in, and those that could not be (already
	 * in another canary's map, map full). */
	CANARY_STAT_SOCKETS = 0,
	CANARY_STAT_SOCKET_NOT_ADDED = 1,
	/* Tokenless requests given the invalid token header. */
	CANARY_STAT_REFUSED = 2,
	/* Requests with a token header or the token PUT's TTL header: untouched. */
	CANARY_STAT_PASSED_TOKEN = 3,
	/* sendmsg() calls that ended inside a header block (held until the rest came). */
	CANARY_STAT_CORKED = 4,
	/* Connections left alone from then on, by reason: a header block longer than
	 * CANARY_SCAN or CANARY_MAX_LINES, a body the canary cannot follow (chunked, odd
	 * Content-Length), a failed pull or push, no socket storage. */
	CANARY_STAT_LEFT_ALONE_LONG = 5,
	CANARY_STAT_LEFT_ALONE_BODY = 6,
	CANARY_STAT_LEFT_ALONE_PULL = 7,
	CANARY_STAT_LEFT_ALONE_PUSH = 8,
	CANARY_STAT_LEFT_ALONE_NO_STATE = 9,
	/* A sendmsg() that held more than one request (pipelining). */
	CANARY_STAT_LEFT_ALONE_PIPELINED = 10,
	CANARY_STAT_COUNT = 11,
};

#endif
