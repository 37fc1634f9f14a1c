//! The conformance suite every backend runs: the import semantics (transactions, dedup,
//! lifecycle, asset identity) written once against the [`Store`] trait. A backend's tests call
//! [`run_all`] with a function that makes a fresh, empty store.
//!
//! Each case panics with a message on failure (it is test code).

use chrono::{DateTime, Duration, TimeZone, Utc};
use ctem_model::{
    Asset, AssetKind, Coverage, Exposure, ExposureKind, ExposureStatus, Identifier, IdentifierKind,
    ImportSummary, Package, Record, Severity,
};

use crate::{ExposureFilter, ScanMeta, Store};

type Case = (&'static str, fn(&mut dyn Store));

/// Every suite with its cases, by name: the one test list each backend runs (SQLite in
/// `tests/it/main.rs`, PostgreSQL in `tests/it/postgres.rs`).
pub const SUITES: &[(&str, &[Case])] = &[
    ("store", CASES),
    ("intel", crate::testsuite_intel::CASES),
    ("records", crate::testsuite_records::CASES),
    ("runs", crate::testsuite_runs::CASES),
    ("measure", crate::testsuite_measure::CASES),
];

/// Every case, by name.
pub const CASES: &[Case] = &[
    ("exposure_reads_back_whole", exposure_reads_back_whole),
    ("reimport_is_unchanged", reimport_is_unchanged),
    ("failed_import_writes_nothing", failed_import_writes_nothing),
    (
        "dedup_within_and_across_reports",
        dedup_within_and_across_reports,
    ),
    ("lifecycle_fixed_and_reopened", lifecycle_fixed_and_reopened),
    (
        "other_tools_and_scopes_untouched",
        other_tools_and_scopes_untouched,
    ),
    (
        "default_scope_only_speaks_for_reported_assets",
        default_scope_only_speaks_for_reported_assets,
    ),
    (
        "explicit_scope_closes_absent_assets",
        explicit_scope_closes_absent_assets,
    ),
    (
        "same_host_from_two_tools_is_one_asset",
        same_host_from_two_tools_is_one_asset,
    ),
    (
        "manual_status_is_kept_by_reimport",
        manual_status_is_kept_by_reimport,
    ),
    (
        "vex_not_affected_applies_to_the_matching_exposure",
        vex_not_affected_applies_to_the_matching_exposure,
    ),
    (
        "a_document_of_statements_closes_only_what_it_states",
        a_document_of_statements_closes_only_what_it_states,
    ),
];

/// Runs every case on a fresh store from `make`.
pub fn run_all(make: &mut dyn FnMut() -> Box<dyn Store>) {
    for (name, case) in CASES {
        let mut store = make();
        eprintln!("conformance: {name}");
        case(store.as_mut());
    }
}

fn t(day: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
        + Duration::days(day)
}

fn meta(tool: &str, scope: Option<&str>, day: i64) -> ScanMeta {
    ScanMeta {
        tool: tool.into(),
        format: tool.into(),
        scope: scope.map(str::to_string),
        file: format!("{tool}-{day}.report"),
        sha256: format!("{tool}{day}"),
        imported_at: t(day),
    }
}

fn host(ip: &str, extra: &[Identifier]) -> Asset {
    let mut a =
        Asset::new(AssetKind::Host, ip).with_identifier(Identifier::new(IdentifierKind::Ipv4, ip));
    for i in extra {
        a.add_identifier(i.clone());
    }
    a
}

fn vuln(cve: &str, pkg: &str) -> Exposure {
    let mut e = Exposure::new(
        ExposureKind::Vulnerability,
        format!("{cve} in {pkg}"),
        Severity::High,
    );
    e.add_vuln_id(cve);
    e.package = Some(Package {
        name: pkg.into(),
        version: Some("1.0".into()),
        ..Package::default()
    });
    e
}

/// Imports `records` as one scan and returns the summary.
pub fn import(store: &mut dyn Store, m: ScanMeta, records: Vec<Record>) -> ImportSummary {
    let mut s = store.begin_import(m).expect("begin import");
    for r in records {
        s.record(r).expect("record");
    }
    s.commit().expect("commit")
}

fn report(assets: &[(Asset, Vec<Exposure>)]) -> Vec<Record> {
    let mut out = Vec::new();
    for (k, (a, es)) in assets.iter().enumerate() {
        out.push(Record::Asset {
            key: k as u32,
            asset: a.clone(),
        });
        for e in es {
            out.push(Record::Exposure {
                asset: k as u32,
                exposure: Box::new(e.clone()),
            });
        }
    }
    out
}

fn all_exposures(store: &dyn Store) -> Vec<Exposure> {
    store
        .exposures(&ExposureFilter::default())
        .expect("exposures")
}

fn status_of(store: &dyn Store, cve: &str) -> Vec<ExposureStatus> {
    store
        .exposures(&ExposureFilter {
            cve: Some(cve.into()),
            ..ExposureFilter::default()
        })
        .expect("exposures")
        .iter()
        .map(|e| e.status)
        .collect()
}

fn reimport_is_unchanged(store: &mut dyn Store) {
    let rep = report(&[(
        host("10.0.0.1", &[]),
        vec![vuln("CVE-2024-0001", "a"), vuln("CVE-2024-0002", "b")],
    )]);
    let first = import(store, meta("trivy", None, 0), rep.clone());
    assert_eq!(first.exposures.new, 2);
    assert_eq!(first.assets.new, 1);
    let before = all_exposures(store);
    let second = import(store, meta("trivy", None, 1), rep);
    assert_eq!(second.exposures.new, 0);
    assert_eq!(second.exposures.unchanged, 2);
    assert_eq!(
        second.exposures.fixed + second.exposures.reopened + second.exposures.updated,
        0
    );
    assert_eq!((second.assets.new, second.assets.merged), (0, 1));
    let after = all_exposures(store);
    assert_eq!(before.len(), after.len());
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(
            (b.id, b.status, b.first_seen),
            (a.id, a.status, a.first_seen)
        );
        assert_eq!(b.title, a.title);
    }
}

