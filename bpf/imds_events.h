/* SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0) */
/*
 * The kernel -> user space ABI of imds-analyzer: the records written to the
 * "events" buffer and the counters in the "stats" map. This header is the only
 * definition; src/capture/abi.ts mirrors it and test/unit/abi-btf.test.ts proves
 * the two agree from the BTF of the built object.
 *
 * Every struct is laid out with explicit padding so that its layout is the same
 * for every architecture the object is loaded on (x86_64, arm64).
 */
#ifndef IMDS_EVENTS_H
#define IMDS_EVENTS_H

#define IMDS_ABI_VERSION 3

/* Bytes of TCP payload copied per segment: an IMDS request header block fits. */
#define IMDS_MAX_PAYLOAD 4096
/* Bytes of argv kept per process, and of the execve() path. */
#define IMDS_MAX_ARGS 4096
#define IMDS_MAX_FILENAME 256
#define IMDS_COMM_LEN 16
/* Levels and bytes per level name kept of a cgroup v1 path (a unit's is 2 levels deep,
 * a Kubernetes container's 4, a unit name at most 255 bytes but in practice far shorter). */
#define IMDS_CGROUP_LEVELS 8
#define IMDS_CGROUP_NAME 128

enum imds_record_type {
	IMDS_RECORD_PAYLOAD = 1,  /* TCP segment with payload sent to IMDS */
	IMDS_RECORD_RESPONSE = 2, /* status code of a response from IMDS */
	IMDS_RECORD_CLOSE = 3,    /* FIN or RST sent on an IMDS connection */
	/* A process as the kernel remembers it (struct imds_exec_record), sent at
	 * connect() to IMDS for the connecting process and then each ancestor. */
	IMDS_RECORD_PROCESS = 4,
	/* The connecting process's cgroup path (struct imds_cgroup_record), sent at connect()
	 * after its process records: in the v2 hierarchy, or, when that is the v2 root on a
	 * host with a v1 name=systemd hierarchy (cgroup v1: Amazon Linux 2, where the v2 id
	 * names no unit), in that one. A short-lived unit's cgroup may be gone before user
	 * space reads the record: the path is what tells its unit then. */
	IMDS_RECORD_CGROUP = 5,
};

enum imds_record_flags {
	IMDS_FLAG_OWNER_KNOWN = 1 << 0,     /* payload: owner was recorded at connect() */
	IMDS_FLAG_RESET = 1 << 1,           /* close: RST rather than FIN */
	IMDS_FLAG_ARGS_TRUNCATED = 1 << 2,  /* exec: argv longer than IMDS_MAX_ARGS */
	IMDS_FLAG_ARGS_UNREADABLE = 1 << 3, /* exec: argv could not be read */
	IMDS_FLAG_STREAM_START_KNOWN = 1 << 4, /* payload: owner.stream_start holds the ISN + 1 */
	IMDS_FLAG_NOT_EXECED = 1 << 5,      /* process: forked, no exec seen; argv is its parent's */
	IMDS_FLAG_CGROUP_TRUNCATED = 1 << 6, /* cgroup: deeper than IMDS_CGROUP_LEVELS, or a name cut */
};

enum imds_family {
	IMDS_FAMILY_IPV4 = 4,
	IMDS_FAMILY_IPV6 = 6,
};

/* Counters in the per-CPU "stats" array map (one __u64 per index). */
enum imds_stat {
	IMDS_STAT_EVENTS_LOST = 0,         /* IMDS records that did not fit in the buffer */
	IMDS_STAT_PROCESS_EVENTS_LOST = 1, /* process records (sent at connect) that did not fit */
	IMDS_STAT_PROCESS_STORE_FAILED = 2, /* exec/fork whose process could not be stored in "processes" */
	IMDS_STAT_CONNECTS = 3,            /* connect() calls to IMDS seen */
	IMDS_STAT_SEGMENTS = 4,            /* TCP segments with payload to IMDS */
	IMDS_STAT_SEGMENTS_TRUNCATED = 5,  /* ... of which longer than IMDS_MAX_PAYLOAD */
	IMDS_STAT_SEGMENTS_NO_OWNER = 6,   /* ... whose socket connected before we attached */
	IMDS_STAT_RESPONSES = 7,           /* response status lines seen */
	IMDS_STAT_PARSE_ERRORS = 8,        /* packets to IMDS whose headers could not be read */
	IMDS_STAT_OWNER_STORE_FAILED = 9,  /* connect() whose owner could not be stored */
	IMDS_STAT_COUNT = 16,
};

