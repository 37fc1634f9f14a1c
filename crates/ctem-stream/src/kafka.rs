//! Kafka topics read in a consumer group (rdkafka, librdkafka underneath).
//!
//! **At least once.** One thread polls, detects and acknowledges, batch by batch: the
//! messages of a batch are detected, their alerts delivered to the [`AlertSink`] (which
//! returns once they are durable) and produced to the alerts topic (flushed, every
//! delivery confirmed), and only then are the batch's offsets committed, synchronously.
//! A crash anywhere before the commit replays the batch; the replayed alerts carry the
//! same identity (source `kafka://TOPIC/PARTITION`, record = offset), so the store keeps
//! them once and the alerts topic carries them under the same key.
//!
//! **Rebalances.** A rebalance runs inside `poll`, so it can fall while a batch is being
//! gathered. The batch is still processed whole (dropping it lost messages in a test: the
//! fetch position of a partition kept across the rebalance had moved past them), and
//! only the offsets of the partitions this consumer still owns are committed. A revoked
//! partition's messages are read again by their new owner from its last commit: their
//! alerts are delivered twice, under the same identity, and stored once.
//!
//! **Backpressure.** The consumer polls only when the previous batch is done, and
//! librdkafka stops fetching once its prefetch queue (`queued.max.messages.kbytes`, the
//! bounded queue of this source) is full: a slow detector pauses the fetch, it never
//! drops. Lag comes from librdkafka's statistics (each second).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ctem_detect::{Alert, Engine, Record};
use rdkafka::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use crate::counters::{Counters, Snapshot};
use crate::error::{Error, Result};
use crate::pipeline::{AlertSink, Stop, decode_message, detect};

/// A Kafka source's settings (`kind = "kafka"` sources of ctem.toml, `ctem detect --input
/// kafka://BROKERS/TOPIC --group G`).
#[derive(Debug, Clone)]
pub struct KafkaConfig {
    /// `host:port[,host:port...]`
    pub brokers: String,
    pub topic: String,
    pub group: String,
    /// Where alerts are produced too (JSON, keyed by their identity).
    pub alerts_topic: Option<String>,
    /// Most messages in one batch (detected, delivered and committed together).
    pub batch: usize,
    /// How long a batch waits to fill before it is processed.
    pub batch_wait: Duration,
    /// Threads for rule evaluation.
    pub threads: usize,
    /// librdkafka's prefetch queue (KiB): the bounded queue of this source.
    pub queue_kbytes: usize,
    /// Other librdkafka settings (`session.timeout.ms`, `security.protocol`, ...).
    pub properties: Vec<(String, String)>,
}

impl KafkaConfig {
    /// From `kafka://BROKERS/TOPIC` (brokers comma-separated) and a group.
    pub fn from_url(url: &str, group: &str) -> Result<Self> {
        let bad = |m: &str| Error::Config {
            setting: url.to_string(),
            message: m.to_string(),
        };
        let rest = url
            .strip_prefix("kafka://")
            .ok_or_else(|| bad("expected kafka://BROKERS/TOPIC"))?;
        let (brokers, topic) = rest
            .split_once('/')
            .ok_or_else(|| bad("no topic: expected kafka://BROKERS/TOPIC"))?;
        if brokers.is_empty() || topic.is_empty() || topic.contains('/') {
            return Err(bad("expected kafka://BROKERS/TOPIC"));
        }
        if group.is_empty() {
            return Err(bad("a consumer group is needed (--group)"));
        }
        Ok(KafkaConfig {
            brokers: brokers.to_string(),
            topic: topic.to_string(),
            group: group.to_string(),
            alerts_topic: None,
            batch: 1024,
            batch_wait: Duration::from_millis(100),
            threads: 1,
            queue_kbytes: 16 * 1024,
            properties: Vec::new(),
        })
    }

