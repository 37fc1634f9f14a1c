//! Reports with no findings: every registered format says what its tool writes when it finds
//! nothing, and that body reads as a valid report with no findings (so a clean rescan can
//! close what it no longer reports); the bodies a format does not declare are refused.

use ctem_ingest::{EmptyShape, Error, REGISTRY, Record, by_name, detect, parse_bytes};

use crate::golden::fixtures;

fn counts(records: &[Record]) -> (usize, usize) {
    let exposures = records
        .iter()
        .filter(|r| matches!(r, Record::Exposure { .. }))
        .count();
    let issues = records
        .iter()
        .filter(|r| matches!(r, Record::Issue(_)))
        .count();
    (exposures, issues)
}

#[test]
fn every_format_reads_its_declared_empty_report_as_no_findings() {
    for f in REGISTRY {
        let example = f.empty.example.as_bytes();
        let records = parse_bytes(f, example)
            .unwrap_or_else(|e| panic!("{}: its empty report is refused: {e}", f.name));
        assert_eq!(counts(&records), (0, 0), "{}: {records:?}", f.name);
        // the example is detected as its format: by content, or (for a body with no format
        // of its own) by the format's name in the file name
        let hint = format!("{}-report.json", f.name);
        let got = detect(example, &hint).unwrap_or_else(|e| panic!("{}: {e}", f.name));
        assert_eq!(got.name, f.name, "the empty report of {}", f.name);
        if let Some(shape) = EmptyShape::of(example) {
            assert!(
                f.empty.allows(shape),
                "{}: example of an undeclared shape",
                f.name
            );
        }
    }
}

#[test]
fn the_three_bodies_are_read_or_refused_as_each_format_declares() {
    for f in REGISTRY {
        for (body, shape) in [
            (&b""[..], EmptyShape::Blank),
            (b"\n  \n", EmptyShape::Blank),
            (b"null\n", EmptyShape::Null),
            (b"[ ]\n", EmptyShape::EmptyArray),
        ] {
            let streamed = ctem_ingest::parse_bytes_streaming(f, body);
            let in_memory = parse_bytes(f, body);
            if f.empty.allows(shape) {
                let r = streamed.unwrap_or_else(|e| panic!("{} {shape:?}: {e}", f.name));
                assert!(r.is_empty(), "{} {shape:?}: {r:?}", f.name);
                assert!(in_memory.expect("in memory").is_empty());
            } else {
                let e = in_memory.expect_err(f.name).to_string();
                assert!(e.contains(shape.describe()), "{} {shape:?}: {e}", f.name);
                assert!(streamed.is_err(), "{} {shape:?} streamed", f.name);
            }
        }
    }
}

#[test]
fn line_oriented_tools_write_an_empty_file_when_they_find_nothing() {
    for (file, format) in [
        ("nuclei_no_findings.json", "nuclei"),
        ("osv_scanner_no_findings.json", "osv_scanner"),
        ("masscan_no_vuln.json", "masscan"),
        ("naabu_no_vuln.json", "naabu"),
    ] {
        let bytes = std::fs::read(fixtures().join("empty").join(file)).expect("read");
        assert!(bytes.is_empty(), "{file} is the real, empty file");
        let f = by_name(format).expect("format");
        let records = parse_bytes(f, &bytes).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(counts(&records), (0, 0), "{file}");
        // the file name names the tool, so detection finds it too
        assert_eq!(detect(&bytes, file).expect(file).name, format);
    }
}

#[test]
fn the_json_literal_null_is_a_trivy_or_gitleaks_report_with_no_findings() {
    for (file, format) in [
        ("trivy_legacy_null.json", "trivy"),
        ("gitleaks_null.json", "gitleaks"),
    ] {
        let bytes = std::fs::read(fixtures().join("empty").join(file)).expect("read");
        let records = parse_bytes(by_name(format).expect("format"), &bytes)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(records.is_empty(), "{file}");
        assert_eq!(detect(&bytes, file).expect(file).name, format);
    }
}

#[test]
fn zero_finding_lists_of_prowler_anchorectl_and_trufflehog3_are_detected_by_their_path() {
    for (file, format) in [
        ("prowler_v3plus_no_vuln.json", "prowler"),
        ("anchorectl_vulns_no_vuln.json", "anchore"),
        ("trufflehog3_zero_vulns.json", "trufflehog"),
    ] {
        let bytes = std::fs::read(fixtures().join("empty").join(file)).expect("read");
        let f = detect(&bytes, &format!("reports/{file}")).expect(file);
        assert_eq!(f.name, format);
        assert!(parse_bytes(f, &bytes).expect(file).is_empty());
    }
}

#[test]
fn an_empty_body_that_names_no_tool_asks_for_format() {
    for (body, shape) in [
        (&b""[..], "an empty file"),
        (b"null", "the JSON literal null"),
        (b"[]\n", "an empty JSON array"),
    ] {
        let e = detect(body, "out.json").expect_err("no tool named");
        assert!(matches!(e, Error::EmptyUndetected { .. }), "{e}");
        let msg = e.to_string();
        assert!(msg.contains(shape) && msg.contains("--format"), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
    }
    // a path naming two tools that both write it is no better than none
    assert!(detect(b"", "nuclei-and-naabu.jsonl").is_err());
    // a folder of the path may name the tool
    assert_eq!(
        detect(b"[]", "scans/anchore/no_vuln.json")
            .expect("anchore")
            .name,
        "anchore"
    );
}
