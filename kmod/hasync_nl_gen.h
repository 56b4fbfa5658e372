/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/* Do not edit directly, auto-generated from: */
/*	hasync.yaml */
/* YNL-GEN kernel header */

#ifndef _LINUX_HASYNC_GEN_H
#define _LINUX_HASYNC_GEN_H

#include <net/netlink.h>
#include <net/genetlink.h>

#include <uapi/linux/hasync.h>

int hasync_nl_info_doit(struct sk_buff *skb, struct genl_info *info);

extern struct genl_family hasync_nl_family;

#endif /* _LINUX_HASYNC_GEN_H */
