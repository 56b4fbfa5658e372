//! Control API frames. Every struct refuses unknown fields: a request the
//! daemon does not fully understand is refused, never half-applied.
//!
//! A message holds one frame, a JSON object, or (since the second release)
//! several as a JSON array: a pipelining client sends requests in arrays
//! and a daemon answers a connection that did so with arrays of the
//! replies ready together, one message for many. A client that never sends
//! an array never receives one, so earlier clients are unaffected.

use serde::{Deserialize, Serialize};

/// Largest frame either side sends or accepts (TIPC's message limit is
/// 66 000 bytes).
pub const FRAME_MAX: usize = 65_000;

/// Client → daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestFrame {
    /// Echoed in the reply.
    pub id: u64,
    /// What is asked.
    pub body: Request,
}

/// What a client asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum Request {
    /// Create or change an interface record (primary only).
    Set(SetIface),
    /// Delete an interface record (primary only).
    Del(DelIface),
    /// Give an interface record a new name, its fields kept (primary only;
    /// since the second release: an earlier daemon refuses it as an
    /// unknown request, and nothing changes).
    Rename(RenameIface),
    /// The daemon's role, peers, channels and last takeover report. The
    /// reply holds as many channels as fit in one frame; when some were
    /// left out, [`Status::next_channel`] names the first of them and
    /// [`Request::Channels`] fetches the rest.
    Status,
    /// The next page of channels after a [`Request::Status`] whose reply
    /// was cut at [`Status::next_channel`] (answered wherever `status` is).
    Channels(ChannelsRequest),
    /// Hand the primary role to a hot standby without replay (primary only).
    Switchover,
    /// Compare the primary's per-section digests with the kernel's and the
    /// standbys'; mismatched sections are repaired (primary only).
    Audit(AuditRequest),
    /// This daemon's release and command set, its peers', the diff lists
    /// between them and what crossed between releases (answered in any
    /// role; since the second release).
    Releases,
    /// The TCP face as this daemon sees it: its listener, the connections
    /// it serves (primary) or holds for a takeover (standby), the last
    /// commit round, the refusals (answered in any role; since the second
    /// release).
    Tcp,
    /// The daemon's counters on one screen: updates, bulk syncs, audits,
    /// connections, takeovers, refusals (answered in any role; since the
    /// second release).
    Counters,
    /// Follow the daemon's events: the reply is a stream of
    /// [`Response::Event`] frames under this request's id, first the
    /// current state, then one per change, until the client closes
    /// (answered in any role; since the second release).
    Events,
}

/// `hasync iface set`: fields left out keep their current value (or the
/// default for a new record: down, MTU 1500, zero MAC, untagged, no
/// addresses, no description).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetIface {
    /// Interface name (the key), 1 to 15 bytes.
    pub name: String,
    /// Channel; default: the channel that holds `name`, else the lowest
    /// configured channel id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<u32>,
    /// Administratively up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub up: Option<bool>,
    /// MTU, 68 to 65535.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// MAC address, `aa:bb:cc:dd:ee:ff`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// VLAN id, 0 to 4094.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u16>,
    /// Replaces the address list: `ADDR[/LEN]` each.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addrs: Option<Vec<String>>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Link speed in Mb/s, 0 for unknown (new in 0.2.0: a daemon of an
    /// earlier release refuses the field by name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed: Option<u32>,
}

/// `hasync iface del`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelIface {
    /// Interface name.
    pub name: String,
    /// Channel; default: the channel that holds `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<u32>,
}

/// `hasync iface rename`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenameIface {
    /// Interface name.
    pub name: String,
    /// Its new name, held by no channel.
    pub to: String,
    /// Channel; default: the channel that holds `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<u32>,
}

/// `hasync audit`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditRequest {
    /// One channel; default: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<u32>,
}

/// `channels`: one page of [`ChannelStatus`] entries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelsRequest {
    /// Lowest channel id wanted (the `next_channel` or `next` of the
    /// previous reply).
    pub from: u32,
}

/// Daemon → client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseFrame {
    /// The request's id (0 when the request could not be parsed).
    pub id: u64,
    /// The answer.
    pub body: Response,
}

