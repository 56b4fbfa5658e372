/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/* Do not edit directly, auto-generated from: */
/*	hasync.yaml */
/* YNL-GEN kernel header */

#ifndef _LINUX_HASYNC_GEN_H
#define _LINUX_HASYNC_GEN_H

#include <net/netlink.h>
#include <net/genetlink.h>

#include <uapi/linux/hasync.h>
#include <hasync_glue.h>

/* Common nested types */
extern const struct nla_policy hasync_addr_nl_policy[HASYNC_A_ADDR_ADDRESS + 1];
extern const struct nla_policy hasync_iface_nl_policy[HASYNC_A_IFACE_SPEED + 1];
extern const struct nla_policy hasync_op_nl_policy[HASYNC_A_OP_IFACE + 1];

int hasync_nl_info_doit(struct sk_buff *skb, struct genl_info *info);
int hasync_nl_channel_new_doit(struct sk_buff *skb, struct genl_info *info);
int hasync_nl_channel_del_doit(struct sk_buff *skb, struct genl_info *info);
int hasync_nl_channel_get_doit(struct sk_buff *skb, struct genl_info *info);
int hasync_nl_channel_get_dumpit(struct sk_buff *skb,
				 struct netlink_callback *cb);
int hasync_nl_update_doit(struct sk_buff *skb, struct genl_info *info);
int hasync_nl_claim_doit(struct sk_buff *skb, struct genl_info *info);
int hasync_nl_cookies_doit(struct sk_buff *skb, struct genl_info *info);
int hasync_nl_cookies_dumpit(struct sk_buff *skb, struct netlink_callback *cb);
int hasync_nl_replay_begin_doit(struct sk_buff *skb, struct genl_info *info);
int hasync_nl_replay_entries_doit(struct sk_buff *skb, struct genl_info *info);
int hasync_nl_replay_commit_doit(struct sk_buff *skb, struct genl_info *info);
int hasync_nl_replay_abort_doit(struct sk_buff *skb, struct genl_info *info);
int hasync_nl_entry_get_doit(struct sk_buff *skb, struct genl_info *info);
int hasync_nl_entry_get_dumpit(struct sk_buff *skb,
			       struct netlink_callback *cb);
int hasync_nl_stats_doit(struct sk_buff *skb, struct genl_info *info);

enum {
	HASYNC_NLGRP_ACKS,
	HASYNC_NLGRP_MONITOR,
};

extern struct genl_family hasync_nl_family;

#endif /* _LINUX_HASYNC_GEN_H */
