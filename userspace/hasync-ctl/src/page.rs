//! Size-bounded paging of channel lists: a `status` reply and each
//! `channels` page carry as many [`ChannelStatus`] entries as fit in one
//! frame (1 000 channels of 16 sections take about six frames).
//!
//! Compact JSON composes: a frame holding `n` channels is exactly as long
//! as the same frame holding none, plus each entry's own encoding, plus
//! `n - 1` commas. So each entry is measured once with the real encoder
//! (into a byte counter), and the frame once with no channels and its
//! widest `next` field; [`PAGE_MAX`] leaves [`PAGE_HEADROOM`] bytes below
//! [`FRAME_MAX`] on top.
//!
//! A channel whose entry alone exceeds [`CHANNEL_ENTRY_MAX`] is sent with
//! its digests emptied: every entry then fits in an empty `channels` page,
//! so each page makes progress and a walk always ends. The daemon's
//! entries are an id, five numbers, a short mode word and at most 64
//! digests (the kernel's section limit), under 1.5 KB: the cut is a
//! guarantee, not something a real deployment meets.
//!
//! Pages are not atomic: each one is a snapshot of the daemon's channels
//! at the moment it is answered. A walk by increasing id still lists every
//! channel that exists throughout it exactly once, in order.

use std::io;

use crate::proto::{ChannelStatus, ChannelsPage, Response, ResponseFrame, Status, FRAME_MAX};

/// Bytes kept free below [`FRAME_MAX`] in every paged frame.
pub const PAGE_HEADROOM: usize = 1_000;

/// Largest encoded `status` or `channels` frame the daemon builds.
pub const PAGE_MAX: usize = FRAME_MAX - PAGE_HEADROOM;

/// Largest encoded [`ChannelStatus`]; a longer one loses its digests.
pub const CHANNEL_ENTRY_MAX: usize = 16 * 1024;

/// Splits `channels` (by increasing id) into the longest prefix whose
/// entries, comma-separated, take at most `room` bytes of JSON, and the id
/// of the first channel left out (`None` when every one fit). An entry
/// over [`CHANNEL_ENTRY_MAX`] is cut to no digests first. Stops reading
/// `channels` at the first one that does not fit.
pub fn take_page<I>(channels: I, room: usize) -> (Vec<ChannelStatus>, Option<u32>)
where
    I: IntoIterator<Item = ChannelStatus>,
{
    let mut page = Vec::new();
    let mut used = 0usize;
    for mut c in channels {
        let mut len = encoded_len(&c);
        if len > CHANNEL_ENTRY_MAX {
            c.digests = Vec::new();
            len = encoded_len(&c);
        }
        let need = len.saturating_add(usize::from(!page.is_empty()));
        if used.saturating_add(need) > room {
            return (page, Some(c.id));
        }
        used += need;
        page.push(c);
    }
    (page, None)
}

impl ResponseFrame {
    /// The reply to `status`: `status` (its own `channels` and
    /// `next_channel` ignored) with as many of `channels` as keep the
    /// frame within [`PAGE_MAX`], and `next_channel` set to the first one
    /// left out. With a frame already full without channels, none are
    /// included: the `channels` pages carry them all.
    pub fn status_paged<I>(id: u64, status: Status, channels: I) -> Self
    where
        I: IntoIterator<Item = ChannelStatus>,
    {
        let base = Status {
            channels: Vec::new(),
            next_channel: None,
            ..status
        };
        paged(id, channels, |channels, next_channel| {
            Response::Status(Box::new(Status {
                channels,
                next_channel,
                ..base.clone()
            }))
        })
    }

    /// The reply to `channels`: as many of `channels` (those at or above
    /// the requested id, by id) as keep the frame within [`PAGE_MAX`]; at
    /// least one whenever any is left.
    pub fn channels_paged<I>(id: u64, channels: I) -> Self
    where
        I: IntoIterator<Item = ChannelStatus>,
    {
        paged(id, channels, |channels, next| {
            Response::Channels(ChannelsPage { channels, next })
        })
    }
}

