/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The boundary between the C genetlink glue and the Rust core.  Every type
 * here has a #[repr(C)] twin in kmod/glue.rs; the static_asserts on both
 * sides keep the two in step.
 */
#ifndef _HASYNC_GLUE_H
#define _HASYNC_GLUE_H

#include <linux/types.h>

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

static_assert(sizeof(struct hasync_params) == 12);
static_assert(sizeof(struct hasync_info) == 40);

/* Implemented in Rust (kmod/glue.rs).  @core is the pointer handed to
 * hasync_genl_register(); it stays valid until hasync_genl_unregister()
 * has returned.
 */
int hasync_rs_info(const void *core, struct hasync_info *out);

/* Implemented in C (kmod/hasync_genl.c), called by the Rust module init/exit. */
void hasync_glue_params(struct hasync_params *out);
int hasync_genl_register(const void *core);
void hasync_genl_unregister(void);

#endif /* _HASYNC_GLUE_H */
