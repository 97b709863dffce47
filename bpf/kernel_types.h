/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The few kernel structures the programs read, declared with only the fields
 * used. preserve_access_index makes every access a CO-RE relocation that libbpf
 * resolves against the running kernel's BTF, so no vmlinux.h or kernel headers
 * are needed and the object loads on kernels whose layouts differ.
 */
#ifndef IMDS_KERNEL_TYPES_H
#define IMDS_KERNEL_TYPES_H

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

struct upid {
	int nr;
	void *ns;
};

struct pid {
	unsigned int level;
	struct upid numbers[1];
};

struct mm_struct {
	unsigned long arg_start;
	unsigned long arg_end;
};

struct list_head {
	struct list_head *next;
};

struct kernfs_node {
	const char *name;
};

struct cgroup_root {
	int hierarchy_id;
};

struct cgroup_subsys_state {
	struct cgroup_subsys_state *parent;
};

struct cgroup {
	struct cgroup_subsys_state self; /* first member: a css pointer is its cgroup's */
	int level;
	struct kernfs_node *kn;
	struct cgroup_root *root;
};

/* Links a css_set to its cgroup in each hierarchy (kernel/cgroup/cgroup-internal.h). */
struct cgrp_cset_link {
	struct cgroup *cgrp;
	struct list_head cgrp_link;
};

struct css_set {
	struct list_head cgrp_links;
	struct cgroup *dfl_cgrp;
};

struct task_struct {
	int pid;
	int tgid;
	char comm[16];
	struct task_struct *real_parent;
	struct task_struct *group_leader;
	struct mm_struct *mm;
	struct pid *thread_pid;
	__u64 start_boottime;
	struct css_set *cgroups;
};

/* Kernels before 5.5 called the boot-based start time real_start_time. */
struct task_struct___pre_5_5 {
	__u64 real_start_time;
};

struct linux_binprm {
	const char *filename;
};

#pragma clang attribute pop

#endif /* IMDS_KERNEL_TYPES_H */
