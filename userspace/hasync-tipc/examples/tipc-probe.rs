//! `tipc-probe`: exercise hasync-tipc between two TIPC nodes.
//!
//! Used by `selftests/hasync/tipc_test.sh` inside the test VM, with the
//! nodes set up by `scripts/tipc-netns`; run each command in a node's
//! network namespace (`ip netns exec hasync-n1 tipc-probe …`).
//!
//! ```text
//! tipc-probe node                       own node address and identity
//! tipc-probe serve TYPE INST            publish {TYPE,INST} (SEQPACKET, echo)
//!                                       and {TYPE,INST+1} (RDM, echo)
//! tipc-probe ping TYPE INST [ROUNDS]    connect, greeting, ROUNDS echoes,
//!                                       nonblocking connect, how connections end
//! tipc-probe limits TYPE INST           largest message through, larger refused
//! tipc-probe rdm TYPE INST              one datagram there and back
//! tipc-probe topo TYPE INST             subscription timeout, SERVICE filter,
//!                                       cancel, invalid range refused
//! tipc-probe watch TYPE INST [--node-down] [--local] [--timeout SECS]
//!                  {--send LINE | --kill} -- CMD [ARG...]
//!     subscribe to the service and to node state, wait until the service
//!     is published (on another node, or with --local on this one), then
//!     trigger and time the WITHDRAWN events that follow (the node's too
//!     with --node-down)
//! ```
//!
//! The trigger is timed from the moment it acts, not from the start of a
//! program (tens of milliseconds under TCG, more than what is measured).
//! With `--send`, CMD is started first (`ip -batch -`, `tc -batch -`) and
//! given a second to load; the clock starts when LINE is written to its
//! standard input, which it acts on at once. With `--kill`, CMD is the
//! publisher itself (`ip netns exec hasync-n1 tipc-probe serve …`, which
//! keeps its process id): the clock starts at its SIGKILL.
//!
//! Every command prints what it saw and exits non-zero, saying why, when
//! something is not as expected.

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, ExitCode, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use hasync_tipc::{
    Error, Importance, RdmSocket, Scope, SeqPacketListener, SeqPacketStream, ServiceAddr,
    ServiceRange, SocketAddr, Subscription, TipcSocket, TopologyConnection, TopologyEvent,
    TIPC_MAX_USER_MSG_SIZE,
};

type Res<T = ()> = Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tipc-probe: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Res {
    let cmd = args.first().map(String::as_str).unwrap_or("help");
    match cmd {
        "node" => node(),
        "serve" => serve(service(args)?),
        "ping" => ping(service(args)?, number(args.get(3), 100)?),
        "limits" => limits(service(args)?),
        "rdm" => rdm(service(args)?),
        "topo" => topo(service(args)?),
        "watch" => watch(service(args)?, &args[3..]),
        _ => Err(format!(
            "unknown command '{cmd}' (node, serve, ping, limits, rdm, topo, watch)"
        )),
    }
}

fn number(arg: Option<&String>, default: u32) -> Res<u32> {
    match arg {
        None => Ok(default),
        Some(s) => s.parse().map_err(|_| format!("not a number: '{s}'")),
    }
}

fn service(args: &[String]) -> Res<ServiceAddr> {
    let (Some(t), Some(i)) = (args.get(1), args.get(2)) else {
        return Err(format!("usage: tipc-probe {} TYPE INSTANCE", args[0]));
    };
    Ok(ServiceAddr::new(number(Some(t), 0)?, number(Some(i), 0)?))
}

/// The RDM side of the server publishes the next instance.
fn rdm_service(svc: ServiceAddr) -> ServiceAddr {
    ServiceAddr::new(svc.type_, svc.instance.wrapping_add(1))
}

fn e(what: &str) -> impl Fn(Error) -> String + '_ {
    move |err| format!("{what}: {err}")
}

fn node() -> Res {
    let topo = TopologyConnection::connect().map_err(e("topology server"))?;
    let node = topo.own_node().map_err(e("own node"))?;
    let id = topo.node_id(node).map_err(e("node identity"))?;
    println!("node {node:x} identity {id}");
    Ok(())
}

