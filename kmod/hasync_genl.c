// SPDX-License-Identifier: GPL-2.0
/*
 * Generic netlink dispatch for hasync.
 *
 * Only translation lives here: the ops table and policies come from
 * hasync_nl_gen.c (generated from hasync.yaml); each handler checks that the
 * required attributes are present, hands the scalars and the attribute
 * stream to the Rust core (the kmod/ Rust files), copies the core's verdict
 * into the extack and formats replies and notifications.  No state and no
 * decisions are kept in C.  Module parameters live here too because the 6.12
 * Rust module! macro cannot declare them; the Rust core validates them.
 */
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <net/genetlink.h>

#include "hasync_glue.h"
#include "hasync_nl_gen.h"

static unsigned int max_channels = 256;
module_param(max_channels, uint, 0444);
MODULE_PARM_DESC(max_channels, "Maximum number of channels (1-65536, default 256)");

static unsigned int max_entries = 65536;
module_param(max_entries, uint, 0444);
MODULE_PARM_DESC(max_entries, "Maximum interface records per channel (1-1048576, default 65536)");

static unsigned int cookie_log_len = 1024;
module_param(cookie_log_len, uint, 0444);
MODULE_PARM_DESC(cookie_log_len, "Applied (opid, cookie) pairs remembered per channel (1-65536, default 1024)");

/*
 * The Rust core.  Written once before the family is registered and cleared
 * after it is unregistered; genl_unregister_family() waits for running doit
 * handlers, and dumps pin the module, so no handler sees it change.
 */
static const void *hasync_core;

static_assert(sizeof(struct hasync_dump_cursor) <= sizeof_field(struct netlink_callback, ctx));

void hasync_glue_params(struct hasync_params *out)
{
	out->max_channels = max_channels;
	out->max_entries = max_entries;
	out->cookie_log_len = cookie_log_len;
}

static void hasync_err_init(struct hasync_err *e)
{
	memset(e, 0, sizeof(*e));
	e->bad_attr = -1;
	e->class = HASYNC_ERR_CLASS_INVALID;
}

static void hasync_req_attrs(const struct genl_info *info, struct hasync_attrs *a)
{
	a->data = genlmsg_data(info->genlhdr);
	a->len = genlmsg_len(info->genlhdr);
}

/* Counts the request and, on failure, tells the caller why. */
static int hasync_finish(struct genl_info *info, u8 cmd, int ret,
			 const struct hasync_err *e)
{
	struct netlink_ext_ack *extack = info->extack;
	struct hasync_attrs a;

	hasync_rs_count(hasync_core, cmd, ret, e->class);
	if (!ret || !extack)
		return ret;
	if (e->msg[0])
		NL_SET_ERR_MSG_FMT(extack, "%s", e->msg);
	if (e->bad_attr >= 0) {
		hasync_req_attrs(info, &a);
		if (e->bad_attr < a.len)
			NL_SET_BAD_ATTR(extack, (const struct nlattr *)((const u8 *)a.data + e->bad_attr));
	}
	if (e->cookie_len) {
		memcpy(extack->cookie, e->cookie, e->cookie_len);
		extack->cookie_len = e->cookie_len;
	}
	return ret;
}

/* A missing required attribute: the extack names it, the core never runs. */
#define HASYNC_REQUIRE(info, attr, cmd, e)					\
	do {									\
		if (GENL_REQ_ATTR_CHECK(info, attr))				\
			return hasync_finish(info, cmd, -EINVAL, e);		\
	} while (0)

static struct sk_buff *hasync_reply_new(struct genl_info *info, struct hasync_emit *to)
{
	struct sk_buff *skb = genlmsg_new(GENLMSG_DEFAULT_SIZE, GFP_KERNEL);

	to->skb = skb;
	to->portid = info->snd_portid;
	to->seq = info->snd_seq;
	to->flags = 0;
	to->ntf_cmd = 0;
	return skb;
}

