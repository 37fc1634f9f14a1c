//! Kafka consumer groups on librdkafka's mock cluster (the real protocol on 127.0.0.1):
//! two consumers split the partitions, one dies mid-stream without committing, the other
//! takes over, and the store holds every alert exactly once, the alerts topic every
//! alert's key.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use ctem_detect::{Alert, Engine};
use ctem_store::alerts::AlertFilter;
use ctem_stream::{Counters, KafkaConfig, KafkaSource};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

use crate::rule_engine;

const TOPIC: &str = "events";
const ALERTS: &str = "alerts";
const EVENTS: usize = 2_000;

fn wait_for(what: &str, secs: u64, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn consumer_cfg(brokers: &str, group: &str) -> KafkaConfig {
    let mut c = KafkaConfig::from_url(&format!("kafka://{brokers}/{TOPIC}"), group).expect("url");
    c.batch = 25;
    c.batch_wait = Duration::from_millis(20);
    c.alerts_topic = Some(ALERTS.to_string());
    c.properties = vec![
        ("session.timeout.ms".into(), "6000".into()),
        ("heartbeat.interval.ms".into(), "200".into()),
    ];
    c
}

/// Event `i` raises one alert when `i % 5 == 0`.
fn produce_events(brokers: &str) {
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("producer");
    for i in 0..EVENTS {
        let word = if i % 5 == 0 { "trigger" } else { "quiet" };
        let payload = format!(r#"{{"n": {i}, "msg": "{word} {i}"}}"#);
        let part = (i % 4) as i32;
        let mut rec = BaseRecord::<(), _>::to(TOPIC)
            .payload(&payload)
            .partition(part);
        while let Err((_, r)) = p.send(rec) {
            rec = r;
            p.poll(Duration::from_millis(10));
        }
    }
    p.flush(Duration::from_secs(10)).expect("flush");
}

/// A sink into a SQLite store (its own connection) that fails after `crash_after`
/// deliveries, once it has stored them: a worker that dies between making alerts durable
/// and committing their offsets.
struct StoreSink {
    store: Box<dyn ctem_store::Store + Send>,
    delivered: Arc<AtomicU64>,
    calls: usize,
    crash_after: Option<usize>,
}

impl ctem_stream::AlertSink for StoreSink {
    fn deliver(&mut self, alerts: &[Alert]) -> Result<(), String> {
        let now = chrono::Utc::now();
        let models: Vec<ctem_model::Alert> = alerts.iter().map(|a| a.to_model(now)).collect();
        self.store
            .store_alerts(&models)
            .map_err(|e| e.to_string())?;
        self.delivered.fetch_add(alerts.len() as u64, Relaxed);
        self.calls += 1;
        if self.crash_after.is_some_and(|n| self.calls >= n) {
            return Err("worker killed".into());
        }
        Ok(())
    }
}

type Worker = std::thread::JoinHandle<ctem_stream::Result<ctem_stream::Snapshot>>;

fn spawn(src: KafkaSource, engine: Arc<Engine>, sink: StoreSink) -> Worker {
    std::thread::spawn(move || {
        let mut sink = sink;
        src.run(&engine, &mut sink)
    })
}

fn partitions(c: &Counters) -> Vec<i32> {
    c.partitions.lock().map(|p| p.clone()).unwrap_or_default()
}

#[test]
fn two_workers_split_partitions_one_dies_the_other_takes_over_no_alert_lost_or_doubled() {
    let cluster = MockCluster::new(1).expect("mock cluster");
    let brokers = cluster.bootstrap_servers();
    cluster.create_topic(TOPIC, 4, 1).expect("topic");
    cluster.create_topic(ALERTS, 2, 1).expect("alerts topic");
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("ctem.db").display().to_string();
    let opts = ctem_store::OpenOptions::default();
    let engine = Arc::new(rule_engine());
    let delivered = Arc::new(AtomicU64::new(0));
    let sink = |crash_after| StoreSink {
        store: ctem_store::open_shared(&db, &opts).expect("store"),
        delivered: Arc::clone(&delivered),
        calls: 0,
        crash_after,
    };

    let a = consumer_cfg(&brokers, "detect")
        .build()
        .expect("consumer a");
    let b = consumer_cfg(&brokers, "detect")
        .build()
        .expect("consumer b");
    let (ca, cb, stop_b) = (a.counters(), b.counters(), b.stopper());
    // a dies on its third delivery, after storing it, before committing
    let wa = spawn(a, Arc::clone(&engine), sink(Some(3)));
    let wb = spawn(b, Arc::clone(&engine), sink(None));
    wait_for("both consumers assigned", 60, || {
        let (pa, pb) = (partitions(&ca), partitions(&cb));
        !pa.is_empty() && !pb.is_empty() && pa.len() + pb.len() == 4
    });
    let (pa, pb) = (partitions(&ca), partitions(&cb));
    let all: BTreeSet<i32> = pa.iter().chain(&pb).copied().collect();
    assert_eq!(all, BTreeSet::from([0, 1, 2, 3]), "a {pa:?}, b {pb:?}");

    produce_events(&brokers);
    let err = wa.join().expect("join a").expect_err("a was killed");
    assert!(err.to_string().contains("worker killed"), "{err}");
    assert!(ca.processed.load(Relaxed) > 0, "a worked before it died");
    wait_for("b to take every partition", 60, || {
        partitions(&cb) == vec![0, 1, 2, 3]
    });
    let store = ctem_store::open_shared(&db, &opts).expect("store");
    let stored = || {
        store
            .alerts(&AlertFilter::default())
            .map(|v| v.len())
            .unwrap_or(0)
    };
    let start = Instant::now();
    while stored() < EVENTS / 5 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for every alert stored: {} stored; a {:?}; b {:?}",
            stored(),
            ca.snapshot(),
            cb.snapshot()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    wait_for("b to reach the end", 60, || {
        cb.lag.load(Relaxed) == 0 && cb.queue_depth.load(Relaxed) == 0
    });
    stop_b.stop();
    let sb = wb.join().expect("join b").expect("b ran");
    assert!(sb.rebalances >= 2, "{sb:?}");
    assert!(sb.commits > 0);

    // the store: each trigger event's alert once, none other
    let alerts = store.alerts(&AlertFilter::default()).expect("alerts");
    let mut ns: Vec<u64> = alerts
        .iter()
        .filter_map(|a| a.event["n"].as_u64())
        .collect();
    ns.sort_unstable();
    let want: Vec<u64> = (0..EVENTS as u64).filter(|i| i % 5 == 0).collect();
    assert_eq!(ns, want, "every alert stored exactly once");
    // a's last batch was delivered but not committed: b read it again
    assert!(
        delivered.load(Relaxed) > want.len() as u64,
        "the uncommitted batch was replayed ({} deliveries)",
        delivered.load(Relaxed)
    );
    // the alerts topic holds every alert, keyed by identity (a replay after a rebalance
    // may produce one again, under the same key)
    let keys = read_alert_keys(&brokers, want.len());
    assert_eq!(keys.len(), want.len());
}

/// The keys on the alerts topic with how often each was produced.
fn read_alert_keys(brokers: &str, want: usize) -> BTreeMap<String, usize> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "reader")
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("reader");
    c.subscribe(&[ALERTS]).expect("subscribe");
    let mut keys = BTreeMap::new();
    let mut total = 0;
    let start = Instant::now();
    // read until `want` keys and two more idle seconds (to see duplicates)
    let mut idle_since = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        match c.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                let k = String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned();
                *keys.entry(k).or_insert(0) += 1;
                total += 1;
                idle_since = Instant::now();
            }
            _ if keys.len() >= want && idle_since.elapsed() > Duration::from_secs(2) => break,
            _ => {}
        }
    }
    assert!(total >= want, "{total} alerts on the topic");
    keys
}

#[test]
fn a_bad_broker_list_is_an_error_naming_it() {
    let e = KafkaConfig::from_url("kafka://x:1/t", "g")
        .and_then(|mut c| {
            c.properties = vec![("no.such.setting".into(), "1".into())];
            c.build()
        })
        .err()
        .expect("unknown setting");
    assert!(e.to_string().starts_with("kafka consumer:"), "{e}");
}
