//! The one-record fast paths agree with the general ones they stand in
//! for: `Table::set_change` with `apply_within` of the `Op::Set` that
//! `RecordChange::onto` makes, and `RecordChange::validate` with validating
//! that record, over arbitrary tables, changes and record limits
//! (invalid values and full tables included).

use hasync_model::table::{IfName, IfRecord, Op, Prefix, SectionCount, Table};
use hasync_model::RecordChange;
use proptest::prelude::*;

fn name() -> impl Strategy<Value = IfName> {
    (0u8..8).prop_map(|i| IfName::new(format!("eth{i}").as_bytes()).expect("valid name"))
}

fn prefix() -> impl Strategy<Value = Prefix> {
    prop_oneof![
        (any::<[u8; 4]>(), 0u8..40).prop_map(|(a, l)| Prefix::V4(a, l)),
        (any::<[u8; 16]>(), 0u8..140).prop_map(|(a, l)| Prefix::V6(a, l)),
    ]
}

fn change() -> impl Strategy<Value = RecordChange> {
    (
        name(),
        proptest::option::of(any::<bool>()),
        proptest::option::of(0u32..70_000),
        proptest::option::of(any::<[u8; 6]>()),
        proptest::option::of(0u16..4200),
        proptest::option::of(proptest::collection::vec(prefix(), 0..4)),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..4)),
    )
        .prop_map(|(name, admin_up, mtu, mac, vlan, addrs, description)| {
            let mut c = RecordChange::new(name);
            c.admin_up = admin_up;
            c.mtu = mtu;
            c.mac = mac;
            c.vlan = vlan;
            c.addrs = addrs;
            c.description = description;
            c
        })
}

/// A table built from the valid ones of `changes`, without a limit.
fn table(changes: &[RecordChange]) -> Table {
    let mut t = Table::new(SectionCount::new(4).expect("power of two"));
    for c in changes {
        let r: IfRecord = c.onto(t.get(&c.name));
        if r.validate().is_ok() {
            t.apply(&[Op::Set(r)]).expect("valid record");
        }
    }
    t
}

proptest! {
    #[test]
    fn set_change_is_apply_of_onto(
        before in proptest::collection::vec(change(), 0..12),
        c in change(),
        max in 0usize..10,
    ) {
        let mut fast = table(&before);
        let mut slow = fast.clone();
        let got = fast.set_change(&c, max);
        let r = c.onto(slow.get(&c.name));
        let want = r.validate().and_then(|()| slow.apply_within(&[Op::Set(r.clone())], max)).map(|()| r);
        prop_assert_eq!(&got, &want);
        prop_assert_eq!(&fast, &slow);
        prop_assert_eq!(fast.digests(), fast.recompute_digests());
    }

    #[test]
    fn validate_is_validate_of_onto(before in proptest::collection::vec(change(), 0..6), c in change()) {
        let t = table(&before);
        prop_assert_eq!(c.validate(), c.onto(t.get(&c.name)).validate());
    }
}