static int hasync_put_addr(struct sk_buff *skb, const struct hasync_addr *a)
{
	struct nlattr *nest = nla_nest_start(skb, HASYNC_A_IFACE_ADDR);

	if (!nest ||
	    nla_put_u8(skb, HASYNC_A_ADDR_FAMILY, a->family) ||
	    nla_put_u8(skb, HASYNC_A_ADDR_PREFIX_LEN, a->prefix_len) ||
	    nla_put(skb, HASYNC_A_ADDR_ADDRESS, a->family == 4 ? 4 : 16, a->addr))
		return -EMSGSIZE;
	nla_nest_end(skb, nest);
	return 0;
}


/*
 * Names and descriptions are stored without their NUL; nla_put() of the
 * bare bytes would not be a NUL_STRING, so they go through this instead.
 */
static int hasync_put_strn(struct sk_buff *skb, int type, const u8 *s, u32 len)
{
	struct nlattr *a = nla_reserve(skb, type, len + 1);

	if (!a)
		return -EMSGSIZE;
	memcpy(nla_data(a), s, len);
	((u8 *)nla_data(a))[len] = 0;
	return 0;
}

int hasync_emit_iface(struct hasync_emit *to, const struct hasync_iface_view *v)
{
	struct sk_buff *skb = to->skb;
	struct nlattr *nest;
	void *hdr;
	u32 i;

	hdr = genlmsg_put(skb, to->portid, to->seq, &hasync_nl_family, to->flags,
			  to->ntf_cmd ?: HASYNC_CMD_ENTRY_GET);
	if (!hdr)
		return -EMSGSIZE;
	if (nla_put_u32(skb, HASYNC_A_ENTRY_CHANNEL, v->channel))
		goto cancel;
	nest = nla_nest_start(skb, HASYNC_A_ENTRY_IFACE);
	if (!nest ||
	    hasync_put_strn(skb, HASYNC_A_IFACE_NAME, v->name, v->name_len) ||
	    nla_put_u32(skb, HASYNC_A_IFACE_SECTION, v->section))
		goto cancel;
	if (!v->deleted) {
		if (nla_put_u8(skb, HASYNC_A_IFACE_ADMIN_UP, v->admin_up) ||
		    nla_put_u32(skb, HASYNC_A_IFACE_MTU, v->mtu) ||
		    nla_put(skb, HASYNC_A_IFACE_MAC, 6, v->mac) ||
		    nla_put_u16(skb, HASYNC_A_IFACE_VLAN, v->vlan))
			goto cancel;
		for (i = 0; i < v->n_addrs; i++)
			if (hasync_put_addr(skb, &v->addrs[i]))
				goto cancel;
		if (v->desc_len &&
		    hasync_put_strn(skb, HASYNC_A_IFACE_DESC, v->desc, v->desc_len))
			goto cancel;
	}
	nla_nest_end(skb, nest);
	genlmsg_end(skb, hdr);
	return 0;
cancel:
	genlmsg_cancel(skb, hdr);
	return -EMSGSIZE;
}

int hasync_emit_channel(struct hasync_emit *to, const struct hasync_channel_view *v)
{
	struct sk_buff *skb = to->skb;
	struct nlattr *nest;
	void *hdr;
	u32 i;

	hdr = genlmsg_put(skb, to->portid, to->seq, &hasync_nl_family, to->flags,
			  to->ntf_cmd ?: HASYNC_CMD_CHANNEL_GET);
	if (!hdr)
		return -EMSGSIZE;
	if (nla_put_u32(skb, HASYNC_A_CHANNEL_ID, v->id) ||
	    hasync_put_strn(skb, HASYNC_A_CHANNEL_NAME, v->name, v->name_len) ||
	    nla_put_u32(skb, HASYNC_A_CHANNEL_SECTIONS, v->sections))
		goto cancel;
	if (!v->deleted) {
		if (nla_put_uint(skb, HASYNC_A_CHANNEL_REGISTER, v->reg) ||
		    nla_put_u32(skb, HASYNC_A_CHANNEL_EPOCH, v->epoch) ||
		    nla_put_u32(skb, HASYNC_A_CHANNEL_ENTRIES, v->entries) ||
		    nla_put_uint(skb, HASYNC_A_CHANNEL_LOG_FIRST_OPID, v->log_first))
			goto cancel;
		for (i = 0; i < v->sections; i++) {
			nest = nla_nest_start(skb, HASYNC_A_CHANNEL_SECTION);
			if (!nest ||
			    nla_put_u32(skb, HASYNC_A_SECTION_INDEX, i) ||
			    nla_put_u32(skb, HASYNC_A_SECTION_ENTRIES, v->counts[i]) ||
			    nla_put_uint(skb, HASYNC_A_SECTION_DIGEST, v->digests[i]))
				goto cancel;
			nla_nest_end(skb, nest);
		}
	}
	genlmsg_end(skb, hdr);
	return 0;
cancel:
	genlmsg_cancel(skb, hdr);
	return -EMSGSIZE;
}

