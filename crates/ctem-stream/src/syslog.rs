//! The syslog listener: UDP (one datagram, one message) and TCP (RFC 6587 octet counting
//! or newline framing, see [`crate::framing`]), RFC 3164 and 5424 decoded by ctem-detect's
//! syslog decoder, so routing gives each event the logsource of its app name.
//!
//! Threads: one per socket reader (the UDP socket, the TCP acceptor, one per TCP
//! connection) decodes messages into records and puts them on one bounded queue; the
//! caller's thread drains it into detection. When the queue is full a TCP reader waits
//! and stops reading its socket, so the kernel's receive window closes and the sender
//! slows; the UDP reader cannot slow its senders and counts each datagram it drops, and
//! the datagrams the kernel dropped before ctem read them are read from `/proc/net/udp`.

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::str::FromStr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use ctem_detect::{Engine, Record};

use crate::counters::{Counters, Snapshot};
use crate::error::{Error, Result};
use crate::framing::{Frame, Framer};
use crate::pipeline::{AlertSink, Stop, decode_message, drain, send_or_drop, send_waiting};

/// How often blocked readers look at the stop flag.
const TICK: Duration = Duration::from_millis(100);

/// Where to listen: `udp://ADDR:PORT` or `tcp://ADDR:PORT` (also `syslog://udp/ADDR:PORT`,
/// the spelling of `ctem detect --input`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listen {
    Udp(SocketAddr),
    Tcp(SocketAddr),
}

impl FromStr for Listen {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = |m: &str| Error::Config {
            setting: s.to_string(),
            message: m.to_string(),
        };
        let rest = s
            .strip_prefix("syslog://")
            .map(|r| r.replacen('/', "://", 1));
        let s2 = rest.as_deref().unwrap_or(s);
        let (proto, addr) = s2
            .split_once("://")
            .ok_or_else(|| bad("expected udp://HOST:PORT or tcp://HOST:PORT"))?;
        let addr: SocketAddr = addr
            .parse()
            .map_err(|e| bad(&format!("address {addr:?}: {e}")))?;
        match proto {
            "udp" => Ok(Listen::Udp(addr)),
            "tcp" => Ok(Listen::Tcp(addr)),
            p => Err(bad(&format!("protocol {p:?} is neither udp nor tcp"))),
        }
    }
}

impl std::fmt::Display for Listen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Listen::Udp(a) => write!(f, "udp://{a}"),
            Listen::Tcp(a) => write!(f, "tcp://{a}"),
        }
    }
}

/// A syslog listener's settings (`kind = "syslog"` sources of ctem.toml, `ctem detect
/// --input syslog://...`).
#[derive(Debug, Clone)]
pub struct SyslogConfig {
    pub listen: Listen,
    /// Messages the bounded queue holds between the sockets and detection.
    pub queue: usize,
    /// The longest message kept (bytes); longer frames are counted as rejected.
    pub max_message: usize,
    /// Most messages detected (and their alerts delivered) at once.
    pub batch: usize,
    /// Threads for rule evaluation.
    pub threads: usize,
    /// Open TCP connections at most; more are closed at once and counted as rejected.
    pub max_connections: usize,
}

impl SyslogConfig {
    /// Defaults: a queue of 65,536 messages, 64 KiB messages, batches of 1,024, one thread,
    /// 256 connections.
    pub fn new(listen: Listen) -> Self {
        SyslogConfig {
            listen,
            queue: 65_536,
            max_message: 64 * 1024,
            batch: 1024,
            threads: 1,
            max_connections: 256,
        }
    }

    /// Opens the socket (so a bad address or a port in use fails here, before any rule is
    /// loaded by the caller's next step).
    pub fn build(self) -> Result<SyslogListener> {
        let socket = match self.listen {
            Listen::Udp(a) => Socket::Udp(UdpSocket::bind(a).map_err(|source| Error::Bind {
                proto: "udp",
                addr: a,
                source,
            })?),
            Listen::Tcp(a) => Socket::Tcp(TcpListener::bind(a).map_err(|source| Error::Bind {
                proto: "tcp",
                addr: a,
                source,
            })?),
        };
        let local = socket.local_addr()?;
        let proto = match socket {
            Socket::Udp(_) => "udp",
            Socket::Tcp(_) => "tcp",
        };
        // a run label in the source: record numbers restart with each run, and an alert's
        // identity (rule, source, record, time) must not collide with an earlier run's
        let run = chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ");
        Ok(SyslogListener {
            label: format!("syslog://{proto}/{local}#{run}"),
            cfg: self,
            socket,
            counters: Arc::new(Counters::new()),
            stop: Stop::new(),
        })
    }
}

