// SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause)
/* Do not edit directly, auto-generated from: */
/*	hasync.yaml */
/* YNL-GEN kernel source */

#include <net/netlink.h>
#include <net/genetlink.h>

#include "hasync_nl_gen.h"

#include <uapi/linux/hasync.h>
#include <hasync_glue.h>

/* Integer value ranges */
static const struct netlink_range_validation hasync_a_iface_mtu_range = {
	.min	= 68ULL,
	.max	= 65535ULL,
};

/* Common nested types */
const struct nla_policy hasync_addr_nl_policy[HASYNC_A_ADDR_ADDRESS + 1] = {
	[HASYNC_A_ADDR_FAMILY] = { .type = NLA_U8, },
	[HASYNC_A_ADDR_PREFIX_LEN] = { .type = NLA_U8, },
	[HASYNC_A_ADDR_ADDRESS] = { .type = NLA_BINARY, },
};

const struct nla_policy hasync_iface_nl_policy[HASYNC_A_IFACE_SPEED + 1] = {
	[HASYNC_A_IFACE_NAME] = { .type = NLA_NUL_STRING, .len = 15, },
	[HASYNC_A_IFACE_ADMIN_UP] = NLA_POLICY_MAX(NLA_U8, 1),
	[HASYNC_A_IFACE_MTU] = NLA_POLICY_FULL_RANGE(NLA_U32, &hasync_a_iface_mtu_range),
	[HASYNC_A_IFACE_MAC] = NLA_POLICY_EXACT_LEN(6),
	[HASYNC_A_IFACE_VLAN] = NLA_POLICY_MAX(NLA_U16, 4094),
	[HASYNC_A_IFACE_ADDR] = NLA_POLICY_NESTED(hasync_addr_nl_policy),
	[HASYNC_A_IFACE_DESC] = { .type = NLA_NUL_STRING, .len = 255, },
	[HASYNC_A_IFACE_SECTION] = { .type = NLA_U32, },
	[HASYNC_A_IFACE_SPEED] = { .type = NLA_U32, },
};

const struct nla_policy hasync_op_nl_policy[HASYNC_A_OP_IFACE + 1] = {
	[HASYNC_A_OP_KIND] = NLA_POLICY_MAX(NLA_U32, 1),
	[HASYNC_A_OP_IFACE] = NLA_POLICY_NESTED(hasync_iface_nl_policy),
};

/* HASYNC_CMD_CHANNEL_NEW - do */
static const struct nla_policy hasync_channel_new_nl_policy[HASYNC_A_CHANNEL_SECTIONS + 1] = {
	[HASYNC_A_CHANNEL_ID] = { .type = NLA_U32, },
	[HASYNC_A_CHANNEL_NAME] = { .type = NLA_NUL_STRING, .len = 31, },
	[HASYNC_A_CHANNEL_SECTIONS] = NLA_POLICY_RANGE(NLA_U32, 1, 64),
};

/* HASYNC_CMD_CHANNEL_DEL - do */
static const struct nla_policy hasync_channel_del_nl_policy[HASYNC_A_CHANNEL_ID + 1] = {
	[HASYNC_A_CHANNEL_ID] = { .type = NLA_U32, },
};

/* HASYNC_CMD_CHANNEL_GET - do */
static const struct nla_policy hasync_channel_get_do_nl_policy[HASYNC_A_CHANNEL_ID + 1] = {
	[HASYNC_A_CHANNEL_ID] = { .type = NLA_U32, },
};

/* HASYNC_CMD_CHANNEL_GET - dump */
static const struct nla_policy hasync_channel_get_dump_nl_policy[HASYNC_A_CHANNEL_BRIEF + 1] = {
	[HASYNC_A_CHANNEL_BRIEF] = { .type = NLA_FLAG, },
};

/* HASYNC_CMD_UPDATE - do */
static const struct nla_policy hasync_update_nl_policy[HASYNC_A_UPDATE_MORE + 1] = {
	[HASYNC_A_UPDATE_CHANNEL] = { .type = NLA_U32, },
	[HASYNC_A_UPDATE_EPOCH] = { .type = NLA_U32, },
	[HASYNC_A_UPDATE_OPID] = NLA_POLICY_MIN(NLA_UINT, 1),
	[HASYNC_A_UPDATE_COOKIE] = { .type = NLA_UINT, },
	[HASYNC_A_UPDATE_OP] = NLA_POLICY_NESTED(hasync_op_nl_policy),
	[HASYNC_A_UPDATE_MORE] = { .type = NLA_FLAG, },
};