fn failed_import_writes_nothing(store: &mut dyn Store) {
    import(
        store,
        meta("trivy", None, 0),
        report(&[(host("10.0.0.1", &[]), vec![vuln("CVE-2024-0001", "a")])]),
    );
    let scans_before = store.scans().expect("scans").len();
    {
        let mut s = store.begin_import(meta("trivy", None, 1)).expect("begin");
        for r in report(&[(host("10.0.0.2", &[]), vec![vuln("CVE-2024-0009", "z")])]) {
            s.record(r).expect("record");
        }
        // the parser fails here: the session is dropped without commit
    }
    assert_eq!(store.scans().expect("scans").len(), scans_before);
    let ex = all_exposures(store);
    assert_eq!(ex.len(), 1, "nothing of the failed import is stored");
    assert_eq!(ex[0].status, ExposureStatus::Open, "stored data untouched");
    assert_eq!(store.assets(&Default::default()).expect("assets").len(), 1);
}

/// Every field a parser sets comes back from the store: the shared detail, the instance and
/// the package split between its columns and the instance.
fn exposure_reads_back_whole(store: &mut dyn Store) {
    let a = host("10.0.0.1", &[]);
    let mut e = vuln("CVE-2024-0007", "openssl");
    e.description = Some("a flaw".into());
    e.add_cwe("CWE-787");
    e.package = Some(Package {
        name: "openssl".into(),
        version: Some("3.0.1".into()),
        fixed_version: Some("3.0.13".into()),
        ecosystem: Some("debian".into()),
        path: Some("usr/lib/libssl.so".into()),
    });
    e.cvss.push(ctem_model::Cvss {
        version: "3.1".into(),
        vector: Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H".into()),
        score: Some(9.8),
        source: Some("nvd".into()),
    });
    e.port = Some(443);
    e.protocol = Some("tcp".into());
    e.evidence = Some("banner".into());
    e.solution = Some("upgrade to 3.0.13".into());
    e.references.push("https://example.org/advisory".into());
    let mut bare = vuln("CVE-2024-0008", "zlib");
    bare.package.as_mut().expect("pkg").version = None;
    import(
        store,
        meta("trivy", None, 0),
        report(&[(a, vec![e.clone(), bare.clone()])]),
    );
    let ex = all_exposures(store);
    let got = ex.iter().find(|x| x.title == e.title).expect("stored");
    assert_eq!(got.package, e.package);
    assert_eq!(
        (&got.description, &got.cwes, &got.cvss, &got.references),
        (&e.description, &e.cwes, &e.cvss, &e.references)
    );
    assert_eq!(
        (got.port, &got.protocol, &got.evidence, &got.solution),
        (e.port, &e.protocol, &e.evidence, &e.solution)
    );
    let got = ex.iter().find(|x| x.title == bare.title).expect("stored");
    assert_eq!(got.package, bare.package);
}

