//! Pipelined updates: many `update` messages in one `sendmsg`, each
//! answered by its own reply, matched by sequence number.
//!
//! Updates go out without `NLM_F_ACK`: the reply (the ACK) or the error is
//! their only answer, which halves what queues in the receive buffer.

use crate::client::{data_of, Client};
use crate::error::{Error, KernelError};
use crate::generated::cmd;
use crate::genl::Request;
use crate::update::{Ack, Update};

pub use crate::genl::MAX_SEND;

/// Updates encoded once, to be sent by [`Client::send_encoded`]: what a
/// benchmark of the module keeps out of its timed loop, as its `nlctrl`
/// baseline does.
#[derive(Debug, Clone)]
pub struct EncodedUpdates {
    reqs: Vec<Request>,
    /// Channel of each update, to check its ACK.
    channels: Vec<u32>,
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
    pub fn update_batch(
        &mut self,
        updates: &[Update],
    ) -> Result<Vec<Result<Ack, KernelError>>, Error> {
        let batch = self.encode_updates(updates)?;
        self.send_encoded(&batch)
    }

    /// Encodes `updates` for [`Client::send_encoded`].
    pub fn encode_updates(&self, updates: &[Update]) -> Result<EncodedUpdates, Error> {
        Ok(EncodedUpdates {
            reqs: updates
                .iter()
                .map(|u| Ok(self.request(cmd::UPDATE, false, u.encode()?)))
                .collect::<Result<Vec<_>, Error>>()?,
            channels: updates.iter().map(|u| u.channel).collect(),
        })
    }

    /// [`Client::update_batch`] of updates encoded beforehand.
    pub fn send_encoded(
        &mut self,
        batch: &EncodedUpdates,
    ) -> Result<Vec<Result<Ack, KernelError>>, Error> {
        let outcomes = self.pipeline(&batch.reqs)?;
        batch
            .channels
            .iter()
            .zip(outcomes)
            .map(|(&channel, o)| match data_of(cmd::UPDATE, o)? {
                Ok(attrs) => {
                    let ack = Ack::from_attrs(&attrs)?;
                    crate::client::check_echo("channel", channel, ack.channel)?;
                    Ok(Ok(ack))
                }
                Err(e) => Ok(Err(e)),
            })
            .collect()
    }
}
