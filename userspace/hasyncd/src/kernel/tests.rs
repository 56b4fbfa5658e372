//! Host tests of the adapter: every conversion, and the execution order
//! and grouping against a scripted [`Port`].

use std::io;

use hasync_engine::table::{IfName, Prefix, SectionCount};

use super::*;

fn name(s: &str) -> IfName {
    IfName::new(s.as_bytes()).expect("valid name")
}

fn record(s: &str) -> IfRecord {
    let mut r = IfRecord::new(name(s));
    r.admin_up = true;
    r.mtu = 9000;
    r.mac = [2, 0, 0, 0, 0, 1];
    r.vlan = 10;
    r.addrs = vec![
        Prefix::V6([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 64),
        Prefix::V4([10, 0, 0, 1], 24),
    ];
    r.description = b"uplink".to_vec();
    r.canonicalize();
    r
}

fn update(opid: Opid, ops: Vec<Op>) -> Update {
    Update {
        channel: 3,
        epoch: 2,
        opid,
        cookie: 0b100,
        ops,
    }
}

fn kerr(errno: i32, cookie: Option<Vec<u8>>) -> nl::KernelError {
    nl::KernelError {
        cookie,
        ..nl::KernelError::new(errno)
    }
}

fn gap(register: u64) -> nl::KernelError {
    kerr(libc::EPROTO, Some(register.to_ne_bytes().to_vec()))
}

fn fenced(owner: u32) -> nl::KernelError {
    kerr(libc::ESTALE, Some(owner.to_ne_bytes().to_vec()))
}

#[test]
fn plain_updates_become_nl_updates() {
    let u = update(7, vec![Op::Set(record("eth0")), Op::Del(name("lo"))]);
    let Ok(NlUpdate::Update(n)) = nl_update(&u) else {
        panic!("plain update");
    };
    assert_eq!((n.channel, n.epoch, n.opid, n.cookie), (3, 2, 7, 0b100));
    assert_eq!(n.ops, u.ops);
}

#[test]
fn section_replaces_become_a_replay() {
    let sc = SectionCount::new(2).expect("2");
    let r = record("eth0");
    let s = sc.section_of(&r.name);
    let u = update(
        8,
        vec![
            Op::ReplaceSection {
                section: s,
                records: vec![r.clone()],
            },
            Op::ReplaceSection {
                section: 1 - s,
                records: vec![],
            },
        ],
    );
    let Ok(NlUpdate::Replay(begin, ifaces)) = nl_update(&u) else {
        panic!("replay");
    };
    assert_eq!(
        begin,
        nl::ReplayBegin {
            channel: 3,
            epoch: 2,
            opid: 8,
            sections: 0b11
        }
    );
    assert_eq!(ifaces, vec![r]);
}

#[test]
fn unencodable_updates_are_faults() {
    let mixed = update(
        1,
        vec![
            Op::Del(name("a")),
            Op::ReplaceSection {
                section: 0,
                records: vec![],
            },
        ],
    );
    assert!(matches!(
        nl_update(&mixed),
        Err(Fault::Unencodable { channel: 3, .. })
    ));
    let mut big = update(1, vec![Op::Del(name("a"))]);
    big.epoch = u64::from(u32::MAX) + 1;
    let e = nl_update(&big).expect_err("epoch");
    assert!(e.to_string().contains("32 bits"), "{e}");
    let far = update(
        1,
        vec![Op::ReplaceSection {
            section: 64,
            records: vec![],
        }],
    );
    assert!(matches!(nl_update(&far), Err(Fault::Unencodable { .. })));
}

#[test]
fn kernel_errors_map_to_engine_errors() {
    assert_eq!(
        kernel_error(&gap(9), true),
        Some(KernelError::OutOfOrder { register: 9 })
    );
    assert_eq!(
        kernel_error(&fenced(4), true),
        Some(KernelError::Fenced { owner: 4 })
    );
    assert_eq!(
        kernel_error(&kerr(libc::ENOENT, None), true),
        Some(KernelError::NoChannel)
    );
    assert_eq!(kernel_error(&kerr(libc::ENOENT, None), false), None);
    assert_eq!(
        kernel_error(&kerr(libc::ENOSPC, None), true),
        Some(KernelError::Invalid(TableError::TooManyEntries))
    );
    assert_eq!(kernel_error(&kerr(libc::EINVAL, None), true), None);
    assert_eq!(kernel_error(&kerr(libc::EBUSY, None), true), None);
    // A gap errno without its cookie says nothing about the register.
    assert_eq!(kernel_error(&kerr(libc::EPROTO, None), true), None);
}

#[test]
fn update_answers_become_replies() {
    let u = update(7, vec![Op::Del(name("a"))]);
    let ack = |opid, duplicate| nl::Ack {
        channel: 3,
        epoch: Some(2),
        opid,
        cookie: 0b100,
        duplicate,
    };
    let want = KernelReply::Ack(Ack {
        channel: 3,
        epoch: 2,
        opid: 7,
        cookie: 0b100,
    });
    assert_eq!(update_reply(&u, Ok(ack(7, false))).expect("ack"), want);
    assert_eq!(update_reply(&u, Ok(ack(7, true))).expect("dup ack"), want);
    // A duplicate of another owner's update: the kernel's epoch, not ours.
    let theirs = nl::Ack {
        epoch: Some(9),
        ..ack(7, true)
    };
    assert!(matches!(
        update_reply(&u, Ok(theirs)),
        Ok(KernelReply::Ack(Ack { epoch: 9, .. }))
    ));
    // A duplicate the log forgot: taken to be this update.
    let forgotten = nl::Ack {
        epoch: None,
        ..ack(7, true)
    };
    assert_eq!(update_reply(&u, Ok(forgotten)).expect("dup ack"), want);
    assert!(matches!(
        update_reply(&u, Ok(ack(6, false))),
        Err(Fault::Malformed { channel: 3, .. })
    ));
    assert_eq!(
        update_reply(&u, Err(gap(5))).expect("reject"),
        KernelReply::Reject {
            channel: 3,
            opid: 7,
            error: KernelError::OutOfOrder { register: 5 }
        }
    );
    assert_eq!(
        update_reply(&u, Err(fenced(3))).expect("reject"),
        KernelReply::Reject {
            channel: 3,
            opid: 7,
            error: KernelError::Fenced { owner: 3 }
        }
    );
    let e = update_reply(&u, Err(kerr(libc::EINVAL, None))).expect_err("fault");
    assert!(matches!(
        e,
        Fault::Kernel {
            cmd: "update",
            channel: 3,
            ..
        }
    ));
}

#[test]
fn replay_answers_become_replies() {
    let u = update(
        8,
        vec![Op::ReplaceSection {
            section: 2,
            records: vec![],
        }],
    );
    let done = nl::ReplayDone {
        channel: 3,
        epoch: Some(2),
        opid: 8,
        sections: 0b100,
    };
    let ack = KernelReply::Ack(Ack {
        channel: 3,
        epoch: 2,
        opid: 8,
        cookie: 0b100,
    });
    assert_eq!(replay_reply(&u, 0b100, Ok(done.clone())).expect("ack"), ack);
    // Below the register: a duplicate, as for updates.
    assert_eq!(
        replay_reply(&u, 0b100, Err(nl::Error::Kernel(gap(9)))).expect("dup"),
        ack
    );
    assert!(matches!(
        replay_reply(&u, 0b100, Err(nl::Error::Kernel(fenced(5)))),
        Ok(KernelReply::Reject {
            error: KernelError::Fenced { owner: 5 },
            ..
        })
    ));
    // ENOENT in a replay is "no replay open", not "no channel".
    assert!(matches!(
        replay_reply(&u, 0b100, Err(nl::Error::Kernel(kerr(libc::ENOENT, None)))),
        Err(Fault::Kernel { cmd: "replay", .. })
    ));
    assert!(matches!(
        replay_reply(&u, 0b100, Err(nl::Error::Socket(io::Error::other("x")))),
        Err(Fault::Io { channel: 3, .. })
    ));
    let wrong = nl::ReplayDone { opid: 9, ..done };
    assert!(matches!(
        replay_reply(&u, 0b100, Ok(wrong)),
        Err(Fault::Malformed { .. })
    ));
}

#[test]
fn claims_cookies_digests_dumps_and_ntfs_convert() {
    let c = nl::Claimed {
        id: 3,
        register: 12,
        epoch: 5,
        register_epoch: Some(4),
    };
    assert_eq!(
        claimed_reply(&c).expect("claimed"),
        KernelReply::Claimed {
            channel: 3,
            epoch: 5,
            register: 12,
            register_epoch: 4
        }
    );
    let old = nl::Claimed {
        register_epoch: None,
        ..c
    };
    assert!(
        matches!(claimed_reply(&old), Err(f @ Fault::Malformed { .. }) if f.to_string().contains("predates")),
        "a module that does not report the register's epoch is refused"
    );

    let entries = |r| match r {
        KernelReply::Cookies { entries, .. } => entries,
        other => panic!("{other:?}"),
    };
    let log = nl::CookieLog {
        register: 9,
        entries: vec![
            nl::CookieEntry {
                opid: 6,
                epoch: 4,
                sections: 0b110,
            },
            // A replay that moved the register from 6 to 9.
            nl::CookieEntry {
                opid: 9,
                epoch: 5,
                sections: 0b1,
            },
        ],
        log_short: false,
    };
    assert_eq!(
        entries(cookies_reply(3, 5, log.clone())).expect("log"),
        vec![
            CookieEntry {
                opid: 6,
                epoch: 4,
                cookie: 0b110
            },
            CookieEntry {
                opid: 9,
                epoch: 5,
                cookie: 0b1
            }
        ]
    );
    let short = nl::CookieLog {
        log_short: true,
        ..log
    };
    assert_eq!(entries(cookies_reply(3, 0, short)), None);
    assert_eq!(
        entries(cookies_reply(3, 9, nl::CookieLog::default())),
        Some(vec![])
    );

    let ch = channel(3, 9);
    assert_eq!(
        digests_reply(&ch).expect("digests"),
        KernelReply::Digests {
            channel: 3,
            register: 9,
            digests: vec![100, 101]
        }
    );
    let mut missing = ch.clone();
    missing.section.pop();
    assert!(matches!(
        digests_reply(&missing),
        Err(Fault::Malformed { .. })
    ));
    let mut repeated = ch.clone();
    repeated.section[0].index = 0;
    assert!(matches!(
        digests_reply(&repeated),
        Err(Fault::Malformed { .. })
    ));

    let e = |channel, n: &str| nl::Entry {
        channel,
        record: record(n),
        section: None,
    };
    assert_eq!(
        dump_reply(&ch, u64::MAX, &[e(3, "eth0")]).expect("dump"),
        KernelReply::Dump {
            channel: 3,
            sections: u64::MAX,
            register: 9,
            register_epoch: 4,
            records: vec![record("eth0")]
        }
    );
    assert!(matches!(
        dump_reply(&ch, u64::MAX, &[e(4, "eth0")]),
        Err(Fault::Malformed { .. })
    ));

    let ntf = nl::Ack {
        channel: 3,
        epoch: Some(8),
        opid: 7,
        cookie: 1,
        duplicate: false,
    };
    assert_eq!(
        ack_from_ntf(&ntf, 6),
        Ack {
            channel: 3,
            epoch: 8,
            opid: 7,
            cookie: 1
        }
    );
    let unsaid = nl::Ack { epoch: None, ..ntf };
    assert_eq!(ack_from_ntf(&unsaid, 6).epoch, 6);
}

fn channel(id: ChannelId, register: u64) -> nl::Channel {
    nl::Channel {
        id,
        name: None,
        sections: 2,
        register,
        epoch: 5,
        register_epoch: Some(4),
        entries: 1,
        section: vec![
            nl::SectionInfo {
                index: 1,
                entries: 0,
                digest: 101,
            },
            nl::SectionInfo {
                index: 0,
                entries: 1,
                digest: 100,
            },
        ],
        log_first_opid: 1,
    }
}

/// A scripted kernel: records each call, answers by simple rules.
#[derive(Default)]
struct Script {
    calls: Vec<String>,
    /// Claims naming this channel fail with ESTALE (owner 9).
    fenced: Option<ChannelId>,
    /// update_batch fails at the socket.
    socket_down: bool,
    /// Each channel-get reports a register one higher.
    moving: bool,
    register: u64,
}

impl Port for Script {
    fn update_batch(
        &mut self,
        updates: &[nl::Update],
    ) -> Result<Vec<Result<nl::Ack, nl::KernelError>>, nl::Error> {
        let opids: Vec<String> = updates.iter().map(|u| u.opid.to_string()).collect();
        self.calls.push(format!("update_batch {}", opids.join(",")));
        if self.socket_down {
            return Err(nl::Error::Socket(io::Error::other("down")));
        }
        Ok(updates
            .iter()
            .map(|u| {
                if u.opid == 99 {
                    Err(gap(1))
                } else {
                    Ok(nl::Ack {
                        channel: u.channel,
                        epoch: Some(u.epoch),
                        opid: u.opid,
                        cookie: u.cookie,
                        duplicate: false,
                    })
                }
            })
            .collect())
    }

    fn claim(&mut self, epoch: u32, ids: &[ChannelId]) -> Result<Vec<nl::Claimed>, nl::Error> {
        self.calls.push(format!("claim {epoch} {ids:?}"));
        if self.fenced.is_some_and(|f| ids.contains(&f)) {
            return Err(nl::Error::Kernel(fenced(9)));
        }
        Ok(ids
            .iter()
            .map(|&id| nl::Claimed {
                id,
                register: 5,
                epoch,
                register_epoch: Some(4),
            })
            .collect())
    }

    fn registers(&mut self) -> Result<Vec<nl::Channel>, nl::Error> {
        self.calls.push("registers".into());
        Ok((1..=3)
            .map(|id| nl::Channel {
                epoch: if Some(id) == self.fenced { 9 } else { 0 },
                section: vec![],
                ..channel(id, 5)
            })
            .collect())
    }

    fn cookie_log(&mut self, channel: ChannelId, after: Opid) -> Result<nl::CookieLog, nl::Error> {
        self.calls.push(format!("cookie_log {channel} {after}"));
        if channel == 404 {
            return Err(nl::Error::Kernel(kerr(libc::ENOENT, None)));
        }
        Ok(nl::CookieLog {
            register: after + 2,
            entries: (after + 1..=after + 2)
                .map(|opid| nl::CookieEntry {
                    opid,
                    epoch: 4,
                    sections: 0b10,
                })
                .collect(),
            log_short: false,
        })
    }

    fn channel(&mut self, id: ChannelId) -> Result<nl::Channel, nl::Error> {
        self.calls.push(format!("channel {id}"));
        if id == 404 {
            return Err(nl::Error::Kernel(kerr(libc::ENOENT, None)));
        }
        if self.moving {
            self.register += 1;
        }
        Ok(channel(id, self.register))
    }

    fn entries(
        &mut self,
        channel: ChannelId,
        section: Option<u32>,
    ) -> Result<Vec<nl::Entry>, nl::Error> {
        self.calls.push(match section {
            None => format!("entries {channel}"),
            Some(s) => format!("entries {channel} section {s}"),
        });
        Ok(vec![nl::Entry {
            channel,
            record: IfRecord::new(name("eth0")),
            section: None,
        }])
    }

    fn replay(
        &mut self,
        begin: &nl::ReplayBegin,
        ifaces: &[IfRecord],
    ) -> Result<nl::ReplayDone, nl::Error> {
        self.calls.push(format!(
            "replay {} {:#x} {}",
            begin.opid,
            begin.sections,
            ifaces.len()
        ));
        Ok(nl::ReplayDone {
            channel: begin.channel,
            epoch: Some(begin.epoch),
            opid: begin.opid,
            sections: begin.sections,
        })
    }
}

fn plain(opid: Opid) -> KernelCmd {
    KernelCmd::Update(update(opid, vec![Op::Del(name("a"))]))
}

fn claim(channel: ChannelId, epoch: Epoch) -> KernelCmd {
    KernelCmd::Claim { channel, epoch }
}

#[test]
fn commands_run_in_order_grouped_into_calls() {
    let mut a = KernelAdapter::new(
        Script {
            register: 7,
            ..Script::default()
        },
        2,
    );
    let replace = KernelCmd::Update(update(
        4,
        vec![Op::ReplaceSection {
            section: 1,
            records: vec![],
        }],
    ));
    let cmds = vec![
        plain(1),
        plain(2),
        plain(3),
        replace,
        claim(1, 6),
        claim(2, 6),
        claim(3, 7),
        KernelCmd::Cookies {
            channel: 1,
            after: 5,
        },
        KernelCmd::Digests { channel: 1 },
        KernelCmd::Dump {
            channel: 2,
            sections: u64::MAX,
        },
        plain(99),
    ];
    let out = a.execute(&cmds);
    assert_eq!(
        a.port_mut().calls,
        vec![
            "update_batch 1,2",
            "update_batch 3",
            "replay 4 0x2 0",
            "claim 6 [1, 2]",
            "claim 7 [3]",
            "cookie_log 1 5",
            "channel 1",
            "channel 2",
            "entries 2",
            "channel 2",
            "update_batch 99",
        ]
    );
    assert_eq!(out.len(), cmds.len());
    let acked: Vec<Opid> = out[..4]
        .iter()
        .map(|o| match o {
            Ok(KernelReply::Ack(a)) => a.opid,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(acked, vec![1, 2, 3, 4]);
    assert!(matches!(
        out[5],
        Ok(KernelReply::Claimed {
            channel: 2,
            epoch: 6,
            register: 5,
            register_epoch: 4
        })
    ));
    assert!(matches!(
        out[6],
        Ok(KernelReply::Claimed {
            channel: 3,
            epoch: 7,
            ..
        })
    ));
    assert!(matches!(&out[7], Ok(KernelReply::Cookies { entries: Some(e), .. }) if e.len() == 2));
    assert!(matches!(
        out[8],
        Ok(KernelReply::Digests { register: 7, .. })
    ));
    assert!(matches!(&out[9], Ok(KernelReply::Dump { records, .. }) if records.len() == 1));
    assert!(matches!(
        out[10],
        Ok(KernelReply::Reject {
            opid: 99,
            error: KernelError::OutOfOrder { register: 1 },
            ..
        })
    ));
}

#[test]
fn a_refused_group_claim_claims_the_others_at_once() {
    let mut a = KernelAdapter::new(
        Script {
            fenced: Some(2),
            ..Script::default()
        },
        8,
    );
    let out = a.execute(&[claim(1, 6), claim(2, 6), claim(3, 6)]);
    assert_eq!(
        a.port_mut().calls,
        vec!["claim 6 [1, 2, 3]", "registers", "claim 6 [1, 3]"]
    );
    assert!(matches!(
        out[0],
        Ok(KernelReply::Claimed { channel: 1, .. })
    ));
    assert!(matches!(
        out[1],
        Ok(KernelReply::Reject {
            channel: 2,
            error: KernelError::Fenced { owner: 9 },
            ..
        })
    ));
    assert!(matches!(
        out[2],
        Ok(KernelReply::Claimed { channel: 3, .. })
    ));
}

#[test]
fn failures_fault_every_command_they_touch() {
    let mut a = KernelAdapter::new(
        Script {
            socket_down: true,
            ..Script::default()
        },
        8,
    );
    let mut bad_epoch = update(3, vec![Op::Del(name("a"))]);
    bad_epoch.epoch = u64::MAX;
    let out = a.execute(&[plain(1), KernelCmd::Update(bad_epoch), plain(2)]);
    // The unencodable one faults in place; the others share the socket error.
    assert_eq!(a.port_mut().calls, vec!["update_batch 1,2"]);
    assert!(matches!(out[0], Err(Fault::Io { channel: 3, .. })));
    assert!(matches!(out[1], Err(Fault::Unencodable { .. })));
    assert!(matches!(out[2], Err(Fault::Io { .. })));
    if let (Err(Fault::Io { error: x, .. }), Err(Fault::Io { error: y, .. })) = (&out[0], &out[2]) {
        assert!(Arc::ptr_eq(x, y));
    }

    let mut a = KernelAdapter::new(Script::default(), 8);
    let out = a.execute(&[
        KernelCmd::Digests { channel: 404 },
        KernelCmd::Cookies {
            channel: 404,
            after: 0,
        },
        KernelCmd::Dump {
            channel: 404,
            sections: u64::MAX,
        },
    ]);
    for o in &out {
        assert!(
            matches!(
                o,
                Ok(KernelReply::Reject {
                    channel: 404,
                    error: KernelError::NoChannel,
                    ..
                })
            ),
            "{o:?}"
        );
    }
    let too_big = a.execute(&[claim(1, u64::MAX), claim(2, u64::MAX)]);
    assert!(too_big
        .iter()
        .all(|o| matches!(o, Err(Fault::Unencodable { .. }))));
    assert_eq!(too_big.len(), 2);

    let mut a = KernelAdapter::new(
        Script {
            moving: true,
            ..Script::default()
        },
        8,
    );
    let out = a.execute(&[KernelCmd::Dump {
        channel: 1,
        sections: u64::MAX,
    }]);
    assert!(
        matches!(&out[0], Err(f @ Fault::Malformed { .. }) if f.to_string().contains("moved")),
        "{out:?}"
    );
    assert_eq!(out[0].as_ref().map_err(Fault::channel).err(), Some(1));
}

#[test]
fn dump_of_some_sections_reads_each_and_registers_read_all() {
    let mut a = KernelAdapter::new(Script::default(), 8);
    // Channels have 2 sections: a dump of section 1 only asks for it.
    let out = a.execute(&[
        KernelCmd::Dump {
            channel: 1,
            sections: 0b10,
        },
        KernelCmd::Dump {
            channel: 1,
            sections: 0b11,
        },
        KernelCmd::Registers,
    ]);
    assert!(
        matches!(&out[0], Ok(KernelReply::Dump { sections: 0b10, .. })),
        "{out:?}"
    );
    match &out[2] {
        Ok(KernelReply::Registers(r)) => {
            assert_eq!(r.len(), 3);
            assert_eq!(
                (r[0].channel, r[0].register, r[0].register_epoch),
                (1, 5, 4)
            );
        }
        o => panic!("{o:?}"),
    }
    let calls = &a.port_mut().calls;
    assert_eq!(
        calls.as_slice(),
        [
            "channel 1",
            "entries 1 section 1",
            "channel 1",
            "channel 1",
            "entries 1",
            "channel 1",
            "registers"
        ]
    );
}

#[test]
fn the_record_limit_follows_the_module_and_never_exceeds_it() {
    assert_eq!(record_limit(None, 65536), Ok(65536));
    assert_eq!(record_limit(Some(4096), 65536), Ok(4096));
    assert_eq!(record_limit(Some(65536), 65536), Ok(65536));
    let e = record_limit(Some(70000), 65536).expect_err("above the module");
    assert!(
        e.contains("limits.max_records 70000") && e.contains("max_entries 65536"),
        "{e}"
    );
}