/* HASYNC_CMD_CLAIM - do */
static const struct nla_policy hasync_claim_nl_policy[HASYNC_A_CHANNEL_BRIEF + 1] = {
	[HASYNC_A_CHANNEL_ID] = { .type = NLA_U32, },
	[HASYNC_A_CHANNEL_ALL] = { .type = NLA_FLAG, },
	[HASYNC_A_CHANNEL_EPOCH] = { .type = NLA_U32, },
	[HASYNC_A_CHANNEL_BRIEF] = { .type = NLA_FLAG, },
};

/* HASYNC_CMD_COOKIES - do */
static const struct nla_policy hasync_cookies_do_nl_policy[HASYNC_A_COOKIES_AFTER_OPID + 1] = {
	[HASYNC_A_COOKIES_CHANNEL] = { .type = NLA_U32, },
	[HASYNC_A_COOKIES_AFTER_OPID] = { .type = NLA_UINT, },
};

/* HASYNC_CMD_COOKIES - dump */
static const struct nla_policy hasync_cookies_dump_nl_policy[HASYNC_A_COOKIES_AFTER_OPID + 1] = {
	[HASYNC_A_COOKIES_CHANNEL] = { .type = NLA_U32, },
	[HASYNC_A_COOKIES_AFTER_OPID] = { .type = NLA_UINT, },
};

/* HASYNC_CMD_REPLAY_BEGIN - do */
static const struct nla_policy hasync_replay_begin_nl_policy[HASYNC_A_REPLAY_SECTIONS + 1] = {
	[HASYNC_A_REPLAY_CHANNEL] = { .type = NLA_U32, },
	[HASYNC_A_REPLAY_EPOCH] = { .type = NLA_U32, },
	[HASYNC_A_REPLAY_OPID] = { .type = NLA_UINT, },
	[HASYNC_A_REPLAY_SECTIONS] = { .type = NLA_UINT, },
};

/* HASYNC_CMD_REPLAY_ENTRIES - do */
static const struct nla_policy hasync_replay_entries_nl_policy[HASYNC_A_REPLAY_IFACE + 1] = {
	[HASYNC_A_REPLAY_CHANNEL] = { .type = NLA_U32, },
	[HASYNC_A_REPLAY_IFACE] = NLA_POLICY_NESTED(hasync_iface_nl_policy),
};

/* HASYNC_CMD_REPLAY_COMMIT - do */
static const struct nla_policy hasync_replay_commit_nl_policy[HASYNC_A_REPLAY_CHANNEL + 1] = {
	[HASYNC_A_REPLAY_CHANNEL] = { .type = NLA_U32, },
};

/* HASYNC_CMD_REPLAY_ABORT - do */
static const struct nla_policy hasync_replay_abort_nl_policy[HASYNC_A_REPLAY_CHANNEL + 1] = {
	[HASYNC_A_REPLAY_CHANNEL] = { .type = NLA_U32, },
};

/* HASYNC_CMD_ENTRY_GET - do */
static const struct nla_policy hasync_entry_get_do_nl_policy[HASYNC_A_ENTRY_NAME + 1] = {
	[HASYNC_A_ENTRY_CHANNEL] = { .type = NLA_U32, },
	[HASYNC_A_ENTRY_NAME] = { .type = NLA_NUL_STRING, .len = 15, },
};

/* HASYNC_CMD_ENTRY_GET - dump */
static const struct nla_policy hasync_entry_get_dump_nl_policy[HASYNC_A_ENTRY_SECTION + 1] = {
	[HASYNC_A_ENTRY_CHANNEL] = { .type = NLA_U32, },
	[HASYNC_A_ENTRY_SECTION] = NLA_POLICY_MAX(NLA_U32, 63),
};

