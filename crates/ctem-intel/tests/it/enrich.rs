//! One enrichment: the intel stage's in-memory index and the store's enrichment pass give the
//! same `Enrichment` for the same real KEV catalog and CVE records, whatever the case of the
//! exposure's CVE id and whatever the exposure already says.

use chrono::{TimeZone, Utc};
use ctem_intel::cve::parse_cve;
use ctem_intel::enrich::{IntelIndex, Missing};
use ctem_intel::kev::parse_kev;
use ctem_model::{Asset, AssetKind, Exposure, ExposureKind, Record, Severity};
use ctem_store::intel::{IntelBatch, IntelStore};
use ctem_store::sqlite::SqliteStore;
use ctem_store::{ExposureFilter, ScanMeta, Store};

use crate::fixture;

#[test]
fn the_index_and_the_store_enrich_alike() {
    let kev = parse_kev(&fixture("kev/valid-catalog-1.json"))
        .expect("kev")
        .entries;
    let cve = parse_cve(&fixture("cve5/CVE-2024-3094.json"))
        .expect("cve")
        .records;
    let index = IntelIndex::new(kev.clone(), Vec::new(), cve.clone());
    // (CVE id as the scanner wrote it, whether the exposure has its own description)
    let cases = [
        ("cve-2025-0108", false),
        ("CVE-2024-53704", true),
        (" CVE-2024-57727", false),
        ("cve-2024-3094", false),
        ("CVE-2024-3094", true),
        ("CVE-1999-0001", false),
    ];
    let mut store = SqliteStore::in_memory().expect("store");
    let mut s = store
        .begin_import(ScanMeta {
            tool: "trivy".into(),
            format: "trivy".into(),
            scope: None,
            file: "scan.json".into(),
            sha256: "sha".into(),
            imported_at: Utc
                .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
                .single()
                .expect("date"),
        })
        .expect("begin");
    for (i, (id, described)) in cases.iter().enumerate() {
        let key = i as u32;
        let asset = Asset::new(AssetKind::Host, format!("host-{i}"));
        s.record(Record::Asset { key, asset }).expect("asset");
        let mut e = Exposure::new(
            ExposureKind::Vulnerability,
            format!("flaw {i}"),
            Severity::High,
        );
        // as a parser that fills the list itself would
        e.cves = vec![(*id).to_string()];
        e.description = described.then(|| "the scanner's words".to_string());
        s.record(Record::Exposure {
            asset: key,
            exposure: Box::new(e),
        })
        .expect("exposure");
    }
    s.commit().expect("commit");
    store
        .import_intel(IntelBatch {
            source: "intel".into(),
            kind: "kev".into(),
            kev,
            cves: cve,
            ..IntelBatch::default()
        })
        .expect("intel");
    let stored = store
        .exposures(&ExposureFilter::default())
        .expect("exposures");
    let mut enriched = 0;
    for (i, (id, described)) in cases.iter().enumerate() {
        let e = stored
            .iter()
            .find(|e| e.title == format!("flaw {i}"))
            .expect("stored");
        let missing = Missing {
            description: !described,
            cwes: true,
            cvss: true,
        };
        let want = index.enrich(id, missing);
        assert_eq!(e.intel, want, "{id}");
        enriched += usize::from(want.is_some());
    }
    assert_eq!(enriched, 5, "every listed CVE, in any case");
    let kev_fallback = stored[0].intel.as_ref().expect("kev");
    assert_eq!(kev_fallback.cwes, ["CWE-306"], "the KEV entry's CWEs");
}
