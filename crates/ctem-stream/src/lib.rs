//! # ctem-stream: event streams into detection
//!
//! Files are read by `ctem detect`; this crate adds the sources that never end: a syslog
//! listener ([`syslog`], UDP and TCP) and Kafka topics read in a consumer group
//! ([`kafka`], behind the default-on `kafka` feature). Both feed ctem-detect's
//! [`Engine`](ctem_detect::Engine) and hand alerts to an [`AlertSink`], the role trait of
//! whatever makes them durable (the store, the alerts topic, stdout). `ctem detect
//! --input syslog://... | kafka://...` runs one in the foreground; the scheduler of `ctem
//! run` / `ctem serve` builds one per `[[sources]]` entry of kind `syslog` or `kafka`.
//!
//! ## Shape
//!
//! A config value ([`SyslogConfig`], [`KafkaConfig`]) `build()`s the runtime source,
//! which opens its socket or joins its group at once (a port in use or a bad broker list
//! fails before anything runs). `run(&engine, &mut sink)` blocks until the source's
//! [`Stop`] handle is used, then finishes what it has queued and returns the final
//! [`Snapshot`]. While it runs, [`Counters`] (atomics behind an `Arc`) can be read from
//! any thread: the scheduler's `ctem sources` and the server's `/metrics`
//! ([`Snapshot::prometheus`]).
//!
//! ## Design choices
//!
//! * **Plain threads, no async runtime.** A reader thread per socket (and per TCP
//!   connection) and the caller's thread for detection: detection is CPU-bound and
//!   batch-wise, the readers mostly wait, and a blocking bounded channel
//!   (`std::sync::mpsc::sync_channel`) is the backpressure with no extra code. A
//!   scheduler on tokio runs a source on `spawn_blocking` or its own thread.
//! * **Backpressure everywhere, nothing dropped silently.** Each source has one bounded
//!   queue. A TCP reader blocks on a full queue and stops reading its socket, so the
//!   kernel's window closes and the sender slows. Kafka polls only when the previous
//!   batch is done; librdkafka's bounded prefetch then pauses the fetch. UDP cannot slow
//!   its senders: every datagram dropped on a full queue is counted (`dropped`), and the
//!   datagrams the kernel dropped before ctem read them are taken from `/proc/net/udp`
//!   (`kernel_dropped`), so sent = processed + dropped + kernel_dropped + rejected.
//! * **Durable before acknowledged.** A batch's alerts are delivered (the sink returns
//!   once they are durable) before Kafka offsets are committed. Replays after a crash
//!   give alerts of the same identity (source `kafka://TOPIC/PARTITION`, record = offset),
//!   which the store keeps once (ctem-store's alert identity).
//! * **One decoder.** A message that is a JSON object is an event as it stands; anything
//!   else goes through ctem-detect's syslog decoder (RFC 3164, 5424, CEF), whose `app_name`
//!   routes it to the rules of its service (`sshd`, `sudo`, `cron`: `mappings/sources.yml`).
//! * **Identity of syslog alerts.** Syslog has no offsets: records are numbered per run
//!   and the run's start time is part of the source (`syslog://tcp/ADDR#RUN`), so a
//!   restart never makes a new alert look like a stored one.
//!
//! ## Known limits
//!
//! * TLS syslog (RFC 5425) is not supported; put a relay (rsyslog, Vector) in front.
//! * The UDP kernel drop count is Linux-only; elsewhere `kernel_dropped` stays 0.
//! * Kafka's `received` counts deliveries: a message read again after a rebalance counts
//!   twice, `processed` once per processing.

pub mod counters;
mod error;
pub mod framing;
#[cfg(feature = "kafka")]
pub mod kafka;
mod pipeline;
pub mod syslog;

pub use counters::{Counters, Snapshot};
pub use error::{Error, Result};
#[cfg(feature = "kafka")]
pub use kafka::{KafkaConfig, KafkaSource};
pub use pipeline::{AlertSink, Stop, decode_message};
pub use syslog::{Listen, SyslogConfig, SyslogListener};
