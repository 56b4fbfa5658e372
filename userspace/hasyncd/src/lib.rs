//! hasyncd's library half: what the daemon binary (`src/main.rs`) and its
//! tests share.
//!
//! | module | job |
//! |---|---|
//! | [`config`] | the TOML file plus flag overrides, every rule, named refusals |
//! | [`kernel`] | the engine's kernel commands and replies ↔ `hasync-nl` |
//!
//! The replication loop (TIPC transport, topology subscriptions, takeover,
//! control API) is not written yet.

pub mod config;
pub mod kernel;
