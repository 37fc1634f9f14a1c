//! The conformance cases of [`crate::intel::IntelStore`]: indicator upserts, expiry and
//! revocation, the enrichment pass and the `kev` filter, feed state. Run by every backend
//! beside [`crate::testsuite`].

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use ctem_model::intel::{
    CveRecord, Description, EpssScore, Indicator, IndicatorType, KevEntry, RansomwareUse, Tlp,
};
use ctem_model::{Asset, AssetKind, Exposure, ExposureKind, Package, Record, Severity};

use crate::intel::{FeedState, IndicatorFilter, IntelBatch};
use crate::{ExposureFilter, ScanMeta, Store};

type Case = (&'static str, fn(&mut dyn Store));

/// Every case, by name.
pub const CASES: &[Case] = &[
    (
        "reimporting_a_feed_updates_instead_of_duplicating",
        reimporting_a_feed_updates_instead_of_duplicating,
    ),
    (
        "expired_and_revoked_indicators_stop_matching",
        expired_and_revoked_indicators_stop_matching,
    ),
    (
        "enrichment_follows_intel_and_scan_imports",
        enrichment_follows_intel_and_scan_imports,
    ),
    ("feed_state_round_trips", feed_state_round_trips),
    (
        "enrichment_reads_any_case_and_falls_back_to_kev",
        enrichment_reads_any_case_and_falls_back_to_kev,
    ),
];

/// Runs every case on a fresh store from `make`.
pub fn run_all(make: &mut dyn FnMut() -> Box<dyn Store>) {
    for (name, case) in CASES {
        let mut store = make();
        eprintln!("intel conformance: {name}");
        case(store.as_mut());
    }
}

fn day(d: i64) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
        + Duration::days(d)
}

fn ind(kind: IndicatorType, value: &str, conf: u8, first: i64, last: i64) -> Indicator {
    let mut i = Indicator::new(kind, value, "feed-a");
    i.confidence = Some(conf);
    i.first_seen = Some(day(first));
    i.last_seen = Some(day(last));
    i.tlp = Some(Tlp::Green);
    i
}

fn batch(indicators: Vec<Indicator>) -> IntelBatch {
    IntelBatch {
        source: "feed-a".into(),
        kind: "iocs".into(),
        indicators,
        ..IntelBatch::default()
    }
}

fn reimporting_a_feed_updates_instead_of_duplicating(store: &mut dyn Store) {
    let first = vec![
        ind(IndicatorType::Domain, "evil.example", 50, 10, 10),
        ind(IndicatorType::Ipv4, "203.0.113.7", 50, 10, 10),
    ];
    let s = store.import_intel(batch(first)).expect("first import");
    assert_eq!((s.indicators_new, s.indicators_updated), (2, 0));
    let again = vec![
        ind(IndicatorType::Domain, "evil.example", 90, 5, 20),
        ind(IndicatorType::Ipv4, "203.0.113.7", 50, 12, 12),
    ];
    let s = store.import_intel(batch(again)).expect("second import");
    assert_eq!((s.indicators_new, s.indicators_updated), (0, 2));
    let all = store.indicators(&IndicatorFilter::default()).expect("list");
    assert_eq!(all.len(), 2, "{all:?}");
    let d = all
        .iter()
        .find(|i| i.value == "evil.example")
        .expect("domain");
    assert_eq!(d.confidence, Some(90));
    assert_eq!(d.first_seen, Some(day(5)), "earliest first_seen kept");
    assert_eq!(d.last_seen, Some(day(20)), "latest last_seen kept");
    let ip = all.iter().find(|i| i.value == "203.0.113.7").expect("ip");
    assert_eq!(
        (ip.first_seen, ip.last_seen),
        (Some(day(10)), Some(day(12)))
    );
    // the same value from another source is another indicator
    let mut other = ind(IndicatorType::Domain, "evil.example", 10, 1, 1);
    other.source = "feed-b".into();
    store
        .import_intel(batch(vec![other]))
        .expect("other source");
    assert_eq!(store.intel_counts().expect("counts").indicators, 3);
}