fn serve(svc: ServiceAddr) -> Res {
    let listener = SeqPacketListener::bind(svc, Scope::Cluster).map_err(e("publish"))?;
    let rdm = RdmSocket::bind(rdm_service(svc), Scope::Cluster).map_err(e("publish rdm"))?;
    let me = listener.local_addr().map_err(e("getsockname"))?;
    thread::spawn(move || {
        if let Err(err) = rdm_echo(&rdm) {
            eprintln!("tipc-probe serve: rdm: {err}");
        }
    });
    println!("ready {svc} at {me}");
    let _ = std::io::stdout().flush();
    loop {
        let (conn, peer) = listener.accept(false).map_err(e("accept"))?;
        eprintln!("tipc-probe serve: connection from {peer}");
        thread::spawn(move || {
            if let Err(err) = echo(&conn, me.node) {
                eprintln!("tipc-probe serve: {peer}: {err}");
            }
        });
    }
}

fn echo(conn: &SeqPacketStream, node: u32) -> Res {
    conn.send(format!("hello from {node:x}").as_bytes())
        .map_err(e("greeting"))?;
    let mut buf = vec![0u8; TIPC_MAX_USER_MSG_SIZE];
    loop {
        let n = match conn.recv(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(err) if err.raw_os_error() == Some(libc::ECONNRESET) => return Ok(()),
            Err(err) => return Err(format!("recv: {err}")),
        };
        match &buf[..n] {
            b"close" => return Ok(()),
            b"shutdown" => return conn.shutdown().map_err(e("shutdown")),
            msg => conn.send(msg).map_err(e("send"))?,
        }
    }
}

fn rdm_echo(rdm: &RdmSocket) -> Res {
    let mut buf = vec![0u8; TIPC_MAX_USER_MSG_SIZE];
    loop {
        let (n, from) = rdm.recv_from(&mut buf).map_err(e("recv_from"))?;
        if n > 0 {
            rdm.send_to(&buf[..n], from).map_err(e("send_to"))?;
        }
    }
}

/// Connect from another node and check who answers.
fn connect(svc: ServiceAddr) -> Res<(SeqPacketStream, SocketAddr)> {
    let timeout = Duration::from_secs(5);
    let conn = SeqPacketStream::connect_timeout(svc, timeout).map_err(e("connect"))?;
    let got = conn.conn_timeout().map_err(e("conn_timeout"))?;
    if got != timeout {
        return Err(format!("connect timeout reads back as {got:?}"));
    }
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(e("read timeout"))?;
    let peer = conn.peer_addr().map_err(e("getpeername"))?;
    let own = conn.own_node().map_err(e("own node"))?;
    if peer.node == own {
        return Err(format!(
            "{svc} answered on the own node {own:x}, not across nodes"
        ));
    }
    let mut buf = [0u8; 64];
    let n = conn.recv(&mut buf).map_err(e("recv greeting"))?;
    let want = format!("hello from {:x}", peer.node);
    if &buf[..n] != want.as_bytes() {
        return Err(format!(
            "greeting '{}', expected '{want}'",
            String::from_utf8_lossy(&buf[..n])
        ));
    }
    println!("connected to {svc} at {peer} from node {own:x}; greeted");
    Ok((conn, peer))
}

fn round_trip(conn: &SeqPacketStream, msg: &[u8], buf: &mut [u8]) -> Res {
    conn.send(msg).map_err(e("send"))?;
    let n = conn.recv(buf).map_err(e("recv"))?;
    if &buf[..n] != msg {
        return Err(format!(
            "echo of {} bytes came back as {n} other bytes",
            msg.len()
        ));
    }
    Ok(())
}

