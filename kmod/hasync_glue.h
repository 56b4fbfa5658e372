/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The boundary between the C glue (hasync_genl.c) and the Rust core.
 *
 * C hands every request to one Rust dispatcher as a struct hasync_req and
 * lends Rust the netlink helpers that are static inline in the kernel's
 * headers.  Rust parses, decides and formats every message itself, so no
 * reply or notification layout is written down twice.  struct hasync_req
 * and struct hasync_params have #[repr(C)] twins in kmod/glue.rs; the
 * static_asserts on both sides keep them in step.
 */
#ifndef _HASYNC_GLUE_H
#define _HASYNC_GLUE_H

#include <linux/types.h>

struct sk_buff;
struct genl_info;
struct netlink_ext_ack;
struct nlattr;

/* Module parameters, validated by the Rust core at load time. */
struct hasync_params {
	u32 max_channels;
	u32 max_entries;
	u32 cookie_log_len;
};

/* One request, a doit call or one step of a dump. */
struct hasync_req {
	const void *core;		/* the Rust state, as registered */
	const void *attrs;		/* attributes after the genetlink header */
	const void *net;		/* the sender's netns, as an identity */
	struct genl_info *info;		/* where a doit's reply goes; NULL in dumps */
	struct netlink_ext_ack *extack;
	u32 attrs_len;
	u32 portid;
	u32 seq;
	u8 cmd;
};

static_assert(sizeof(struct hasync_params) == 12);
static_assert(sizeof(struct hasync_req) == 56);

/*
 * Implemented in Rust (kmod/glue.rs).  req->core stays valid until
 * hasync_genl_unregister() has returned.
 */
int hasync_rs_doit(const struct hasync_req *req);
/* Fills @skb from the cursor in @ctx (netlink_callback::ctx, zeroed at the
 * start of the dump); returns 1 while there is more, 0 at the end, or a
 * negative errno. */
int hasync_rs_dumpit(const struct hasync_req *req, struct sk_buff *skb, void *ctx);
void hasync_rs_sock_closed(const void *core, const void *net, u32 portid);

/* Implemented in C (kmod/hasync_genl.c), called by the Rust core. */
void hasync_glue_params(struct hasync_params *out);
int hasync_genl_register(const void *core);
void hasync_genl_unregister(void);
/* A genetlink message of the hasync family; NULL without memory. */
struct sk_buff *hasync_msg_new(size_t payload, gfp_t gfp);
void hasync_msg_free(struct sk_buff *skb);
/* Starts one message in @skb; NULL when it does not fit. */
void *hasync_msg_start(struct sk_buff *skb, u32 portid, u32 seq, u16 flags, u8 cmd);
void hasync_msg_end(struct sk_buff *skb, void *hdr);
void hasync_msg_cancel(struct sk_buff *skb, void *hdr);
/* Both consume @skb. */
int hasync_msg_reply(struct sk_buff *skb, struct genl_info *info);
void hasync_msg_multicast(struct sk_buff *skb, u32 group);
bool hasync_has_listeners(u32 group);
struct nlattr *hasync_nest_start(struct sk_buff *skb, int type);
void hasync_nest_end(struct sk_buff *skb, struct nlattr *start);
void hasync_nest_cancel(struct sk_buff *skb, struct nlattr *start);
void hasync_extack(struct netlink_ext_ack *extack, const char *msg,
		   const struct nlattr *bad_attr, int miss_type,
		   const u8 *cookie, u8 cookie_len);

#endif /* _HASYNC_GLUE_H */
