// SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause)
/* Do not edit directly, auto-generated from: */
/*	hasync.yaml */
/* YNL-GEN kernel source */

#include <net/netlink.h>
#include <net/genetlink.h>

#include "hasync_nl_gen.h"

#include <uapi/linux/hasync.h>

/* Ops table for hasync */
static const struct genl_split_ops hasync_nl_ops[] = {
	{
		.cmd	= HASYNC_CMD_INFO,
		.doit	= hasync_nl_info_doit,
		.flags	= GENL_CMD_CAP_DO,
	},
};

struct genl_family hasync_nl_family __ro_after_init = {
	.name		= HASYNC_FAMILY_NAME,
	.version	= HASYNC_FAMILY_VERSION,
	.netnsok	= true,
	.parallel_ops	= true,
	.module		= THIS_MODULE,
	.split_ops	= hasync_nl_ops,
	.n_split_ops	= ARRAY_SIZE(hasync_nl_ops),
};
