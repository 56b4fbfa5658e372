//! `hasync monitor`: a line per kernel event, or per event of the daemon on
//! this node, for people and scripts to follow (`drbdsetup events2` style:
//! the event name, then `key:value` pairs; `-j` gives one JSON object per
//! line with the same `event` name).
//!
//! ```text
//! hasync monitor [acks|entries|all|daemon]
//! ```
//!
//! The daemon's stream starts with its state, each line marked `exists`
//! (`initial` in JSON), then one line per change:
//!
//! ```text
//! exists role role:primary phase:primary epoch:514 node:cu-1
//! change peer-up peer:cu-2 state:syncing node:cu-1
//! change peer-state peer:cu-2 state:hot node:cu-1
//! ```

use std::io::{self, Write};

use clap::ValueEnum;
use hasync_model::text::mac_to_string;
use hasync_nl::{Event, Groups, Monitor};

use crate::daemon;
use crate::output::Format;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Which events: ACKs, record and channel changes, or both.
    #[arg(value_enum, default_value_t = Which::All)]
    which: Which,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Which {
    /// ACKs of updates and replays (the `acks` group).
    Acks,
    /// Record and channel changes (the `monitor` group).
    Entries,
    /// Both.
    All,
    /// The daemon on this node: role, peers, takeovers, fencing, audits,
    /// refusals.
    Daemon,
}

pub fn run(args: Args, out: Format, opts: &daemon::Opts) -> crate::Result {
    if args.which == Which::Daemon {
        return follow_daemon(out, opts);
    }
    let groups = Groups {
        acks: args.which != Which::Entries,
        monitor: args.which != Which::Acks,
    };
    let mut mon = Monitor::open(groups)?;
    let stdout = io::stdout();
    loop {
        match mon.next_event() {
            Ok(ev) => {
                let mut w = stdout.lock();
                match out {
                    // One object per line even with -p: it is a stream.
                    Format::Json | Format::Pretty => {
                        serde_json::to_writer(&mut w, &ev)?;
                        writeln!(w)?;
                    }
                    Format::Text => text(&mut w, &ev)?,
                }
                w.flush()?;
            }
            // One undecodable event is reported and skipped.
            Err(hasync_nl::Error::Reply(e)) => eprintln!("hasync: monitor: {e}"),
            Err(e) => return Err(e.into()),
        }
    }
}