fn ping(svc: ServiceAddr, rounds: u32) -> Res {
    let nobody = ServiceAddr::new(svc.type_, svc.instance.wrapping_add(1000));
    match SeqPacketStream::connect(nobody) {
        Err(err) if err.raw_os_error() == Some(libc::EHOSTUNREACH) => {
            println!("connect to unpublished {nobody}: {err}")
        }
        other => return Err(format!("connect to unpublished {nobody}: {other:?}")),
    }
    let (conn, _) = connect(svc)?;
    conn.set_importance(Importance::Critical)
        .map_err(e("set importance"))?;
    let imp = conn.importance().map_err(e("importance"))?;
    if imp != Importance::Critical {
        return Err(format!("importance reads back as {imp:?}"));
    }
    let mut buf = [0u8; 64];
    let start = Instant::now();
    for i in 0..rounds {
        round_trip(&conn, format!("ping {i}").as_bytes(), &mut buf)?;
    }
    let took = start.elapsed();
    println!(
        "{rounds} round trips in {:.1} ms ({:.0} us each)",
        ms(took),
        took.as_secs_f64() * 1e6 / f64::from(rounds.max(1))
    );

    conn.set_nonblocking(true).map_err(e("nonblocking"))?;
    match conn.recv(&mut buf) {
        Err(err) if err.is_would_block() => println!("nonblocking recv: would block"),
        other => return Err(format!("nonblocking recv on an idle connection: {other:?}")),
    }
    conn.set_nonblocking(false).map_err(e("blocking"))?;
    connect_nonblocking(svc)?;
    connection_ends(svc)
}

/// The server ends a connection in order, then by just closing it.
fn connection_ends(svc: ServiceAddr) -> Res {
    let mut buf = [0u8; 64];
    let (conn, _) = connect(svc)?;
    conn.send(b"shutdown").map_err(e("send"))?;
    match conn.recv(&mut buf) {
        Ok(0) => println!("peer shutdown: recv returns 0"),
        other => return Err(format!("after the peer's shutdown: {other:?}")),
    }
    let (conn, _) = connect(svc)?;
    conn.send(b"close").map_err(e("send"))?;
    match conn.recv(&mut buf) {
        Err(err) if err.raw_os_error() == Some(libc::ECONNRESET) => {
            println!("peer close: recv fails with ECONNRESET")
        }
        other => return Err(format!("after the peer's close: {other:?}")),
    }
    Ok(())
}

/// A nonblocking connect, polled the crude way: until the peer address
/// is known and the greeting has arrived.
fn connect_nonblocking(svc: ServiceAddr) -> Res {
    let conn = SeqPacketStream::connect_nonblocking(svc.into()).map_err(e("connect"))?;
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = [0u8; 64];
    let n = loop {
        match conn.recv(&mut buf) {
            Ok(n) => break n,
            Err(err)
                if (err.is_would_block() || err.raw_os_error() == Some(libc::ENOTCONN))
                    && Instant::now() < deadline =>
            {
                thread::sleep(Duration::from_millis(1))
            }
            Err(err) => return Err(format!("nonblocking connect: {err}")),
        }
    };
    let peer = conn.peer_addr().map_err(e("getpeername"))?;
    if let Some(err) = conn.take_error().map_err(e("SO_ERROR"))? {
        return Err(format!("nonblocking connect: pending error {err}"));
    }
    println!(
        "nonblocking connect to {peer}: '{}'",
        String::from_utf8_lossy(&buf[..n])
    );
    Ok(())
}

fn limits(svc: ServiceAddr) -> Res {
    let (conn, _) = connect(svc)?;
    let mut buf = vec![0u8; TIPC_MAX_USER_MSG_SIZE];
    let big: Vec<u8> = (0..TIPC_MAX_USER_MSG_SIZE)
        .map(|i| (i % 251) as u8)
        .collect();
    round_trip(&conn, &big, &mut buf)?;
    println!("{} bytes (the maximum) there and back", big.len());

    let too_big = vec![0u8; TIPC_MAX_USER_MSG_SIZE + 1];
    match conn.send(&too_big) {
        Err(Error::MessageTooLarge { len, max }) => {
            println!("{len} bytes refused: MessageTooLarge (max {max})")
        }
        other => return Err(format!("sending {} bytes: {other:?}", too_big.len())),
    }
    match conn.send(&[]) {
        Err(Error::EmptyMessage) => println!("empty message refused"),
        other => return Err(format!("sending 0 bytes: {other:?}")),
    }
    let mut small = [0u8; 8];
    conn.send(b"0123456789").map_err(e("send"))?;
    match conn.recv(&mut small) {
        Err(Error::Truncated(8)) => println!("10-byte message into an 8-byte buffer: Truncated"),
        other => return Err(format!("receiving 10 bytes into 8: {other:?}")),
    }
    round_trip(&conn, b"still there", &mut buf)?;
    println!("connection still usable");
    Ok(())
}

