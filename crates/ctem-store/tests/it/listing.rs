//! Keyset pages of the exposure listing: every order, paged from any cursor, gives exactly
//! the whole listing in that order; the severity orders walk the one listing index from a
//! seek (no sorter, no rows read and dropped before the page).

use chrono::{TimeZone, Utc};
use ctem_model::{
    Asset, AssetKind, Exposure, ExposureKind, Identifier, IdentifierKind, Record, Severity,
};
use ctem_store::sqlite::SqliteStore;
use ctem_store::{ExposureCursor, ExposureFilter, ExposureSort, ScanMeta, Store, testsuite};

/// 90 exposures on 3 hosts; severities cycle so each level holds ids far apart.
fn store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("tmp");
    let mut s = SqliteStore::open(dir.path().join("l.db")).expect("store");
    let mut records = Vec::new();
    for h in 0..3u32 {
        let ip = format!("10.0.0.{h}");
        records.push(Record::Asset {
            key: h,
            asset: Asset::new(AssetKind::Host, &ip)
                .with_identifier(Identifier::new(IdentifierKind::Ipv4, &ip)),
        });
        for i in 0..30 {
            let sev = Severity::ALL[(i * 7 + h as usize) % Severity::ALL.len()];
            let mut e = Exposure::new(
                ExposureKind::Misconfiguration,
                format!("finding {h}-{i}"),
                sev,
            );
            e.rule_id = Some(format!("rule-{h}-{i}"));
            records.push(Record::Exposure {
                asset: h,
                exposure: Box::new(e),
            });
        }
    }
    let meta = ScanMeta {
        tool: "t".into(),
        format: "t".into(),
        scope: None,
        file: "t.json".into(),
        sha256: String::new(),
        imported_at: Utc
            .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .expect("time"),
    };
    testsuite::import(&mut s, meta, records);
    (dir, s)
}

/// A comparison of (severity, id) keys.
type Order = fn(&(i64, i64), &(i64, i64)) -> std::cmp::Ordering;

fn key(e: &Exposure) -> (i64, i64) {
    (e.severity as i64, e.id.expect("id"))
}

#[test]
fn every_order_pages_to_the_whole_listing() {
    let (_dir, s) = store();
    let all = s.exposures(&ExposureFilter::default()).expect("all");
    assert_eq!(all.len(), 90);
    let orders: [(ExposureSort, Order); 4] = [
        (ExposureSort::Severity, |a, b| {
            b.0.cmp(&a.0).then(a.1.cmp(&b.1))
        }),
        (ExposureSort::SeverityNewest, |a, b| {
            b.0.cmp(&a.0).then(b.1.cmp(&a.1))
        }),
        (ExposureSort::Id, |a, b| a.1.cmp(&b.1)),
        (ExposureSort::IdDesc, |a, b| b.1.cmp(&a.1)),
    ];
    for (sort, cmp) in orders {
        let mut want: Vec<(i64, i64)> = all.iter().map(key).collect();
        want.sort_by(cmp);
        let whole: Vec<(i64, i64)> = s
            .exposures(&ExposureFilter {
                sort,
                ..Default::default()
            })
            .expect("whole")
            .iter()
            .map(key)
            .collect();
        assert_eq!(whole, want, "{sort:?} unpaged");
        for page in [1, 7, 50] {
            let mut got = Vec::new();
            let mut after: Option<ExposureCursor> = None;
            loop {
                let p = s
                    .exposures(&ExposureFilter {
                        sort,
                        after,
                        limit: Some(page),
                        ..Default::default()
                    })
                    .expect("page");
                assert!(p.len() <= page);
                let Some(last) = p.last() else { break };
                after = ExposureCursor::after(last, sort);
                got.extend(p.iter().map(key));
            }
            assert_eq!(got, want, "{sort:?} in pages of {page}");
        }
    }
    // a minimum severity keeps the order and stops at its level
    let high: Vec<(i64, i64)> = s
        .exposures(&ExposureFilter {
            min_severity: Some(Severity::High),
            limit: Some(100),
            ..Default::default()
        })
        .expect("high")
        .iter()
        .map(key)
        .collect();
    let mut want: Vec<(i64, i64)> = all
        .iter()
        .map(key)
        .filter(|k| k.0 >= Severity::High as i64)
        .collect();
    want.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    assert_eq!(high, want);
}

#[test]
fn one_listing_index_is_left() {
    let (dir, s) = store();
    drop(s);
    let c = rusqlite::Connection::open(dir.path().join("l.db")).expect("open");
    let names: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'exposures' AND name LIKE 'exposures_%' ORDER BY name")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert!(
        names.contains(&"exposures_severity".to_string()),
        "{names:?}"
    );
    assert!(
        !names.contains(&"exposures_listing".to_string()),
        "{names:?}"
    );
}

#[test]
fn severity_pages_are_index_walks_without_a_sorter() {
    let (_dir, s) = store();
    for sort in [ExposureSort::Severity, ExposureSort::SeverityNewest] {
        for after in [None, Some(ExposureCursor { key: 3, id: 40 })] {
            let f = ExposureFilter {
                sort,
                after,
                limit: Some(50),
                ..Default::default()
            };
            let plan = s.exposure_listing_plan(&f).expect("plan");
            let text = plan.join("\n");
            assert!(!text.contains("TEMP B-TREE"), "{sort:?} {after:?}:\n{text}");
            assert!(
                text.contains("exposures_severity"),
                "{sort:?} {after:?}:\n{text}"
            );
        }
    }
}