/// The answer to one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum Response {
    /// A change is durable: the kernel applied it as `opid` and every hot
    /// standby holds it.
    Confirmed(Confirmed),
    /// Status.
    Status(Box<Status>),
    /// A page of channels (the answer to [`Request::Channels`]).
    Channels(ChannelsPage),
    /// Switchover started: the named standby is taking over.
    Switchover(SwitchoverReply),
    /// Audit result.
    Audit(AuditReply),
    /// Releases (the answer to [`Request::Releases`]).
    Releases(ReleasesReply),
    /// The TCP face (the answer to [`Request::Tcp`]).
    Tcp(TcpReply),
    /// The daemon's counters (the answer to [`Request::Counters`]).
    Counters(Counters),
    /// One event of the stream [`Request::Events`] asked for.
    Event(EventFrame),
    /// Refused; nothing changed.
    Error(CtlError),
}

/// A confirmed change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Confirmed {
    /// Channel.
    pub channel: u32,
    /// Opid the change was applied as.
    pub opid: u64,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CtlError {
    /// Machine-readable reason.
    pub kind: ErrorKind,
    /// Human-readable detail (the kernel's extack message when it refused).
    pub message: String,
    /// The primary's node name when this daemon is not the primary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<String>,
}

/// Machine-readable refusal reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// The frame did not parse or broke a rule of this API.
    BadRequest,
    /// A field value is out of range or malformed.
    Invalid,
    /// No such channel (or no such interface for `del`).
    NotFound,
    /// This daemon is not the primary.
    NotPrimary,
    /// Too many requests in flight: retry later.
    Busy,
    /// The kernel refused the change (message: its errno and extack).
    Kernel,
    /// A newer primary fenced this one; the change was not applied.
    Deposed,
    /// The daemon is handing over or shutting down.
    ShuttingDown,
    /// No hot standby to hand over to.
    NoStandby,
    /// A TCP-face request that did not authenticate (forged, replayed,
    /// out of order, or without a MAC); the connection is closed.
    Unauthorized,
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            ErrorKind::BadRequest => "bad request",
            ErrorKind::Invalid => "invalid argument",
            ErrorKind::NotFound => "not found",
            ErrorKind::NotPrimary => "not the primary",
            ErrorKind::Busy => "busy",
            ErrorKind::Kernel => "refused by the kernel",
            ErrorKind::Deposed => "deposed by a newer primary",
            ErrorKind::ShuttingDown => "shutting down",
            ErrorKind::NoStandby => "no hot standby",
            ErrorKind::Unauthorized => "unauthorized",
        };
        f.write_str(s)
    }
}

/// `hasync status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Status {
    /// This daemon's node name.
    pub node: String,
    /// `primary`, `standby`, `taking-over` or `deposed`.
    pub role: String,
    /// Epoch of the stream this daemon leads or follows (0: none yet).
    pub epoch: u64,
    /// `forward`, `direct` or `both`.
    pub ack_path: String,
    /// Standby: `hot`, `syncing` or `cold` (the least synced channel);
    /// primary: `hot` when every peer is hot on every channel, else the
    /// least synced peer's state, `alone` without peers.
    pub sync: String,
    /// Primary: the attached standbys; standby: the primary.
    pub peers: Vec<PeerStatus>,
    /// Updates not yet released (primary) or waiting for their ACK
    /// (standby), all channels.
    pub pending: u64,
    /// Primary: assigned minus kernel-ACKed opids; standby: ACKed minus
    /// applied, summed over channels.
    pub lag: u64,
    /// Per channel, by id: as many as fit in one frame (see
    /// [`crate::page`]).
    pub channels: Vec<ChannelStatus>,
    /// Set when `channels` is not complete: the id of the first channel
    /// left out, to ask for with [`Request::Channels`]. Each page is a
    /// snapshot of its own moment, not of the whole walk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_channel: Option<u32>,
    /// The last takeover this daemon performed (its channel list capped at
    /// [`REPORT_CHANNELS_MAX`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_takeover: Option<TakeoverReport>,
}

/// The answer to [`Request::Channels`]: channels from the requested id on,
/// by id, as many as fit in one frame.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelsPage {
    /// Channels with ids at or above the requested one.
    pub channels: Vec<ChannelStatus>,
    /// The id of the first channel left out; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<u32>,
}

/// A peer daemon as seen from this one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerStatus {
    /// Node name.
    pub node: String,
    /// `hot`, `syncing` or `cold` (as far as this daemon knows).
    pub state: String,
    /// Primary: lowest receipt watermark lag over channels.
    pub lag: u64,
}

