//! Pipelined updates: many `update` messages in one `sendmsg`, each
//! answered by its own reply, matched by sequence number.
//!
//! Updates go out without `NLM_F_ACK`: the reply (the ACK) or the error is
//! their only answer, which halves what queues in the receive buffer.

use crate::client::{data_of, Client};
use crate::error::{Error, KernelError};
use crate::generated::cmd;
use crate::update::{Ack, Update};

pub use crate::genl::MAX_SEND;

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
        let reqs = updates
            .iter()
            .map(|u| Ok(self.request(cmd::UPDATE, false, u.encode()?)))
            .collect::<Result<Vec<_>, Error>>()?;
        let outcomes = self.pipeline(&reqs)?;
        updates
            .iter()
            .zip(outcomes)
            .map(|(u, o)| match data_of(cmd::UPDATE, o)? {
                Ok(attrs) => Ok(Ok(Ack::answering(u, &attrs)?)),
                Err(e) => Ok(Err(e)),
            })
            .collect()
    }
}
