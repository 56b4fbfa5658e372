//! hasync replication engine: pure logic, no I/O, no clock, no threads.
//!
//! In the style of `quinn-proto`, every component is a state machine that is
//! fed events (a request, a message from a peer, a kernel reply, a timer tick
//! the caller decided to deliver) and returns the actions to perform (send
//! this, tell the requester that). The daemon does the I/O; the simulator in
//! [`sim`] does it deterministically with injected faults.
//!
//! Map of the crate:
//! * [`hash`], [`table`]: the data model and the stable hashes the kernel
//!   module shares (sections, cookies, digests), from `hasync-model`.
//! * [`wire`]: replication messages between control units and their codec.
//! * [`release`], [`transform`]: what each release understands, and the
//!   step-by-step transforms between neighbouring releases.
//! * [`kernel`]: the engine's view of the kernel (commands, replies) and a
//!   reference model of its rules.
//! * [`primary`], [`standby`]: normal operation.
//! * [`planner`]: the failover plan.
//! * [`election`]: which standby takes over when there are several.
//! * [`node`]: one control unit whole: roles, timers, failure verdicts,
//!   election, takeover, handover, fencing (what hasyncd and the simulator
//!   both drive).
//! * [`bulk_sync`]: snapshot + checkpoint acks + sync declaration.
//! * [`audit`]: per-section digest comparison.
//! * [`tcp_state`]: one TCP face connection's transport state and codec.
//! * [`sim`]: deterministic fault-injection simulator.

pub use hasync_model::{hash, table, RecordChange};

pub mod kernel;
pub mod wire;

/// Channel id: one independent stream with its own opid sequence.
pub type ChannelId = u32;
/// Control-unit (TIPC node) id.
pub type NodeId = u32;
/// Per-channel operation id, strictly +1.
pub type Opid = u64;
/// Ownership epoch used for fencing.
pub type Epoch = u64;

pub mod audit;
pub mod backoff;
pub mod bulk_sync;
pub mod election;
pub mod handshake;
pub mod node;
pub mod planner;
pub mod primary;
pub mod release;
pub mod report;
pub mod sim;
pub mod standby;
pub mod takeover;
pub mod tcp_state;
pub mod transform;

/// Requester's handle for a change request, echoed in its confirmation.
pub type RequestId = u64;

/// Why a change request was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// Window and backlog full: retry later (backpressure to the requester).
    #[error("busy")]
    Busy,
    /// The ops break a table rule or limit; nothing was assigned. (Its
    /// message is the rule's alone: the refusal's kind already says
    /// "invalid argument".)
    #[error("{0}")]
    Invalid(table::TableError),
    /// This node is no longer primary (fenced by a newer epoch).
    #[error("not primary")]
    Deposed,
    /// Unknown channel.
    #[error("no such channel")]
    NoChannel,
}

/// What a state machine asks its caller to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send a command to the kernel (netlink).
    Kernel(kernel::KernelCmd),
    /// Send a message to a peer control unit (TIPC).
    Send {
        /// Destination.
        to: NodeId,
        /// Message.
        msg: wire::Message,
    },
    /// Tell a requester its change is durable: the kernel applied it and
    /// every standby holds it.
    Confirm {
        /// Request.
        request: RequestId,
        /// Channel.
        channel: ChannelId,
        /// Opid assigned.
        opid: Opid,
    },
    /// Tell a requester its change was not accepted.
    Refuse {
        /// Request.
        request: RequestId,
        /// Why.
        error: SubmitError,
    },
    /// The kernel fenced us: a newer primary owns the channels.
    Deposed {
        /// Owner epoch reported by the kernel.
        owner: Epoch,
    },
}