/// One channel in `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelStatus {
    /// Channel id.
    pub id: u32,
    /// `hot`, `syncing` or `cold` (standby); `primary` on the primary.
    pub mode: String,
    /// Primary: last assigned opid; standby: applied opid.
    pub opid: u64,
    /// Highest kernel ACK seen.
    pub acked: u64,
    /// Pending updates (see [`Status::pending`]).
    pub pending: u64,
    /// Records held.
    pub records: u64,
    /// Per-section digests of the table this daemon holds (compare with
    /// `hasync channel show`). Empty when they would make this entry
    /// longer than [`crate::page::CHANNEL_ENTRY_MAX`] bytes, which the
    /// kernel's 64-section limit never comes near.
    pub digests: Vec<u64>,
}

pub use hasync_engine::report::{ChannelReport, TakeoverReport, REPORT_CHANNELS_MAX};

/// `hasync tcp show`: see [`Request::Tcp`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpReply {
    /// This daemon's node name.
    pub node: String,
    /// Its role.
    pub role: String,
    /// The configured service address and port (none: no TCP face).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// This unit holds the address and serves the face.
    pub up: bool,
    /// Primary: the last commit round the standbys hold.
    pub round: u64,
    /// How many standbys held it (0: none could take over).
    pub holders: u64,
    /// Milliseconds since that round was held: how far the standbys'
    /// copy may trail the connections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag_ms: Option<u64>,
    /// Primary: the connections served. Standby: those it holds for a
    /// takeover (from `round`).
    pub connections: Vec<TcpConnStatus>,
    /// Requests refused on the face, by reason.
    pub refused: TcpRefused,
}

/// One TCP face connection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpConnStatus {
    /// The client's address.
    pub client: String,
    /// The sequence number its next unanswered request carries.
    pub next: u64,
    /// Bytes received and not yet answered (as of the last round).
    pub owed_in: u64,
    /// Bytes sent and not yet acknowledged by the client (as of the last
    /// round).
    pub owed_out: u64,
}

/// Refusals on the TCP face.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpRefused {
    /// Clients outside `tcp.allow`.
    pub source: u64,
    /// Lines without a MAC.
    pub unauthenticated: u64,
    /// MACs that did not verify.
    pub forged: u64,
    /// Sequence numbers used before or skipped.
    pub replayed: u64,
    /// Lines over the length limit.
    pub too_long: u64,
}

/// One event of `hasync monitor daemon` (see [`Request::Events`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventFrame {
    /// When the daemon saw it: milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// The daemon's unit.
    pub node: String,
    /// Part of the state as the stream began, not a change.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub initial: bool,
    /// What happened.
    pub event: DaemonEvent,
}

/// What a daemon's event says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum DaemonEvent {
    /// The unit's role or phase changed (`phase` as the service manager's
    /// status line says it: "standby, hot", "primary", ...).
    Role {
        /// standby, taking-over, primary or stopping.
        role: String,
        /// The finer phase.
        phase: String,
        /// The epoch it writes or follows.
        epoch: u64,
    },
    /// A peer appeared: a standby attached (primary) or the primary
    /// followed (standby).
    PeerUp {
        /// Its unit name.
        peer: String,
        /// hot or syncing (a standby), primary (the one followed).
        state: String,
    },
    /// A peer's state changed (a standby became hot, or syncs again).
    PeerState {
        /// Its unit name.
        peer: String,
        /// The new state.
        state: String,
    },
    /// A peer went away.
    PeerDown {
        /// Its unit name.
        peer: String,
    },
    /// This unit took over; the report says what was replayed.
    Takeover {
        /// The report, as `status` shows it.
        report: Box<TakeoverReport>,
    },
    /// The kernel fenced this primary: a unit of a newer epoch owns the
    /// channels.
    Fenced {
        /// The newer epoch.
        epoch: u64,
    },
    /// An audit found sections differing and repaired them.
    AuditRepair {
        /// Sections found differing on a standby since start.
        mismatches: u64,
        /// Sections repaired since this unit became primary.
        repaired: u64,
    },
    /// The trust model refused someone (docs/operations.md).
    Refused {
        /// standby or control.
        what: String,
        /// Refusals of that kind since start.
        total: u64,
    },
}

