//! Moves one live TCP connection between network namespaces with
//! `hasyncd::tcp_repair`, for `selftests/hasync/tcp_move_test.sh`: the
//! transport half of a TCP face connection surviving a failover, without
//! the daemons.
//!
//! ```text
//! tcp_move serve ADDR:PORT DIR     accept one connection, answer "ok LINE"
//!                                  to each line; when DIR/go appears, read
//!                                  the connection's state into DIR/state and
//!                                  exit without a FIN or RST
//! tcp_move resume DIR IFACE PREFIX recreate the connection from DIR/state,
//!                                  take its address on IFACE (announced by
//!                                  gratuitous ARP), go on answering
//! tcp_move client ADDR:PORT DIR    one connection; request after request
//!                                  until DIR/stop appears; every answer must
//!                                  be the next one; prints the stalls
//! ```

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddrV4, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use hasync_engine::tcp_state::TcpState;
use hasyncd::service_addr::ServiceAddr;
use hasyncd::tcp_repair;

type Res<T = ()> = Result<T, String>;

fn e<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> String {
    move |err| format!("{what}: {err}")
}

/// Answers lines until `dir/go` appears, then writes the state there.
fn answer(stream: TcpStream, dir: &Path) -> Res {
    stream
        .set_read_timeout(Some(Duration::from_millis(5)))
        .map_err(e("timeout"))?;
    let mut r = BufReader::new(stream.try_clone().map_err(e("clone"))?);
    let mut w = &stream;
    let mut line = String::new();
    loop {
        if dir.join("go").exists() {
            let state = tcp_repair::dump(&stream).map_err(e("dump"))?;
            // What the reader took from the socket is the server's, not the
            // kernel's: put it back in front of the receive queue.
            let mut s = state;
            let pending = r.buffer().to_vec();
            let mut inq = line.clone().into_bytes();
            inq.extend_from_slice(&pending);
            inq.extend_from_slice(&s.inq);
            s.inq = inq;
            std::fs::write(dir.join("state.tmp"), s.encode()).map_err(e("write state"))?;
            std::fs::rename(dir.join("state.tmp"), dir.join("state")).map_err(e("rename"))?;
            std::fs::remove_file(dir.join("go")).map_err(e("remove go"))?;
            // The socket is in repair mode: closing it sends nothing.
            return Ok(());
        }
        match r.read_line(&mut line) {
            Ok(0) => return Err("client closed".into()),
            Ok(_) if line.ends_with('\n') => {
                w.write_all(format!("ok {line}").as_bytes())
                    .map_err(e("reply"))?;
                line.clear();
            }
            Ok(_) => {}
            Err(err)
                if matches!(
                    err.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(err) => return Err(format!("read: {err}")),
        }
    }
}

fn serve(addr: &str, dir: &Path) -> Res {
    let l = TcpListener::bind(addr).map_err(e("listen"))?;
    let (s, from) = l.accept().map_err(e("accept"))?;
    drop(l);
    eprintln!("tcp_move: connection from {from}");
    answer(s, dir)
}

fn resume(dir: &Path, iface: &str, prefix: u8) -> Res {
    let bytes = std::fs::read(dir.join("state")).map_err(e("read state"))?;
    std::fs::remove_file(dir.join("state")).map_err(e("remove state"))?;
    let s = TcpState::decode(&bytes).map_err(e("decode"))?;
    let t0 = Instant::now();
    let stream = tcp_repair::rebuild(&s).map_err(e("rebuild"))?;
    let addr = ServiceAddr {
        ip: *s.local.ip(),
        prefix,
        interface: iface.to_owned(),
    };
    addr.take().map_err(e("take the address"))?;
    tcp_repair::go_live(&stream).map_err(e("go live"))?;
    (&stream).write_all(&s.outq).map_err(e("resend"))?;
    eprintln!(
        "tcp_move: {} -> {} resumed in {:.1} ms (inq {} outq {} unsent {})",
        s.local,
        s.remote,
        t0.elapsed().as_secs_f64() * 1e3,
        s.inq.len(),
        s.outq.len(),
        s.unsent
    );
    answer(stream, dir)
}

fn client(addr: &str, dir: &Path) -> Res {
    let to: SocketAddrV4 = addr.parse().map_err(e("address"))?;
    let s = TcpStream::connect(to).map_err(e("connect"))?;
    s.set_nodelay(true).map_err(e("nodelay"))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(e("timeout"))?;
    let mut r = BufReader::new(s.try_clone().map_err(e("clone"))?);
    let mut w = &s;
    let mut gaps: Vec<f64> = Vec::new();
    let mut last = Instant::now();
    let mut n: u64 = 0;
    let mut line = String::new();
    while !dir.join("stop").exists() {
        n += 1;
        w.write_all(format!("{n}\n").as_bytes())
            .map_err(|err| format!("request {n}: {err}"))?;
        line.clear();
        r.read_line(&mut line)
            .map_err(|err| format!("answer to {n}: {err}"))?;
        if line != format!("ok {n}\n") {
            return Err(format!("answer to {n}: {line:?}"));
        }
        let gap = last.elapsed().as_secs_f64() * 1e3;
        last = Instant::now();
        // A stall: an answer that took over 100 ms (a request and its
        // answer take a few ms in the VM otherwise).
        if gap > 100.0 {
            gaps.push(gap);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    gaps.sort_by(f64::total_cmp);
    let median = gaps.get(gaps.len() / 2).copied().unwrap_or(0.0);
    let worst = gaps.last().copied().unwrap_or(0.0);
    println!(
        "requests {n} answered in order; stalls {} median {median:.0} ms worst {worst:.0} ms",
        gaps.len()
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = |i: usize| args.get(i).map(PathBuf::from);
    let r = match (args.first().map(String::as_str), args.len()) {
        (Some("serve"), 3) => serve(&args[1], &dir(2).unwrap_or_default()),
        (Some("resume"), 4) => match args[3].parse() {
            Ok(p) => resume(&dir(1).unwrap_or_default(), &args[2], p),
            Err(_) => Err(format!("prefix {:?}", args[3])),
        },
        (Some("client"), 3) => client(&args[1], &dir(2).unwrap_or_default()),
        _ => Err(
            "usage: tcp_move serve ADDR:PORT DIR | resume DIR IFACE PREFIX | client ADDR:PORT DIR"
                .into(),
        ),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("tcp_move: {err}");
            ExitCode::FAILURE
        }
    }
}