fn dedup_within_and_across_reports(store: &mut dyn Store) {
    let a = host("10.0.0.1", &[]);
    // the same finding twice in one report, and a changed installed version later
    let s = import(
        store,
        meta("trivy", None, 0),
        report(&[(
            a.clone(),
            vec![vuln("CVE-2024-0001", "a"), vuln("CVE-2024-0001", "a")],
        )]),
    );
    assert_eq!(s.exposures.new, 1);
    let mut upgraded = vuln("CVE-2024-0001", "a");
    upgraded.package.as_mut().expect("pkg").version = Some("1.1".into());
    let s = import(
        store,
        meta("grype", None, 1),
        report(&[(a, vec![upgraded])]),
    );
    assert_eq!(
        (s.exposures.new, s.exposures.updated),
        (0, 1),
        "same CVE and package from another tool is the same exposure"
    );
    let ex = all_exposures(store);
    assert_eq!(ex.len(), 1);
    assert_eq!(
        ex[0].package.as_ref().and_then(|p| p.version.as_deref()),
        Some("1.1")
    );
    let sources = store
        .exposure_sources(ex[0].id.expect("id"))
        .expect("sources");
    assert_eq!(sources.len(), 2);
}

fn lifecycle_fixed_and_reopened(store: &mut dyn Store) {
    let a = host("10.0.0.1", &[]);
    import(
        store,
        meta("trivy", None, 0),
        report(&[(a.clone(), vec![vuln("CVE-1", "a"), vuln("CVE-2", "b")])]),
    );
    let s = import(
        store,
        meta("trivy", None, 1),
        report(&[(a.clone(), vec![vuln("CVE-1", "a")])]),
    );
    assert_eq!(s.exposures.fixed, 1);
    assert_eq!(status_of(store, "CVE-2"), vec![ExposureStatus::Fixed]);
    let fixed = &store
        .exposures(&ExposureFilter {
            cve: Some("CVE-2".into()),
            ..Default::default()
        })
        .expect("q")[0];
    assert_eq!(fixed.fixed_at, Some(t(1)));
    let s = import(
        store,
        meta("trivy", None, 2),
        report(&[(a, vec![vuln("CVE-1", "a"), vuln("CVE-2", "b")])]),
    );
    assert_eq!(
        (s.exposures.reopened, s.exposures.unchanged, s.exposures.new),
        (1, 1, 0)
    );
    let e = store
        .exposure(fixed.id.expect("id"))
        .expect("q")
        .expect("exists");
    assert_eq!(e.status, ExposureStatus::Reopened);
    assert_eq!(e.fixed_at, None);
    let path: Vec<_> = e.history.iter().map(|h| h.to).collect();
    assert_eq!(
        path,
        vec![
            ExposureStatus::Open,
            ExposureStatus::Fixed,
            ExposureStatus::Reopened
        ]
    );
}

fn other_tools_and_scopes_untouched(store: &mut dyn Store) {
    let a = host("10.0.0.1", &[]);
    let mut nessus = Exposure::new(ExposureKind::Vulnerability, "SMB signing", Severity::Medium);
    nessus.rule_id = Some("57608".into());
    nessus.port = Some(445);
    import(
        store,
        meta("nessus", None, 0),
        report(&[(a.clone(), vec![nessus])]),
    );
    import(
        store,
        meta("trivy", Some("prod"), 0),
        report(&[(a.clone(), vec![vuln("CVE-1", "a")])]),
    );
    import(
        store,
        meta("trivy", Some("dev"), 0),
        report(&[(a.clone(), vec![vuln("CVE-2", "b")])]),
    );
    // an empty trivy scan of scope prod: only prod's trivy findings may close
    let s = import(
        store,
        meta("trivy", Some("prod"), 1),
        report(&[(a, vec![])]),
    );
    assert_eq!(s.exposures.fixed, 1);
    assert_eq!(status_of(store, "CVE-1"), vec![ExposureStatus::Fixed]);
    assert_eq!(status_of(store, "CVE-2"), vec![ExposureStatus::Open]);
    let smb = store
        .exposures(&ExposureFilter {
            tool: Some("nessus".into()),
            ..Default::default()
        })
        .expect("q");
    assert_eq!(smb.len(), 1);
    assert_eq!(smb[0].status, ExposureStatus::Open);
}