enum Socket {
    Udp(UdpSocket),
    Tcp(TcpListener),
}

impl Socket {
    fn local_addr(&self) -> Result<SocketAddr> {
        match self {
            Socket::Udp(s) => s.local_addr(),
            Socket::Tcp(s) => s.local_addr(),
        }
        .map_err(|source| Error::Io {
            what: "local address".into(),
            source,
        })
    }
}

/// An open syslog socket, ready to [`SyslogListener::run`].
pub struct SyslogListener {
    cfg: SyslogConfig,
    socket: Socket,
    counters: Arc<Counters>,
    stop: Stop,
    label: String,
}

impl SyslogListener {
    /// The bound address (the port the system chose for port 0).
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// The live counters (for `ctem sources` and `/metrics` while it runs).
    pub fn counters(&self) -> Arc<Counters> {
        Arc::clone(&self.counters)
    }

    /// The handle that stops [`SyslogListener::run`].
    pub fn stopper(&self) -> Stop {
        self.stop.clone()
    }

    /// The `source` of the records (and alerts): `syslog://PROTO/ADDR#RUN`.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Receives until stopped, then processes what is queued and returns the final
    /// counters. Fails when the sink fails or the socket does.
    pub fn run(self, engine: &Engine, sink: &mut dyn AlertSink) -> Result<Snapshot> {
        let (tx, rx) = mpsc::sync_channel::<Record>(self.cfg.queue.max(1));
        let c = &*self.counters;
        let stop = &self.stop;
        let cfg = &self.cfg;
        let label = self.label.as_str();
        let result = std::thread::scope(|s| {
            let reader = match &self.socket {
                Socket::Udp(sock) => s.spawn(move || udp_loop(sock, tx, cfg, label, c, stop)),
                Socket::Tcp(l) => s.spawn(move || tcp_accept(s, l, tx, cfg, label, c, stop)),
            };
            let drained = drain(rx, engine, cfg.threads, cfg.batch, sink, c);
            // a failed sink dropped the queue: readers see it, but also stop the acceptor
            stop.stop();
            let read = reader.join().unwrap_or_else(|_| {
                Err(Error::Io {
                    what: "syslog reader".into(),
                    source: std::io::Error::other("reader thread panicked"),
                })
            });
            drained.and(read)
        });
        result.map(|()| self.counters.snapshot())
    }
}

fn udp_loop(
    sock: &UdpSocket,
    tx: SyncSender<Record>,
    cfg: &SyslogConfig,
    label: &str,
    c: &Counters,
    stop: &Stop,
) -> Result<()> {
    let io = |what: &str| {
        let what = what.to_string();
        move |source| Error::Io { what, source }
    };
    sock.set_read_timeout(Some(TICK))
        .map_err(io("udp socket"))?;
    let drops = KernelDrops::of(sock);
    let mut buf = vec![0u8; 65_536];
    let mut last_check = Instant::now();
    loop {
        if last_check.elapsed() > Duration::from_millis(500) {
            drops.update(c);
            last_check = Instant::now();
        }
        let n = match sock.recv(&mut buf) {
            Ok(n) => n,
            Err(e) if is_timeout(&e) => {
                if stop.is_stopped() {
                    break;
                }
                continue;
            }
            Err(e) => return Err(io("udp receive")(e)),
        };
        if !queue_datagram(&buf[..n], &tx, cfg, label, c) {
            return Ok(());
        }
    }
    // what the kernel holds already arrived: read it before stopping
    sock.set_nonblocking(true).map_err(io("udp socket"))?;
    while let Ok(n) = sock.recv(&mut buf) {
        if !queue_datagram(&buf[..n], &tx, cfg, label, c) {
            break;
        }
    }
    drops.update(c);
    Ok(())
}

/// Counts and queues (or drops) one datagram; `false` when the worker is gone.
fn queue_datagram(
    data: &[u8],
    tx: &SyncSender<Record>,
    cfg: &SyslogConfig,
    label: &str,
    c: &Counters,
) -> bool {
    let seq = c.received.fetch_add(1, Relaxed) + 1;
    if data.is_empty() || data.len() > cfg.max_message {
        c.rejected.fetch_add(1, Relaxed);
        return true;
    }
    send_or_drop(tx, record(data, label, seq), c)
}

