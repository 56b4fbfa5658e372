// SPDX-License-Identifier: GPL-2.0
/*
 * Generic netlink dispatch for hasync.
 *
 * Only translation lives here: the ops table and policies come from
 * hasync_nl_gen.c (generated from hasync.yaml), each doit asks the Rust core
 * (the kmod/ Rust files) for the answer and formats it as attributes.  No state and no
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

void hasync_glue_params(struct hasync_params *out)
{
	out->max_channels = max_channels;
	out->max_entries = max_entries;
	out->cookie_log_len = cookie_log_len;
}

int hasync_nl_info_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct hasync_info r;
	struct sk_buff *msg;
	void *hdr;
	int err;

	err = hasync_rs_info(hasync_core, &r);
	if (err)
		return err;

	msg = genlmsg_new(GENLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;

	hdr = genlmsg_iput(msg, info);
	if (!hdr)
		goto err_nospc;

	if (nla_put_string(msg, HASYNC_A_INFO_VERSION, r.version) ||
	    nla_put_u32(msg, HASYNC_A_INFO_PROTO_VERSION, r.proto_version) ||
	    nla_put_u32(msg, HASYNC_A_INFO_MAX_CHANNELS, r.max_channels) ||
	    nla_put_u32(msg, HASYNC_A_INFO_MAX_ENTRIES, r.max_entries) ||
	    nla_put_u32(msg, HASYNC_A_INFO_MAX_SECTIONS, r.max_sections) ||
	    nla_put_u32(msg, HASYNC_A_INFO_COOKIE_LOG_LEN, r.cookie_log_len) ||
	    nla_put_u32(msg, HASYNC_A_INFO_CHANNELS, r.channels) ||
	    nla_put_uint(msg, HASYNC_A_INFO_ENTRIES, r.entries))
		goto err_nospc;

	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

err_nospc:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

int hasync_genl_register(const void *core)
{
	int err;

	hasync_core = core;
	err = genl_register_family(&hasync_nl_family);
	if (err)
		hasync_core = NULL;
	return err;
}

void hasync_genl_unregister(void)
{
	genl_unregister_family(&hasync_nl_family);
	hasync_core = NULL;
}
