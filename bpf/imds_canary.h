/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * The kernel <-> user space ABI of the canary object (bpf/imds_canary.bpf.c): its
 * configuration map and its counters. src/capture/canary.ts (CANARY_STATS) and
 * src/model/canary.ts (CANARY_HEADER_BYTES) mirror it; test/unit/canary.test.ts proves they agree.
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
	CANARY_STAT_SOCKETS = 0,               /* IMDS sockets of the subtree taken in */
	CANARY_STAT_SOCKET_NOT_ADDED = 1,      /* ... not taken in: in another canary's map, or map full */
	CANARY_STAT_REFUSED = 2,               /* tokenless requests given the invalid token header */
	CANARY_STAT_PASSED_TOKEN = 3,          /* a token header or the token PUT's TTL header: untouched */
	CANARY_STAT_CORKED = 4,                /* sendmsg() calls that ended inside a header block (held) */
	/* Connections left alone from then on, by reason: */
	CANARY_STAT_LEFT_ALONE_LONG = 5,       /* header block longer than CANARY_SCAN or CANARY_MAX_LINES */
	CANARY_STAT_LEFT_ALONE_BODY = 6,       /* a body it cannot follow (chunked, odd Content-Length) */
	CANARY_STAT_LEFT_ALONE_PULL = 7,       /* a failed pull */
	CANARY_STAT_LEFT_ALONE_PUSH = 8,       /* a failed push */
	CANARY_STAT_LEFT_ALONE_NO_STATE = 9,   /* no socket storage */
	CANARY_STAT_LEFT_ALONE_PIPELINED = 10, /* one sendmsg() held more than one request (pipelining) */
	CANARY_STAT_COUNT = 11,
};

#endif