fn rdm(svc: ServiceAddr) -> Res {
    let to = rdm_service(svc);
    let sock = RdmSocket::new().map_err(e("socket"))?;
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(e("read timeout"))?;
    let own = sock.own_node().map_err(e("own node"))?;
    sock.send_to(b"datagram", to).map_err(e("send_to"))?;
    let mut buf = [0u8; 64];
    let (n, from) = sock.recv_from(&mut buf).map_err(e("recv_from"))?;
    if &buf[..n] != b"datagram" || from.node == own {
        return Err(format!(
            "got '{}' from {from} (own node {own:x})",
            String::from_utf8_lossy(&buf[..n])
        ));
    }
    println!("datagram to {to} echoed by {from}");
    Ok(())
}

/// Subscriptions other than the plain PORTS one `watch` uses, against the
/// running `serve`.
fn topo(svc: ServiceAddr) -> Res {
    let topo = TopologyConnection::connect().map_err(e("topology server"))?;
    topo.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(e("read timeout"))?;
    let next = |what: &str| topo.recv().map_err(|err| format!("{what}: {err}"));

    let nobody = ServiceRange::new(
        svc.type_,
        svc.instance.wrapping_add(1000),
        svc.instance.wrapping_add(1000),
    );
    let short = Subscription::ports(nobody)
        .with_timeout(Duration::from_millis(200))
        .with_handle(0xfeed);
    let start = Instant::now();
    topo.subscribe(&short).map_err(e("subscribe"))?;
    let ev = next("waiting for the timeout")?;
    let took = start.elapsed();
    // The topology server arms its timer in jiffies, so it may fire up to a
    // tick (4 ms at HZ=250) before 200 ms of this clock have passed, and a
    // TCG guest's tick drifts further; 150 ms still proves the subscription's
    // timeout was honoured rather than answered at once.
    if ev
        != (TopologyEvent::SubscriptionTimeout {
            subscription: short,
        })
        || took < Duration::from_millis(150)
    {
        return Err(format!("after {took:?}: {ev:?}"));
    }
    println!(
        "200 ms subscription to {nobody}: timed out after {:.1} ms",
        ms(took)
    );

    // One event per published range with SERVICE; serve publishes two.
    let all = Subscription::service(ServiceRange::all(svc.type_)).with_handle(3);
    topo.subscribe(&all).map_err(e("subscribe"))?;
    for _ in 0..2 {
        match next("SERVICE subscription")? {
            TopologyEvent::Published {
                found,
                subscription,
                ..
            } if subscription == all => {
                println!("SERVICE subscription: {found} is up")
            }
            other => return Err(format!("SERVICE subscription: {other:?}")),
        }
    }
    topo.cancel(&all).map_err(e("cancel"))?;

    let bad = Subscription::ports(ServiceRange::new(svc.type_, 5, 1));
    match topo.subscribe(&bad) {
        Err(Error::InvalidRange(r)) => println!("range {r} refused before sending"),
        other => return Err(format!("subscribing {}: {other:?}", bad.range)),
    }

    // The connection survived the cancel: a new subscription still works.
    let again = short.with_handle(0xbeef);
    topo.subscribe(&again).map_err(e("subscribe"))?;
    match next("after cancel")? {
        TopologyEvent::SubscriptionTimeout { subscription } if subscription == again => {
            println!("connection still serves subscriptions after a cancel")
        }
        other => return Err(format!("after cancel: {other:?}")),
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

const SERVICE_HANDLE: u64 = 1;
const NODES_HANDLE: u64 = 2;

struct Watch {
    topo: TopologyConnection,
    deadline: Instant,
    nodes_up: BTreeSet<u32>,
}

impl Watch {
    /// The next event, or an error once the deadline has passed.
    fn next(&mut self) -> Res<TopologyEvent> {
        let left = self
            .deadline
            .checked_duration_since(Instant::now())
            .ok_or("timed out")?;
        self.topo
            .set_read_timeout(Some(left))
            .map_err(e("read timeout"))?;
        let ev = match self.topo.recv() {
            Err(err) if err.is_would_block() => return Err("timed out".into()),
            r => r.map_err(e("topology event"))?,
        };
        if ev.subscription().handle == NODES_HANDLE {
            if let Some((found, _)) = ev.publication() {
                match ev {
                    TopologyEvent::Published { .. } => self.nodes_up.insert(found.lower),
                    _ => self.nodes_up.remove(&found.lower),
                };
            }
        }
        Ok(ev)
    }
}

fn describe(ev: &TopologyEvent) -> String {
    let node = ev.subscription().handle == NODES_HANDLE;
    let Some((found, publisher)) = ev.publication() else {
        return format!("subscription {} timed out", ev.subscription().range);
    };
    let verb = match ev {
        TopologyEvent::Published { .. } => "published",
        _ => "withdrawn",
    };
    if node {
        format!("node {:x} {verb} (by {publisher})", found.lower)
    } else {
        format!("service {found} {verb} by {publisher}")
    }
}

/// How `watch` causes the withdrawal.
enum Trigger {
    /// A command started ahead, acting on a line written to its stdin.
    Send(String),
    /// The publisher itself, started by `watch` and SIGKILLed.
    Kill,
}

struct WatchArgs<'a> {
    node_down: bool,
    local: bool,
    timeout: Duration,
    trigger: Trigger,
    command: &'a [String],
}

fn watch_args(args: &[String]) -> Res<WatchArgs<'_>> {
    let mut w = WatchArgs {
        node_down: false,
        local: false,
        timeout: Duration::from_secs(30),
        trigger: Trigger::Kill,
        command: &[],
    };
    let mut trigger = None;
    let mut i = 0;
    while i < args.len() && args[i] != "--" {
        match args[i].as_str() {
            "--node-down" => w.node_down = true,
            "--local" => w.local = true,
            "--kill" => trigger = Some(Trigger::Kill),
            "--timeout" => {
                w.timeout = Duration::from_secs(number(args.get(i + 1), 0)?.into());
                i += 1;
            }
            "--send" => {
                let line = args.get(i + 1).ok_or("watch: --send needs a line")?;
                trigger = Some(Trigger::Send(line.clone()));
                i += 1;
            }
            other => return Err(format!("watch: unknown option '{other}'")),
        }
        i += 1;
    }
    w.trigger = trigger.ok_or("watch: --send LINE or --kill needed")?;
    w.command = args.get(i + 1..).unwrap_or_default();
    if w.command.is_empty() {
        return Err("watch: no command after --".into());
    }
    Ok(w)
}