int hasync_emit_claimed(struct hasync_emit *to, const struct hasync_claimed *c)
{
	struct nlattr *nest = nla_nest_start(to->skb, HASYNC_A_CHANNEL_CLAIMED);

	if (!nest ||
	    nla_put_u32(to->skb, HASYNC_A_CLAIMED_ID, c->id) ||
	    nla_put_uint(to->skb, HASYNC_A_CLAIMED_REGISTER, c->reg) ||
	    nla_put_u32(to->skb, HASYNC_A_CLAIMED_EPOCH, c->epoch))
		return -EMSGSIZE;
	nla_nest_end(to->skb, nest);
	return 0;
}

static bool hasync_listening(unsigned int group)
{
	return genl_has_listeners(&hasync_nl_family, &init_net, group);
}

bool hasync_monitor_listening(void)
{
	return hasync_listening(HASYNC_NLGRP_MONITOR);
}

static void hasync_notify(unsigned int group, u32 cmd,
			  int (*emit)(struct hasync_emit *, const void *), const void *v)
{
	struct hasync_emit to = { .ntf_cmd = cmd };

	to.skb = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!to.skb)
		return;
	if (emit(&to, v)) {
		nlmsg_free(to.skb);
		return;
	}
	genlmsg_multicast(&hasync_nl_family, to.skb, 0, group, GFP_KERNEL);
}

static int hasync_emit_iface_v(struct hasync_emit *to, const void *v)
{
	return hasync_emit_iface(to, v);
}

static int hasync_emit_channel_v(struct hasync_emit *to, const void *v)
{
	return hasync_emit_channel(to, v);
}

void hasync_notify_iface(const struct hasync_iface_view *v)
{
	hasync_notify(HASYNC_NLGRP_MONITOR, HASYNC_CMD_ENTRY_NTF, hasync_emit_iface_v, v);
}

void hasync_notify_channel(const struct hasync_channel_view *v)
{
	hasync_notify(HASYNC_NLGRP_MONITOR, HASYNC_CMD_CHANNEL_NTF, hasync_emit_channel_v, v);
}

/* An ACK is a few dozen bytes: a page-sized skb per update would dominate. */
static size_t hasync_ack_size(void)
{
	return nla_total_size(sizeof(u32)) +		/* channel */
	       2 * nla_total_size(sizeof(u64)) +	/* opid, cookie */
	       nla_total_size(0);			/* duplicate */
}

static int hasync_put_ack(struct sk_buff *skb, const struct hasync_ack *ack)
{
	if (nla_put_u32(skb, HASYNC_A_UPDATE_CHANNEL, ack->channel) ||
	    nla_put_uint(skb, HASYNC_A_UPDATE_OPID, ack->opid) ||
	    nla_put_uint(skb, HASYNC_A_UPDATE_COOKIE, ack->cookie) ||
	    (ack->duplicate && nla_put_flag(skb, HASYNC_A_UPDATE_DUPLICATE)))
		return -EMSGSIZE;
	return 0;
}

