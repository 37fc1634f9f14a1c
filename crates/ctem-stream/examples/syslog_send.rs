//! A small syslog sender for the benchmark (bench/syslog.sh) and for trying a listener:
//! cycles the lines of a file and sends COUNT messages over TCP (newline or octet-counted
//! framing) or UDP, as fast as it can or at a given rate. Prints what it sent as JSON.
//!
//! ```text
//! cargo run --release -p ctem-stream --example syslog_send -- \
//!     tcp://127.0.0.1:5514 LINES.log 1000000 [--octet] [--rate N]
//! ```

use std::io::{BufWriter, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::{Duration, Instant};

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: syslog_send tcp://ADDR|udp://ADDR LINES COUNT [--octet] [--rate N]";
    let [target, file, count, rest @ ..] = args.as_slice() else {
        return Err(usage.into());
    };
    let count: u64 = count.parse().map_err(|e| format!("COUNT {count}: {e}"))?;
    let octet = rest.iter().any(|a| a == "--octet");
    let rate: Option<f64> = match rest.iter().position(|a| a == "--rate") {
        Some(i) => Some(
            rest.get(i + 1)
                .and_then(|r| r.parse().ok())
                .ok_or("--rate needs a number")?,
        ),
        None => None,
    };
    let text = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
    let lines: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            if l.starts_with('<') {
                l.to_string()
            } else {
                format!("<13>{l}")
            }
        })
        .collect();
    if lines.is_empty() {
        return Err(format!("{file}: no lines"));
    }
    let start = Instant::now();
    let pace = |i: u64| {
        if let Some(r) = rate {
            let due = Duration::from_secs_f64(i as f64 / r);
            if let Some(w) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(w);
            }
        }
    };
    let mut bytes = 0u64;
    if let Some(addr) = target.strip_prefix("tcp://") {
        let conn = TcpStream::connect(addr).map_err(|e| format!("{addr}: {e}"))?;
        let mut w = BufWriter::with_capacity(1 << 16, conn);
        for i in 0..count {
            if i % 1024 == 0 {
                pace(i);
            }
            let l = &lines[(i % lines.len() as u64) as usize];
            let r = if octet {
                write!(w, "{} {l}", l.len())
            } else {
                writeln!(w, "{l}")
            };
            r.map_err(|e| format!("send: {e}"))?;
            bytes += l.len() as u64 + 1;
        }
        w.flush().map_err(|e| format!("send: {e}"))?;
    } else if let Some(addr) = target.strip_prefix("udp://") {
        let sock = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        sock.connect(addr).map_err(|e| format!("{addr}: {e}"))?;
        for i in 0..count {
            if i % 64 == 0 {
                pace(i);
            }
            let l = &lines[(i % lines.len() as u64) as usize];
            // a full local buffer is no loss on the wire: wait and send again
            while let Err(e) = sock.send(l.as_bytes()) {
                if e.raw_os_error() != Some(105) && e.kind() != std::io::ErrorKind::WouldBlock {
                    return Err(format!("send: {e}"));
                }
                std::thread::sleep(Duration::from_micros(50));
            }
            bytes += l.len() as u64;
        }
    } else {
        return Err(usage.into());
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{{\"sent\": {count}, \"bytes\": {bytes}, \"seconds\": {secs:.3}, \"per_second\": {:.0}}}",
        count as f64 / secs
    );
    Ok(())
}