/// `hasync stats daemon`: see [`Request::Counters`]. Counts are since the
/// daemon started, but those of a role's engine, which are since the unit
/// took that role.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Counters {
    /// This unit's name.
    pub node: String,
    /// Its role now.
    pub role: String,
    /// As primary, since it became primary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<PrimaryCounters>,
    /// As standby, since it last started following.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standby: Option<StandbyCounters>,
    /// Takeovers made (failover or switchover; a start is not one).
    pub takeovers: u64,
    /// Sections an audit found differing on a standby (each repaired).
    pub audit_mismatches: u64,
    /// Standby connections that ended or were dropped (as primary).
    pub peer_drops: u64,
    /// Connections to a primary this unit opened, reconnects included.
    pub leader_connects: u64,
    /// Refused by the trust model (docs/operations.md).
    pub refused: Refused,
}

/// What a primary's engine counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrimaryCounters {
    /// Updates sent (assigned an opid, to the kernel and the standbys).
    pub sent: u64,
    /// Changes confirmed: applied by the kernel, held by every hot standby.
    pub confirmed: u64,
    /// Updates resent to the kernel.
    pub resent: u64,
    /// Updates in flight or queued now.
    pub pending: u64,
    /// Bulk syncs started for standbys.
    pub syncs_started: u64,
    /// Sections repaired after an audit.
    pub sections_repaired: u64,
    /// Standbys attached.
    pub standbys: u64,
    /// Hot standbys.
    pub standbys_hot: u64,
}

/// What a standby's engine counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StandbyCounters {
    /// Updates applied to its copy.
    pub applied: u64,
    /// Duplicates and stale updates dropped.
    pub dropped: u64,
    /// Times a channel's pending queue hit its bound (it went cold).
    pub overflows: u64,
    /// Bulk syncs completed.
    pub syncs: u64,
    /// Updates held waiting for the kernel's ACK now.
    pub pending: u64,
    /// Channels (bulk sync progress: how many are hot, of these).
    pub channels: u64,
    /// Hot channels.
    pub channels_hot: u64,
}

/// Refusals of the trust model since start.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refused {
    /// Standby handshakes naming no listed unit.
    pub standbys: u64,
    /// Control connections from nodes that run no unit of the cluster.
    pub control: u64,
}

/// `hasync status`'s release part: see [`Request::Releases`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleasesReply {
    /// This daemon's release.
    pub release: u16,
    /// The items it understands.
    pub items: Vec<String>,
    /// The primary (on a standby) or the attached standbys (on a primary)
    /// whose handshake named their release.
    pub peers: Vec<PeerRelease>,
    /// Updates and checkpoints rewritten for a peer of another release.
    pub transformed: u64,
    /// Values left out (a record's field) or frames not sent, because
    /// their item is dropped with a warning.
    pub dropped: u64,
    /// The same for items on the don't-care list.
    #[serde(default)]
    pub not_synced: u64,
    /// On a standby of a newer release than its primary: the primary's
    /// updates that did not apply here once upgraded (each left its
    /// channel cold until a bulk sync).
    #[serde(default)]
    pub failed_applies: u64,
}

/// A peer's release and the diff lists between it and this daemon.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerRelease {
    /// Node name.
    pub node: String,
    /// Its release.
    pub release: u16,
    /// Items of this daemon's that the peer lacks, and what is done for
    /// each.
    pub lacks: Vec<LackedItem>,
    /// Items of the peer's that this daemon lacks.
    pub extra: Vec<String>,
    /// Channels the peer, a standby, is left cold on (it lacks what they
    /// need).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cold: Vec<u32>,
}

/// One item a peer lacks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LackedItem {
    /// Item name (`op.rename`, `msg.checkpoint-part`, ...).
    pub item: String,
    /// What this daemon does about it.
    pub handling: String,
}

/// `hasync switchover`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwitchoverReply {
    /// The standby taking over.
    pub to: String,
}

/// `hasync audit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditReply {
    /// Per audited channel.
    pub channels: Vec<AuditChannel>,
}

/// One channel's audit: the node's own result, as it is (channel, opid
/// compared at, `kernel_mismatch` sections being repaired,
/// `kernel_skipped` when updates were in flight, `standbys_asked`).
pub use hasync_engine::node::AuditResult as AuditChannel;