/* The ACK also goes to the acks group, for standbys that listen directly. */
static void hasync_publish_ack(const struct hasync_ack *ack)
{
	struct sk_buff *skb;
	void *hdr;

	if (!hasync_listening(HASYNC_NLGRP_ACKS))
		return;
	skb = genlmsg_new(hasync_ack_size(), GFP_KERNEL);
	if (!skb)
		return;
	hdr = genlmsg_put(skb, 0, 0, &hasync_nl_family, 0, HASYNC_CMD_ACK_NTF);
	if (!hdr || hasync_put_ack(skb, ack)) {
		nlmsg_free(skb);
		return;
	}
	genlmsg_end(skb, hdr);
	genlmsg_multicast(&hasync_nl_family, skb, 0, HASYNC_NLGRP_ACKS, GFP_KERNEL);
}

static int hasync_reply_ack(struct genl_info *info, const struct hasync_ack *ack)
{
	struct sk_buff *skb = genlmsg_new(hasync_ack_size(), GFP_KERNEL);
	void *hdr;

	if (!skb)
		return -ENOMEM;
	hdr = genlmsg_iput(skb, info);
	if (!hdr || hasync_put_ack(skb, ack)) {
		nlmsg_free(skb);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return genlmsg_reply(skb, info);
}

int hasync_nl_info_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct hasync_err e;
	struct hasync_info r;
	struct sk_buff *msg;
	void *hdr;
	int err;

	hasync_err_init(&e);
	err = hasync_rs_info(hasync_core, &r);
	if (err)
		return hasync_finish(info, HASYNC_CMD_INFO, err, &e);

	msg = genlmsg_new(GENLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return hasync_finish(info, HASYNC_CMD_INFO, -ENOMEM, &e);
	hdr = genlmsg_iput(msg, info);
	if (!hdr ||
	    nla_put_string(msg, HASYNC_A_INFO_VERSION, r.version) ||
	    nla_put_u32(msg, HASYNC_A_INFO_PROTO_VERSION, r.proto_version) ||
	    nla_put_u32(msg, HASYNC_A_INFO_MAX_CHANNELS, r.max_channels) ||
	    nla_put_u32(msg, HASYNC_A_INFO_MAX_ENTRIES, r.max_entries) ||
	    nla_put_u32(msg, HASYNC_A_INFO_MAX_SECTIONS, r.max_sections) ||
	    nla_put_u32(msg, HASYNC_A_INFO_COOKIE_LOG_LEN, r.cookie_log_len) ||
	    nla_put_u32(msg, HASYNC_A_INFO_CHANNELS, r.channels) ||
	    nla_put_uint(msg, HASYNC_A_INFO_ENTRIES, r.entries)) {
		nlmsg_free(msg);
		return hasync_finish(info, HASYNC_CMD_INFO, -EMSGSIZE, &e);
	}
	genlmsg_end(msg, hdr);
	return hasync_finish(info, HASYNC_CMD_INFO, genlmsg_reply(msg, info), &e);
}

int hasync_nl_channel_new_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *name = info->attrs[HASYNC_A_CHANNEL_NAME];
	struct nlattr *sections = info->attrs[HASYNC_A_CHANNEL_SECTIONS];
	struct hasync_err e;
	int err;

	hasync_err_init(&e);
	HASYNC_REQUIRE(info, HASYNC_A_CHANNEL_ID, HASYNC_CMD_CHANNEL_NEW, &e);
	/* NUL_STRING: the policy guarantees the terminator; pass the bytes. */
	err = hasync_rs_channel_new(hasync_core,
				    nla_get_u32(info->attrs[HASYNC_A_CHANNEL_ID]),
				    name ? nla_data(name) : NULL,
				    name ? strnlen(nla_data(name), nla_len(name)) : 0,
				    sections ? nla_get_u32(sections) : 0, &e);
	return hasync_finish(info, HASYNC_CMD_CHANNEL_NEW, err, &e);
}

int hasync_nl_channel_del_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct hasync_err e;
	int err;

	hasync_err_init(&e);
	HASYNC_REQUIRE(info, HASYNC_A_CHANNEL_ID, HASYNC_CMD_CHANNEL_DEL, &e);
	err = hasync_rs_channel_del(hasync_core,
				    nla_get_u32(info->attrs[HASYNC_A_CHANNEL_ID]), &e);
	return hasync_finish(info, HASYNC_CMD_CHANNEL_DEL, err, &e);
}

