//! Transforms of replication messages between releases.
//!
//! One [`Step`] per pair of neighbouring releases: `up` turns a message of
//! release `from` into one of `from + 1`, `down` the reverse. A message
//! crosses several releases one step at a time through [`STEPS`], never by
//! a direct jump, so each step is written and tested once, against its
//! neighbour only. Steps are pure functions of the message.
//!
//! The newer side of a connection does the work ([`crate::release`]): a
//! primary downgrades what it sends to an older standby, a standby
//! upgrades what it receives from an older primary (and a primary what an
//! older standby sends it). What a step cannot express is a [`Cannot`],
//! naming the item, and the caller applies that item's handling; what it
//! can leave out and still say the rest (a field the older release has
//! no place for) it leaves out and counts in [`Left`], and the caller
//! decides by that item's handling whether the lossy message may go.

use crate::release::{Release, RELEASE};
use crate::table::{expand, weight_of, IfRecord, Op, DESC_MAX_RELEASE_1, MAX_OPS};
use crate::wire::{Message, Update};

/// A message a step cannot express in the release it goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cannot {
    /// The item ([`crate::release`]) the message needs.
    pub item: &'static str,
    /// For a person.
    pub why: String,
}

/// Values a downgrade left out, per item, in the order first met.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Left {
    /// Item and how many values of it.
    pub items: Vec<(&'static str, u64)>,
}

impl Left {
    fn add(&mut self, item: &'static str, n: u64) {
        if n == 0 {
            return;
        }
        match self.items.iter_mut().find(|(i, _)| *i == item) {
            Some((_, c)) => *c += n,
            None => self.items.push((item, n)),
        }
    }