/// A frame built by `build(page, next)`, its page as long as fits.
fn paged<I>(
    id: u64,
    channels: I,
    build: impl Fn(Vec<ChannelStatus>, Option<u32>) -> Response,
) -> ResponseFrame
where
    I: IntoIterator<Item = ChannelStatus>,
{
    let empty = encoded_len(&ResponseFrame {
        id,
        body: build(Vec::new(), Some(u32::MAX)),
    });
    let (page, next) = take_page(channels, PAGE_MAX.saturating_sub(empty));
    ResponseFrame {
        id,
        body: build(page, next),
    }
}

/// Bytes `v` takes as compact JSON, without building it.
fn encoded_len<T: serde::Serialize>(v: &T) -> usize {
    struct Count(usize);
    impl io::Write for Count {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0 += b.len();
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut n = Count(0);
    match serde_json::to_writer(&mut n, v) {
        Ok(()) => n.0,
        Err(_) => usize::MAX,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::client::follow_pages;
    use crate::proto::{ChannelReport, PeerStatus, TakeoverReport, REPORT_CHANNELS_MAX};
    use crate::ClientError;

    fn channel(id: u32, sections: usize) -> ChannelStatus {
        ChannelStatus {
            id,
            mode: "syncing".into(),
            opid: u64::MAX - u64::from(id),
            acked: u64::MAX - 1,
            pending: 1_000_000,
            records: 100_000,
            // Widest digests: 20 digits each.
            digests: (0..sections as u64).map(|s| u64::MAX - s).collect(),
        }
    }

    fn report(out_of_sync: u32) -> TakeoverReport {
        TakeoverReport {
            node: "cu-b".into(),
            reason: "primary lost".into(),
            epoch: 3,
            previous_epoch: 2,
            detection_ms: 12.5,
            total_ms: 48.0,
            channels_total: out_of_sync,
            channels_in_sync: 0,
            entries_replayed: u64::MAX,
            channels: (0..out_of_sync)
                .rev()
                .map(|c| ChannelReport {
                    channel: c,
                    register: u64::MAX,
                    applied_from_pending: u64::MAX,
                    replayed_ops: u64::MAX,
                    discarded: u64::MAX,
                    replayed_sections: u64::MAX,
                    replayed_entries: u64::MAX,
                    whole_channel: true,
                    relearned: true,
                })
                .collect(),
            channels_omitted: 0,
        }
    }

    fn status(takeover: Option<TakeoverReport>) -> Status {
        Status {
            node: "cu-b".into(),
            role: "primary".into(),
            epoch: 3,
            ack_path: "both".into(),
            sync: "hot".into(),
            peers: vec![PeerStatus {
                node: "cu-a".into(),
                state: "hot".into(),
                lag: 0,
            }],
            pending: 0,
            lag: 0,
            channels: Vec::new(),
            next_channel: None,
            last_takeover: takeover.map(|r| r.capped(REPORT_CHANNELS_MAX)),
        }
    }

    /// A daemon holding `chans`, answering over the real codec; every
    /// frame it sends is checked against the size limit.
    struct Fake {
        chans: BTreeMap<u32, ChannelStatus>,
        frames: Vec<usize>,
    }

    impl Fake {
        fn send(&mut self, f: ResponseFrame) -> Response {
            let b = f.encode();
            assert!(b.len() <= PAGE_MAX, "frame of {} bytes", b.len());
            self.frames.push(b.len());
            ResponseFrame::decode(&b).expect("decodes").body
        }

        fn status(&mut self, s: Status) -> Response {
            let f = ResponseFrame::status_paged(1, s, self.chans.values().cloned());
            self.send(f)
        }

        fn channels(&mut self, from: u32) -> Response {
            let f =
                ResponseFrame::channels_paged(2, self.chans.range(from..).map(|(_, c)| c.clone()));
            self.send(f)
        }

        fn walk(&mut self, s: Status) -> Status {
            let first = self.status(s);
            match follow_pages(first, |from| Ok(self.channels(from))) {
                Ok(Response::Status(s)) => *s,
                other => panic!("{other:?}"),
            }
        }
    }

    fn fake(chans: impl IntoIterator<Item = ChannelStatus>) -> Fake {
        Fake {
            chans: chans.into_iter().map(|c| (c.id, c)).collect(),
            frames: Vec::new(),
        }
    }

    #[test]
    fn many_channels_page_into_frames_that_fit_each_once_in_order() {
        for (n, sections) in [(1_000u32, 16usize), (1_000, 64), (3_000, 1), (200, 0)] {
            for takeover in [None, Some(report(n))] {
                let mut d = fake((0..n).map(|id| channel(id * 3 + 1, sections)));
                let want: Vec<ChannelStatus> = d.chans.values().cloned().collect();
                let got = d.walk(status(takeover.clone()));
                assert_eq!(got.next_channel, None);
                assert_eq!(got.channels, want, "{n} x {sections}");
                let all = serde_json::to_vec(&want).expect("encodes").len();
                assert!(d.frames.len() > all / PAGE_MAX, "{n} x {sections}: paged");
                assert!(
                    d.frames.len() <= all / (PAGE_MAX - 25_000) + 2,
                    "{n} x {sections}: {} frames for {all} bytes",
                    d.frames.len()
                );
                if let Some(t) = &got.last_takeover {
                    assert_eq!(t.channels.len(), REPORT_CHANNELS_MAX);
                    assert_eq!(
                        t.channels_omitted as usize,
                        n as usize - REPORT_CHANNELS_MAX
                    );
                }
            }
        }
    }

    #[test]
    fn pages_are_full() {
        let chans: Vec<ChannelStatus> = (0..2_000)
            .map(|id| channel(id, (id % 40) as usize))
            .collect();
        let mut from = 0;
        loop {
            let rest = chans.iter().filter(|c| c.id >= from).cloned();
            let f = ResponseFrame::channels_paged(9, rest);
            let len = f.encode().len();
            let Response::Channels(p) = &f.body else {
                panic!("{f:?}")
            };
            // The frame is measured exactly: one more entry would not fit.
            let Some(next) = p.next else { break };
            let mut more = p.clone();
            more.channels.push(chans[next as usize].clone());
            let bigger = ResponseFrame {
                id: 9,
                body: Response::Channels(more),
            };
            assert!(len <= PAGE_MAX && bigger.encode().len() > PAGE_MAX);
            from = next;
        }
    }

    #[test]
    fn a_channel_too_large_for_any_frame_loses_its_digests() {
        let mut huge = channel(3, 20_000);
        assert!(serde_json::to_vec(&huge).expect("encodes").len() > FRAME_MAX);
        let mut d = fake([channel(1, 16), channel(2, 16), huge.clone(), channel(4, 16)]);
        let got = d.walk(status(Some(report(10))));
        huge.digests.clear();
        assert_eq!(
            got.channels,
            vec![channel(1, 16), channel(2, 16), huge, channel(4, 16)]
        );
        // Alone in a page, too.
        let mut d = fake([channel(7, 100_000)]);
        let got = d.walk(status(None));
        assert_eq!(got.channels.len(), 1);
        assert!(got.channels[0].digests.is_empty());
    }

    #[test]
    fn a_small_status_is_one_frame_as_before() {
        let mut d = fake([channel(1, 16), channel(3, 16)]);
        let f = ResponseFrame::status_paged(1, status(None), d.chans.values().cloned());
        let json = String::from_utf8(f.encode()).expect("utf8");
        assert!(!json.contains("next_channel") && !json.contains("channels_omitted"));
        let got = d.walk(status(None));
        assert_eq!(d.frames.len(), 1);
        assert_eq!(got.channels.len(), 2);
    }

    #[test]
    fn take_page_edges() {
        assert_eq!(take_page(Vec::new(), 0), (Vec::new(), None));
        assert_eq!(take_page(vec![channel(5, 1)], 0), (Vec::new(), Some(5)));
        let one = encoded_len(&channel(5, 1));
        assert_eq!(take_page(vec![channel(5, 1)], one).0.len(), 1);
        // The comma counts.
        assert_eq!(
            take_page(vec![channel(5, 1), channel(6, 1)], 2 * one),
            (vec![channel(5, 1)], Some(6))
        );
        assert_eq!(
            take_page(vec![channel(5, 1), channel(6, 1)], 2 * one + 1).1,
            None
        );
    }

    #[test]
    fn a_walk_that_does_not_advance_is_an_error() {
        let mut d = fake((0..1_000).map(|id| channel(id, 64)));
        let first = d.status(status(None));
        let stuck = follow_pages(first, |from| {
            Ok(Response::Channels(ChannelsPage {
                channels: Vec::new(),
                next: Some(from),
            }))
        });
        assert!(matches!(stuck, Err(ClientError::Malformed(_))), "{stuck:?}");
    }
}
