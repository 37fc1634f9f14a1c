//! Bulk row writes on PostgreSQL against SQLite, in one run: N detection alerts (each with
//! its JSON event) stored by `AlertStore::store_alerts` into a fresh SQLite file, and into a
//! fresh PostgreSQL schema by binary COPY and by multi-row INSERT (`BulkWrite`).
//!
//! `cargo run --release -p ctem-store --example pg_bulk -- N POSTGRES_URL SQLITE_DIR`
//! (used by `bench/postgres.sh`). Prints one line per backend: rows, seconds, rows/s.

use std::time::Instant;

use ctem_store::alerts::AlertStore;
use ctem_store::postgres::{BulkWrite, PgStore};
use ctem_store::sqlite::SqliteStore;

fn alerts(n: u64) -> Vec<ctem_model::Alert> {
    (0..n)
        .map(|i| ctem_model::Alert {
            id: None,
            rule_id: format!("rule-{}", i % 500),
            title: format!("Suspicious process {}", i % 500),
            level: ["low", "medium", "high", "critical"][(i % 4) as usize].into(),
            kind: Default::default(),
            tags: vec!["attack.execution".into(), "attack.t1059.001".into()],
            event_time: chrono::DateTime::from_timestamp(1_760_000_000 + i as i64, 0),
            detected_at: chrono::DateTime::from_timestamp(1_760_000_100 + i as i64, 0)
                .unwrap_or_default(),
            source: Some(format!("host{}.evtx", i % 1000)),
            record: Some(i),
            host: Some(format!("host{}", i % 1000)),
            user: Some(format!("user{}", i % 300)),
            process: Some("powershell.exe".into()),
            event: serde_json::json!({
                "EventID": 1, "Image": "C:\\Windows\\System32\\powershell.exe",
                "CommandLine": format!("powershell -enc {i:016x}"), "ProcessId": i % 65536,
            }),
        })
        .collect()
}

fn report(label: &str, n: usize, secs: f64) {
    println!(
        "{label:<28} {n:>9} rows {secs:>8.2} s {:>10.0} rows/s",
        n as f64 / secs
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let n: u64 = args
        .get(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let url = args
        .get(2)
        .ok_or("usage: pg_bulk N POSTGRES_URL SQLITE_DIR")?;
    let dir = args
        .get(3)
        .ok_or("usage: pg_bulk N POSTGRES_URL SQLITE_DIR")?;
    let batch = alerts(n);

    let path = std::path::Path::new(dir).join("pg_bulk.db");
    let _ = std::fs::remove_file(&path);
    let mut lite = SqliteStore::open(&path)?;
    let t = Instant::now();
    let stored = lite.store_alerts(&batch)?.len();
    report("sqlite", stored, t.elapsed().as_secs_f64());
    drop(lite);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }

    for (label, mode) in [
        ("postgres COPY", BulkWrite::Copy),
        ("postgres multi-row INSERT", BulkWrite::Insert),
    ] {
        let sep = if url.contains('?') { '&' } else { '?' };
        let mut pg = PgStore::open_with(
            &format!("{url}{sep}schema=bench_bulk_{}", std::process::id()),
            &Default::default(),
        )?;
        pg.set_bulk_write(mode);
        let t = Instant::now();
        let stored = pg.store_alerts(&batch)?.len();
        report(label, stored, t.elapsed().as_secs_f64());
        pg.drop_schema()?;
    }
    Ok(())
}