impl RequestFrame {
    /// Encode (never fails for these types).
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Decode, refusing frames over [`FRAME_MAX`].
    pub fn decode(b: &[u8]) -> Result<Self, String> {
        decode(b)
    }

    /// Decode a message of one frame or an array of them; `true` when it
    /// was an array.
    pub fn decode_many(b: &[u8]) -> Result<(Vec<Self>, bool), String> {
        decode_many(b)
    }
}

impl ResponseFrame {
    /// Encode (never fails for these types).
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Decode, refusing frames over [`FRAME_MAX`].
    pub fn decode(b: &[u8]) -> Result<Self, String> {
        decode(b)
    }

    /// Decode a message of one frame or an array of them.
    pub fn decode_many(b: &[u8]) -> Result<Vec<Self>, String> {
        decode_many(b).map(|(frames, _)| frames)
    }

    /// An error reply.
    pub fn error(id: u64, kind: ErrorKind, message: impl Into<String>) -> Self {
        ResponseFrame {
            id,
            body: Response::Error(CtlError {
                kind,
                message: message.into(),
                primary: None,
            }),
        }
    }
}

/// Encoded frames as messages of at most [`FRAME_MAX`] bytes: arrays of
/// as many as fit, in order (a frame too large for brackets goes alone).
pub fn pack(frames: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut p = Packer::default();
    for f in frames {
        p.push_encoded(f);
    }
    p.take()
}

/// The messages [`pack`] makes, built as the frames come: a reply is
/// serialized straight into the array it travels in.
#[derive(Debug, Default)]
pub struct Packer {
    done: Vec<Vec<u8>>,
    cur: Vec<u8>,
}

impl Packer {
    /// True when nothing is gathered.
    pub fn is_empty(&self) -> bool {
        self.done.is_empty() && self.cur.is_empty()
    }

    /// Add a reply.
    pub fn push(&mut self, frame: &ResponseFrame) {
        let mark = self.cur.len();
        self.cur.push(if mark == 0 { b'[' } else { b',' });
        if serde_json::to_writer(&mut self.cur, frame).is_err() {
            // Not for these types; never leave half a frame behind.
            self.cur.truncate(mark);
            return;
        }
        if self.cur.len() + 1 > FRAME_MAX {
            // It does not fit this array: as `pack` would place it.
            let f = self.cur.split_off(mark + 1);
            self.cur.truncate(mark);
            self.push_encoded(&f);
        }
    }

    /// Add an encoded frame.
    pub fn push_encoded(&mut self, f: &[u8]) {
        if f.len() + 2 > FRAME_MAX {
            self.close();
            self.done.push(f.to_vec());
            return;
        }
        if !self.cur.is_empty() && self.cur.len() + 1 + f.len() + 1 > FRAME_MAX {
            self.close();
        }
        self.cur.push(if self.cur.is_empty() { b'[' } else { b',' });
        self.cur.extend_from_slice(f);
    }

    /// The messages, in order; the packer is empty after.
    pub fn take(&mut self) -> Vec<Vec<u8>> {
        self.close();
        std::mem::take(&mut self.done)
    }

    fn close(&mut self) {
        if !self.cur.is_empty() {
            self.cur.push(b']');
            self.done.push(std::mem::take(&mut self.cur));
        }
    }
}

fn decode_many<T: serde::de::DeserializeOwned>(b: &[u8]) -> Result<(Vec<T>, bool), String> {
    let array = b.iter().find(|c| !c.is_ascii_whitespace()) == Some(&b'[');
    if !array {
        return decode(b).map(|f| (vec![f], false));
    }
    let frames: Vec<T> = decode(b)?;
    if frames.is_empty() {
        return Err("empty array of frames".into());
    }
    Ok((frames, true))
}

