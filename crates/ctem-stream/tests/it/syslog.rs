//! The syslog listener over real sockets: the alerts equal those of the file decoder on
//! the same lines, every message is counted, a full queue drops (UDP, counted) or slows
//! the sender (TCP, nothing lost).

use std::io::Write;
use std::net::{TcpStream, UdpSocket};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ctem_detect::{Alert, Engine, Mappings, RuleSet};
use ctem_stream::{Counters, Listen, Snapshot, SyslogConfig};

use crate::{fixture, rule_engine};

/// Waits until `done` holds (or fails the test after 30 s).
fn wait_for(c: &Counters, what: &str, done: impl Fn(&Counters) -> bool) {
    let start = Instant::now();
    while !done(c) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}: {:?}",
            c.snapshot()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

type Collected = Arc<Mutex<Vec<Alert>>>;

/// Runs `cfg` on a thread with a sink that collects alerts; `gate` (when given) holds the
/// first delivery until it is dropped.
fn start(
    cfg: SyslogConfig,
    engine: Arc<Engine>,
    gate: Option<mpsc::Receiver<()>>,
) -> (
    std::net::SocketAddr,
    Arc<Counters>,
    ctem_stream::Stop,
    Collected,
    std::thread::JoinHandle<ctem_stream::Result<Snapshot>>,
) {
    let l = cfg.build().expect("bind");
    let (addr, counters, stop) = (l.local_addr().expect("addr"), l.counters(), l.stopper());
    let alerts: Collected = Arc::default();
    let out = Arc::clone(&alerts);
    let h = std::thread::spawn(move || {
        let mut sink = move |a: &[Alert]| {
            if let Some(g) = &gate {
                let _ = g.recv();
            }
            out.lock().map_err(|e| e.to_string())?.extend_from_slice(a);
            Ok(())
        };
        l.run(&engine, &mut sink)
    });
    (addr, counters, stop, alerts, h)
}

fn rule_ids(alerts: &[Alert]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = alerts
        .iter()
        .map(|a| (a.rule_id.clone(), a.event["message"].to_string()))
        .collect();
    v.sort();
    v
}

#[test]
fn tcp_alerts_equal_the_file_decoder_on_real_lines_with_both_framings() {
    let rules = RuleSet::load_dirs(&[fixture("sigma-linux")]).expect("rules");
    let engine = Arc::new(Engine::new(rules, Mappings::builtin().expect("mappings")));
    let text = std::fs::read_to_string(fixture("syslog/wazuh-rfc3164-lines.log")).expect("read");
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    // the same lines through the file decoder
    let recs = ctem_detect::decode::decode_syslog(text.clone().into_bytes(), None);
    let mut want = Vec::new();
    engine.run(recs.filter_map(Result::ok), 1, |a| want.push(a));
    assert!(
        !want.is_empty(),
        "the fixture raises alerts with the Linux rules"
    );

    let (addr, counters, stop, got, h) = start(
        SyslogConfig::new(Listen::Tcp("127.0.0.1:0".parse().expect("addr"))),
        Arc::clone(&engine),
        None,
    );
    let (first, second) = lines.split_at(lines.len() / 2);
    let mut a = TcpStream::connect(addr).expect("connect");
    for l in first {
        writeln!(a, "{l}").expect("write");
    }
    let mut b = TcpStream::connect(addr).expect("connect");
    for l in second {
        write!(b, "{} {l}", l.len()).expect("write");
    }
    drop((a, b));
    wait_for(&counters, "every line", |c| {
        c.processed.load(Relaxed) == lines.len() as u64
    });
    stop.stop();
    let snap = h.join().expect("join").expect("run");
    assert_eq!(snap.received, lines.len() as u64);
    assert_eq!(snap.processed, lines.len() as u64);
    assert_eq!((snap.dropped, snap.rejected, snap.queue_depth), (0, 0, 0));
    let got = got.lock().expect("lock");
    assert_eq!(rule_ids(&got), rule_ids(&want));
    assert_eq!(snap.alerts, want.len() as u64);
    let src = got[0].source.as_deref().unwrap_or_default();
    assert!(src.starts_with(&format!("syslog://tcp/{addr}#")), "{src}");
}