fn expired_and_revoked_indicators_stop_matching(store: &mut dyn Store) {
    let now = Utc::now();
    let mut expired = ind(IndicatorType::Domain, "old.example", 80, 1, 2);
    expired.valid_until = Some(now - Duration::days(1));
    let mut revoked = ind(IndicatorType::Domain, "revoked.example", 80, 1, 2);
    revoked.revoked = true;
    let mut live = ind(IndicatorType::Domain, "live.example", 80, 1, 2);
    live.valid_until = Some(now + Duration::days(30));
    let forever = ind(IndicatorType::Sha256, &"ab".repeat(32), 80, 1, 2);
    store
        .import_intel(batch(vec![expired, revoked, live, forever]))
        .expect("import");
    let active = store
        .indicators(&IndicatorFilter {
            active_at: Some(now),
            ..IndicatorFilter::default()
        })
        .expect("active");
    let values: Vec<&str> = active.iter().map(|i| i.value.as_str()).collect();
    assert_eq!(values.len(), 2, "{values:?}");
    assert!(values.contains(&"live.example"));
    assert!(!values.contains(&"old.example") && !values.contains(&"revoked.example"));
    let domains = store
        .indicators(&IndicatorFilter {
            kind: Some(IndicatorType::Domain),
            ..IndicatorFilter::default()
        })
        .expect("all domains");
    assert_eq!(domains.len(), 3);
    // a later import revoking the live one makes it stop matching too
    let mut now_revoked = ind(IndicatorType::Domain, "live.example", 80, 1, 3);
    now_revoked.revoked = true;
    store
        .import_intel(batch(vec![now_revoked]))
        .expect("revoke");
    let active = store
        .indicators(&IndicatorFilter {
            active_at: Some(now),
            kind: Some(IndicatorType::Domain),
            ..IndicatorFilter::default()
        })
        .expect("active");
    assert!(active.is_empty(), "{active:?}");
}

fn scan(store: &mut dyn Store, day_n: i64, cves: &[&str]) {
    let meta = ScanMeta {
        tool: "trivy".into(),
        format: "trivy".into(),
        scope: Some("fleet".into()),
        file: format!("scan-{day_n}.json"),
        sha256: format!("sha{day_n}"),
        imported_at: day(day_n),
    };
    let mut s = store.begin_import(meta).expect("begin");
    s.record(Record::Asset {
        key: 0,
        asset: Asset::new(AssetKind::ContainerImage, "app:1"),
    })
    .expect("asset");
    for cve in cves {
        let mut e = Exposure::new(ExposureKind::Vulnerability, *cve, Severity::Medium);
        e.add_vuln_id(cve);
        if *cve == "CVE-2024-0003" {
            e.description = Some("the scanner's own words".into());
        }
        e.package = Some(Package {
            name: format!("pkg-{cve}"),
            ..Package::default()
        });
        s.record(Record::Exposure {
            asset: 0,
            exposure: Box::new(e),
        })
        .expect("exposure");
    }
    s.commit().expect("commit");
}

fn kev(cve: &str) -> KevEntry {
    KevEntry {
        cve_id: cve.into(),
        vendor_project: "Acme".into(),
        product: "Widget".into(),
        vulnerability_name: "Acme Widget RCE".into(),
        date_added: NaiveDate::from_ymd_opt(2025, 3, 1).unwrap_or_default(),
        short_description: "remote code execution".into(),
        required_action: "patch".into(),
        due_date: NaiveDate::from_ymd_opt(2025, 3, 22),
        known_ransomware_campaign_use: Some(RansomwareUse::Known),
        notes: String::new(),
        cwes: vec![],
    }
}

fn epss(cve: &str, score: f64) -> EpssScore {
    EpssScore {
        cve_id: cve.into(),
        epss: score,
        percentile: 0.5,
        date: NaiveDate::from_ymd_opt(2026, 9, 29),
    }
}

fn record(cve: &str) -> CveRecord {
    CveRecord {
        id: cve.into(),
        state: Some("PUBLISHED".into()),
        published: None,
        descriptions: vec![Description {
            lang: "en".into(),
            value: format!("{cve} from the CVE record"),
        }],
        cwes: vec!["CWE-787".into()],
        cvss: vec![],
    }
}

fn by_cve(store: &dyn Store, cve: &str) -> Exposure {
    store
        .exposures(&ExposureFilter {
            cve: Some(cve.into()),
            ..ExposureFilter::default()
        })
        .expect("query")
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no exposure for {cve}"))
}