/* Ops table for hasync */
static const struct genl_split_ops hasync_nl_ops[] = {
	{
		.cmd	= HASYNC_CMD_INFO,
		.doit	= hasync_nl_info_doit,
		.flags	= GENL_CMD_CAP_DO,
	},
	{
		.cmd		= HASYNC_CMD_CHANNEL_NEW,
		.doit		= hasync_nl_channel_new_doit,
		.policy		= hasync_channel_new_nl_policy,
		.maxattr	= HASYNC_A_CHANNEL_SECTIONS,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= HASYNC_CMD_CHANNEL_DEL,
		.doit		= hasync_nl_channel_del_doit,
		.policy		= hasync_channel_del_nl_policy,
		.maxattr	= HASYNC_A_CHANNEL_ID,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= HASYNC_CMD_CHANNEL_GET,
		.doit		= hasync_nl_channel_get_doit,
		.policy		= hasync_channel_get_do_nl_policy,
		.maxattr	= HASYNC_A_CHANNEL_ID,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd		= HASYNC_CMD_CHANNEL_GET,
		.dumpit		= hasync_nl_channel_get_dumpit,
		.policy		= hasync_channel_get_dump_nl_policy,
		.maxattr	= HASYNC_A_CHANNEL_BRIEF,
		.flags		= GENL_CMD_CAP_DUMP,
	},
	{
		.cmd		= HASYNC_CMD_UPDATE,
		.doit		= hasync_nl_update_doit,
		.policy		= hasync_update_nl_policy,
		.maxattr	= HASYNC_A_UPDATE_MORE,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= HASYNC_CMD_CLAIM,
		.doit		= hasync_nl_claim_doit,
		.policy		= hasync_claim_nl_policy,
		.maxattr	= HASYNC_A_CHANNEL_BRIEF,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= HASYNC_CMD_COOKIES,
		.doit		= hasync_nl_cookies_doit,
		.policy		= hasync_cookies_do_nl_policy,
		.maxattr	= HASYNC_A_COOKIES_AFTER_OPID,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd		= HASYNC_CMD_COOKIES,
		.dumpit		= hasync_nl_cookies_dumpit,
		.policy		= hasync_cookies_dump_nl_policy,
		.maxattr	= HASYNC_A_COOKIES_AFTER_OPID,
		.flags		= GENL_CMD_CAP_DUMP,
	},
	{
		.cmd		= HASYNC_CMD_REPLAY_BEGIN,
		.doit		= hasync_nl_replay_begin_doit,
		.policy		= hasync_replay_begin_nl_policy,
		.maxattr	= HASYNC_A_REPLAY_SECTIONS,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= HASYNC_CMD_REPLAY_ENTRIES,
		.doit		= hasync_nl_replay_entries_doit,
		.policy		= hasync_replay_entries_nl_policy,
		.maxattr	= HASYNC_A_REPLAY_IFACE,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= HASYNC_CMD_REPLAY_COMMIT,
		.doit		= hasync_nl_replay_commit_doit,
		.policy		= hasync_replay_commit_nl_policy,
		.maxattr	= HASYNC_A_REPLAY_CHANNEL,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= HASYNC_CMD_REPLAY_ABORT,
		.doit		= hasync_nl_replay_abort_doit,
		.policy		= hasync_replay_abort_nl_policy,
		.maxattr	= HASYNC_A_REPLAY_CHANNEL,
		.flags		= GENL_ADMIN_PERM | GENL_CMD_CAP_DO,
	},
	{
		.cmd		= HASYNC_CMD_ENTRY_GET,
		.doit		= hasync_nl_entry_get_doit,
		.policy		= hasync_entry_get_do_nl_policy,
		.maxattr	= HASYNC_A_ENTRY_NAME,
		.flags		= GENL_CMD_CAP_DO,
	},
	{
		.cmd		= HASYNC_CMD_ENTRY_GET,
		.dumpit		= hasync_nl_entry_get_dumpit,
		.policy		= hasync_entry_get_dump_nl_policy,
		.maxattr	= HASYNC_A_ENTRY_SECTION,
		.flags		= GENL_CMD_CAP_DUMP,
	},
	{
		.cmd	= HASYNC_CMD_STATS,
		.doit	= hasync_nl_stats_doit,
		.flags	= GENL_CMD_CAP_DO,
	},
};

static const struct genl_multicast_group hasync_nl_mcgrps[] = {
	[HASYNC_NLGRP_ACKS] = { "acks", },
	[HASYNC_NLGRP_MONITOR] = { "monitor", },
};

struct genl_family hasync_nl_family __ro_after_init = {
	.name		= HASYNC_FAMILY_NAME,
	.version	= HASYNC_FAMILY_VERSION,
	.netnsok	= true,
	.parallel_ops	= true,
	.module		= THIS_MODULE,
	.split_ops	= hasync_nl_ops,
	.n_split_ops	= ARRAY_SIZE(hasync_nl_ops),
	.mcgrps		= hasync_nl_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(hasync_nl_mcgrps),
};