fn default_scope_only_speaks_for_reported_assets(store: &mut dyn Store) {
    let a = host("10.0.0.1", &[]);
    let b = host("10.0.0.2", &[]);
    import(
        store,
        meta("nmap-vulners", None, 0),
        report(&[
            (a.clone(), vec![vuln("CVE-1", "a")]),
            (b, vec![vuln("CVE-2", "b")]),
        ]),
    );
    // a later scan of host a only
    let s = import(store, meta("nmap-vulners", None, 1), report(&[(a, vec![])]));
    assert_eq!(s.exposures.fixed, 1);
    assert_eq!(status_of(store, "CVE-1"), vec![ExposureStatus::Fixed]);
    assert_eq!(
        status_of(store, "CVE-2"),
        vec![ExposureStatus::Open],
        "host b was not scanned"
    );
}

fn explicit_scope_closes_absent_assets(store: &mut dyn Store) {
    let a = host("10.0.0.1", &[]);
    let b = host("10.0.0.2", &[]);
    import(
        store,
        meta("trivy", Some("dc1"), 0),
        report(&[
            (a.clone(), vec![vuln("CVE-1", "a")]),
            (b, vec![vuln("CVE-2", "b")]),
        ]),
    );
    let s = import(
        store,
        meta("trivy", Some("dc1"), 1),
        report(&[(a, vec![vuln("CVE-1", "a")])]),
    );
    assert_eq!((s.exposures.fixed, s.exposures.unchanged), (1, 1));
    assert_eq!(
        status_of(store, "CVE-2"),
        vec![ExposureStatus::Fixed],
        "decommissioned host b is out of the scope"
    );
}

fn same_host_from_two_tools_is_one_asset(store: &mut dyn Store) {
    // nmap: ip, PTR name, mac
    let nmap = host(
        "192.168.1.10",
        &[
            Identifier::new(IdentifierKind::Fqdn, "web01.corp.example"),
            Identifier::new(IdentifierKind::Mac, "00:11:22:33:44:55"),
        ],
    );
    // nessus: different ip (DHCP moved it), same fqdn and netbios name
    let mut nessus = Asset::new(AssetKind::Host, "web01.corp.example")
        .with_identifier(Identifier::new(IdentifierKind::Ipv4, "192.168.1.99"))
        .with_identifier(Identifier::new(IdentifierKind::Fqdn, "WEB01.corp.example."))
        .with_identifier(Identifier::new(IdentifierKind::Hostname, "WEB01"));
    nessus.os = Some("Linux".into());
    let s1 = import(store, meta("nmap", None, 0), report(&[(nmap, vec![])]));
    let s2 = import(store, meta("nessus", None, 0), report(&[(nessus, vec![])]));
    assert_eq!((s1.assets.new, s2.assets.new, s2.assets.merged), (1, 0, 1));
    let assets = store.assets(&Default::default()).expect("assets");
    assert_eq!(assets.len(), 1);
    let ids = &assets[0].asset.identifiers;
    for v in [
        "192.168.1.10",
        "192.168.1.99",
        "web01.corp.example",
        "web01",
        "00:11:22:33:44:55",
    ] {
        assert!(
            ids.iter().any(|i| i.value == v),
            "identifier {v} merged: {ids:?}"
        );
    }
    assert_eq!(assets[0].asset.os.as_deref(), Some("Linux"));
    // an unrelated host with only a different IP stays separate
    import(
        store,
        meta("nmap", None, 1),
        report(&[(host("192.168.1.11", &[]), vec![])]),
    );
    assert_eq!(store.assets(&Default::default()).expect("assets").len(), 2);
}

fn manual_status_is_kept_by_reimport(store: &mut dyn Store) {
    let a = host("10.0.0.1", &[]);
    import(
        store,
        meta("trivy", None, 0),
        report(&[(a.clone(), vec![vuln("CVE-1", "a")])]),
    );
    let id = all_exposures(store)[0].id.expect("id");
    store
        .set_status(id, ExposureStatus::Accepted, "compensating control")
        .expect("set");
    let s = import(
        store,
        meta("trivy", None, 1),
        report(&[(a, vec![vuln("CVE-1", "a")])]),
    );
    assert_eq!(s.exposures.unchanged, 1);
    assert_eq!(status_of(store, "CVE-1"), vec![ExposureStatus::Accepted]);
    assert!(
        store
            .set_status(999_999, ExposureStatus::Accepted, "x")
            .is_err()
    );
}