    /// Connects, joins the group (subscribes) and opens the alerts producer.
    pub fn build(self) -> Result<KafkaSource> {
        let counters = Arc::new(Counters::new());
        let ctx = GroupContext {
            counters: Arc::clone(&counters),
            topic: self.topic.clone(),
        };
        let mut cc = ClientConfig::new();
        cc.set("bootstrap.servers", &self.brokers)
            .set("group.id", &self.group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("statistics.interval.ms", "1000")
            .set(
                "queued.max.messages.kbytes",
                self.queue_kbytes.max(1).to_string(),
            );
        for (k, v) in &self.properties {
            cc.set(k, v);
        }
        let consumer: BaseConsumer<GroupContext> =
            cc.create_with_context(ctx).map_err(kafka("consumer"))?;
        consumer
            .subscribe(&[&self.topic])
            .map_err(kafka("subscribe"))?;
        let producer = match &self.alerts_topic {
            Some(_) => {
                let mut pc = ClientConfig::new();
                pc.set("bootstrap.servers", &self.brokers)
                    .set("enable.idempotence", "true")
                    .set("acks", "all");
                for (k, v) in self
                    .properties
                    .iter()
                    .filter(|(k, _)| !k.starts_with("group."))
                {
                    if !matches!(k.as_str(), "session.timeout.ms" | "heartbeat.interval.ms") {
                        pc.set(k, v);
                    }
                }
                let ctx = DeliveryContext::default();
                Some(pc.create_with_context(ctx).map_err(kafka("producer"))?)
            }
            None => None,
        };
        Ok(KafkaSource {
            cfg: self,
            consumer,
            producer,
            counters,
            stop: Stop::new(),
        })
    }
}

fn kafka(what: &'static str) -> impl Fn(KafkaError) -> Error {
    move |e| Error::Kafka {
        what: what.to_string(),
        message: e.to_string(),
    }
}

/// Rebalances and statistics, seen from librdkafka's callbacks.
struct GroupContext {
    counters: Arc<Counters>,
    topic: String,
}

impl ClientContext for GroupContext {
    fn stats(&self, s: Statistics) {
        let Some(t) = s.topics.get(&self.topic) else {
            return;
        };
        let assigned = partitions(&self.counters);
        let lag: i64 = t
            .partitions
            .iter()
            .filter(|(p, _)| assigned.contains(p))
            .map(|(_, p)| p.consumer_lag.max(0))
            .sum();
        self.counters.lag.store(lag, Relaxed);
    }
}

impl ConsumerContext for GroupContext {
    fn pre_rebalance(&self, _c: &BaseConsumer<Self>, r: &Rebalance<'_>) {
        self.counters.rebalances.fetch_add(1, Relaxed);
        if let Rebalance::Revoke(tpl) = r
            && let Ok(mut p) = self.counters.partitions.lock()
        {
            let gone: Vec<i32> = tpl.elements().iter().map(|e| e.partition()).collect();
            p.retain(|x| !gone.contains(x));
        }
    }

    fn post_rebalance(&self, _c: &BaseConsumer<Self>, r: &Rebalance<'_>) {
        match r {
            Rebalance::Assign(tpl) => {
                if let Ok(mut p) = self.counters.partitions.lock() {
                    p.extend(tpl.elements().iter().map(|e| e.partition()));
                    p.sort_unstable();
                    p.dedup();
                }
            }
            Rebalance::Error(e) => self.counters.set_error(format!("rebalance: {e}")),
            Rebalance::Revoke(_) => {}
        }
    }
}

fn partitions(c: &Counters) -> Vec<i32> {
    c.partitions.lock().map(|p| p.clone()).unwrap_or_default()
}

/// Counts failed deliveries of the alerts producer.
#[derive(Default)]
struct DeliveryContext {
    failed: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl ClientContext for DeliveryContext {}

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = ();
    fn delivery(&self, r: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = r {
            self.failed.fetch_add(1, Relaxed);
            if let Ok(mut g) = self.last_error.lock() {
                *g = Some(e.to_string());
            }
        }
    }
}

/// A consumer in its group, ready to [`KafkaSource::run`].
pub struct KafkaSource {
    cfg: KafkaConfig,
    consumer: BaseConsumer<GroupContext>,
    producer: Option<BaseProducer<DeliveryContext>>,
    counters: Arc<Counters>,
    stop: Stop,
}

/// One gathered batch: records, and the next offset to commit per partition.
#[derive(Default)]
struct Batch {
    records: Vec<Record>,
    next: BTreeMap<i32, i64>,
}

impl KafkaSource {
    pub fn counters(&self) -> Arc<Counters> {
        Arc::clone(&self.counters)
    }

    pub fn stopper(&self) -> Stop {
        self.stop.clone()
    }

    /// Consumes until stopped: the batch under way is finished and committed, then the
    /// consumer leaves the group. Fails when the sink or the alerts topic fails (the
    /// batch is then not committed).
    pub fn run(self, engine: &Engine, sink: &mut dyn AlertSink) -> Result<Snapshot> {
        let c = &*self.counters;
        while !self.stop.is_stopped() {
            let batch = self.gather();
            if batch.next.is_empty() {
                continue;
            }
            let n = batch.records.len() as u64;
            let start = Instant::now();
            let alerts = detect(engine, batch.records, self.cfg.threads);
            if !alerts.is_empty() {
                sink.deliver(&alerts).map_err(|e| {
                    c.set_error(&e);
                    Error::Sink(e)
                })?;
                self.produce(&alerts)?;
            }
            c.alerts.fetch_add(alerts.len() as u64, Relaxed);
            c.processed.fetch_add(n, Relaxed);
            c.queue_depth.store(0, Relaxed);
            self.commit(&batch.next);
            c.batch_done(start);
        }
        Ok(self.counters.snapshot())
    }

