//! Sending side of a bulk sync: snapshot chunks with acks, then a
//! sync declaration.
//!
//! A new or returning standby gets, per channel, the content of every
//! section while updates continue. A *key cursor* walks the sections in
//! order and, within a section, the names in order: each chunk carries the
//! records of one key range of one section, at most `budget` bytes of them,
//! so a chunk always fits one TIPC message however dense the section. A
//! section that fits one chunk travels whole, as a plain checkpoint; a
//! larger one as checkpoint *parts*, each naming its range `(after, upto]`.
//! How many chunks are outstanding is the caller's credit window (see
//! [`crate::primary`]): bulk traffic never queues more than that ahead of
//! the live updates.
//!
//! Each chunk is read at the primary's current opid, so the snapshot is
//! *fuzzy*. That is sound because every op sets state to a value it carries
//! ([`crate::table::Op`]): the standby keeps every update after `base` and,
//! at the declaration, redoes them on the assembled snapshot, which
//! converges to the exact state whichever read of a range it kept.
//!
//! A resent chunk re-reads its range. If the range has grown past the budget
//! since it was first sent, the chunk keeps the first page and a new chunk
//! takes the rest: ranges still tile the section, and the standby's
//! replace-by-range keeps them consistent whatever order copies arrive in.
//!
//! The declaration goes out once the cursor has passed the last section,
//! every chunk is acked **and** the kernel acked the highest chunk opid, so
//! the standby's table never contains an effect the kernel might not have;
//! from then on the channel is Hot. If the standby's buffer overflows during
//! the sync it requests a new sync (new `sync_id`, new `base`) and the old
//! attempt is dropped.

use crate::backoff::Backoff;
use crate::table::{IfName, Table};
use crate::wire::Message;
use crate::{ChannelId, Opid};

/// Most record bytes in one chunk: with its header a chunk stays below the
/// TIPC message limit of 66 000 bytes.
pub const CHUNK_BYTES: usize = 60_000;

/// What a chunk costs the credit window beyond its records (its header).
pub const CHUNK_OVERHEAD: usize = 64;

/// One chunk: a key range of a section.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Chunk {
    section: u32,
    after: Option<IfName>,
    upto: Option<IfName>,
    /// Window cost when first sent.
    cost: usize,
    acked: bool,
    /// The peer's tick when last sent (round-trip measurement).
    sent: u64,
}

/// Progress of one bulk sync of one channel to one standby.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkSend {
    /// Channel.
    pub channel: ChannelId,
    /// Attempt id (unique per primary, increasing).
    pub sync_id: u64,
    /// Stream position at start.
    pub base: Opid,
    /// Highest opid any chunk was read at.
    pub max_opid: Opid,
    /// Declaration acknowledged: the sync is complete.
    pub done: bool,
    /// Declaration sent.
    declared: bool,
    /// The peer's tick now (set by the caller before each use).
    pub tick: u64,
    /// Ticks from send to ack of the last chunk acked first-time.
    rtt: Option<u64>,
    sections: u32,
    /// Record bytes per chunk.
    budget: usize,
    /// Next first-time chunk: its section and the last name already sent.
    cursor: (u32, Option<IfName>),
    /// Chunks sent, by seq.
    chunks: Vec<Chunk>,
    /// Window cost of chunks sent and not acknowledged.
    in_flight: usize,
    /// Pacing of chunk resends (progress: chunks acked).
    stall: Backoff,
    acked: usize,
}

impl BulkSend {
    /// Start a sync at stream position `base`, `budget` record bytes per
    /// chunk (at least one record travels whatever the budget).
    pub fn new(channel: ChannelId, sync_id: u64, base: Opid, sections: u32, budget: usize) -> Self {
        BulkSend {
            channel,
            sync_id,
            base,
            max_opid: base,
            done: false,
            sections,
            budget,
            cursor: (0, None),
            chunks: Vec::new(),
            in_flight: 0,
            stall: Backoff::new(0),
            declared: false,
            tick: 0,
            rtt: None,
            acked: 0,
        }
    }

    /// Every section has been sent once.
    pub fn read_all(&self) -> bool {
        self.cursor.0 >= self.sections
    }

    /// Window cost of the chunks sent and not yet acknowledged.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Chunks sent so far.
    pub fn chunks_sent(&self) -> usize {
        self.chunks.len()
    }

    fn message(&mut self, seq: usize, table: &Table, last: Opid) -> Message {
        self.max_opid = self.max_opid.max(last);
        let c = &self.chunks[seq];
        let (records, _) =
            table.section_page(c.section, c.after.as_ref(), c.upto.as_ref(), usize::MAX);
        // Seqs index `chunks`, whose length fits the u32 sections * pages.
        let seq = seq as u32;
        if c.after.is_none() && c.upto.is_none() {
            Message::Checkpoint {
                channel: self.channel,
                sync_id: self.sync_id,
                seq,
                base: self.base,
                opid: last,
                section: c.section,
                records,
            }
        } else {
            Message::CheckpointPart {
                channel: self.channel,
                sync_id: self.sync_id,
                seq,
                base: self.base,
                opid: last,
                section: c.section,
                after: c.after.clone(),
                upto: c.upto.clone(),
                records,
            }
        }
    }