int hasync_nl_channel_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct hasync_emit to;
	struct hasync_err e;
	int err;

	hasync_err_init(&e);
	HASYNC_REQUIRE(info, HASYNC_A_CHANNEL_ID, HASYNC_CMD_CHANNEL_GET, &e);
	if (!hasync_reply_new(info, &to))
		return hasync_finish(info, HASYNC_CMD_CHANNEL_GET, -ENOMEM, &e);
	err = hasync_rs_channel_get(hasync_core,
				    nla_get_u32(info->attrs[HASYNC_A_CHANNEL_ID]), &to, &e);
	if (err) {
		nlmsg_free(to.skb);
		return hasync_finish(info, HASYNC_CMD_CHANNEL_GET, err, &e);
	}
	return hasync_finish(info, HASYNC_CMD_CHANNEL_GET, genlmsg_reply(to.skb, info), &e);
}

static int hasync_dump_step(struct sk_buff *skb, struct netlink_callback *cb,
			    int (*step)(const void *, struct hasync_dump_cursor *,
					struct hasync_emit *))
{
	struct hasync_dump_cursor *cur = (void *)cb->ctx;
	struct hasync_emit to = {
		.skb = skb,
		.portid = NETLINK_CB(cb->skb).portid,
		.seq = cb->nlh->nlmsg_seq,
		.flags = NLM_F_MULTI,
	};
	int ret = step(hasync_core, cur, &to);

	if (ret < 0)
		return ret;
	/* More to come: the cursor says where; an empty skb would never end. */
	if (ret > 0)
		return skb->len ? skb->len : -EMSGSIZE;
	return skb->len;
}

int hasync_nl_channel_get_dumpit(struct sk_buff *skb, struct netlink_callback *cb)
{
	return hasync_dump_step(skb, cb, hasync_rs_channel_dump);
}

int hasync_nl_update_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct hasync_attrs a;
	struct hasync_ack ack;
	struct hasync_err e;
	int err;

	hasync_err_init(&e);
	HASYNC_REQUIRE(info, HASYNC_A_UPDATE_CHANNEL, HASYNC_CMD_UPDATE, &e);
	HASYNC_REQUIRE(info, HASYNC_A_UPDATE_EPOCH, HASYNC_CMD_UPDATE, &e);
	HASYNC_REQUIRE(info, HASYNC_A_UPDATE_OPID, HASYNC_CMD_UPDATE, &e);
	HASYNC_REQUIRE(info, HASYNC_A_UPDATE_COOKIE, HASYNC_CMD_UPDATE, &e);
	hasync_req_attrs(info, &a);
	err = hasync_rs_update(hasync_core,
			       nla_get_u32(info->attrs[HASYNC_A_UPDATE_CHANNEL]),
			       nla_get_u32(info->attrs[HASYNC_A_UPDATE_EPOCH]),
			       nla_get_uint(info->attrs[HASYNC_A_UPDATE_OPID]),
			       nla_get_uint(info->attrs[HASYNC_A_UPDATE_COOKIE]),
			       &a, &ack, &e);
	if (err)
		return hasync_finish(info, HASYNC_CMD_UPDATE, err, &e);
	if (!ack.duplicate)
		hasync_publish_ack(&ack);
	return hasync_finish(info, HASYNC_CMD_UPDATE,
			     hasync_reply_ack(info, &ack), &e);
}

int hasync_nl_claim_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct hasync_attrs a;
	struct hasync_emit to;
	struct hasync_err e;
	void *hdr;
	int err;

	hasync_err_init(&e);
	HASYNC_REQUIRE(info, HASYNC_A_CHANNEL_EPOCH, HASYNC_CMD_CLAIM, &e);
	if (!hasync_reply_new(info, &to))
		return hasync_finish(info, HASYNC_CMD_CLAIM, -ENOMEM, &e);
	/* One message; a claim of every channel of a large set may not fit. */
	hdr = genlmsg_iput(to.skb, info);
	if (!hdr) {
		nlmsg_free(to.skb);
		return hasync_finish(info, HASYNC_CMD_CLAIM, -EMSGSIZE, &e);
	}
	hasync_req_attrs(info, &a);
	err = hasync_rs_claim(hasync_core,
			      nla_get_u32(info->attrs[HASYNC_A_CHANNEL_EPOCH]),
			      nla_get_flag(info->attrs[HASYNC_A_CHANNEL_ALL]),
			      &a, &to, &e);
	if (err) {
		nlmsg_free(to.skb);
		return hasync_finish(info, HASYNC_CMD_CLAIM, err, &e);
	}
	genlmsg_end(to.skb, hdr);
	return hasync_finish(info, HASYNC_CMD_CLAIM, genlmsg_reply(to.skb, info), &e);
}