    /// Nothing was left out.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// The transforms between release `from` and `from + 1`.
pub struct Step {
    /// The older release.
    pub from: Release,
    /// `from` → `from + 1`.
    pub up: fn(Message) -> Result<Message, Cannot>,
    /// `from + 1` → `from`, counting in [`Left`] what it left out.
    pub down: fn(Message, &mut Left) -> Result<Message, Cannot>,
}

/// Every step, oldest first: `STEPS[i]` joins release `i + 1` and `i + 2`.
pub const STEPS: &[Step] = &[Step {
    from: 1,
    up: up_1_2,
    down: down_2_1,
}];

/// Release 1's messages are release 2's but for the receipt watermark,
/// whose queue depth release 2 dropped (no primary ever read it); what
/// the first release never sends is refused, so nothing passes for it.
fn up_1_2(m: Message) -> Result<Message, Cannot> {
    match &m {
        &Message::HaveDepth {
            channel,
            epoch,
            opid,
            ..
        } => Ok(Message::Have {
            channel,
            epoch,
            opid,
        }),
        Message::Update(u) if u.ops.iter().any(|o| o.weight() > 1) => Err(Cannot {
            item: "op.rename",
            why: "a rename from a release without renames".into(),
        }),
        Message::CheckpointPart { .. } => Err(Cannot {
            item: "msg.checkpoint-part",
            why: "a checkpoint part from a release without them".into(),
        }),
        Message::TcpConns { .. } | Message::TcpConnsAck { .. } => Err(Cannot {
            item: "msg.tcp-conns",
            why: "TCP face connections from a release without them".into(),
        }),
        _ => Ok(m),
    }
}

/// Most records one section message of release 1 carries (a checkpoint,
/// or a section replace in an update); release 2 takes up to 65 535.
pub const RELEASE_1_SECTION_RECORDS: usize = 1024;

/// What release 1 cannot take of a large section, as [`Cannot`].
fn too_large(section: u32, records: usize) -> Cannot {
    Cannot {
        item: "msg.checkpoint-part",
        why: format!(
            "section {section} holds {records} records; release 1 takes at most \
             {RELEASE_1_SECTION_RECORDS} in one message"
        ),
    }
}

/// The records of release 2 as release 1 holds them: a description over
/// 64 bytes has no release 1 form (cut short, it would be another
/// description after a failover); a known speed is left out, counted.
fn records_2_1(records: &mut [IfRecord], left: &mut Left) -> Result<(), Cannot> {
    let mut speeds = 0;
    for r in records.iter_mut() {
        if r.description.len() > DESC_MAX_RELEASE_1 {
            return Err(Cannot {
                item: "field.description-255",
                why: format!(
                    "{}'s description is {} bytes; release 1 carries at most {DESC_MAX_RELEASE_1}",
                    r.name,
                    r.description.len()
                ),
            });
        }
        if r.speed != 0 {
            r.speed = 0;
            speeds += 1;
        }
    }
    left.add("field.speed", speeds);
    Ok(())
}

/// A whole section (a checkpoint's, a section replace's) as release 1
/// holds it, when one release 1 message carries that many records.
fn section_2_1(section: u32, records: &mut [IfRecord], left: &mut Left) -> Result<(), Cannot> {
    if records.len() > RELEASE_1_SECTION_RECORDS {
        return Err(too_large(section, records.len()));
    }
    records_2_1(records, left)
}

/// The records of every op, as release 1 holds them ([`records_2_1`]).
fn ops_2_1(ops: &mut [Op], left: &mut Left) -> Result<(), Cannot> {
    for o in ops {
        match o {
            Op::Set(r) | Op::Rename { record: r, .. } => {
                records_2_1(std::slice::from_mut(r), left)?
            }
            Op::ReplaceSection { section, records } => section_2_1(*section, records, left)?,
            Op::Del(_) => {}
        }
    }
    Ok(())
}

/// Renames become the delete and set they stand for, in the same update
/// (the same opid and cookie: the sections touched are the same).
/// Checkpoint parts, and sections of more records than release 1 takes in
/// one message, have no release 1 form. Records lose what release 1 has
/// no field for ([`records_2_1`]).
fn down_2_1(m: Message, left: &mut Left) -> Result<Message, Cannot> {
    let mut m = m;
    match &mut m {
        Message::Update(u) => ops_2_1(&mut u.ops, left)?,
        Message::Checkpoint {
            section, records, ..
        } => section_2_1(*section, records, left)?,
        _ => {}
    }
    match m {
        Message::Update(u) if u.ops.iter().any(|o| o.weight() > 1) => {
            if weight_of(&u.ops) > MAX_OPS {
                return Err(Cannot {
                    item: "op.rename",
                    why: format!("more than {MAX_OPS} ops once renames are expanded"),
                });
            }
            Ok(Message::Update(Update {
                ops: expand(&u.ops),
                ..u
            }))
        }
        Message::CheckpointPart { section, .. } => Err(Cannot {
            item: "msg.checkpoint-part",
            why: format!("section {section} does not fit one release 1 message"),
        }),
        Message::TcpConns { .. } | Message::TcpConnsAck { .. } => Err(Cannot {
            item: "msg.tcp-conns",
            why: "release 1 cannot take over TCP face connections".into(),
        }),
        // Release 1 reads a queue depth it then ignores: none is as good
        // as any.
        Message::Have {
            channel,
            epoch,
            opid,
        } => Ok(Message::HaveDepth {
            channel,
            epoch,
            opid,
            pending: 0,
        }),
        m => Ok(m),
    }
}

/// `m`, of this build's release, as release `to` takes it, and what it
/// lost on the way.
pub fn down(m: Message, to: Release) -> Result<(Message, Left), Cannot> {
    let mut m = m;
    let mut left = Left::default();
    for r in (to..RELEASE).rev() {
        m = (step(r)?.down)(m, &mut left)?;
    }
    Ok((m, left))
}

/// `m`, from a peer of release `from`, as this build's release.
pub fn up(m: Message, from: Release) -> Result<Message, Cannot> {
    let mut m = m;
    for r in from..RELEASE {
        m = (step(r)?.up)(m)?;
    }
    Ok(m)
}

fn step(from: Release) -> Result<&'static Step, Cannot> {
    STEPS.iter().find(|s| s.from == from).ok_or_else(|| Cannot {
        item: "release",
        why: format!("no transform from release {from}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::MIN_RELEASE;
    use crate::table::{IfName, IfRecord, Op, SectionCount, Table};
    use proptest::prelude::*;

    fn name(i: u8) -> IfName {
        IfName::new(format!("if{i}").as_bytes()).expect("name")
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u8..12, 68u32..9000, prop_oneof![Just(0u32), 1u32..400_000]).prop_map(
                |(i, mtu, speed)| {
                    let mut r = IfRecord::new(name(i));
                    r.mtu = mtu;
                    r.speed = speed;
                    Op::Set(r)
                }
            ),
            (0u8..12).prop_map(|i| Op::Del(name(i))),
            (0u8..12, 0u8..12, any::<bool>()).prop_map(|(a, b, up)| {
                let mut r = IfRecord::new(name(b));
                r.admin_up = up;
                Op::Rename {
                    from: name(a),
                    record: r,
                }
            }),
        ]
    }

    fn update(ops: Vec<Op>) -> Message {
        Message::Update(Update {
            channel: 1,
            epoch: 2,
            opid: 3,
            cookie: 4,
            ops,
        })
    }

    #[test]
    fn every_step_is_registered_once_in_order() {
        for (i, s) in STEPS.iter().enumerate() {
            assert_eq!(usize::from(s.from), i + usize::from(MIN_RELEASE));
        }
        assert_eq!(STEPS.len(), usize::from(RELEASE - MIN_RELEASE));
    }

    #[test]
    fn a_checkpoint_part_cannot_go_down_nor_come_up() {
        let part = Message::CheckpointPart {
            channel: 1,
            sync_id: 1,
            seq: 0,
            base: 0,
            opid: 0,
            section: 3,
            after: None,
            upto: Some(name(1)),
            records: Vec::new(),
        };
        assert_eq!(
            down(part.clone(), 1).unwrap_err().item,
            "msg.checkpoint-part"
        );
        assert_eq!(up(part.clone(), 1).unwrap_err().item, "msg.checkpoint-part");
        assert_eq!(down(part.clone(), RELEASE), Ok((part, Left::default())));
    }

    #[test]
    fn a_section_too_large_for_release_1_cannot_go_down() {
        let records: Vec<IfRecord> = (0..=RELEASE_1_SECTION_RECORDS)
            .map(|i| IfRecord::new(IfName::new(format!("r{i}").as_bytes()).expect("name")))
            .collect();
        let checkpoint = |records: &[IfRecord]| Message::Checkpoint {
            channel: 1,
            sync_id: 1,
            seq: 0,
            base: 0,
            opid: 0,
            section: 0,
            records: records.to_vec(),
        };
        assert_eq!(
            down(checkpoint(&records), 1).unwrap_err().item,
            "msg.checkpoint-part"
        );
        let repair = update(vec![Op::ReplaceSection {
            section: 0,
            records: records.clone(),
        }]);
        assert_eq!(down(repair, 1).unwrap_err().item, "msg.checkpoint-part");
        let fits = checkpoint(&records[..RELEASE_1_SECTION_RECORDS]);
        assert_eq!(down(fits.clone(), 1), Ok((fits, Left::default())));
    }

    #[test]
    fn a_description_release_1_cannot_hold_leaves_nothing_half_sent() {
        let mut long = IfRecord::new(name(1));
        long.description = vec![b'd'; DESC_MAX_RELEASE_1 + 1];
        let mut fits = long.clone();
        fits.description.truncate(DESC_MAX_RELEASE_1);
        fits.speed = 1000;
        let c = down(update(vec![Op::Set(fits.clone()), Op::Set(long)]), 1).unwrap_err();
        assert_eq!(c.item, "field.description-255");
        assert!(c.why.contains("65 bytes"), "{}", c.why);
        let (m, left) = down(update(vec![Op::Set(fits.clone())]), 1).expect("fits");
        assert_eq!(m, update(vec![Op::Set(fits.without_speed())]));
        assert_eq!(left.items, vec![("field.speed", 1)]);
        assert_eq!(m.format(), 1);
    }

    #[test]
    fn the_queue_depth_release_2_dropped_is_filled_in_and_taken_out() {
        let have = Message::Have {
            channel: 3,
            epoch: 9,
            opid: 77,
        };
        let (old, left) = down(have.clone(), 1).expect("expressible");
        assert!(left.is_empty());
        assert_eq!(
            old,
            Message::HaveDepth {
                channel: 3,
                epoch: 9,
                opid: 77,
                pending: 0
            }
        );
        assert_eq!((have.format(), old.format()), (2, 1));
        assert_eq!(up(old, 1), Ok(have.clone()));
        // Whatever depth release 1 sent, release 2 never sees it.
        let sent = Message::HaveDepth {
            channel: 3,
            epoch: 9,
            opid: 77,
            pending: 4000,
        };
        assert_eq!(up(sent, 1), Ok(have));
    }

    #[test]
    fn too_many_renames_for_one_release_1_update() {
        let ops: Vec<Op> = (0..40)
            .map(|i| Op::Rename {
                from: name(i),
                record: IfRecord::new(name(i + 100)),
            })
            .collect();
        // Not something this build's primary assigns (it counts weights),
        // but a step must not build what release 1 refuses.
        assert_eq!(down(update(ops), 1).unwrap_err().item, "op.rename");
    }

    proptest! {
        /// On what both releases have, down after up is the identity, and
        /// each message crosses unchanged.
        #[test]
        fn down_up_is_the_identity_on_release_1(ops in proptest::collection::vec(op(), 1..20)) {
            let ops: Vec<Op> = ops
                .into_iter()
                .filter(|o| o.weight() == 1 && o.records().all(|r| r.release() == 1))
                .collect();
            prop_assume!(!ops.is_empty());
            let m = update(ops);
            let up = up(m.clone(), 1).expect("release 1 content");
            prop_assert_eq!(&up, &m);
            prop_assert_eq!(down(up, 1), Ok((m, Left::default())));
        }

        /// A downgraded update is a release 1 message (format 1 on the
        /// wire) that leaves any table exactly as the original does.
        #[test]
        fn down_keeps_what_an_update_does(
            start in proptest::collection::vec(op(), 1..20),
            ops in proptest::collection::vec(op(), 1..20),
        ) {
            let sc = SectionCount::new(8).expect("sc");
            let mut before = Table::new(sc);
            before.apply_trusted(&start);
            let m = update(ops.clone());
            let Ok((Message::Update(d), left)) = down(m, 1) else {
                return Err(TestCaseError::fail("not an update"));
            };
            prop_assert!(d.ops.iter().all(|o| o.weight() == 1));
            prop_assert_eq!(Message::Update(d.clone()).format(), 1);
            let speeds = ops.iter().flat_map(Op::records).filter(|r| r.speed != 0).count() as u64;
            let want = if speeds == 0 { vec![] } else { vec![("field.speed", speeds)] };
            prop_assert_eq!(left.items, want);
            // The same table but for the speeds release 1 has no field
            // for: the release 1 view of the original's result, on a peer
            // that holds the release 1 view of the start.
            let Ok((Message::Update(d0), _)) = down(update(start), 1) else {
                return Err(TestCaseError::fail("not an update"));
            };
            let mut b = Table::new(sc);
            b.apply_trusted(&d0.ops);
            let mut a = before;
            a.apply_trusted(&ops);
            b.apply_trusted(&d.ops);
            let without = |t: &Table| -> Vec<IfRecord> { t.iter().map(IfRecord::without_speed).collect() };
            prop_assert_eq!(without(&a), without(&b));
            prop_assert_eq!(a.release_1_digests(), b.digests());
            prop_assert_eq!(
                crate::table::cookie_of(&ops, sc),
                crate::table::cookie_of(&d.ops, sc)
            );
        }

        /// decode ∘ encode is the identity in every format: release 1
        /// content in format 1, renames in format 2.
        #[test]
        fn decode_encode_in_every_format(ops in proptest::collection::vec(op(), 1..20)) {
            let m = update(ops);
            let f = m.encode();
            prop_assert_eq!(f[2], m.format());
            prop_assert_eq!(Message::decode_exact(&f), Ok(m.clone()));
            let (d, _) = down(m, 1).expect("fits");
            let f = d.encode();
            prop_assert_eq!(f[2], 1);
            prop_assert_eq!(Message::decode_exact(&f), Ok(d));
        }
    }
}
