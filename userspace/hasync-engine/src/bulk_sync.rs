//! Sending side of a bulk sync: snapshot chunks with acks, then a
//! sync declaration.
//!
//! A new or returning standby gets, per channel, one checkpoint chunk per
//! section while updates continue. Chunks are paced (`chunks_per_step`) so
//! normal traffic interleaves; each chunk is read at the primary's current
//! opid, so the snapshot is *fuzzy*. That is sound because every op sets
//! state to a value it carries ([`crate::table::Op`]): the standby keeps
//! every update after `base` and, at the declaration, redoes them on the
//! assembled snapshot, which converges to the exact state.
//!
//! The declaration goes out once every chunk is acked **and** the kernel
//! acked the highest chunk opid, so the standby's table never contains an
//! effect the kernel might not have; from then on the channel is Hot. The
//! seed's "resend checkpoints if the flow state changed" becomes: if the
//! standby's buffer overflows during the sync it requests a new sync (new
//! `sync_id`, new `base`) and the old attempt is dropped.

use crate::backoff::Backoff;
use crate::table::Table;
use crate::wire::Message;
use crate::{ChannelId, Opid};

/// Progress of one bulk sync of one channel to one standby.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkSend {
    /// Channel.
    pub channel: ChannelId,
    /// Attempt id (unique per primary, increasing).
    pub sync_id: u64,
    /// Stream position at start.
    pub base: Opid,
    /// Next section to send for the first time.
    pub next_section: u32,
    /// Per section: acked yet?
    pub acked: Vec<bool>,
    /// Highest opid any chunk was read at.
    pub max_opid: Opid,
    /// Declaration acknowledged: the sync is complete.
    pub done: bool,
    /// Pacing of chunk resends (progress: chunks acked).
    stall: Backoff,
}

impl BulkSend {
    /// Start a sync at stream position `base`.
    pub fn new(channel: ChannelId, sync_id: u64, base: Opid, sections: u32) -> Self {
        BulkSend {
            channel,
            sync_id,
            base,
            next_section: 0,
            acked: vec![false; sections as usize],
            max_opid: base,
            done: false,
            stall: Backoff::new(0),
        }
    }

    fn chunk(&mut self, table: &Table, last: Opid, section: u32) -> Message {
        self.max_opid = self.max_opid.max(last);
        Message::Checkpoint {
            channel: self.channel,
            sync_id: self.sync_id,
            seq: section,
            base: self.base,
            opid: last,
            section,
            records: table.section_records(section),
        }
    }

    /// Up to `max` first-time chunks, read from `table` at opid `last`.
    pub fn produce(&mut self, table: &Table, last: Opid, max: usize) -> Vec<Message> {
        let mut out = Vec::new();
        while out.len() < max && (self.next_section as usize) < self.acked.len() {
            let s = self.next_section;
            self.next_section += 1;
            out.push(self.chunk(table, last, s));
        }
        out
    }

    /// Re-read and resend chunks sent but not acked (lost on the link).
    pub fn resend(&mut self, table: &Table, last: Opid) -> Vec<Message> {
        let unacked: Vec<u32> = (0..self.next_section)
            .filter(|&s| !self.acked[s as usize])
            .collect();
        unacked
            .into_iter()
            .map(|s| self.chunk(table, last, s))
            .collect()
    }

    /// The standby acknowledged a chunk of this attempt.
    pub fn any_acked(&self) -> bool {
        self.acked.iter().any(|&a| a)
    }

    /// One tick: resend the unacked chunks when no chunk was acked since
    /// the previous tick, backing off while none is (see `backoff`).
    pub fn resend_stalled(&mut self, table: &Table, last: Opid) -> Vec<Message> {
        let acked = self.acked.iter().filter(|&&a| a).count();
        let unacked = acked < self.next_section as usize;
        if self.stall.tick(acked as u64, unacked) {
            self.resend(table, last)
        } else {
            Vec::new()
        }
    }

    /// A checkpoint ack; `seq == sections` acknowledges the declaration.
    pub fn on_ack(&mut self, seq: u32) {
        if seq as usize == self.acked.len() {
            self.done = true;
        } else if let Some(a) = self.acked.get_mut(seq as usize) {
            *a = true;
        }
    }

    /// The declaration, when due: all chunks acked and the kernel acked
    /// every chunk's opid. Sent repeatedly (on progress and on ticks) until
    /// acknowledged; the standby treats repeats as idempotent.
    pub fn declaration(&self, kernel_acked: Opid) -> Option<Message> {
        let all = (self.next_section as usize) == self.acked.len() && self.acked.iter().all(|&a| a);
        (all && !self.done && kernel_acked >= self.max_opid).then_some(Message::SyncDeclaration {
            channel: self.channel,
            sync_id: self.sync_id,
            base: self.base,
            opid: self.max_opid,
            chunks: self.acked.len() as u32,
        })
    }
}