/* Common head of every record. */
struct imds_record_head {
	__u32 type;  /* enum imds_record_type */
	__u32 flags; /* enum imds_record_flags */
	__u64 ts_ns; /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
};

/* Which socket: stable key for one TCP connection. */
struct imds_flow {
	__u64 cookie;  /* socket cookie */
	__u8 daddr[16]; /* IPv4 in the first 4 bytes when family is IPV4 */
	__u16 family;  /* enum imds_family */
	__u16 dport;   /* host byte order */
	__u32 _pad;
};

/* Who connected the socket: stored in socket-local storage at connect(). */
struct imds_owner {
	__u32 pid; /* thread group id */
	__u32 tid;
	__u32 uid;
	__u32 gid;
	__u64 cgroup_id;
	__u64 connect_ns;
	char comm[IMDS_COMM_LEN];
	__u32 stream_start; /* sequence number of the first payload byte (ISN + 1), set at the SYN */
	__u32 stream_start_known;
};

struct imds_payload_record {
	struct imds_record_head head;
	struct imds_flow flow;
	struct imds_owner owner;
	__u64 socket_cgroup_id;
	__u32 socket_uid;
	__u32 seq;          /* TCP sequence number of the first payload byte (ISN + 1 for data in a SYN) */
	__u32 wire_len;     /* payload bytes in the segment */
	__u32 captured_len; /* payload bytes in data[] */
	__u8 data[IMDS_MAX_PAYLOAD];
};

struct imds_response_record {
	struct imds_record_head head;
	struct imds_flow flow;
	__u32 seq;    /* sequence number of the status line in the response stream */
	__u32 status; /* HTTP status code, 100..999 */
	__u32 ack;    /* request-stream bytes IMDS had received when it answered */
	__u32 _pad;
};

struct imds_close_record {
	struct imds_record_head head;
	struct imds_flow flow;
};

/* Who a process is. head.ts_ns: when the kernel learnt it (its fork or exec). */
struct imds_process_record {
	struct imds_record_head head;
	__u32 pid;  /* thread group id */
	__u32 ppid; /* parent's thread group id at fork (an exec keeps it: never the re-parented one) */
	__u32 uid;
	__u32 gid;
	__u64 start_ns;        /* task->start_boottime */
	__u64 parent_start_ns; /* parent's start_boottime */
	__u64 exit_ns;         /* bpf_ktime_get_ns() at its exit, 0 while it runs */
	__u32 ns_pid;          /* pid in the process's own (innermost) pid namespace */
	__u32 ns_level;        /* 0 in the root pid namespace */
	char comm[IMDS_COMM_LEN];
};

/* A process and its program: the value of the "processes" map, and the record
 * IMDS_RECORD_PROCESS (sent up to args_len bytes of args[]). */
struct imds_exec_record {
	struct imds_process_record proc;
	__u32 filename_len; /* bytes in filename[], without the NUL */
	__u32 args_len;     /* bytes in args[]: NUL-separated argv */
	char filename[IMDS_MAX_FILENAME];
	char args[IMDS_MAX_ARGS];
};

/* A cgroup path as level names, the process's own cgroup first, up to (not including)
 * the hierarchy's root: /system.slice/foo.service is levels 2, names "foo.service",
 * "system.slice". */
struct imds_cgroup_record {
	struct imds_record_head head;
	__u32 pid;      /* thread group id of the connecting process */
	__u32 levels;   /* names filled in names[] */
	__u64 start_ns; /* its start_boottime, as in its process record */
	char names[IMDS_CGROUP_LEVELS][IMDS_CGROUP_NAME];
};

#endif /* IMDS_EVENTS_H */