int hasync_nl_cookies_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct hasync_err e;
	struct sk_buff *msg;
	bool log_short;
	u32 channel;
	u64 cookie;
	void *hdr;
	int err;

	hasync_err_init(&e);
	HASYNC_REQUIRE(info, HASYNC_A_COOKIES_CHANNEL, HASYNC_CMD_COOKIES, &e);
	HASYNC_REQUIRE(info, HASYNC_A_COOKIES_AFTER_OPID, HASYNC_CMD_COOKIES, &e);
	channel = nla_get_u32(info->attrs[HASYNC_A_COOKIES_CHANNEL]);
	err = hasync_rs_cookies(hasync_core, channel,
				nla_get_uint(info->attrs[HASYNC_A_COOKIES_AFTER_OPID]),
				&cookie, &log_short, &e);
	if (err)
		return hasync_finish(info, HASYNC_CMD_COOKIES, err, &e);
	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return hasync_finish(info, HASYNC_CMD_COOKIES, -ENOMEM, &e);
	hdr = genlmsg_iput(msg, info);
	if (!hdr || nla_put_u32(msg, HASYNC_A_COOKIES_CHANNEL, channel) ||
	    (log_short ? nla_put_flag(msg, HASYNC_A_COOKIES_LOG_SHORT) :
			 nla_put_uint(msg, HASYNC_A_COOKIES_COOKIE, cookie))) {
		nlmsg_free(msg);
		return hasync_finish(info, HASYNC_CMD_COOKIES, -EMSGSIZE, &e);
	}
	genlmsg_end(msg, hdr);
	return hasync_finish(info, HASYNC_CMD_COOKIES, genlmsg_reply(msg, info), &e);
}

/*
 * A replay belongs to the sending socket, named by its netns and port id;
 * hasync_netlink_event() discards it when that socket is released.
 */
#define HASYNC_OWNER(info) genl_info_net(info), (info)->snd_portid

int hasync_nl_replay_begin_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct hasync_err e;
	int err;

	hasync_err_init(&e);
	HASYNC_REQUIRE(info, HASYNC_A_REPLAY_CHANNEL, HASYNC_CMD_REPLAY_BEGIN, &e);
	HASYNC_REQUIRE(info, HASYNC_A_REPLAY_EPOCH, HASYNC_CMD_REPLAY_BEGIN, &e);
	HASYNC_REQUIRE(info, HASYNC_A_REPLAY_OPID, HASYNC_CMD_REPLAY_BEGIN, &e);
	HASYNC_REQUIRE(info, HASYNC_A_REPLAY_SECTIONS, HASYNC_CMD_REPLAY_BEGIN, &e);
	err = hasync_rs_replay_begin(hasync_core, HASYNC_OWNER(info),
				     nla_get_u32(info->attrs[HASYNC_A_REPLAY_CHANNEL]),
				     nla_get_u32(info->attrs[HASYNC_A_REPLAY_EPOCH]),
				     nla_get_uint(info->attrs[HASYNC_A_REPLAY_OPID]),
				     nla_get_uint(info->attrs[HASYNC_A_REPLAY_SECTIONS]), &e);
	return hasync_finish(info, HASYNC_CMD_REPLAY_BEGIN, err, &e);
}