fn decode<T: serde::de::DeserializeOwned>(b: &[u8]) -> Result<T, String> {
    if b.len() > FRAME_MAX {
        return Err(format!("frame of {} bytes exceeds {FRAME_MAX}", b.len()));
    }
    serde_json::from_slice(b).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_roundtrip_and_shape() {
        let r = RequestFrame {
            id: 7,
            body: Request::Set(SetIface {
                name: "eth0".into(),
                mtu: Some(1400),
                ..SetIface::default()
            }),
        };
        let b = r.encode();
        assert_eq!(
            std::str::from_utf8(&b).expect("utf8"),
            r#"{"id":7,"body":{"set":{"name":"eth0","mtu":1400}}}"#
        );
        assert_eq!(RequestFrame::decode(&b), Ok(r));
        let s = RequestFrame::decode(br#"{"id":1,"body":"status"}"#).expect("status");
        assert_eq!(s.body, Request::Status);
    }

    #[test]
    fn channel_pages_on_the_wire() {
        let r = RequestFrame {
            id: 2,
            body: Request::Channels(ChannelsRequest { from: 513 }),
        };
        let b = r.encode();
        assert_eq!(
            std::str::from_utf8(&b).expect("utf8"),
            r#"{"id":2,"body":{"channels":{"from":513}}}"#
        );
        assert_eq!(RequestFrame::decode(&b), Ok(r));
        for bad in [
            &br#"{"id":2,"body":{"channels":{}}}"#[..],
            br#"{"id":2,"body":{"channels":{"from":1,"to":2}}}"#,
            br#"{"id":2,"body":"channels"}"#,
        ] {
            assert!(RequestFrame::decode(bad).is_err(), "{bad:?}");
        }
        let page = |next| ResponseFrame {
            id: 2,
            body: Response::Channels(ChannelsPage {
                channels: vec![ChannelStatus {
                    id: 513,
                    mode: "primary".into(),
                    opid: 9,
                    acked: 9,
                    pending: 0,
                    records: 3,
                    digests: vec![7],
                }],
                next,
            }),
        };
        let ch = r#"{"id":513,"mode":"primary","opid":9,"acked":9,"pending":0,"records":3,"digests":[7]}"#;
        for (next, json) in [
            (
                Some(640),
                format!(r#"{{"id":2,"body":{{"channels":{{"channels":[{ch}],"next":640}}}}}}"#),
            ),
            (
                None,
                format!(r#"{{"id":2,"body":{{"channels":{{"channels":[{ch}]}}}}}}"#),
            ),
        ] {
            let f = page(next);
            assert_eq!(String::from_utf8(f.encode()).expect("utf8"), json);
            assert_eq!(ResponseFrame::decode(json.as_bytes()), Ok(f));
        }
        let bad = br#"{"id":2,"body":{"channels":{"channels":[],"more":true}}}"#;
        assert!(ResponseFrame::decode(bad).is_err());
    }

    #[test]
    fn status_without_the_paging_fields_still_parses() {
        // A status from a daemon that never pages: no next_channel, no
        // channels_omitted.
        let json = r#"{"id":1,"body":{"status":{"node":"cu-a","role":"primary","epoch":3,
            "ack_path":"both","sync":"alone","peers":[],"pending":0,"lag":0,"channels":[],
            "last_takeover":{"node":"cu-a","reason":"start","epoch":3,"previous_epoch":0,
            "detection_ms":0.0,"total_ms":1.5,"channels_total":1,"channels_in_sync":1,
            "entries_replayed":0,"channels":[]}}}}"#;
        let f = ResponseFrame::decode(json.as_bytes()).expect("parses");
        let Response::Status(s) = &f.body else {
            panic!("{f:?}")
        };
        assert_eq!(s.next_channel, None);
        assert_eq!(
            s.last_takeover.as_ref().map(|t| t.channels_omitted),
            Some(0)
        );
        let back = String::from_utf8(f.encode()).expect("utf8");
        assert!(!back.contains("next_channel") && !back.contains("channels_omitted"));
        let cut = back.replace(
            r#""channels":[],"last"#,
            r#""channels":[],"next_channel":7,"last"#,
        );
        let Response::Status(s) = ResponseFrame::decode(cut.as_bytes()).expect("parses").body
        else {
            panic!("{cut}")
        };
        assert_eq!(s.next_channel, Some(7));
    }

    #[test]
    fn takeover_report_capped_keeps_the_lowest_channels_and_counts_the_rest() {
        let entry = |channel| ChannelReport {
            channel,
            register: 1,
            applied_from_pending: 0,
            replayed_ops: 0,
            discarded: 0,
            replayed_sections: 1,
            replayed_entries: 1,
            whole_channel: false,
            relearned: false,
        };
        let r = TakeoverReport {
            node: "cu-b".into(),
            reason: "primary lost".into(),
            epoch: 3,
            previous_epoch: 2,
            detection_ms: 1.0,
            total_ms: 2.0,
            channels_total: 1000,
            channels_in_sync: 0,
            entries_replayed: 1000,
            channels: (0..1000).rev().map(entry).collect(),
            channels_omitted: 0,
        };
        let c = r.clone().capped(REPORT_CHANNELS_MAX);
        assert_eq!(c.channels, (0..64).map(entry).collect::<Vec<_>>());
        assert_eq!(c.channels_omitted, 936);
        assert!(serde_json::to_string(&c)
            .expect("encodes")
            .ends_with(r#""channels_omitted":936}"#));
        let small = TakeoverReport {
            channels: vec![entry(5)],
            ..r
        };
        assert_eq!(small.clone().capped(REPORT_CHANNELS_MAX), small);
    }

    #[test]
    fn unknown_fields_and_garbage_are_refused() {
        for bad in [
            &br#"{"id":1,"body":{"set":{"name":"x","colour":1}}}"#[..],
            br#"{"id":1,"body":"reboot"}"#,
            br#"{"id":1}"#,
            b"\xff\x00",
            b"",
            br#"{"id":-1,"body":"status"}"#,
        ] {
            assert!(RequestFrame::decode(bad).is_err(), "{bad:?}");
        }
        assert!(RequestFrame::decode(&vec![b' '; FRAME_MAX + 1]).is_err());
    }

    #[test]
    fn arrays_carry_several_frames_and_singles_stay_singles() {
        let frames: Vec<RequestFrame> = (1..=3)
            .map(|id| RequestFrame {
                id,
                body: Request::Status,
            })
            .collect();
        let encoded: Vec<Vec<u8>> = frames.iter().map(RequestFrame::encode).collect();
        let packed = pack(&encoded);
        assert_eq!(packed.len(), 1);
        assert_eq!(
            RequestFrame::decode_many(&packed[0]),
            Ok((frames.clone(), true))
        );
        // One frame alone is what every release sends.
        assert_eq!(
            RequestFrame::decode_many(&encoded[0]),
            Ok((vec![frames[0].clone()], false))
        );
        assert!(RequestFrame::decode_many(b"[]").is_err());
        assert!(RequestFrame::decode_many(b"[{\"id\":1}]").is_err());
        // An earlier daemon's single-frame decoder refuses an array
        // outright: a client sends arrays only when told to.
        assert!(RequestFrame::decode(&packed[0]).is_err());
    }

    #[test]
    fn packing_splits_at_the_frame_limit_and_keeps_order() {
        let big = ResponseFrame::error(1, ErrorKind::Invalid, "x".repeat(20_000));
        let frames: Vec<Vec<u8>> = (0..7)
            .map(|i| {
                ResponseFrame {
                    id: i,
                    ..big.clone()
                }
                .encode()
            })
            .collect();
        let packed = pack(&frames);
        assert!(packed.len() >= 3);
        let mut ids = Vec::new();
        for m in &packed {
            assert!(m.len() <= FRAME_MAX, "{} bytes", m.len());
            ids.extend(
                ResponseFrame::decode_many(m)
                    .expect("decodes")
                    .iter()
                    .map(|f| f.id),
            );
        }
        assert_eq!(ids, (0..7).collect::<Vec<_>>());
        // A frame too large for brackets goes alone, unbracketed.
        let huge = vec![b'{'; FRAME_MAX - 1];
        assert_eq!(pack(std::slice::from_ref(&huge)), vec![huge]);
    }

    #[test]
    fn packer_serializes_into_the_messages_pack_makes() {
        // Sizes around every boundary: small, array-filling, and one too
        // large for brackets.
        let sizes = [10, 30_000, 34_000, 5, FRAME_MAX - 60, 7, 64_990, 1];
        let frames: Vec<ResponseFrame> = (0..)
            .zip(sizes)
            .map(|(i, n)| ResponseFrame::error(i, ErrorKind::Invalid, "y".repeat(n)))
            .filter(|f| f.encode().len() <= FRAME_MAX)
            .collect();
        assert!(frames.len() >= 7);
        let mut p = Packer::default();
        assert!(p.is_empty());
        for f in &frames {
            p.push(f);
        }
        assert!(!p.is_empty());
        let encoded: Vec<Vec<u8>> = frames.iter().map(ResponseFrame::encode).collect();
        assert_eq!(p.take(), pack(&encoded));
        assert!(p.is_empty());
    }
}