    /// Polls until the batch is full, its wait is over (once it holds something) or the
    /// source stops.
    fn gather(&self) -> Batch {
        let c = &*self.counters;
        let mut b = Batch::default();
        let mut deadline: Option<Instant> = None;
        let tick = Duration::from_millis(100);
        while b.records.len() < self.cfg.batch.max(1) && !self.stop.is_stopped() {
            let wait = match deadline {
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(w) => w,
                    None => break,
                },
                None => tick,
            };
            let Some(m) = self.consumer.poll(wait) else {
                continue;
            };
            let m = match m {
                Ok(m) => m,
                Err(e) => {
                    c.set_error(format!("poll: {e}"));
                    continue;
                }
            };
            deadline.get_or_insert_with(|| Instant::now() + self.cfg.batch_wait);
            c.received.fetch_add(1, Relaxed);
            b.next.insert(m.partition(), m.offset() + 1);
            match m.payload() {
                Some(p) if !p.is_empty() => {
                    b.records.push(Record {
                        source: Some(format!("kafka://{}/{}", m.topic(), m.partition())),
                        record: u64::try_from(m.offset()).ok(),
                        event: decode_message(p),
                    });
                    c.queue_depth.store(b.records.len() as u64, Relaxed);
                }
                // an empty message (a tombstone) is no event; its offset is committed
                _ => {
                    c.rejected.fetch_add(1, Relaxed);
                }
            }
        }
        b
    }

    /// Produces the alerts to the alerts topic and waits for every delivery.
    fn produce(&self, alerts: &[Alert]) -> Result<()> {
        let (Some(p), Some(topic)) = (&self.producer, &self.cfg.alerts_topic) else {
            return Ok(());
        };
        let failed_before = p.context().failed.load(Relaxed);
        for a in alerts {
            let key = format!(
                "{}|{}|{}",
                a.rule_id,
                a.source.as_deref().unwrap_or(""),
                a.record.map(|r| r.to_string()).unwrap_or_default()
            );
            let payload = serde_json::to_vec(a).map_err(|e| Error::Kafka {
                what: "alert encoding".into(),
                message: e.to_string(),
            })?;
            let mut rec = BaseRecord::to(topic).key(&key).payload(&payload);
            loop {
                match p.send(rec) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                        rec = r;
                        p.poll(Duration::from_millis(50));
                    }
                    Err((e, _)) => return Err(kafka("produce")(e)),
                }
            }
        }
        p.flush(Duration::from_secs(30))
            .map_err(kafka("produce (flush)"))?;
        if p.context().failed.load(Relaxed) > failed_before {
            let e = p.context().last_error.lock().ok().and_then(|e| e.clone());
            return Err(Error::Kafka {
                what: "produce".into(),
                message: e.unwrap_or_else(|| "delivery failed".into()),
            });
        }
        Ok(())
    }

    /// Commits the batch's offsets. A failed commit (the group rebalanced meanwhile) is
    /// counted, not fatal: the messages are read again, their alerts stored once.
    fn commit(&self, next: &BTreeMap<i32, i64>) {
        // only partitions still owned: a revoked one is its new owner's to commit
        let owned = partitions(&self.counters);
        let mut tpl = TopicPartitionList::new();
        for (&p, &o) in next.iter().filter(|(p, _)| owned.contains(p)) {
            if tpl
                .add_partition_offset(&self.cfg.topic, p, Offset::Offset(o))
                .is_err()
            {
                return;
            }
        }
        if tpl.count() == 0 {
            return;
        }
        match self.consumer.commit(&tpl, CommitMode::Sync) {
            Ok(()) => {
                self.counters.commits.fetch_add(1, Relaxed);
            }
            Err(e) => self.counters.set_error(format!("commit: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let c = KafkaConfig::from_url("kafka://a:9092,b:9092/events", "g").expect("url");
        assert_eq!(c.brokers, "a:9092,b:9092");
        assert_eq!(c.topic, "events");
        for bad in [
            "kafka://a:9092",
            "kafka:///t",
            "http://a/t",
            "kafka://a/t/x",
        ] {
            let e = KafkaConfig::from_url(bad, "g").err().map(|e| e.to_string());
            assert!(
                e.as_deref().is_some_and(|e| e.contains(bad)),
                "{bad}: {e:?}"
            );
        }
        assert!(KafkaConfig::from_url("kafka://a/t", "").is_err());
    }
}
