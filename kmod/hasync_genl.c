// SPDX-License-Identifier: GPL-2.0
/*
 * The C side of hasync.ko: what the 6.12 Rust `kernel` crate cannot do.
 *
 * - module parameters (its module! macro declares none);
 * - the genetlink family (ops table and policies generated from hasync.yaml
 *   into hasync_nl_gen.c) and the netlink release notifier;
 * - one entry per generated handler name, all funnelled into a single Rust
 *   dispatcher with the request described by struct hasync_req;
 * - wrappers of the netlink helpers that are static inline in C headers.
 *
 * No state, no decisions and no message layouts live here: Rust parses
 * every request and formats every reply and notification.
 */
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <net/genetlink.h>
#include <net/sock.h>

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
 * The Rust state, an opaque ForeignOwnable pointer: set before the family
 * is registered, cleared after it is unregistered.  genl_unregister_family()
 * waits for running handlers and dumps pin the module, so no handler sees
 * it change.
 */
static const void *hasync_core;

void hasync_glue_params(struct hasync_params *out)
{
	out->max_channels = max_channels;
	out->max_entries = max_entries;
	out->cookie_log_len = cookie_log_len;
}

static int hasync_doit(struct genl_info *info)
{
	struct hasync_req req = {
		.core = hasync_core,
		.attrs = genlmsg_data(info->genlhdr),
		.attrs_len = genlmsg_len(info->genlhdr),
		.net = genl_info_net(info),
		.info = info,
		.extack = info->extack,
		.portid = info->snd_portid,
		.seq = info->snd_seq,
		.cmd = info->genlhdr->cmd,
	};

	return hasync_rs_doit(&req);
}

static int hasync_dumpit(struct sk_buff *skb, struct netlink_callback *cb)
{
	const struct genlmsghdr *hdr = nlmsg_data(cb->nlh);
	struct hasync_req req = {
		.core = hasync_core,
		.attrs = genlmsg_data(hdr),
		.attrs_len = genlmsg_len(hdr),
		.net = sock_net(cb->skb->sk),
		.extack = cb->extack,
		.portid = NETLINK_CB(cb->skb).portid,
		.seq = cb->nlh->nlmsg_seq,
		.cmd = hdr->cmd,
	};

	return hasync_rs_dumpit(&req, skb, cb->ctx);
}

/* The names the generated ops table uses, one line each. */
#define HASYNC_DOIT(op)								\
	int hasync_nl_##op##_doit(struct sk_buff *skb, struct genl_info *info)	\
	{									\
		return hasync_doit(info);					\
	}
#define HASYNC_DUMPIT(op)							\
	int hasync_nl_##op##_dumpit(struct sk_buff *skb,			\
				    struct netlink_callback *cb)		\
	{									\
		return hasync_dumpit(skb, cb);					\
	}

HASYNC_DOIT(info)
HASYNC_DOIT(channel_new)
HASYNC_DOIT(channel_del)
HASYNC_DOIT(channel_get)
HASYNC_DUMPIT(channel_get)
HASYNC_DOIT(update)
HASYNC_DOIT(claim)
HASYNC_DOIT(cookies)
HASYNC_DUMPIT(cookies)
HASYNC_DOIT(replay_begin)
HASYNC_DOIT(replay_entries)
HASYNC_DOIT(replay_commit)
HASYNC_DOIT(replay_abort)
HASYNC_DOIT(entry_get)
HASYNC_DUMPIT(entry_get)
HASYNC_DOIT(stats)

/* Rust keeps its dump cursors in netlink_callback::ctx. */
static_assert(sizeof_field(struct netlink_callback, ctx) == 48);

struct sk_buff *hasync_msg_new(size_t payload, gfp_t gfp)
{
	return genlmsg_new(payload, gfp);
}

void hasync_msg_free(struct sk_buff *skb)
{
	nlmsg_free(skb);
}

void *hasync_msg_start(struct sk_buff *skb, u32 portid, u32 seq, u16 flags, u8 cmd)
{
	return genlmsg_put(skb, portid, seq, &hasync_nl_family, flags, cmd);
}

void hasync_msg_end(struct sk_buff *skb, void *hdr)
{
	genlmsg_end(skb, hdr);
}

void hasync_msg_cancel(struct sk_buff *skb, void *hdr)
{
	genlmsg_cancel(skb, hdr);
}

int hasync_msg_reply(struct sk_buff *skb, struct genl_info *info)
{
	return genlmsg_reply(skb, info);
}

/*
 * One set of tables serves every network namespace, so its notifications
 * go to the subscribers of every namespace, not only init_net's.
 */
void hasync_msg_multicast(struct sk_buff *skb, u32 group)
{
	genlmsg_multicast_allns(&hasync_nl_family, skb, 0, group);
}

/*
 * Netlink keeps one listener bitmap per protocol, across namespaces: asking
 * init_net answers for all of them.
 */
bool hasync_has_listeners(u32 group)
{
	return genl_has_listeners(&hasync_nl_family, &init_net, group);
}

struct nlattr *hasync_nest_start(struct sk_buff *skb, int type)
{
	return nla_nest_start(skb, type);
}

void hasync_nest_end(struct sk_buff *skb, struct nlattr *start)
{
	nla_nest_end(skb, start);
}

void hasync_nest_cancel(struct sk_buff *skb, struct nlattr *start)
{
	nla_nest_cancel(skb, start);
}

void hasync_extack(struct netlink_ext_ack *extack, const char *msg,
		   const struct nlattr *bad_attr, int miss_type,
		   const u8 *cookie, u8 cookie_len)
{
	if (!extack)
		return;
	if (msg)
		NL_SET_ERR_MSG_FMT(extack, "%s", msg);
	if (bad_attr)
		NL_SET_BAD_ATTR(extack, bad_attr);
	if (miss_type > 0)
		NL_SET_ERR_ATTR_MISS(extack, NULL, miss_type);
	if (cookie_len && cookie_len <= NETLINK_MAX_COOKIE_LEN) {
		memcpy(extack->cookie, cookie, cookie_len);
		extack->cookie_len = cookie_len;
	}
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

int hasync_genl_register(const void *core)
{
	int err;

	/* The notifier first: once the family is up, a replay can be opened
	 * and must be discarded when its socket closes. */
	hasync_core = core;
	err = netlink_register_notifier(&hasync_netlink_nb);
	if (err)
		goto err_core;
	err = genl_register_family(&hasync_nl_family);
	if (err)
		goto err_notifier;
	return 0;

err_notifier:
	netlink_unregister_notifier(&hasync_netlink_nb);
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
