//! hasyncd's library half: what the daemon binary (`src/main.rs`) and its
//! tests share.
//!
//! | module | job |
//! |---|---|
//! | [`cli`] | the command line: flags over the file's keys |
//! | [`config`] | the TOML file plus flag overrides, every rule, named refusals |
//! | [`kernel`] | the engine's kernel commands and replies ↔ `hasync-nl` |
//! | [`conn`] | a nonblocking TIPC connection with an outgoing queue |
//! | [`report`] | the takeover report in the log |
//! | [`fault`] | fault-injection points for the end-to-end tests |
//! | [`notify`] | the service manager's notification socket (READY, STATUS, watchdog) |
//! | [`reload`] | SIGHUP: the file read again, the log filter applied, the rest refused |
//! | [`tolerance`] | keeps the TIPC bearers at `limits.link_tolerance_ms` |
//! | [`daemon`] | the poll loop: roles, takeover, control API |
//! | [`tcp_conn`] | a control connection on the TCP face: authenticated lines |
//! | [`service_addr`] | the floating service address: taken, announced, released |
//! | [`rtnl`] | one rtnetlink request and its ACK |
//! | [`plug`] | output commit: the qdisc that holds the service interface's packets |
//! | [`tcp_repair`] | a TCP connection's transport state: read out, recreated elsewhere |

pub mod cli;
pub mod config;
pub mod conn;
pub mod daemon;
pub mod fault;
pub mod kernel;
pub mod notify;
pub mod plug;
pub mod reload;
pub mod report;
pub mod rtnl;
pub mod service_addr;
pub mod tcp_conn;
pub mod tcp_repair;
pub mod tolerance;
