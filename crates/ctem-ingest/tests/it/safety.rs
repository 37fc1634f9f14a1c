//! Hostile and malformed input: refused with a clear error, never a panic.

use ctem_ingest::{Error, by_name, detect, parse_bytes};

use crate::golden::fixtures;

#[test]
fn xxe_and_entity_bombs_are_refused_by_every_xml_parser() {
    let xxe = r#"<?xml version="1.0"?>
<!DOCTYPE nmaprun [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<nmaprun><host><status state="up"/><address addr="&xxe;" addrtype="ipv4"/></host></nmaprun>"#;
    let bomb = r#"<?xml version="1.0"?>
<!DOCTYPE NessusClientData_v2 [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>
<NessusClientData_v2><Report><ReportHost name="&b;"/></Report></NessusClientData_v2>"#;
    for (fmt, doc) in [
        ("nmap", xxe),
        ("nessus", bomb),
        ("nmap", bomb),
        ("nessus", xxe),
    ] {
        let err = parse_bytes(by_name(fmt).expect("format"), doc.as_bytes()).expect_err(fmt);
        assert!(matches!(err, Error::Refused(_)), "{fmt}: {err}");
        assert!(err.to_string().contains("XXE"), "{err}");
    }
}

#[test]
fn truncated_xml_names_the_byte_offset() {
    let f = fixtures().join("nmap/nmap_multiple_port.xml");
    let bytes = std::fs::read(f).expect("read");
    let cut = &bytes[..bytes.len() / 2];
    let err = parse_bytes(by_name("nmap").expect("nmap"), cut).expect_err("truncated");
    let msg = err.to_string();
    assert!(msg.contains("byte"), "{msg}");
}

#[test]
fn truncated_json_names_line_and_column() {
    let f = fixtures().join("trivy/all_statuses.json");
    let bytes = std::fs::read(f).expect("read");
    let err = parse_bytes(by_name("trivy").expect("trivy"), &bytes[..bytes.len() - 40])
        .expect_err("truncated");
    assert!(matches!(err, Error::Json { .. }), "{err}");
    assert!(err.to_string().contains("line"), "{err}");
}

#[test]
fn bad_records_become_issues_not_failures() {
    let doc = br#"{"SchemaVersion": 2, "ArtifactName": "img:1", "ArtifactType": "container_image",
      "Results": [{"Target": "img:1 (alpine 3.19)", "Class": "os-pkgs", "Type": "alpine",
        "Vulnerabilities": [
          {"VulnerabilityID": "CVE-2024-0001", "PkgName": "musl", "InstalledVersion": "1", "Severity": "HIGH"},
          {"VulnerabilityID": "CVE-2024-0002", "InstalledVersion": "1", "Severity": "HIGH"},
          {"VulnerabilityID": "CVE-2024-0003", "PkgName": "zlib", "Severity": 7},
          {"VulnerabilityID": "CVE-2024-0004", "PkgName": "zlib", "Severity": "SEVERE"}
        ]}]}"#;
    let recs = parse_bytes(by_name("trivy").expect("trivy"), doc).expect("parses");
    let issues: Vec<_> = recs
        .iter()
        .filter_map(|r| match r {
            ctem_ingest::Record::Issue(i) => Some(format!("{}: {}", i.record, i.message)),
            _ => None,
        })
        .collect();
    assert_eq!(issues.len(), 3, "{issues:?}");
    assert!(
        issues[0].starts_with("Results[0].Vulnerabilities[1]: missing PkgName"),
        "{issues:?}"
    );
    assert!(
        issues[1].starts_with("Results[0].Vulnerabilities[2]"),
        "{issues:?}"
    );
    assert!(
        issues[2].contains("unknown Severity \"SEVERE\""),
        "{issues:?}"
    );
    let exposures = recs
        .iter()
        .filter(|r| matches!(r, ctem_ingest::Record::Exposure { .. }))
        .count();
    assert_eq!(exposures, 1);
}

#[test]
fn not_reports_are_refused_with_what_they_look_like() {
    for (name, want) in [
        ("refused/alpine-310.html", "HTML"),
        ("refused/2_hosts.json", "JSON of an unknown shape"),
        ("refused/defused_et_included.xml", "root element <root>"),
    ] {
        let bytes = std::fs::read(fixtures().join(name)).expect("read");
        let err = detect(&bytes, name).expect_err(name);
        assert!(err.to_string().contains(want), "{name}: {err}");
    }
    // forcing a format onto the wrong document is refused too
    let bytes = std::fs::read(fixtures().join("refused/defused_et_included.xml")).expect("read");
    let err = parse_bytes(by_name("nessus").expect("nessus"), &bytes).expect_err("wrong root");
    assert!(err.to_string().contains("root element is <root>"), "{err}");
    let err =
        parse_bytes(by_name("trivy").expect("trivy"), b"{\"foo\": 1}").expect_err("not trivy");
    assert!(matches!(err, Error::Refused(_)), "{err}");
    let err = parse_bytes(by_name("sarif").expect("sarif"), b"").expect_err("empty");
    assert!(
        err.to_string()
            .contains("an empty file is not a sarif report"),
        "{err}"
    );
}

#[test]
fn arbitrary_prefixes_of_real_files_never_panic() {
    // every prefix length at a coarse stride of every fixture, through every parser
    for dir in ["nmap", "nessus", "trivy", "sarif"] {
        for entry in std::fs::read_dir(fixtures().join(dir)).expect("dir") {
            let p = entry.expect("entry").path();
            if p.to_string_lossy().ends_with(".expected.json") {
                continue;
            }
            let bytes = std::fs::read(&p).expect("read");
            let step = (bytes.len() / 23).max(1);
            for n in (0..bytes.len()).step_by(step) {
                for f in ctem_ingest::REGISTRY {
                    let _ = parse_bytes(f, &bytes[..n]);
                }
            }
        }
    }
}

/// The real Alpine report with an 8 MiB title and an 8 MiB "CVE id" put into two findings
/// (the issue's 50 MB ones take a minute to build and parse in a debug build; the limits are
/// in kilobytes, so 8 MiB shows the same).
fn trivy_with_oversized_fields() -> Vec<u8> {
    let bytes = std::fs::read(fixtures().join("trivy/alpine-310.json")).expect("read");
    let mut doc: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    let vulns = doc["Results"][0]["Vulnerabilities"]
        .as_array_mut()
        .expect("vulnerabilities");
    vulns[0]["Title"] = "A".repeat(8 << 20).into();
    vulns[1]["VulnerabilityID"] = format!("CVE-2019-{}", "1".repeat(8 << 20)).into();
    serde_json::to_vec(&doc).expect("json")
}

#[test]
fn an_oversized_trivy_title_is_cut_and_an_oversized_cve_id_dropped() {
    let bytes = trivy_with_oversized_fields();
    let limits = ctem_ingest::Limits::default();
    let trivy = by_name("trivy").expect("trivy");
    for records in [
        parse_bytes(trivy, &bytes).expect("in memory"),
        ctem_ingest::parse_bytes_streaming(trivy, &bytes).expect("streamed"),
    ] {
        let mut cut = 0;
        for r in &records {
            if let ctem_ingest::Record::Exposure { exposure: e, .. } = r {
                assert!(e.title.len() <= limits.title, "{}", e.title.len());
                assert!(e.cves.iter().chain(&e.advisories).all(|c| c.len() < 64));
                cut += usize::from(e.title.ends_with(ctem_ingest::limits::TRUNCATED));
            }
        }
        assert_eq!(cut, 1);
        let issues: Vec<String> = records
            .iter()
            .filter_map(|r| match r {
                ctem_ingest::Record::Issue(i) => Some(format!("{}: {}", i.record, i.message)),
                _ => None,
            })
            .collect();
        assert!(
            issues.iter().any(|i| i.contains("title of 8388608 bytes")),
            "{issues:?}"
        );
        assert!(
            issues.iter().any(|i| i.contains("malformed CVE id")),
            "{issues:?}"
        );
        assert!(
            issues.iter().all(|i| i.len() < 400),
            "issues quote clips only"
        );
    }
}

#[test]
fn field_limits_are_a_value_the_caller_chooses() {
    let bytes = std::fs::read(fixtures().join("trivy/alpine-310.json")).expect("read");
    let tight = ctem_ingest::Limits {
        title: 24,
        ..ctem_ingest::Limits::default()
    };
    let mut titles = Vec::new();
    let mut input = &bytes[..];
    by_name("trivy")
        .expect("trivy")
        .read_with(&mut input, &tight, &mut |r| {
            if let ctem_ingest::Record::Exposure { exposure, .. } = r {
                titles.push(exposure.title);
            }
            Ok(())
        })
        .expect("reads");
    assert!(!titles.is_empty());
    assert!(titles.iter().all(|t| t.len() <= 24), "{titles:?}");
}

/// The `ingest_all` fuzz target over its seeds (every fixture under 256 KiB, as
/// fuzz/run-all.sh copies them): detection, the detected parser, and every parser, with
/// no panic. Replays the seeds without cargo-fuzz.
#[test]
fn the_ingest_all_fuzz_seeds_never_panic() {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).expect("dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut seeds = Vec::new();
    walk(&fixtures(), &mut seeds);
    seeds.retain(|p| {
        let n = p.to_string_lossy();
        !n.ends_with(".expected.json")
            && !n.ends_with(".md")
            && std::fs::metadata(p).is_ok_and(|m| m.len() < 256 << 10)
    });
    assert!(seeds.len() > 50, "{} seeds", seeds.len());
    for p in &seeds {
        let data = std::fs::read(p).expect("read");
        let run = std::panic::catch_unwind(|| {
            if let Ok(f) = detect(&data, "fuzz") {
                let _ = parse_bytes(f, &data);
            }
            for f in ctem_ingest::REGISTRY {
                let _ = parse_bytes(f, &data);
            }
        });
        assert!(run.is_ok(), "{}: a parser panicked", p.display());
    }
}
