//! Produces COUNT messages (the lines of a file, cycled) to a topic, spread over its
//! PARTITIONS in turn: the load of bench/scale-out.sh. Prints what it sent as JSON.
//!
//! ```text
//! cargo run --release -p ctem-stream --example kafka_send -- BROKERS TOPIC PARTITIONS LINES COUNT
//! ```

use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [brokers, topic, parts, file, count] = args.as_slice() else {
        return Err("usage: kafka_send BROKERS TOPIC PARTITIONS LINES COUNT".into());
    };
    let parts: i32 = parts.parse().map_err(|e| format!("PARTITIONS: {e}"))?;
    let count: u64 = count.parse().map_err(|e| format!("COUNT: {e}"))?;
    let text = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() || parts < 1 {
        return Err(format!("{file}: no lines, or no partitions"));
    }
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "20")
        .set("batch.num.messages", "10000")
        .create()
        .map_err(|e| e.to_string())?;
    let start = Instant::now();
    for i in 0..count {
        let line = lines[(i % lines.len() as u64) as usize];
        let mut rec = BaseRecord::<(), _>::to(topic)
            .payload(line)
            .partition((i % parts as u64) as i32);
        loop {
            match p.send(rec) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    rec = r;
                    p.poll(Duration::from_millis(5));
                }
                Err((e, _)) => return Err(format!("produce: {e}")),
            }
        }
        if i % 10_000 == 0 {
            p.poll(Duration::ZERO);
        }
    }
    p.flush(Duration::from_secs(120))
        .map_err(|e| e.to_string())?;
    let secs = start.elapsed().as_secs_f64();
    println!("{{\"sent\": {count}, \"seconds\": {secs:.3}}}");
    Ok(())
}
