// SPDX-License-Identifier: GPL-2.0

//! The module-wide rules: channel limits, and claims that take every named
//! channel or none.

use core::sync::atomic::Ordering;

use kernel::prelude::*;

use super::parse_test::{set_op, Buf};
use super::{check, check_eq, cookie, errno, kunit_suite, must, Test};
use crate::channel::Channel;
use crate::error::{fail, HResult, ESTALE};
use crate::params::Params;
use crate::state::{ChannelRef, State, Target};
use crate::uapi::attr;

fn state(max_channels: u32) -> Result<Pin<KBox<State>>> {
    let params = Params {
        max_channels,
        max_entries: 100,
        cookie_log_len: 16,
    };
    KBox::pin_init(State::new(params), GFP_KERNEL)
}

fn epochs(s: &State, ids: &[u32]) -> [u32; 3] {
    let mut out = [u32::MAX; 3];
    for (o, id) in out.iter_mut().zip(ids) {
        if let Ok(ch) = s.channel(*id) {
            *o = ch.inner.lock().epoch;
        }
    }
    out
}

/// A claim's `prepare` that only counts, and an `each` that does nothing.
fn count(n: usize) -> HResult<usize> {
    Ok(n)
}

fn ignore(_: &mut usize, _: &ChannelRef, _: &Channel) {}

fn channel_limits(t: &Test) {
    let s = must!(t, state(2));
    must!(t, s.channel_new(1, b"one", Some(4)));
    check_eq!(t, errno(&s.channel_new(1, b"", None)), EEXIST.to_errno());
    check_eq!(t, errno(&s.channel_new(2, b"", Some(3))), EINVAL.to_errno());
    check_eq!(
        t,
        errno(&s.channel_new(2, b"", Some(128))),
        EINVAL.to_errno()
    );
    check_eq!(
        t,
        errno(&s.channel_new(2, &[b'x'; 32], None)),
        EINVAL.to_errno()
    );
    must!(t, s.channel_new(2, b"", None));
    check_eq!(t, must!(t, s.channel(2)).nsections, 64);
    check_eq!(t, errno(&s.channel_new(3, b"", None)), ENOSPC.to_errno());
    must!(t, s.channel_del(1));
    must!(t, s.channel_new(3, b"", None));
    check_eq!(t, s.info().channels, 2);
}

fn claim_all_or_nothing(t: &Test) {
    let s = must!(t, state(8));
    for id in 1..=3 {
        must!(t, s.channel_new(id, b"", Some(8)));
    }
    must!(t, s.channel(2)).inner.lock().claim(9);
    // One channel already has a newer owner: nothing changes.
    let r = s.claim(5, Target::All, count, ignore);
    check_eq!(t, errno(&r), ESTALE().to_errno());
    check_eq!(t, cookie(&r), 9);
    check_eq!(t, epochs(&s, &[1, 2, 3]), [0, 9, 0]);
    // The reply cannot be made: nothing changes either.
    let r = s.claim(
        9,
        Target::All,
        |_| -> HResult<usize> { Err(fail!(ENOMEM, Nomem, "no reply")) },
        ignore,
    );
    check_eq!(t, errno(&r), ENOMEM.to_errno());
    check_eq!(t, epochs(&s, &[1, 2, 3]), [0, 9, 0]);
    // It succeeds: every channel, each reported once.
    let (seen, claimed) = must!(
        t,
        s.claim(
            9,
            Target::All,
            |n| Ok((n, 0usize)),
            |c, _, ch| { c.1 += usize::from(ch.epoch == 9) }
        )
    );
    check_eq!(t, seen, (3, 3));
    check_eq!(t, claimed.len(), 3);
    check_eq!(t, epochs(&s, &[1, 2, 3]), [9, 9, 9]);
}

fn claim_by_id(t: &Test) {
    let s = must!(t, state(8));
    for id in 1..=3 {
        must!(t, s.channel_new(id, b"", Some(8)));
    }
    let mut ids = Buf::new();
    must!(t, ids.put(attr::channel::ID, &1u32.to_ne_bytes()));
    must!(t, ids.put(attr::channel::ID, &7u32.to_ne_bytes()));
    let r = s.claim(4, Target::Ids(ids.attrs()), count, ignore);
    check_eq!(t, errno(&r), ENOENT.to_errno());
    check_eq!(t, epochs(&s, &[1, 2, 3]), [0, 0, 0]);
    let mut ids = Buf::new();
    must!(t, ids.put(attr::channel::ID, &1u32.to_ne_bytes()));
    must!(t, ids.put(attr::channel::ID, &3u32.to_ne_bytes()));
    let (n, _) = must!(t, s.claim(4, Target::Ids(ids.attrs()), count, ignore));
    check_eq!(t, n, 2);
    check_eq!(t, epochs(&s, &[1, 2, 3]), [4, 0, 4]);
    check!(
        t,
        s.claim(1, Target::Ids(Buf::new().attrs()), count, ignore)
            .is_err()
    );
}

fn replays_belong_to_sockets(t: &Test) {
    let s = must!(t, state(8));
    for id in 1..=3 {
        must!(t, s.channel_new(id, b"", Some(8)));
    }
    let (a, b) = ((1, 10), (1, 11));
    must!(t, s.replay_begin(a, 1, 1, 0, 1));
    // One open replay per socket, whichever channel.
    check_eq!(t, errno(&s.replay_begin(a, 2, 1, 0, 1)), EBUSY.to_errno());
    must!(t, s.replay_begin(b, 2, 1, 0, 1));
    check_eq!(t, s.replays.load(Ordering::Relaxed), 2);
    s.socket_closed(a);
    check!(t, must!(t, s.channel(1)).inner.lock().replay.is_none());
    check!(t, must!(t, s.channel(2)).inner.lock().replay.is_some());
    check_eq!(t, s.replays.load(Ordering::Relaxed), 1);
    must!(t, s.replay_abort(b, 2));
    check_eq!(t, s.replays.load(Ordering::Relaxed), 0);
    // A deleted channel refuses the requests that found it before.
    let ch = must!(t, s.channel(3));
    must!(t, s.channel_del(3));
    let mut ops = Buf::new();
    must!(t, ops.nest(attr::update::OP, &must!(t, set_op(b"eth0", 0))));
    let cookie = 1u64 << crate::hash::section_of(b"eth0", 8);
    let r = s.update(&ch, 1, 1, cookie, ops.attrs(), None);
    check_eq!(t, errno(&r), ENOENT.to_errno());
    check_eq!(t, ch.inner.lock().register, 0);
}

kunit_suite!(
    "hasync_state",
    [
        channel_limits,
        claim_all_or_nothing,
        claim_by_id,
        replays_belong_to_sockets
    ]
);