int hasync_nl_replay_entries_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct hasync_attrs a;
	struct hasync_err e;
	int err;

	hasync_err_init(&e);
	HASYNC_REQUIRE(info, HASYNC_A_REPLAY_CHANNEL, HASYNC_CMD_REPLAY_ENTRIES, &e);
	hasync_req_attrs(info, &a);
	err = hasync_rs_replay_entries(hasync_core, HASYNC_OWNER(info),
				       nla_get_u32(info->attrs[HASYNC_A_REPLAY_CHANNEL]),
				       &a, &e);
	return hasync_finish(info, HASYNC_CMD_REPLAY_ENTRIES, err, &e);
}

int hasync_nl_replay_commit_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct hasync_ack ack;
	struct hasync_err e;
	struct sk_buff *msg;
	void *hdr;
	int err;

	hasync_err_init(&e);
	HASYNC_REQUIRE(info, HASYNC_A_REPLAY_CHANNEL, HASYNC_CMD_REPLAY_COMMIT, &e);
	err = hasync_rs_replay_commit(hasync_core, HASYNC_OWNER(info),
				      nla_get_u32(info->attrs[HASYNC_A_REPLAY_CHANNEL]),
				      &ack, &e);
	if (err)
		return hasync_finish(info, HASYNC_CMD_REPLAY_COMMIT, err, &e);
	hasync_publish_ack(&ack);
	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return hasync_finish(info, HASYNC_CMD_REPLAY_COMMIT, -ENOMEM, &e);
	hdr = genlmsg_iput(msg, info);
	if (!hdr || nla_put_u32(msg, HASYNC_A_REPLAY_CHANNEL, ack.channel) ||
	    nla_put_uint(msg, HASYNC_A_REPLAY_OPID, ack.opid) ||
	    nla_put_uint(msg, HASYNC_A_REPLAY_SECTIONS, ack.cookie)) {
		nlmsg_free(msg);
		return hasync_finish(info, HASYNC_CMD_REPLAY_COMMIT, -EMSGSIZE, &e);
	}
	genlmsg_end(msg, hdr);
	return hasync_finish(info, HASYNC_CMD_REPLAY_COMMIT, genlmsg_reply(msg, info), &e);
}

int hasync_nl_replay_abort_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct hasync_err e;
	int err;

	hasync_err_init(&e);
	HASYNC_REQUIRE(info, HASYNC_A_REPLAY_CHANNEL, HASYNC_CMD_REPLAY_ABORT, &e);
	err = hasync_rs_replay_abort(hasync_core, HASYNC_OWNER(info),
				     nla_get_u32(info->attrs[HASYNC_A_REPLAY_CHANNEL]), &e);
	return hasync_finish(info, HASYNC_CMD_REPLAY_ABORT, err, &e);
}

static int hasync_netlink_event(struct notifier_block *nb, unsigned long event,
				void *ptr)
{
	struct netlink_notify *n = ptr;

	if (event == NETLINK_URELEASE && n->protocol == NETLINK_GENERIC)
		hasync_rs_sock_closed(hasync_core, n->net, n->portid);
	return NOTIFY_DONE;
}

static struct notifier_block hasync_netlink_nb = {
	.notifier_call = hasync_netlink_event,
};

int hasync_nl_entry_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *name;
	struct hasync_emit to;
	struct hasync_err e;
	int err;

	hasync_err_init(&e);
	HASYNC_REQUIRE(info, HASYNC_A_ENTRY_CHANNEL, HASYNC_CMD_ENTRY_GET, &e);
	HASYNC_REQUIRE(info, HASYNC_A_ENTRY_NAME, HASYNC_CMD_ENTRY_GET, &e);
	name = info->attrs[HASYNC_A_ENTRY_NAME];
	if (!hasync_reply_new(info, &to))
		return hasync_finish(info, HASYNC_CMD_ENTRY_GET, -ENOMEM, &e);
	err = hasync_rs_entry_get(hasync_core,
				  nla_get_u32(info->attrs[HASYNC_A_ENTRY_CHANNEL]),
				  nla_data(name), strnlen(nla_data(name), nla_len(name)),
				  &to, &e);
	if (err) {
		nlmsg_free(to.skb);
		return hasync_finish(info, HASYNC_CMD_ENTRY_GET, err, &e);
	}
	return hasync_finish(info, HASYNC_CMD_ENTRY_GET, genlmsg_reply(to.skb, info), &e);
}

