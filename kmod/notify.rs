// SPDX-License-Identifier: GPL-2.0

//! Notifications: ACKs on the `acks` group, record and channel changes on
//! the `monitor` group, to subscribers in every network namespace.
//!
//! Each is built only when someone subscribes, and is best effort: a
//! notification that cannot be allocated is dropped, never the change it
//! reports (subscribers resynchronise from the registers and dumps).

use crate::channel::Channel;
use crate::emit::{self, Ack, IFACE_MAX};
use crate::msg::{has_listeners, Dest, Msg, MSG_OVERHEAD};
use crate::record::Name;
use crate::state::ChannelRef;
use crate::uapi::cmd;

/// Multicast group numbers, in `hasync.yaml`'s order.
const GROUP_ACKS: u32 = 0;
const GROUP_MONITOR: u32 = 1;

/// Whether record changes need collecting for the monitor group.
pub(crate) fn monitor_listening() -> bool {
    has_listeners(GROUP_MONITOR)
}

fn send(
    group: u32,
    size: usize,
    cmd: u8,
    fill: impl FnOnce(&mut crate::msg::Writer<'_>) -> Result<(), crate::msg::Full>,
) {
    let Ok(mut msg) = Msg::new(MSG_OVERHEAD + size) else {
        return;
    };
    if msg.message(Dest::NOTIFY, cmd, fill).is_ok() {
        msg.multicast(group);
    }
}

/// An applied update's or a committed replay's ACK.
pub(crate) fn ack(a: &Ack) {
    if has_listeners(GROUP_ACKS) {
        send(GROUP_ACKS, a.size(), cmd::ACK_NTF, |w| a.put(w));
    }
}

/// A channel was created, deleted (`c` is `None`), claimed or replayed.
pub(crate) fn channel(ch: &ChannelRef, c: Option<&Channel>) {
    if monitor_listening() {
        send(
            GROUP_MONITOR,
            emit::channel_max(false),
            cmd::CHANNEL_NTF,
            |w| emit::channel(w, ch, c, false),
        );
    }
}

/// The records an update or replay changed, as they are now.
pub(crate) fn records(ch: &ChannelRef, changed: &[(u32, Name)]) {
    if changed.is_empty() || !monitor_listening() {
        return;
    }
    let c = ch.inner.lock();
    for (section, name) in changed {
        let rec = c.sections[*section as usize].tree.get(name);
        send(GROUP_MONITOR, IFACE_MAX, cmd::ENTRY_NTF, |w| {
            emit::iface(w, ch.id, *section, name, rec)
        });
    }
}