#[test]
fn udp_overload_drops_are_counted_and_nothing_else_is_lost() {
    let engine = Arc::new(rule_engine());
    let mut cfg = SyslogConfig::new(Listen::Udp("127.0.0.1:0".parse().expect("addr")));
    cfg.queue = 8;
    cfg.batch = 1;
    let (gate_tx, gate_rx) = mpsc::channel();
    let (addr, counters, stop, alerts, h) = start(cfg, engine, Some(gate_rx));
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let sent = 2_000u64;
    for i in 0..sent {
        let msg = format!("<13>Jan  5 10:00:00 web1 app[1]: trigger number {i}");
        sock.send_to(msg.as_bytes(), addr).expect("send");
        if i % 64 == 0 {
            // loopback is fast: leave the reader time so most datagrams reach the queue
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    wait_for(&counters, "every datagram", |c| {
        c.received.load(Relaxed) + c.kernel_dropped.load(Relaxed) >= sent
    });
    drop(gate_tx);
    wait_for(&counters, "the queue to empty", |c| {
        c.processed.load(Relaxed) + c.dropped.load(Relaxed) == c.received.load(Relaxed)
    });
    stop.stop();
    let s = h.join().expect("join").expect("run");
    assert!(
        s.dropped > 0,
        "the blocked worker made the queue overflow: {s:?}"
    );
    assert_eq!(s.received + s.kernel_dropped, sent, "{s:?}");
    assert_eq!(s.processed + s.dropped + s.rejected, s.received, "{s:?}");
    // one alert per processed message, each message once
    let alerts = alerts.lock().expect("lock");
    assert_eq!(alerts.len() as u64, s.processed);
    let mut recs: Vec<u64> = alerts.iter().filter_map(|a| a.record).collect();
    recs.sort_unstable();
    recs.dedup();
    assert_eq!(recs.len(), alerts.len());
}

#[test]
fn tcp_backpressure_stalls_the_sender_and_loses_nothing() {
    let engine = Arc::new(rule_engine());
    let mut cfg = SyslogConfig::new(Listen::Tcp("127.0.0.1:0".parse().expect("addr")));
    cfg.queue = 4;
    cfg.batch = 2;
    let (gate_tx, gate_rx) = mpsc::channel();
    let (addr, counters, stop, alerts, h) = start(cfg, engine, Some(gate_rx));
    let mut conn = TcpStream::connect(addr).expect("connect");
    conn.set_write_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    let line = format!(
        "<13>Jan  5 10:00:00 web1 app[1]: trigger {}\n",
        "x".repeat(200)
    );
    // with the worker held, the socket buffers fill and a write times out
    let mut sent = 0u64;
    let mut stalled = false;
    for _ in 0..200_000 {
        match conn.write_all(line.as_bytes()) {
            Ok(()) => sent += 1,
            Err(e) => {
                assert!(
                    matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ),
                    "{e}"
                );
                stalled = true;
                break;
            }
        }
    }
    assert!(
        stalled,
        "the sender was never slowed ({sent} lines written)"
    );
    let waits = counters.backpressure_waits.load(Relaxed);
    assert!(waits >= 1, "the reader waited on the full queue");
    assert_eq!(counters.dropped.load(Relaxed), 0);
    drop(gate_tx);
    // a write that timed out may have sent part of a line: finish it, then a known end
    conn.set_write_timeout(None).expect("timeout");
    conn.write_all(b"\n<13>Jan  5 10:00:00 web1 app[1]: trigger end\n")
        .expect("write");
    drop(conn);
    wait_for(&counters, "the last line", |c| {
        c.received.load(Relaxed) > sent && c.queue_depth.load(Relaxed) == 0
    });
    stop.stop();
    let s = h.join().expect("join").expect("run");
    assert_eq!(s.dropped, 0);
    assert_eq!(s.processed, s.received);
    // every whole line written arrived; a line cut by the timeout arrives as one more
    assert!(
        s.received == sent + 1 || s.received == sent + 2,
        "sent {sent} (+1), received {}",
        s.received
    );
    // whole lines all raise their alert (a line cut by the timeout may not)
    assert!(alerts.lock().expect("lock").len() as u64 > sent);
}

#[test]
fn frames_longer_than_the_limit_are_rejected_and_counted() {
    let engine = Arc::new(rule_engine());
    let mut cfg = SyslogConfig::new(Listen::Tcp("127.0.0.1:0".parse().expect("addr")));
    cfg.max_message = 100;
    let (addr, counters, stop, alerts, h) = start(cfg, engine, None);
    let mut c = TcpStream::connect(addr).expect("connect");
    let long = "y".repeat(500);
    writeln!(c, "<13>Jan  5 10:00:00 h app: trigger {long}").expect("write");
    let body = format!("<13>{long}{long}");
    write!(c, "{} {body}", body.len()).expect("write");
    writeln!(c, "<13>Jan  5 10:00:00 h app: trigger short").expect("write");
    drop(c);
    wait_for(&counters, "three frames", |c| {
        c.rejected.load(Relaxed) + c.processed.load(Relaxed) == 3
    });
    stop.stop();
    let s = h.join().expect("join").expect("run");
    assert_eq!((s.received, s.rejected, s.processed), (1, 2, 1));
    assert_eq!(alerts.lock().expect("lock").len(), 1);
}

#[test]
fn a_failing_sink_stops_the_listener_with_its_error() {
    let engine = Arc::new(rule_engine());
    let l = SyslogConfig::new(Listen::Tcp("127.0.0.1:0".parse().expect("addr")))
        .build()
        .expect("bind");
    let addr = l.local_addr().expect("addr");
    let h = std::thread::spawn(move || {
        let mut sink = |_: &[Alert]| Err("disk full".to_string());
        l.run(&engine, &mut sink)
    });
    let mut c = TcpStream::connect(addr).expect("connect");
    writeln!(c, "<13>Jan  5 10:00:00 h app: trigger").expect("write");
    let e = h.join().expect("join").expect_err("the sink failed");
    assert_eq!(e.to_string(), "cannot deliver alerts: disk full");
}

#[test]
fn a_port_in_use_fails_at_build() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr");
    let e = SyslogConfig::new(Listen::Tcp(addr))
        .build()
        .err()
        .expect("in use");
    assert!(
        e.to_string()
            .starts_with(&format!("cannot listen on tcp://{addr}")),
        "{e}"
    );
}