    /// First-time chunks read from `table` at opid `last`, while `credit`
    /// (window bytes) lasts; each chunk sent takes its cost from it.
    pub fn produce(&mut self, table: &Table, last: Opid, credit: &mut usize) -> Vec<Message> {
        let mut out = Vec::new();
        while *credit > 0 && !self.read_all() {
            let (section, after) = self.cursor.clone();
            let (page, end) = table.section_page(section, after.as_ref(), None, self.budget);
            let upto = if end {
                None
            } else {
                page.last().map(|r| r.name.clone())
            };
            let bytes: usize = page.iter().map(|r| r.encoded_len()).sum();
            let cost = bytes + CHUNK_OVERHEAD;
            self.cursor = match &upto {
                Some(u) => (section, Some(u.clone())),
                None => (section + 1, None),
            };
            self.chunks.push(Chunk {
                section,
                after,
                upto,
                cost,
                acked: false,
                sent: self.tick,
            });
            self.in_flight += cost;
            *credit = credit.saturating_sub(cost);
            out.push(self.message(self.chunks.len() - 1, table, last));
        }
        out
    }

    /// Re-read and resend chunks sent but not acked (lost on the link). A
    /// range that no longer fits one chunk is split (see module docs).
    pub fn resend(&mut self, table: &Table, last: Opid) -> Vec<Message> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.chunks.len() {
            if !self.chunks[i].acked {
                let c = &self.chunks[i];
                let (page, end) =
                    table.section_page(c.section, c.after.as_ref(), c.upto.as_ref(), self.budget);
                if !end {
                    // Grown: keep the first page here, the rest in a new
                    // chunk that this loop reaches in turn.
                    let split = page.last().map(|r| r.name.clone());
                    let rest = Chunk {
                        section: c.section,
                        after: split.clone(),
                        upto: c.upto.clone(),
                        cost: CHUNK_OVERHEAD,
                        acked: false,
                        sent: self.tick,
                    };
                    self.chunks[i].upto = split;
                    self.in_flight += rest.cost;
                    self.chunks.push(rest);
                }
                self.chunks[i].sent = self.tick;
                out.push(self.message(i, table, last));
            }
            i += 1;
        }
        out
    }

    /// The round trip of the last chunk acknowledged, in ticks, once.
    pub fn take_rtt(&mut self) -> Option<u64> {
        self.rtt.take()
    }

    /// The standby acknowledged a chunk of this attempt.
    pub fn any_acked(&self) -> bool {
        self.acked > 0
    }

    /// One tick: resend the unacked chunks when no chunk was acked since
    /// the previous tick, backing off while none is (see `backoff`), and
    /// the declaration if it is not acknowledged; only while the standby
    /// acknowledges nothing at all (`peer_quiet`, see
    /// [`Backoff::tick_if_quiet`]): resending what is queued behind its
    /// other acknowledgements would only lengthen that queue.
    pub fn resend_stalled(&mut self, table: &Table, last: Opid, peer_quiet: bool) -> Vec<Message> {
        let declaring = self.declared && !self.done;
        let outstanding = self.acked < self.chunks.len() || declaring;
        if !self
            .stall
            .tick_if_quiet(self.acked as u64, outstanding, peer_quiet)
        {
            return Vec::new();
        }
        let mut out = self.resend(table, last);
        if declaring && self.acked == self.chunks.len() {
            out.push(self.declaration_message());
        }
        out
    }

    /// A checkpoint ack; `seq` one past the last chunk acknowledges the
    /// declaration (sent only once every chunk is acked).
    pub fn on_ack(&mut self, seq: u32) {
        let seq = seq as usize;
        if seq == self.chunks.len() {
            if self.read_all() && self.acked == self.chunks.len() {
                self.done = true;
            }
        } else if let Some(c) = self.chunks.get_mut(seq) {
            if !c.acked {
                self.rtt = Some(self.tick.saturating_sub(c.sent));
                c.acked = true;
                self.acked += 1;
                self.in_flight -= c.cost;
            }
        }
    }

    /// The declaration, when due: all chunks acked and the kernel acked
    /// every chunk's opid. Sent repeatedly (on progress and on ticks) until
    /// acknowledged; the standby treats repeats as idempotent.
    pub fn declaration(&self, kernel_acked: Opid) -> Option<Message> {
        let all = self.read_all() && self.acked == self.chunks.len();
        (all && !self.done && kernel_acked >= self.max_opid).then(|| self.declaration_message())
    }

    /// The declaration the first time it is due; afterwards only a stalled
    /// sync sends it again (`resend_stalled`).
    pub fn declare(&mut self, kernel_acked: Opid) -> Option<Message> {
        if self.declared {
            return None;
        }
        let msg = self.declaration(kernel_acked)?;
        self.declared = true;
        Some(msg)
    }

    fn declaration_message(&self) -> Message {
        Message::SyncDeclaration {
            channel: self.channel,
            sync_id: self.sync_id,
            base: self.base,
            opid: self.max_opid,
            // As many chunks as seqs, which fit u32 (see `message`).
            chunks: self.chunks.len() as u32,
        }
    }
}

#[cfg(test)]
mod tests;