fn enrichment_follows_intel_and_scan_imports(store: &mut dyn Store) {
    scan(
        store,
        1,
        &["CVE-2024-0001", "CVE-2024-0002", "CVE-2024-0003"],
    );
    assert!(by_cve(store, "CVE-2024-0001").intel.is_none());
    let b = IntelBatch {
        source: "kev.json".into(),
        kind: "kev".into(),
        kev: vec![kev("CVE-2024-0001")],
        epss: vec![
            epss("CVE-2024-0001", 0.9),
            epss("CVE-2024-0002", 0.01),
            epss("CVE-2024-0009", 0.5),
        ],
        cves: vec![record("CVE-2024-0002"), record("CVE-2024-0003")],
        ..IntelBatch::default()
    };
    let s = store.import_intel(b).expect("intel");
    assert_eq!(s.enriched_cves, 3, "{s:?}");
    let e1 = by_cve(store, "CVE-2024-0001").intel.expect("enriched");
    assert!(e1.kev);
    assert_eq!(e1.kev_date_added, NaiveDate::from_ymd_opt(2025, 3, 1));
    assert_eq!(e1.kev_due_date, NaiveDate::from_ymd_opt(2025, 3, 22));
    assert_eq!(e1.kev_ransomware, Some(RansomwareUse::Known));
    assert_eq!(e1.epss, Some(0.9));
    assert_eq!(e1.epss_percentile, Some(0.5));
    assert_eq!(e1.epss_date, NaiveDate::from_ymd_opt(2026, 9, 29));
    let e2 = by_cve(store, "CVE-2024-0002").intel.expect("enriched");
    assert!(!e2.kev);
    assert_eq!(e2.epss, Some(0.01));
    assert_eq!(
        e2.description.as_deref(),
        Some("CVE-2024-0002 from the CVE record"),
        "missing description filled"
    );
    assert_eq!(e2.cwes, vec!["CWE-787".to_string()]);
    let e3 = by_cve(store, "CVE-2024-0003");
    let i3 = e3.intel.expect("enriched");
    assert_eq!(i3.description, None, "the scanner's description is kept");
    assert_eq!(e3.description.as_deref(), Some("the scanner's own words"));
    // the kev filter
    let kev_only = store
        .exposures(&ExposureFilter {
            kev: true,
            ..ExposureFilter::default()
        })
        .expect("kev");
    assert_eq!(kev_only.len(), 1);
    assert_eq!(kev_only[0].cves, vec!["CVE-2024-0001".to_string()]);
    // a later scan with a CVE the intel already knows is enriched by the pass the import runs
    scan(store, 2, &["CVE-2024-0001", "CVE-2024-0009"]);
    assert_eq!(store.enrich_exposures().expect("pass"), 4);
    let e9 = by_cve(store, "CVE-2024-0009").intel.expect("enriched");
    assert_eq!(e9.epss, Some(0.5));
    // and a newer EPSS file updates the scores in place
    let b = IntelBatch {
        source: "epss.csv".into(),
        kind: "epss".into(),
        epss: vec![epss("CVE-2024-0001", 0.95)],
        ..IntelBatch::default()
    };
    store.import_intel(b).expect("epss");
    let e1 = by_cve(store, "CVE-2024-0001").intel.expect("enriched");
    assert_eq!(e1.epss, Some(0.95));
    assert_eq!(store.intel_counts().expect("counts").epss, 3);
}

fn feed_state_round_trips(store: &mut dyn Store) {
    assert!(store.feed_state("kev").expect("get").is_none());
    let mut st = FeedState {
        name: "kev".into(),
        url: "http://127.0.0.1/kev.json".into(),
        etag: Some("\"abc\"".into()),
        last_modified: Some("Mon, 01 Sep 2025 00:00:00 GMT".into()),
        checked_at: Some(day(3)),
        updated_at: Some(day(3)),
        sha256: Some("00".into()),
    };
    store.set_feed_state(&st).expect("set");
    assert_eq!(store.feed_state("kev").expect("get"), Some(st.clone()));
    st.etag = None;
    st.checked_at = Some(day(4));
    store.set_feed_state(&st).expect("update");
    assert_eq!(store.feed_state("kev").expect("get"), Some(st));
}

/// The one enrichment (`ctem_model::enrich`): a CVE id in lower case (a parser that filled
/// `cves` itself) still finds its intel, the id comes back upper case, and without a CVE
/// record the KEV entry's CWEs and short description stand in for what the exposure lacks.
fn enrichment_reads_any_case_and_falls_back_to_kev(store: &mut dyn Store) {
    let mut s = store
        .begin_import(ScanMeta {
            tool: "trivy".into(),
            format: "trivy".into(),
            scope: None,
            file: "lower.json".into(),
            sha256: "lower".into(),
            imported_at: day(1),
        })
        .expect("begin");
    s.record(Record::Asset {
        key: 0,
        asset: Asset::new(AssetKind::Host, "web01"),
    })
    .expect("asset");
    let mut e = Exposure::new(ExposureKind::Vulnerability, "Log4Shell", Severity::Critical);
    e.cves = vec!["cve-2021-44228".into()];
    s.record(Record::Exposure {
        asset: 0,
        exposure: Box::new(e),
    })
    .expect("exposure");
    s.commit().expect("commit");
    let mut k = kev("CVE-2021-44228");
    k.cwes = vec!["CWE-20".into(), "CWE-917".into()];
    store
        .import_intel(IntelBatch {
            source: "kev.json".into(),
            kind: "kev".into(),
            kev: vec![k],
            ..IntelBatch::default()
        })
        .expect("kev");
    let all = store
        .exposures(&ExposureFilter::default())
        .expect("exposures");
    let intel = all[0].intel.clone().expect("enriched whatever the case");
    assert!(intel.kev);
    assert_eq!(intel.cve_id, "CVE-2021-44228");
    assert_eq!(intel.cwes, ["CWE-20", "CWE-917"], "the KEV entry's CWEs");
    assert_eq!(intel.description.as_deref(), Some("remote code execution"));
    assert_eq!(intel.kev_due_date, NaiveDate::from_ymd_opt(2025, 3, 22));
}
