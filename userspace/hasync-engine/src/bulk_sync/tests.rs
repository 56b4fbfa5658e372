use super::*;
use crate::table::{IfRecord, Op, Prefix, SectionCount};

fn name(s: &str) -> IfName {
    IfName::new(s.as_bytes()).expect("name")
}

/// A record with 16 addresses: about 120 bytes encoded.
fn dense(n: usize) -> IfRecord {
    let mut r = IfRecord::new(name(&format!("d{n}")));
    r.addrs = (0..16u8)
        .map(|a| Prefix::V4([10, a, (n >> 8) as u8, n as u8], 24))
        .collect();
    r.canonicalize();
    r
}

fn table(sections: u32, records: usize) -> Table {
    let mut t = Table::new(SectionCount::new(sections).expect("sc"));
    for n in 0..records {
        t.apply_trusted(&[Op::Set(dense(n))]);
    }
    t
}

/// What a standby assembles from `msgs`, in the order given.
fn assemble(into: &mut Table, msgs: &[Message]) {
    for m in msgs {
        match m {
            Message::Checkpoint {
                section, records, ..
            } => into.replace_range(*section, None, None, records),
            Message::CheckpointPart {
                section,
                after,
                upto,
                records,
                ..
            } => into.replace_range(*section, after.as_ref(), upto.as_ref(), records),
            other => panic!("not a chunk: {other:?}"),
        }
    }
}

fn seq(m: &Message) -> u32 {
    match m {
        Message::Checkpoint { seq, .. } | Message::CheckpointPart { seq, .. } => *seq,
        other => panic!("not a chunk: {other:?}"),
    }
}

#[test]
fn a_dense_section_travels_in_pages_that_fit_a_message() {
    // One section of 4 096 records with 16 addresses each: ~490 kB.
    let t = table(1, 4096);
    let mut s = BulkSend::new(1, 7, 0, 1, CHUNK_BYTES);
    let msgs = s.produce(&t, 0, &mut usize::MAX.clone());
    assert!(s.read_all());
    assert!(msgs.len() >= 8, "{} chunks", msgs.len());
    for m in &msgs {
        assert!(matches!(m, Message::CheckpointPart { .. }));
        assert!(m.encode().len() <= 66_000, "{} bytes", m.encode().len());
    }
    let mut got = Table::new(t.section_count());
    assemble(&mut got, &msgs);
    assert_eq!(got, t);
    // Every chunk acked: the declaration counts them all.
    for m in &msgs {
        s.on_ack(seq(m));
    }
    assert_eq!(s.in_flight(), 0);
    let Some(Message::SyncDeclaration { chunks, .. }) = s.declaration(0) else {
        panic!("declaration due");
    };
    assert_eq!(chunks as usize, msgs.len());
    s.on_ack(chunks);
    assert!(s.done);
}

#[test]
fn sections_that_fit_travel_as_first_release_checkpoints() {
    let t = table(16, 200);
    let mut s = BulkSend::new(1, 7, 0, 16, CHUNK_BYTES);
    let msgs = s.produce(&t, 0, &mut usize::MAX.clone());
    assert_eq!(msgs.len(), 16);
    for (i, m) in msgs.iter().enumerate() {
        assert!(
            matches!(m, Message::Checkpoint { seq, section, .. } if *seq as usize == i && *section as usize == i)
        );
    }
}

#[test]
fn the_credit_window_holds_chunks_back_until_acks_return_it() {
    let t = table(8, 400);
    let mut s = BulkSend::new(1, 7, 0, 8, 2_000);
    let mut credit = 5_000;
    let first = s.produce(&t, 0, &mut credit);
    assert_eq!(credit, 0);
    // The window is spent by at most one chunk's worth.
    assert!(s.in_flight() >= 5_000 && s.in_flight() < 5_000 + 2_000 + 64 + 200);
    assert!(!s.read_all());
    let mut none = 0;
    assert!(s.produce(&t, 0, &mut none).is_empty());
    for m in &first {
        s.on_ack(seq(m));
    }
    assert_eq!(s.in_flight(), 0);
    // No declaration while the cursor has sections left.
    assert!(s.declaration(u64::MAX).is_none());
    let rest = s.produce(&t, 0, &mut usize::MAX.clone());
    let mut got = Table::new(t.section_count());
    assemble(&mut got, &first);
    assemble(&mut got, &rest);
    assert_eq!(got, t);
}

#[test]
fn a_range_that_grew_is_split_on_resend_and_still_tiles() {
    let mut t = table(1, 10);
    let mut s = BulkSend::new(1, 7, 0, 1, 2_000);
    let first = s.produce(&t, 0, &mut usize::MAX.clone());
    assert_eq!(first.len(), 1);
    assert!(matches!(first[0], Message::Checkpoint { .. }));
    // The section grows past one chunk before the chunk is acked.
    for n in 10..200 {
        t.apply_trusted(&[Op::Set(dense(n))]);
    }
    let resent = s.resend(&t, 5);
    assert!(resent.len() > 1, "{} chunks", resent.len());
    let seqs: Vec<u32> = resent.iter().map(seq).collect();
    assert_eq!(seqs, (0..resent.len() as u32).collect::<Vec<_>>());
    for m in &resent {
        assert!(m.encode().len() <= 2_000 + 200);
    }
    // Old copy first or last: the standby's table is the section's content
    // as read (the redo of later updates does the rest).
    let mut got = Table::new(t.section_count());
    assemble(&mut got, &first);
    assemble(&mut got, &resent);
    assert_eq!(got, t);
    for m in &resent {
        s.on_ack(seq(m));
    }
    assert!(s.declaration(5).is_some());
    assert!(s.declaration(4).is_none(), "waits for the kernel");
}

#[test]
fn a_late_declaration_ack_before_every_chunk_does_not_finish() {
    let t = table(2, 50);
    let mut s = BulkSend::new(1, 7, 0, 2, CHUNK_BYTES);
    let msgs = s.produce(&t, 0, &mut usize::MAX.clone());
    s.on_ack(seq(&msgs[0]));
    s.on_ack(msgs.len() as u32);
    assert!(!s.done);
}