fn watch(svc: ServiceAddr, args: &[String]) -> Res {
    let args = watch_args(args)?;
    let cmd = args.command;
    // Start the command now: a trigger is then loaded and reading by the
    // time it is needed; a publisher has to be running before anything.
    let stdin = match args.trigger {
        Trigger::Send(_) => Stdio::piped(),
        Trigger::Kill => Stdio::null(),
    };
    let mut child = Command::new(&cmd[0])
        .args(&cmd[1..])
        .stdin(stdin)
        .spawn()
        .map_err(|err| format!("{}: {err}", cmd[0]))?;
    let armed = Instant::now() + Duration::from_secs(1);

    let topo = TopologyConnection::connect().map_err(e("topology server"))?;
    let own = topo.own_node().map_err(e("own node"))?;
    let svc_sub = Subscription::ports(ServiceRange::single(svc)).with_handle(SERVICE_HANDLE);
    topo.subscribe(&svc_sub).map_err(e("subscribe"))?;
    topo.subscribe(&Subscription::nodes().with_handle(NODES_HANDLE))
        .map_err(e("subscribe to node state"))?;
    let mut w = Watch {
        topo,
        deadline: Instant::now() + args.timeout,
        nodes_up: BTreeSet::new(),
    };
    let publisher = w.published(svc)?;
    if (publisher.node == own) != args.local {
        return Err(format!(
            "{svc} is published on node {:x}, the own node is {own:x}",
            publisher.node
        ));
    }

    thread::sleep(armed.saturating_duration_since(Instant::now()));
    // Nothing between the clock and the trigger, nor between the trigger
    // and the first recv (a thread spawn here cost milliseconds in TCG).
    let start = Instant::now();
    let pulled = match &args.trigger {
        Trigger::Send(line) => match child.stdin.take() {
            Some(mut stdin) => writeln!(stdin, "{line}").map_err(|e| e.to_string()),
            None => Err("no stdin".to_string()),
        },
        Trigger::Kill => child.kill().map_err(|e| e.to_string()),
    };
    let seen = pulled.and_then(|()| w.withdrawn(svc, publisher, args.node_down, start));
    match &args.trigger {
        Trigger::Send(line) => println!("trigger: '{line}' | {}", cmd.join(" ")),
        Trigger::Kill => println!("trigger: SIGKILL to {} ({})", child.id(), cmd.join(" ")),
    }
    let (withdrawn, down) = seen.map_err(|err| format!("trigger: {err}"))?;
    let status = child.wait().map_err(|err| format!("{}: {err}", cmd[0]))?;
    if matches!(args.trigger, Trigger::Send(_)) && !status.success() {
        return Err(format!("trigger command failed: {status}"));
    }
    println!("latency WITHDRAWN service: {:.3} ms", ms(withdrawn - start));
    if let Some(down) = down {
        println!("latency WITHDRAWN node: {:.3} ms", ms(down - start));
    }
    if !args.node_down && !w.nodes_up.contains(&publisher.node) {
        println!("note: node {:x} went down too", publisher.node);
    }
    Ok(())
}

