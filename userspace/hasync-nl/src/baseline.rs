//! The benchmarks' in-run baseline: `nlctrl` GETFAMILY, which every kernel
//! has, sent pipelined at the same batch size as the module's updates, so
//! the module's apply rate is a ratio to the kernel's own generic netlink
//! round trip measured in the same run.

use crate::attr::AttrWriter;
use crate::ctrl::{CTRL_ATTR_FAMILY_NAME, CTRL_CMD_GETFAMILY, CTRL_VERSION, GENL_ID_CTRL};
use crate::error::Error;
use crate::genl::{Genl, Outcome, Request};

/// A socket that sends batches of GETFAMILY requests.
pub struct CtrlBaseline {
    genl: Genl,
    batch: Vec<Request>,
}

impl CtrlBaseline {
    /// Opens a socket; each [`CtrlBaseline::run_batch`] sends `batch`
    /// GETFAMILY requests for `family` in one `sendmsg` (as long as they
    /// fit in [`crate::MAX_SEND`] bytes).
    pub fn open(family: &str, batch: usize) -> Result<Self, Error> {
        let mut w = AttrWriter::new();
        w.put_str(CTRL_ATTR_FAMILY_NAME, family);
        let req = Request {
            nl_type: GENL_ID_CTRL,
            flags: 0,
            cmd: CTRL_CMD_GETFAMILY,
            version: CTRL_VERSION,
            attrs: w.finish()?,
            quiet: false,
        };
        Ok(CtrlBaseline {
            genl: Genl::open()?,
            batch: vec![req; batch.max(1)],
        })
    }

    /// Sends one batch and waits for every answer; returns how many were
    /// replies (the rest were errors).
    pub fn run_batch(&mut self) -> Result<usize, Error> {
        let out = self.genl.pipeline(&self.batch)?;
        Ok(out
            .iter()
            .filter(|o| matches!(o, Outcome::Data(..)))
            .count())
    }

    /// Bytes received so far.
    pub fn rx_bytes(&self) -> u64 {
        self.genl.rx_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_answered() {
        let mut b = match CtrlBaseline::open("nlctrl", 16) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("skipped, no generic netlink socket: {e}");
                return;
            }
        };
        assert_eq!(b.run_batch().expect("runs"), 16);
        assert_eq!(b.run_batch().expect("runs"), 16);
        assert!(b.rx_bytes() > 0);
        let mut none = CtrlBaseline::open("hasync-none", 4).expect("opens");
        assert_eq!(none.run_batch().expect("runs"), 0);
    }
}
