// SPDX-License-Identifier: GPL-2.0

//! How each object of `hasync.yaml` is laid out in a message, and how many
//! bytes it can take: interface records, channels, ACKs, claimed channels
//! and cookie log entries.  Replies, dumps and notifications all use these,
//! so an object has one layout whichever way it travels.

use crate::channel::Channel;
use crate::cookie_log::Entry;
use crate::msg::{attr_size, uint_size, Full, Writer};
use crate::record::{Iface, Name, ADDRS_MAX, DESC_MAX, NAME_MAX};
use crate::state::{ChannelRef, CHANNEL_NAME_MAX, MAX_SECTIONS};
use crate::uapi::attr;

type Put = Result<(), Full>;

/// Most bytes an `iface` object (with its `entry` wrapper) takes.
pub(crate) const IFACE_MAX: usize = attr_size(4)          // entry channel
    + attr_size(0)                                          // iface nest
    + attr_size(NAME_MAX + 1)
    + attr_size(4)                                          // section
    + attr_size(1)
    + attr_size(4)
    + attr_size(6)
    + attr_size(2)
    + ADDRS_MAX * (attr_size(0) + 2 * attr_size(1) + attr_size(16))
    + attr_size(DESC_MAX + 1)
    + attr_size(4); // speed

/// Most bytes a channel object takes, with its sections or `brief`ly.
pub(crate) const fn channel_max(brief: bool) -> usize {
    let base = attr_size(4)                                 // id
        + attr_size(CHANNEL_NAME_MAX + 1)
        + attr_size(4)                                      // sections
        + attr_size(8)                                      // register
        + attr_size(4)                                      // epoch
        + attr_size(4)                                      // entries
        + attr_size(8)                                      // log-first-opid
        + attr_size(4); // register-epoch
    let section = attr_size(0) + attr_size(4) + attr_size(4) + attr_size(8);
    if brief {
        base
    } else {
        base + MAX_SECTIONS as usize * section
    }
}

/// Most bytes of one `claimed` nest.
pub(crate) const CLAIMED_MAX: usize = attr_size(0) + attr_size(4) + attr_size(8) + 2 * attr_size(4);

/// An interface record in an `entry-get` reply, dump or `entry-ntf`;
/// `None` for a record that was deleted (name and section only).
pub(crate) fn iface(
    w: &mut Writer<'_>,
    channel: u32,
    section: u32,
    name: &Name,
    rec: Option<&Iface>,
) -> Put {
    w.u32(attr::entry::CHANNEL, channel)?;
    w.nest(attr::entry::IFACE, |w| {
        w.string(attr::iface::NAME, name.as_bytes())?;
        w.u32(attr::iface::SECTION, section)?;
        let Some(rec) = rec else {
            return Ok(());
        };
        w.u8(attr::iface::ADMIN_UP, u8::from(rec.admin_up))?;
        w.u32(attr::iface::MTU, rec.mtu)?;
        w.bytes(attr::iface::MAC, &rec.mac)?;
        w.u16(attr::iface::VLAN, rec.vlan)?;
        for a in rec.addrs.iter() {
            w.nest(attr::iface::ADDR, |w| {
                w.u8(attr::addr::FAMILY, a.family)?;
                w.u8(attr::addr::PREFIX_LEN, a.prefix_len)?;
                w.bytes(attr::addr::ADDRESS, a.addr_bytes())
            })?;
        }
        if !rec.desc.is_empty() {
            w.string(attr::iface::DESC, &rec.desc)?;
        }
        // Only when known: a reply stays what a reader of module 0.1.0
        // expects for every record that has no speed.
        if rec.speed != 0 {
            w.u32(attr::iface::SPEED, rec.speed)?;
        }
        Ok(())
    })
}

/// A channel in a `channel-get` reply, dump or `channel-ntf`; `None` for a
/// channel that was deleted (id, name and sections only).
pub(crate) fn channel(
    w: &mut Writer<'_>,
    ch: &ChannelRef,
    c: Option<&Channel>,
    brief: bool,
) -> Put {
    w.u32(attr::channel::ID, ch.id)?;
    w.string(attr::channel::NAME, ch.name())?;
    w.u32(attr::channel::SECTIONS, ch.nsections)?;
    let Some(c) = c else {
        return Ok(());
    };
    w.uint(attr::channel::REGISTER, c.register)?;
    w.u32(attr::channel::EPOCH, c.epoch)?;
    w.u32(attr::channel::REGISTER_EPOCH, c.register_epoch)?;
    w.u32(attr::channel::ENTRIES, c.entries)?;
    w.uint(attr::channel::LOG_FIRST_OPID, c.log.first_opid())?;
    if brief {
        return Ok(());
    }
    for (i, s) in c.sections.iter().enumerate() {
        w.nest(attr::channel::SECTION, |w| {
            // At most MAX_SECTIONS.
            w.u32(attr::section::INDEX, i as u32)?;
            w.u32(attr::section::ENTRIES, s.count)?;
            w.uint(attr::section::DIGEST, s.digest)
        })?;
    }
    Ok(())
}

/// One claimed channel in a claim's reply.
pub(crate) fn claimed(w: &mut Writer<'_>, id: u32, c: &Channel) -> Put {
    w.nest(attr::channel::CLAIMED, |w| {
        w.u32(attr::claimed::ID, id)?;
        w.uint(attr::claimed::REGISTER, c.register)?;
        w.u32(attr::claimed::EPOCH, c.epoch)?;
        w.u32(attr::claimed::REGISTER_EPOCH, c.register_epoch)
    })
}

/// An acknowledgement: an update's reply and `ack-ntf`, or a replay's
/// `ack-ntf` (its cookie the replayed sections).
pub(crate) struct Ack {
    pub(crate) channel: u32,
    pub(crate) epoch: Option<u32>,
    pub(crate) opid: u64,
    pub(crate) cookie: u64,
    pub(crate) duplicate: bool,
}

impl Ack {
    /// Most bytes an ACK takes.
    pub(crate) const MAX_SIZE: usize = 2 * attr_size(4) + 2 * attr_size(8) + attr_size(0);

    pub(crate) fn size(&self) -> usize {
        attr_size(4)
            + self.epoch.map_or(0, |_| attr_size(4))
            + uint_size(self.opid)
            + uint_size(self.cookie)
            + if self.duplicate { attr_size(0) } else { 0 }
    }

    pub(crate) fn put(&self, w: &mut Writer<'_>) -> Put {
        w.u32(attr::update::CHANNEL, self.channel)?;
        if let Some(e) = self.epoch {
            w.u32(attr::update::EPOCH, e)?;
        }
        w.uint(attr::update::OPID, self.opid)?;
        w.uint(attr::update::COOKIE, self.cookie)?;
        if self.duplicate {
            w.flag(attr::update::DUPLICATE)?;
        }
        Ok(())
    }
}

/// One cookie log entry of a `cookies` dump.
pub(crate) fn cookie_entry(w: &mut Writer<'_>, e: &Entry) -> Put {
    w.nest(attr::cookies::ENTRY, |w| {
        w.uint(attr::cookie_entry::OPID, e.opid)?;
        w.u32(attr::cookie_entry::EPOCH, e.epoch)?;
        w.uint(attr::cookie_entry::SECTIONS, e.cookie)
    })
}