impl Watch {
    /// Wait until `svc` is published on a node that is up; its publisher.
    fn published(&mut self, svc: ServiceAddr) -> Res<SocketAddr> {
        let mut publisher: Option<SocketAddr> = None;
        loop {
            if let Some(p) = publisher {
                if self.nodes_up.contains(&p.node) {
                    return Ok(p);
                }
            }
            let ev = self
                .next()
                .map_err(|err| format!("waiting for {svc}: {err}"))?;
            println!("{}", describe(&ev));
            if let TopologyEvent::Published {
                publisher: p,
                subscription,
                ..
            } = ev
            {
                if subscription.handle == SERVICE_HANDLE {
                    publisher = Some(p);
                }
            }
        }
    }

    /// Wait until `publisher` withdraws `svc` (and, with `node_down`, its
    /// node goes down); when each was seen.
    fn withdrawn(
        &mut self,
        svc: ServiceAddr,
        publisher: SocketAddr,
        node_down: bool,
        start: Instant,
    ) -> Res<(Instant, Option<Instant>)> {
        let mut withdrawn = None;
        let mut down = None;
        loop {
            if let Some(w) = withdrawn {
                if !node_down || down.is_some() {
                    return Ok((w, down));
                }
            }
            let ev = self
                .next()
                .map_err(|err| format!("waiting for {svc} withdrawn by {publisher}: {err}"))?;
            let at = Instant::now();
            println!("{} (+{:.3} ms)", describe(&ev), ms(at - start));
            if let TopologyEvent::Withdrawn {
                found,
                publisher: p,
                subscription,
            } = ev
            {
                if subscription.handle == SERVICE_HANDLE && p == publisher {
                    withdrawn = Some(at);
                }
                if subscription.handle == NODES_HANDLE && found.lower == publisher.node {
                    down = Some(at);
                }
            }
        }
    }
}