fn vex_not_affected_applies_to_the_matching_exposure(store: &mut dyn Store) {
    let a = host("10.0.0.1", &[]);
    import(
        store,
        meta("trivy", None, 0),
        report(&[(a.clone(), vec![vuln("CVE-1", "a"), vuln("CVE-2", "b")])]),
    );
    // a VEX document about the same asset: CVE-1 in package a is not affected; CVE-3 in c too
    let mut not1 = vuln("CVE-1", "a");
    not1.status = ExposureStatus::FalsePositive;
    not1.solution = Some("VEX status: not_affected (vulnerable_code_not_present)".into());
    let mut not3 = vuln("CVE-3", "c");
    not3.status = ExposureStatus::FalsePositive;
    let s = import(
        store,
        meta("openvex", None, 1),
        report(&[(a.clone(), vec![not1, not3])]),
    );
    assert_eq!((s.exposures.new, s.exposures.updated), (1, 1));
    assert_eq!(
        status_of(store, "CVE-1"),
        vec![ExposureStatus::FalsePositive]
    );
    assert_eq!(
        status_of(store, "CVE-3"),
        vec![ExposureStatus::FalsePositive]
    );
    assert_eq!(
        status_of(store, "CVE-2"),
        vec![ExposureStatus::Open],
        "other exposures untouched"
    );
    let id = store
        .exposures(&ExposureFilter {
            cve: Some("CVE-1".into()),
            ..Default::default()
        })
        .expect("q")[0]
        .id
        .expect("id");
    let e = store.exposure(id).expect("q").expect("exists");
    let last = e.history.last().expect("history");
    assert_eq!(last.to, ExposureStatus::FalsePositive);
    assert!(last.reason.contains("not_affected"), "{}", last.reason);
    // the scanner keeps reporting it: the VEX decision stays
    import(
        store,
        meta("trivy", None, 2),
        report(&[(a, vec![vuln("CVE-1", "a"), vuln("CVE-2", "b")])]),
    );
    assert_eq!(
        status_of(store, "CVE-1"),
        vec![ExposureStatus::FalsePositive]
    );
}

/// A VEX document or advisory of `(cve, package, status)` statements about asset `a`.
fn statements(a: &Asset, stated: &[(&str, &str, ExposureStatus)]) -> Vec<Record> {
    let mut out = vec![Record::ScanInfo {
        tool: Some("Example Corp".into()),
        started_at: None,
        finished_at: None,
        covers: Coverage::Statements,
    }];
    let es = stated
        .iter()
        .map(|(cve, pkg, st)| {
            let mut e = vuln(cve, pkg);
            e.status = *st;
            e.solution = Some(format!("VEX status: {}", st.as_str()));
            e
        })
        .collect::<Vec<_>>();
    out.extend(report(&[(a.clone(), es)]));
    out
}

fn a_document_of_statements_closes_only_what_it_states(store: &mut dyn Store) {
    let a = host("10.0.0.1", &[]);
    let open = ExposureStatus::Open;
    let first = statements(&a, &[("CVE-1", "a", open), ("CVE-2", "b", open)]);
    import(store, meta("csaf", Some("advisories"), 0), first);
    // a second advisory, about the same product but another vulnerability, even with an
    // explicit scope, says nothing about the first one's
    let second = statements(&a, &[("CVE-3", "c", open)]);
    let s = import(store, meta("csaf", Some("advisories"), 1), second);
    assert_eq!((s.exposures.new, s.exposures.fixed), (1, 0));
    for cve in ["CVE-1", "CVE-2", "CVE-3"] {
        assert_eq!(status_of(store, cve), vec![open], "{cve}");
    }
    // a statement that CVE-1 is fixed closes it, with the time; stated again, it stays so
    let fixed = statements(&a, &[("CVE-1", "a", ExposureStatus::Fixed)]);
    for day in [2, 3] {
        import(store, meta("csaf", None, day), fixed.clone());
        assert_eq!(status_of(store, "CVE-1"), vec![ExposureStatus::Fixed]);
    }
    let id = store
        .exposures(&ExposureFilter {
            cve: Some("CVE-1".into()),
            ..Default::default()
        })
        .expect("q")[0]
        .id
        .expect("id");
    let e = store.exposure(id).expect("q").expect("exists");
    assert_eq!(e.fixed_at, Some(t(2)), "fixed when the advisory said so");
    assert_eq!(
        e.history
            .iter()
            .filter(|h| h.to == ExposureStatus::Fixed)
            .count(),
        1,
        "{:?}",
        e.history
    );
    // a fixed statement about a pair nobody reported is stored closed, never open
    let other = statements(&a, &[("CVE-4", "d", ExposureStatus::Fixed)]);
    import(store, meta("csaf", None, 4), other);
    assert_eq!(status_of(store, "CVE-4"), vec![ExposureStatus::Fixed]);
    assert_eq!(status_of(store, "CVE-2"), vec![open]);
}
