/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The boundary between the C genetlink glue and the Rust core.  Every type
 * here has a #[repr(C)] twin in kmod/glue.rs; the static_asserts on both
 * sides keep the two in step.
 */
#ifndef _HASYNC_GLUE_H
#define _HASYNC_GLUE_H

#include <linux/types.h>

struct sk_buff;

/* Module parameters, validated by the Rust core at load time. */
struct hasync_params {
	u32 max_channels;
	u32 max_entries;
	u32 cookie_log_len;
};

/* Everything the INFO reply carries. */
struct hasync_info {
	const char *version;	/* NUL-terminated, lives as long as the module */
	u32 proto_version;
	u32 max_channels;
	u32 max_entries;
	u32 max_sections;
	u32 cookie_log_len;
	u32 channels;
	u64 entries;
};

/* Why the core refused a request: copied into the extack by the glue. */
struct hasync_err {
	char msg[80];		/* NUL-terminated; NETLINK_MAX_FMTMSG_LEN */
	s32 bad_attr;		/* offset in the request's attributes, or -1 */
	u8 class;		/* enum hasync_err_class */
	u8 cookie_len;		/* 0, 4 (owner epoch) or 8 (register) */
	u8 cookie[8];
};

/* A request's attribute stream (after the genetlink header). */
struct hasync_attrs {
	const void *data;
	u32 len;
};

struct hasync_ack {
	u32 channel;
	u8 duplicate;
	u64 opid;
	u64 cookie;
};

/* Layout shared with Rust's `record::Addr`. */
struct hasync_addr {
	u8 family;
	u8 prefix_len;
	u8 addr[16];
};

/* One record, borrowed from the core for the time of one emit call. */
struct hasync_iface_view {
	u32 channel;
	u32 section;
	const u8 *name;
	u32 name_len;
	u8 admin_up;
	u8 deleted;		/* notification of a removal: name only */
	u16 vlan;
	u32 mtu;
	u32 n_addrs;
	const u8 *mac;		/* 6 bytes */
	const struct hasync_addr *addrs;
	const u8 *desc;
	u32 desc_len;
};

/* One channel, borrowed likewise. */
struct hasync_channel_view {
	u32 id;
	u32 sections;
	u64 reg;
	u64 log_first;
	u32 epoch;
	u32 entries;
	const u8 *name;
	u32 name_len;
	u8 deleted;
	const u64 *digests;	/* sections entries */
	const u32 *counts;	/* sections entries */
};

/* Where emitted objects go: a reply, a dump or a notification. */
struct hasync_emit {
	struct sk_buff *skb;
	u32 portid;
	u32 seq;
	u32 flags;		/* NLM_F_MULTI in dumps */
	u32 ntf_cmd;		/* notification command, 0 in replies and dumps */
};

/* Dump position, kept in netlink_callback::ctx between dumpit calls. */
struct hasync_dump_cursor {
	u32 channel;		/* next channel to visit */
	u32 section;		/* next section within it */
	u8 name[16];		/* last record emitted (exclusive), if name_len */
	u8 name_len;
	u8 done;
	u8 has_channel;		/* filters from the request */
	u8 has_section;
	u32 want_channel;
	u32 want_section;
};

#define HASYNC_CMD_SLOTS 32
#define HASYNC_ERR_CLASSES 8
struct hasync_stats {
	u64 ok[HASYNC_CMD_SLOTS];
	u64 failed[HASYNC_CMD_SLOTS];
	u64 err[HASYNC_ERR_CLASSES];
	u64 acks_published;
	u64 ops_applied;
};

struct hasync_claimed {
	u32 id;
	u32 epoch;
	u64 reg;
};

static_assert(sizeof(struct hasync_params) == 12);
static_assert(sizeof(struct hasync_info) == 40);
static_assert(sizeof(struct hasync_err) == 96);
static_assert(sizeof(struct hasync_ack) == 24);
static_assert(sizeof(struct hasync_addr) == 18);
static_assert(sizeof(struct hasync_iface_view) == 64);
static_assert(sizeof(struct hasync_channel_view) == 64);
static_assert(sizeof(struct hasync_dump_cursor) == 36);
static_assert(sizeof(struct hasync_stats) == 8 * (2 * HASYNC_CMD_SLOTS + HASYNC_ERR_CLASSES + 2));

/*
 * Implemented in Rust (kmod/glue.rs).  @core is the pointer handed to
 * hasync_genl_register(); it stays valid until hasync_genl_unregister() has
 * returned.  Each returns 0 or a negative errno; on error @err says why.
 */
int hasync_rs_info(const void *core, struct hasync_info *out);
int hasync_rs_channel_new(const void *core, u32 id, const u8 *name, u32 name_len,
			  u32 sections, struct hasync_err *err);
int hasync_rs_channel_del(const void *core, u32 id, struct hasync_err *err);
int hasync_rs_channel_get(const void *core, u32 id, struct hasync_emit *to,
			  struct hasync_err *err);
/* Returns 0 when done, 1 when more is to come, or a negative errno. */
int hasync_rs_channel_dump(const void *core, struct hasync_dump_cursor *cur,
			   struct hasync_emit *to);
int hasync_rs_update(const void *core, u32 channel, u32 epoch, u64 opid,
		     u64 cookie, const struct hasync_attrs *attrs,
		     struct hasync_ack *ack, struct hasync_err *err);
int hasync_rs_claim(const void *core, u32 epoch, bool all,
		    const struct hasync_attrs *attrs, struct hasync_emit *to,
		    struct hasync_err *err);
int hasync_rs_cookies(const void *core, u32 channel, u64 after, u64 *cookie,
		      bool *log_short, struct hasync_err *err);
int hasync_rs_replay_begin(const void *core, const void *net, u32 portid, u32 channel,
			   u32 epoch, u64 opid, u64 sections,
			   struct hasync_err *err);
int hasync_rs_replay_entries(const void *core, const void *net, u32 portid, u32 channel,
			     const struct hasync_attrs *attrs,
			     struct hasync_err *err);
int hasync_rs_replay_commit(const void *core, const void *net, u32 portid, u32 channel,
			    struct hasync_ack *ack, struct hasync_err *err);
int hasync_rs_replay_abort(const void *core, const void *net, u32 portid, u32 channel,
			   struct hasync_err *err);
void hasync_rs_sock_closed(const void *core, const void *net, u32 portid);
int hasync_rs_entry_get(const void *core, u32 channel, const u8 *name,
			u32 name_len, struct hasync_emit *to,
			struct hasync_err *err);
int hasync_rs_entry_dump(const void *core, struct hasync_dump_cursor *cur,
			 struct hasync_emit *to);
void hasync_rs_stats(const void *core, struct hasync_stats *out);
void hasync_rs_count(const void *core, u8 cmd, int ret, u8 err_class);

/* Implemented in C (kmod/hasync_genl.c), called by the Rust core. */
void hasync_glue_params(struct hasync_params *out);
int hasync_genl_register(const void *core);
void hasync_genl_unregister(void);
/* Put one object into @to->skb; -EMSGSIZE when it does not fit. */
int hasync_emit_iface(struct hasync_emit *to, const struct hasync_iface_view *v);
int hasync_emit_channel(struct hasync_emit *to, const struct hasync_channel_view *v);
int hasync_emit_claimed(struct hasync_emit *to, const struct hasync_claimed *c);
/* Monitor-group notifications; no-ops without listeners. */
bool hasync_monitor_listening(void);
void hasync_notify_iface(const struct hasync_iface_view *v);
void hasync_notify_channel(const struct hasync_channel_view *v);

#endif /* _HASYNC_GLUE_H */