fn record(data: &[u8], label: &str, seq: u64) -> Record {
    Record {
        source: Some(label.to_string()),
        record: Some(seq),
        event: decode_message(data),
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

fn tcp_accept<'scope>(
    s: &'scope std::thread::Scope<'scope, '_>,
    l: &'scope TcpListener,
    tx: SyncSender<Record>,
    cfg: &'scope SyslogConfig,
    label: &'scope str,
    c: &'scope Counters,
    stop: &'scope Stop,
) -> Result<()> {
    l.set_nonblocking(true).map_err(|source| Error::Io {
        what: "tcp listener".into(),
        source,
    })?;
    while !stop.is_stopped() {
        match l.accept() {
            Ok((conn, peer)) => {
                if c.connections.load(Relaxed) >= cfg.max_connections as u64 {
                    c.rejected.fetch_add(1, Relaxed);
                    c.set_error(format!("connection from {peer} refused: too many open"));
                    continue;
                }
                c.connections.fetch_add(1, Relaxed);
                let tx = tx.clone();
                s.spawn(move || {
                    if let Err(e) = tcp_conn(conn, &tx, cfg, label, c, stop) {
                        c.set_error(format!("connection from {peer}: {e}"));
                    }
                    c.connections.fetch_sub(1, Relaxed);
                });
            }
            Err(e) if is_timeout(&e) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => {
                // accept errors (too many files) are passing: note and go on
                c.set_error(format!("accept: {e}"));
                std::thread::sleep(TICK);
            }
        }
    }
    Ok(())
}

/// Reads one connection until the peer closes it or the source stops.
fn tcp_conn(
    mut conn: TcpStream,
    tx: &SyncSender<Record>,
    cfg: &SyslogConfig,
    label: &str,
    c: &Counters,
    stop: &Stop,
) -> std::io::Result<()> {
    conn.set_nonblocking(false)?;
    conn.set_read_timeout(Some(TICK))?;
    let mut framer = Framer::new(cfg.max_message);
    let mut buf = vec![0u8; 64 * 1024];
    let mut open = true;
    let mut on_frame = |f: Frame| {
        if !open {
            return;
        }
        match f {
            Frame::Message(m) => {
                let seq = c.received.fetch_add(1, Relaxed) + 1;
                // a full queue blocks here: this socket is not read, the sender slows
                open = send_waiting(tx, record(&m, label, seq), c);
            }
            Frame::TooLong | Frame::Bad => {
                c.rejected.fetch_add(1, Relaxed);
            }
        }
    };
    loop {
        match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => framer.push(&buf[..n], &mut on_frame),
            Err(e) if is_timeout(&e) => {
                if stop.is_stopped() {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    framer.finish(&mut on_frame);
    Ok(())
}

/// The kernel's count of datagrams dropped on one UDP socket (the `drops` column of
/// `/proc/net/udp`, found by the socket's inode). Counted into
/// [`Counters::kernel_dropped`]; does nothing where `/proc` is not Linux's.
struct KernelDrops {
    inode: Option<String>,
    base: Option<u64>,
}

impl KernelDrops {
    fn of(sock: &UdpSocket) -> Self {
        #[cfg(unix)]
        let inode = {
            use std::os::fd::AsRawFd;
            std::fs::read_link(format!("/proc/self/fd/{}", sock.as_raw_fd()))
                .ok()
                .and_then(|l| {
                    let l = l.to_string_lossy().into_owned();
                    l.strip_prefix("socket:[")?
                        .strip_suffix(']')
                        .map(str::to_string)
                })
        };
        #[cfg(not(unix))]
        let inode = {
            let _ = sock;
            None
        };
        let mut k = KernelDrops { inode, base: None };
        k.base = k.read();
        k
    }

    fn read(&self) -> Option<u64> {
        let inode = self.inode.as_deref()?;
        ["/proc/net/udp", "/proc/net/udp6"].iter().find_map(|p| {
            let text = std::fs::read_to_string(p).ok()?;
            text.lines().skip(1).find_map(|l| {
                let cols: Vec<&str> = l.split_whitespace().collect();
                (cols.get(9) == Some(&inode))
                    .then(|| cols.get(12)?.parse().ok())
                    .flatten()
            })
        })
    }

    fn update(&self, c: &Counters) {
        if let (Some(base), Some(now)) = (self.base, self.read()) {
            c.kernel_dropped.store(now.saturating_sub(base), Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_urls() {
        let u: Listen = "syslog://udp/127.0.0.1:5514".parse().expect("udp");
        assert_eq!(u, Listen::Udp("127.0.0.1:5514".parse().expect("addr")));
        let t: Listen = "tcp://[::1]:601".parse().expect("tcp");
        assert_eq!(t.to_string(), "tcp://[::1]:601");
        for bad in ["syslog://sctp/1.2.3.4:1", "udp://nohost", "127.0.0.1:514"] {
            let e = bad.parse::<Listen>().expect_err(bad).to_string();
            assert!(e.contains(bad), "{e}");
        }
    }
}
