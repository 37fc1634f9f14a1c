//! What every source shares: the [`AlertSink`] that makes alerts durable, the [`Stop`]
//! handle, the decoding of one message into a record, and the worker that drains a
//! bounded queue into detection batch by batch.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};

use ctem_detect::decode::parse_syslog_line;
use ctem_detect::{Alert, Engine, Record};
use serde_json::Value;

use crate::counters::Counters;
use crate::error::{Error, Result};

/// Where alerts go. [`AlertSink::deliver`] returns only once the alerts are durable
/// (committed to the store, acknowledged by the alerts topic): a source acknowledges the
/// messages of a batch (Kafka commits their offsets) only after that. An error stops the
/// source.
pub trait AlertSink {
    fn deliver(&mut self, alerts: &[Alert]) -> std::result::Result<(), String>;
}

impl<F> AlertSink for F
where
    F: FnMut(&[Alert]) -> std::result::Result<(), String>,
{
    fn deliver(&mut self, alerts: &[Alert]) -> std::result::Result<(), String> {
        self(alerts)
    }
}

/// Asks a running source to stop: it stops reading, processes what it has queued, delivers
/// the alerts and returns its counters.
#[derive(Debug, Clone, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    pub fn new() -> Self {
        Stop::default()
    }
    pub fn stop(&self) {
        self.0.store(true, Relaxed);
    }
    pub fn is_stopped(&self) -> bool {
        self.0.load(Relaxed)
    }
}

/// One message as an event: a JSON object as it is, anything else (syslog, CEF, plain
/// text) through the syslog decoder, which never fails.
pub fn decode_message(bytes: &[u8]) -> Value {
    let text = String::from_utf8_lossy(bytes);
    let t = text.trim();
    if t.starts_with('{')
        && let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(t)
    {
        return v;
    }
    parse_syslog_line(&text)
}

/// Queues `rec`; when the queue is full, waits (the caller stops reading, so a TCP sender
/// or a Kafka fetch slows down) and counts the wait. `false` when the worker is gone.
pub(crate) fn send_waiting(tx: &SyncSender<Record>, rec: Record, c: &Counters) -> bool {
    let rec = match tx.try_send(rec) {
        Ok(()) => {
            c.queue_depth.fetch_add(1, Relaxed);
            return true;
        }
        Err(TrySendError::Disconnected(_)) => return false,
        Err(TrySendError::Full(rec)) => rec,
    };
    c.backpressure_waits.fetch_add(1, Relaxed);
    // counted before it blocks, so the depth never goes below zero when the worker takes it
    c.queue_depth.fetch_add(1, Relaxed);
    if tx.send(rec).is_err() {
        c.queue_depth.fetch_sub(1, Relaxed);
        return false;
    }
    true
}

/// Queues `rec` or, when the queue is full, drops it and counts the drop (UDP: the sender
/// cannot be slowed). `false` when the worker is gone.
pub(crate) fn send_or_drop(tx: &SyncSender<Record>, rec: Record, c: &Counters) -> bool {
    match tx.try_send(rec) {
        Ok(()) => {
            c.queue_depth.fetch_add(1, Relaxed);
            true
        }
        Err(TrySendError::Full(_)) => {
            c.dropped.fetch_add(1, Relaxed);
            true
        }
        Err(TrySendError::Disconnected(_)) => false,
    }
}

/// Runs detection over `records` on `threads` threads and returns the alerts.
pub(crate) fn detect(engine: &Engine, records: Vec<Record>, threads: usize) -> Vec<Alert> {
    let mut alerts = Vec::new();
    engine.run(records, threads, |a| alerts.push(a));
    alerts
}

/// Drains the queue until every sender is gone: takes what is waiting (up to `batch`),
/// detects, delivers the alerts, counts. Returns the first delivery error.
pub(crate) fn drain(
    rx: Receiver<Record>,
    engine: &Engine,
    threads: usize,
    batch: usize,
    sink: &mut dyn AlertSink,
    c: &Counters,
) -> Result<()> {
    let batch = batch.max(1);
    let mut records = Vec::with_capacity(batch);
    while let Ok(first) = rx.recv() {
        let start = std::time::Instant::now();
        records.push(first);
        while records.len() < batch {
            match rx.try_recv() {
                Ok(r) => records.push(r),
                Err(_) => break,
            }
        }
        let n = records.len() as u64;
        c.queue_depth.fetch_sub(n, Relaxed);
        let alerts = detect(engine, std::mem::take(&mut records), threads);
        if !alerts.is_empty() {
            sink.deliver(&alerts).map_err(|e| {
                c.set_error(&e);
                Error::Sink(e)
            })?;
        }
        c.alerts.fetch_add(alerts.len() as u64, Relaxed);
        c.processed.fetch_add(n, Relaxed);
        c.batch_done(start);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_objects_stay_json_and_the_rest_is_syslog() {
        let v = decode_message(br#"{"EventID": 1, "Image": "x"}"#);
        assert_eq!(v["EventID"], 1);
        let v = decode_message(b"<38>Jan  5 10:00:00 web1 sshd[42]: Accepted password for bob");
        assert_eq!(v["app_name"], "sshd");
        assert_eq!(v["hostname"], "web1");
        // a JSON array or broken JSON is a message like any other
        let v = decode_message(b"[1,2]");
        assert_eq!(v["format"], "raw");
        let v = decode_message(b"{broken");
        assert_eq!(v["message"], "{broken");
    }

    #[test]
    fn a_full_queue_drops_and_counts_or_waits_and_counts() {
        let c = Counters::new();
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        assert!(send_or_drop(&tx, Record::new(Value::Null), &c));
        assert!(send_or_drop(&tx, Record::new(Value::Null), &c));
        assert_eq!(c.dropped.load(Relaxed), 1);
        assert_eq!(c.queue_depth.load(Relaxed), 1);
        let waiter = std::thread::spawn({
            let tx = tx.clone();
            let c = Arc::new(Counters::new());
            move || {
                let ok = send_waiting(&tx, Record::new(Value::Null), &c);
                (ok, c.backpressure_waits.load(Relaxed))
            }
        });
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(rx.recv().is_ok());
        let (ok, waits) = waiter.join().expect("waiter");
        assert!(ok);
        assert_eq!(waits, 1, "the second send found the queue full and waited");
        drop(rx);
        assert!(!send_or_drop(&tx, Record::new(Value::Null), &c));
    }
}
