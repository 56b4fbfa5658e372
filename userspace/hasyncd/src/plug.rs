//! Output commit for the TCP face: the `plug` qdisc on the service
//! interface holds every packet the primary's kernel sends there until
//! the daemon releases it.
//!
//! The qdisc counts packets between barriers and keeps one barrier
//! outstanding at a time: [`Plug::buffer`] closes the packets queued so
//! far into an epoch, [`Plug::release_one`] lets that epoch go. The daemon
//! runs one commit round at a time, so the two alternate:
//!
//! 1. `buffer`: everything the kernel sent so far (acknowledgements of
//!    the requests received, the replies written) is one epoch;
//! 2. the connections' state is read and sent to the hot standbys;
//! 3. once they hold it, `release_one`: the epoch goes out.
//!
//! A client therefore never sees an acknowledgement or a reply that the
//! unit taking over would not know of. [`Plug::release_indefinite`] lets
//! everything pass (no connections to protect).
//!
//! The messages are built here on a raw rtnetlink socket, as
//! `tc qdisc add dev IFACE root plug` and `tc qdisc change dev IFACE root
//! plug release` send them.

use crate::rtnl::Rtnl;
use std::io;

// <linux/rtnetlink.h>, <linux/pkt_sched.h>
const RTM_NEWQDISC: u16 = 36;
const RTM_DELQDISC: u16 = 37;
const TCA_KIND: u16 = 1;
const TCA_OPTIONS: u16 = 2;
const TC_H_ROOT: u32 = 0xFFFF_FFFF;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;

/// `enum` of `struct tc_plug_qopt`'s action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum Action {
    /// Close the packets queued since the last barrier into an epoch.
    Buffer = 0,
    /// Let the oldest closed epoch go.
    ReleaseOne = 1,
    /// Let everything go, now and until the next `Buffer`.
    ReleaseIndefinite = 2,
}

/// The plug qdisc on one interface.
#[derive(Debug)]
pub struct Plug {
    index: u32,
    rtnl: Rtnl,
}

impl Plug {
    /// Replaces the interface's root qdisc with a plug that lets
    /// everything pass until the first [`Plug::buffer`].
    pub fn install(index: u32) -> io::Result<Self> {
        let p = Plug::open(index)?;
        // One left by a daemon that died: its held packets go with it.
        if let Err(e) = p.delete() {
            tracing::debug!(error = %e, "removing the previous root qdisc");
        }
        // An explicit limit: the default is the interface's txqueuelen in
        // packets' worth of bytes, which is 0 on some virtual interfaces.
        p.call(&qdisc_msg(
            RTM_NEWQDISC,
            NLM_F_EXCL | NLM_F_CREATE,
            index,
            Some((Action::ReleaseIndefinite, LIMIT)),
        ))?;
        p.act(Action::ReleaseIndefinite)?;
        Ok(p)
    }

    /// Takes a plug a dead daemon left on `index` off, dropping what it
    /// held (the dead daemon's unreleased output, its FINs included).
    pub fn clear(index: u32) -> io::Result<()> {
        Plug::open(index)?.delete()
    }

    fn open(index: u32) -> io::Result<Self> {
        Ok(Plug {
            index,
            rtnl: Rtnl::open()?,
        })
    }

    /// Deletes the root qdisc; none there (the default) is fine.
    fn delete(&self) -> io::Result<()> {
        match self.call(&qdisc_msg(RTM_DELQDISC, 0, self.index, None)) {
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::EINVAL)) => Ok(()),
            other => other,
        }
    }

    /// Tells the qdisc `action`.
    pub fn act(&self, action: Action) -> io::Result<()> {
        self.call(&qdisc_msg(RTM_NEWQDISC, 0, self.index, Some((action, 0))))
    }

    /// Takes the plug off: whatever it still holds is dropped.
    pub fn remove(self) -> io::Result<()> {
        self.call(&qdisc_msg(RTM_DELQDISC, 0, self.index, None))
    }

    fn call(&self, msg: &[u8]) -> io::Result<()> {
        self.rtnl.call(msg)
    }
}

/// Most bytes the plug holds.
const LIMIT: u32 = 16 << 20;

/// An `RTM_NEWQDISC` / `RTM_DELQDISC` for the root plug of `index`, with
/// `struct tc_plug_qopt { action, limit }` as its options when given.
fn qdisc_msg(kind: u16, flags: u16, index: u32, action: Option<(Action, u32)>) -> Vec<u8> {
    let mut m = vec![0u8; 16];
    // struct tcmsg: family, pads, ifindex, handle, parent, info.
    m.extend_from_slice(&[libc::AF_UNSPEC as u8, 0, 0, 0]);
    m.extend_from_slice(&(index as i32).to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(&TC_H_ROOT.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    if kind == RTM_NEWQDISC {
        // "plug" and its NUL, padded to four bytes.
        m.extend_from_slice(&9u16.to_ne_bytes());
        m.extend_from_slice(&TCA_KIND.to_ne_bytes());
        m.extend_from_slice(b"plug\0\0\0\0");
    }
    if let Some((a, limit)) = action {
        // struct tc_plug_qopt { int action; __u32 limit; }, not nested.
        m.extend_from_slice(&12u16.to_ne_bytes());
        m.extend_from_slice(&TCA_OPTIONS.to_ne_bytes());
        m.extend_from_slice(&(a as i32).to_ne_bytes());
        m.extend_from_slice(&limit.to_ne_bytes());
    }
    let len = m.len() as u32;
    m[0..4].copy_from_slice(&len.to_ne_bytes());
    m[4..6].copy_from_slice(&kind.to_ne_bytes());
    m[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_ACK | flags).to_ne_bytes());
    m[8..12].copy_from_slice(&1u32.to_ne_bytes());
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qdisc_messages_have_tcs_layout() {
        let add = qdisc_msg(RTM_NEWQDISC, NLM_F_EXCL | NLM_F_CREATE, 5, None);
        assert_eq!(add.len(), 16 + 20 + 12);
        assert_eq!(u32::from_ne_bytes(add[0..4].try_into().expect("4")), 48);
        assert_eq!(u16::from_ne_bytes([add[4], add[5]]), RTM_NEWQDISC);
        assert_eq!(u16::from_ne_bytes([add[6], add[7]]), 0x605);
        assert_eq!(i32::from_ne_bytes(add[20..24].try_into().expect("4")), 5);
        assert_eq!(
            u32::from_ne_bytes(add[28..32].try_into().expect("4")),
            TC_H_ROOT
        );
        assert_eq!(
            &add[36..48],
            &[9, 0, 1, 0, b'p', b'l', b'u', b'g', 0, 0, 0, 0]
        );
        let rel = qdisc_msg(RTM_NEWQDISC, 0, 5, Some((Action::ReleaseOne, 0)));
        assert_eq!(rel.len(), 60);
        assert_eq!(
            u16::from_ne_bytes([rel[6], rel[7]]),
            NLM_F_REQUEST | NLM_F_ACK
        );
        assert_eq!(&rel[48..52], &[12, 0, 2, 0]);
        assert_eq!(i32::from_ne_bytes(rel[52..56].try_into().expect("4")), 1);
        let del = qdisc_msg(RTM_DELQDISC, 0, 5, None);
        assert_eq!(del.len(), 36);
    }
}