fn text(w: &mut dyn Write, ev: &Event) -> io::Result<()> {
    match ev {
        Event::Ack(a) => {
            write!(w, "ack channel:{}", a.channel)?;
            if let Some(e) = a.epoch {
                write!(w, " epoch:{e}")?;
            }
            writeln!(
                w,
                " opid:{} cookie:{:#x} duplicate:{}",
                a.opid,
                a.cookie,
                yes_no(a.duplicate)
            )
        }
        Event::Entry(e) => {
            let i = &e.record;
            write!(w, "entry channel:{} name:{}", e.channel, i.name)?;
            if let Some(s) = e.section {
                write!(w, " section:{s}")?;
            }
            write!(
                w,
                " up:{} mtu:{} mac:{} vlan:{}",
                yes_no(i.admin_up),
                i.mtu,
                mac_to_string(&i.mac),
                i.vlan
            )?;
            let addrs: Vec<_> = i.addrs.iter().map(ToString::to_string).collect();
            let desc = String::from_utf8_lossy(&i.description);
            writeln!(w, " addrs:{} desc:{desc:?}", addrs.join(","))
        }
        Event::EntryDeleted { channel, name } => {
            writeln!(w, "entry-deleted channel:{channel} name:{name}")
        }
        Event::Channel(c) => {
            write!(w, "channel id:{}", c.id)?;
            if let Some(name) = &c.name {
                write!(w, " name:{name}")?;
            }
            write!(
                w,
                " sections:{} register:{} epoch:{} entries:{}",
                c.sections, c.register, c.epoch, c.entries
            )?;
            match c.register_epoch {
                Some(e) => writeln!(w, " register-epoch:{e}"),
                None => writeln!(w),
            }
        }
        Event::ChannelDeleted { id } => writeln!(w, "channel-deleted id:{id}"),
        Event::Lost => writeln!(w, "lost"),
    }
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// Prints the daemon's events as they come, until it or the reader goes.
fn follow_daemon(out: Format, opts: &daemon::Opts) -> crate::Result {
    let mut failed: Option<io::Error> = None;
    let ended = opts.exchange_local(|c| {
        let id = c.send(hasync_ctl::Request::Events)?;
        loop {
            let r = c.recv()?;
            match r.body {
                hasync_ctl::Response::Event(ev) if r.id == id => {
                    if let Err(e) = print_event(out, &ev) {
                        failed = Some(e);
                        return Ok(hasync_ctl::Response::Event(ev));
                    }
                }
                e @ hasync_ctl::Response::Error(_) => return Ok(e),
                _ => {}
            }
        }
    });
    match (failed, ended) {
        (Some(e), _) => Err(e.into()),
        (None, Ok(_)) => Ok(()),
        (None, Err(e)) => Err(e.into()),
    }
}

fn print_event(out: Format, ev: &hasync_ctl::EventFrame) -> io::Result<()> {
    let mut w = io::stdout().lock();
    match out {
        Format::Json | Format::Pretty => {
            serde_json::to_writer(&mut w, ev)?;
            writeln!(w)?;
        }
        Format::Text => event_text(&mut w, ev)?,
    }
    w.flush()
}

/// `exists|change KIND key:value... node:NAME`.
fn event_text(w: &mut dyn Write, ev: &hasync_ctl::EventFrame) -> io::Result<()> {
    use hasync_ctl::DaemonEvent as E;
    write!(w, "{} ", if ev.initial { "exists" } else { "change" })?;
    match &ev.event {
        E::Role { role, phase, epoch } => write!(
            w,
            "role role:{role} phase:{} epoch:{epoch}",
            phase.replace(", ", "/")
        )?,
        E::PeerUp { peer, state } => write!(w, "peer-up peer:{peer} state:{state}")?,
        E::PeerState { peer, state } => write!(w, "peer-state peer:{peer} state:{state}")?,
        E::PeerDown { peer } => write!(w, "peer-down peer:{peer}")?,
        E::Takeover { report } => write!(
            w,
            "takeover reason:{} epoch:{} previous-epoch:{} channels:{} in-sync:{} replayed:{} total-ms:{:.1}",
            report.reason,
            report.epoch,
            report.previous_epoch,
            report.channels_total,
            report.channels_in_sync,
            report.entries_replayed,
            report.total_ms
        )?,
        E::Fenced { epoch } => write!(w, "fenced epoch:{epoch}")?,
        E::AuditRepair {
            mismatches,
            repaired,
        } => write!(w, "audit-repair mismatches:{mismatches} repaired:{repaired}")?,
        E::Refused { what, total } => write!(w, "refused what:{what} total:{total}")?,
    }
    writeln!(w, " node:{}", ev.node)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hasync_model::{IfName, IfRecord};
    use hasync_nl::{Ack, Channel, Entry};

    fn daemon_line(initial: bool, event: hasync_ctl::DaemonEvent) -> String {
        let ev = hasync_ctl::EventFrame {
            time_ms: 1,
            node: "cu-1".into(),
            initial,
            event,
        };
        let mut out = Vec::new();
        event_text(&mut out, &ev).expect("writes");
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn daemon_events_as_lines() {
        use hasync_ctl::DaemonEvent as E;
        assert_eq!(
            daemon_line(
                true,
                E::Role {
                    role: "standby".into(),
                    phase: "standby, hot".into(),
                    epoch: 514
                }
            ),
            "exists role role:standby phase:standby/hot epoch:514 node:cu-1\n"
        );
        assert_eq!(
            daemon_line(
                false,
                E::PeerState {
                    peer: "cu-2".into(),
                    state: "hot".into()
                }
            ),
            "change peer-state peer:cu-2 state:hot node:cu-1\n"
        );
        assert_eq!(
            daemon_line(
                false,
                E::Refused {
                    what: "control".into(),
                    total: 2
                }
            ),
            "change refused what:control total:2 node:cu-1\n"
        );
    }

    fn name(s: &str) -> IfName {
        IfName::new(s.as_bytes()).expect("valid")
    }

    fn line(ev: Event) -> String {
        let mut buf = Vec::new();
        text(&mut buf, &ev).expect("writes");
        String::from_utf8(buf).expect("UTF-8")
    }

    #[test]
    fn lines() {
        assert_eq!(
            line(Event::Ack(Ack {
                channel: 1,
                epoch: None,
                opid: 5,
                cookie: 16,
                duplicate: false
            })),
            "ack channel:1 opid:5 cookie:0x10 duplicate:no\n"
        );
        assert_eq!(
            line(Event::Ack(Ack {
                channel: 1,
                epoch: Some(4),
                opid: 5,
                cookie: 16,
                duplicate: false
            })),
            "ack channel:1 epoch:4 opid:5 cookie:0x10 duplicate:no\n"
        );
        let i = IfRecord {
            admin_up: true,
            addrs: vec![
                "10.0.0.1/24".parse().expect("valid"),
                "::1/128".parse().expect("valid"),
            ],
            description: b"a b".to_vec(),
            ..IfRecord::new(name("eth0"))
        };
        assert_eq!(
            line(Event::Entry(Entry {
                channel: 1,
                record: i,
                section: Some(4),
            })),
            "entry channel:1 name:eth0 section:4 up:yes mtu:1500 mac:00:00:00:00:00:00 vlan:0 \
             addrs:10.0.0.1/24,::1/128 desc:\"a b\"\n"
        );
        assert_eq!(
            line(Event::EntryDeleted {
                channel: 1,
                name: name("eth0")
            }),
            "entry-deleted channel:1 name:eth0\n"
        );
        let c = Channel {
            id: 2,
            name: None,
            sections: 64,
            register: 9,
            epoch: 3,
            register_epoch: Some(2),
            entries: 0,
            section: vec![],
            log_first_opid: 0,
        };
        assert_eq!(
            line(Event::Channel(c)),
            "channel id:2 sections:64 register:9 epoch:3 entries:0 register-epoch:2\n"
        );
        assert_eq!(
            line(Event::ChannelDeleted { id: 2 }),
            "channel-deleted id:2\n"
        );
        assert_eq!(line(Event::Lost), "lost\n");
    }
}