int hasync_nl_entry_get_dumpit(struct sk_buff *skb, struct netlink_callback *cb)
{
	const struct genl_info *info = genl_info_dump(cb);
	struct hasync_dump_cursor *cur = (void *)cb->ctx;

	/* First call: take the filters from the request. */
	if (!cb->args[0]) {
		cb->args[0] = 1;
		if (info->attrs[HASYNC_A_ENTRY_CHANNEL]) {
			cur->has_channel = 1;
			cur->want_channel = nla_get_u32(info->attrs[HASYNC_A_ENTRY_CHANNEL]);
		}
		if (info->attrs[HASYNC_A_ENTRY_SECTION]) {
			cur->has_section = 1;
			cur->want_section = nla_get_u32(info->attrs[HASYNC_A_ENTRY_SECTION]);
		}
	}
	return hasync_dump_step(skb, cb, hasync_rs_entry_dump);
}

int hasync_nl_stats_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct hasync_stats *s;
	struct hasync_err e;
	struct sk_buff *msg;
	struct nlattr *nest;
	void *hdr;
	int i;

	hasync_err_init(&e);
	/* Too large for the stack with the rest of a netlink call chain. */
	s = kmalloc(sizeof(*s), GFP_KERNEL);
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!s || !msg)
		goto nomem;
	hasync_rs_stats(hasync_core, s);
	hdr = genlmsg_iput(msg, info);
	if (!hdr)
		goto nospc;
	for (i = 1; i < HASYNC_CMD_SLOTS; i++) {
		if (!s->ok[i] && !s->failed[i])
			continue;
		nest = nla_nest_start(msg, HASYNC_A_STATS_CMD);
		if (!nest ||
		    nla_put_u32(msg, HASYNC_A_CMD_STATS_CMD, i) ||
		    nla_put_uint(msg, HASYNC_A_CMD_STATS_OK, s->ok[i]) ||
		    nla_put_uint(msg, HASYNC_A_CMD_STATS_FAILED, s->failed[i]))
			goto nospc;
		nla_nest_end(msg, nest);
	}
	for (i = 0; i < HASYNC_ERR_CLASSES; i++) {
		nest = nla_nest_start(msg, HASYNC_A_STATS_ERR);
		if (!nest ||
		    nla_put_u32(msg, HASYNC_A_ERR_STATS_CLASS, i) ||
		    nla_put_uint(msg, HASYNC_A_ERR_STATS_COUNT, s->err[i]))
			goto nospc;
		nla_nest_end(msg, nest);
	}
	if (nla_put_uint(msg, HASYNC_A_STATS_ACKS_PUBLISHED, s->acks_published) ||
	    nla_put_uint(msg, HASYNC_A_STATS_OPS_APPLIED, s->ops_applied))
		goto nospc;
	genlmsg_end(msg, hdr);
	kfree(s);
	return hasync_finish(info, HASYNC_CMD_STATS, genlmsg_reply(msg, info), &e);

nospc:
	kfree(s);
	nlmsg_free(msg);
	return hasync_finish(info, HASYNC_CMD_STATS, -EMSGSIZE, &e);
nomem:
	kfree(s);
	nlmsg_free(msg);
	return hasync_finish(info, HASYNC_CMD_STATS, -ENOMEM, &e);
}

int hasync_genl_register(const void *core)
{
	int err;

	hasync_core = core;
	err = genl_register_family(&hasync_nl_family);
	if (err)
		goto err_core;
	err = netlink_register_notifier(&hasync_netlink_nb);
	if (err)
		goto err_family;
	return 0;

err_family:
	genl_unregister_family(&hasync_nl_family);
err_core:
	hasync_core = NULL;
	return err;
}

void hasync_genl_unregister(void)
{
	/* No new replays first, then no more release events. */
	genl_unregister_family(&hasync_nl_family);
	netlink_unregister_notifier(&hasync_netlink_nb);
	hasync_core = NULL;
}
