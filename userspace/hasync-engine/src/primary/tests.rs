use super::*;
use crate::table::{IfName, IfRecord};

fn name(s: &str) -> IfName {
    IfName::new(s.as_bytes()).expect("name")
}

fn primary(window: usize) -> Primary {
    Primary::new(
        1,
        0x100,
        &[(0, SectionCount::ONE), (1, SectionCount::ONE)],
        PrimaryConfig {
            window,
            ..PrimaryConfig::default()
        },
    )
}

fn set(n: &str, mtu: u32) -> Change {
    let mut r = IfRecord::new(name(n));
    r.mtu = mtu;
    Change::Ops(vec![Op::Set(r)])
}

fn updates(acts: &[Action]) -> Vec<&Update> {
    acts.iter()
        .filter_map(|a| match a {
            Action::Kernel(KernelCmd::Update(u)) => Some(u),
            _ => None,
        })
        .collect()
}

fn ack(p: &mut Primary, u: &Update) -> Vec<Action> {
    p.on_kernel(KernelReply::Ack(Ack {
        channel: u.channel,
        epoch: u.epoch,
        opid: u.opid,
        cookie: u.cookie,
    }))
}

#[test]
fn requests_queued_together_share_one_update_and_are_all_confirmed() {
    let mut p = primary(64);
    for r in 0..10 {
        assert!(p
            .queue(r, 0, set(&format!("e{r}"), 1400 + r as u32))
            .is_empty());
    }
    assert!(p.queue(10, 1, set("x", 1500)).is_empty());
    let acts = p.flush();
    let ups = updates(&acts);
    assert_eq!(ups.len(), 2, "one update per channel");
    assert_eq!(ups[0].ops.len(), 10);
    assert_eq!(ups[0].opid, 1);
    let u = ups[0].clone();
    let confirmed: Vec<RequestId> = ack(&mut p, &u)
        .iter()
        .filter_map(|a| match a {
            Action::Confirm { request, opid, .. } if *opid == 1 => Some(*request),
            _ => None,
        })
        .collect();
    assert_eq!(confirmed, (0..10).collect::<Vec<_>>());
    assert_eq!(p.stats.assigned, 2);
}

#[test]
fn a_refused_request_leaves_the_others_of_its_group() {
    let mut p = primary(64);
    p.queue(1, 0, set("a", 1400));
    p.queue(2, 0, set("b", 10)); // MTU below the minimum
    p.queue(3, 0, set("c", 1400));
    let acts = p.flush();
    assert!(acts.iter().any(|a| matches!(
        a,
        Action::Refuse {
            request: 2,
            error: SubmitError::Invalid(_)
        }
    )));
    let ups = updates(&acts);
    assert_eq!(ups.len(), 1);
    assert_eq!(ups[0].ops.len(), 2);
}

#[test]
fn a_group_stays_within_an_updates_op_limit() {
    let mut p = primary(64);
    for r in 0..(MAX_OPS as u64 + 5) {
        p.queue(r, 0, set(&format!("e{r}"), 1400));
    }
    let acts = p.flush();
    let sizes: Vec<usize> = updates(&acts).iter().map(|u| u.ops.len()).collect();
    assert_eq!(sizes, vec![MAX_OPS, 5]);
}

#[test]
fn partial_changes_apply_onto_the_requests_before_them() {
    // The window is full, so both changes wait in the backlog: each must
    // land on the record as the one before it left it.
    let mut p = primary(1);
    let first = p.submit(1, 0, vec![Op::Set(IfRecord::new(name("e0")))]);
    let mut mtu = RecordChange::new(name("e0"));
    mtu.mtu = Some(9000);
    let mut up = RecordChange::new(name("e0"));
    up.admin_up = Some(true);
    p.queue(2, 0, Change::Record(mtu));
    p.queue(3, 0, Change::Record(up));
    assert!(updates(&p.flush()).is_empty(), "window full");
    let u = updates(&first)[0].clone();
    let mut acts = ack(&mut p, &u);
    acts.extend(p.flush());
    let r = p.channels[&0].table.get(&name("e0")).expect("record");
    assert_eq!((r.mtu, r.admin_up), (9000, true));
    let ups = updates(&acts);
    assert_eq!(ups.len(), 1, "the two waiting changes share one update");
    assert_eq!(ups[0].ops.len(), 2);
}

#[test]
fn internal_updates_travel_alone() {
    let mut p = primary(64);
    p.queue(1, 0, set("a", 1400));
    let mut acts = p.submit_internal(0, vec![Op::Del(name("z"))]);
    p.queue(2, 0, set("b", 1400));
    acts.extend(p.flush());
    let sizes: Vec<usize> = updates(&acts).iter().map(|u| u.ops.len()).collect();
    assert_eq!(sizes, vec![1, 1, 1]);
}

#[test]
fn a_drained_queue_gives_its_room_back() {
    let mut p = primary(64);
    // A burst: more requests than one update carries, so the queue empties
    // over several updates.
    for r in 0..500u64 {
        let _ = p.queue(r, 0, set(&format!("b{r}"), 1400));
    }
    assert!(p.channels[&0].backlog.capacity() >= 500);
    let acts = p.flush();
    assert!(updates(&acts).len() > 1);
    assert!(p.channels[&0].backlog.is_empty());
    assert!(p.channels[&0].backlog.capacity() <= BACKLOG_KEEP);
    // A queue the window holds back keeps its requests.
    let mut p = primary(1);
    for r in 0..500u64 {
        let _ = p.queue(r, 0, set(&format!("b{r}"), 1400));
    }
    let acts = p.flush();
    assert_eq!(updates(&acts).len(), 1);
    assert!(!p.channels[&0].backlog.is_empty());
}
