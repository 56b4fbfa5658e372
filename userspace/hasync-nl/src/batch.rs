//! Pipelined updates: many `update` messages in one `sendmsg`, each
//! answered by its own reply, matched by sequence number.
//!
//! Updates go out without `NLM_F_ACK`: the reply (the ACK) or the error is
//! their only answer, which halves what queues in the receive buffer. A
//! run of updates of one channel is answered by its last update alone
//! (the others are flagged `more`; ACKs are cumulative), which cuts it to
//! one reply per channel per send.

use std::collections::BTreeSet;

use crate::attr::AttrWriter;
use crate::client::{data_of, Client};
use crate::error::{Error, KernelError};
use crate::generated::{attr::update, cmd};
use crate::genl::{Outcome, Request};
use crate::update::{Ack, Update};

pub use crate::genl::MAX_SEND;

/// Updates encoded once, to be sent by [`Client::send_encoded`]: what a
/// benchmark of the module keeps out of its timed loop, as its `nlctrl`
/// baseline does.
#[derive(Debug, Clone)]
pub struct EncodedUpdates {
    reqs: Vec<Request>,
    updates: Vec<Sent>,
}

/// What an ACK must echo, or what stands for one a run covered.
#[derive(Debug, Clone, Copy)]
struct Sent {
    channel: u32,
    opid: u64,
    cookie: u64,
}

impl Sent {
    fn of(u: &Update) -> Self {
        Sent {
            channel: u.channel,
            opid: u.opid,
            cookie: u.cookie,
        }
    }
}

impl EncodedUpdates {
    /// Updates in the batch.
    pub fn len(&self) -> usize {
        self.reqs.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }
}

impl Client {
    /// Sends `updates` packed into as few `sendmsg` calls as
    /// [`MAX_SEND`] bytes allow, and returns each one's ACK or error, in
    /// order. The kernel applies them in order, so after a failure the
    /// rest of the same channel usually fail too (an opid gap).
    ///
    /// The outer error is for the socket and for replies that cannot be
    /// read: then which updates were applied is unknown (read the
    /// channel's register). An `ENOBUFS` there means the replies to one
    /// send overran the socket's receive buffer: send fewer at a time.
    ///
    /// A run of updates of one channel is answered by its last update's
    /// ACK (a module without the `more` attribute answers each): the
    /// others' ACKs are inferred, with no epoch and `duplicate` false even
    /// if the kernel had applied them before.
    pub fn update_batch(
        &mut self,
        updates: &[Update],
    ) -> Result<Vec<Result<Ack, KernelError>>, Error> {
        let batch = self.encode_updates(updates)?;
        self.send_encoded(&batch)
    }

    /// Encodes `updates` for [`Client::send_encoded`]. An update followed
    /// by another of its channel is flagged `more` when the module knows
    /// the flag: it then answers only the last of such a run, with an ACK
    /// that covers the run.
    pub fn encode_updates(&mut self, updates: &[Update]) -> Result<EncodedUpdates, Error> {
        let coalesce =
            self.coalesce && updates.len() > 1 && self.accepts(cmd::UPDATE, update::MORE)?;
        let mut more = AttrWriter::new();
        more.put_flag(update::MORE);
        let more = more.finish()?;
        // Whether a later update of the same channel follows, from the end.
        let mut later = BTreeSet::new();
        let mut followed: Vec<bool> = updates
            .iter()
            .rev()
            .map(|u| coalesce && !later.insert(u.channel))
            .collect();
        followed.reverse();
        let mut reqs = Vec::with_capacity(updates.len());
        for (u, quiet) in updates.iter().zip(followed) {
            let mut attrs = u.encode()?;
            if quiet {
                attrs.extend_from_slice(&more);
            }
            let mut r = self.request(cmd::UPDATE, false, attrs);
            r.quiet = quiet;
            reqs.push(r);
        }
        Ok(EncodedUpdates {
            reqs,
            updates: updates.iter().map(Sent::of).collect(),
        })
    }

    /// Whether runs of updates of one channel get one ACK (the default) or
    /// one each, as without the `more` flag (for benchmarks).
    pub fn coalesce_acks(&mut self, on: bool) {
        self.coalesce = on;
    }

    /// [`Client::update_batch`] of updates encoded beforehand.
    pub fn send_encoded(
        &mut self,
        batch: &EncodedUpdates,
    ) -> Result<Vec<Result<Ack, KernelError>>, Error> {
        let outcomes = self.pipeline(&batch.reqs)?;
        batch
            .updates
            .iter()
            .zip(outcomes)
            .map(|(u, o)| match o {
                // Applied or a duplicate: the run's last ACK covers it.
                Outcome::Quiet => Ok(Ok(Ack {
                    channel: u.channel,
                    epoch: None,
                    opid: u.opid,
                    cookie: u.cookie,
                    duplicate: false,
                })),
                o => match data_of(cmd::UPDATE, o)? {
                    Ok(attrs) => {
                        let ack = Ack::from_attrs(&attrs)?;
                        crate::client::check_echo("channel", u.channel, ack.channel)?;
                        Ok(Ok(ack))
                    }
                    Err(e) => Ok(Err(e)),
                },
            })
            .collect()
    }
}
