use crate::fixture;
use ctem_intel::cve::parse_cve;

#[test]
fn cve5_log4shell_has_description_cwe_and_cvss_with_source() {
    let p = parse_cve(&fixture("cve5/cves__2021__44xxx__CVE-2021-44228.json")).expect("parses");
    let r = &p.records[0];
    assert_eq!(r.id, "CVE-2021-44228");
    assert!(r.description().is_some_and(|d| d.contains("JNDI")));
    assert!(r.cwes.iter().any(|c| c.starts_with("CWE-")), "{:?}", r.cwes);
    assert!(
        r.cvss
            .iter()
            .any(|m| m.version == "3.1" && m.base_score == Some(10.0)),
        "{:?}",
        r.cvss
    );
}

#[test]
fn cve5_records_all_parse() {
    for f in ["cve5/CVE-2024-3094.json", "cve5/CVE-2016-1897.json"] {
        let p = parse_cve(&fixture(f)).expect(f);
        assert_eq!(p.records.len(), 1, "{f}");
        assert!(p.issues.is_empty(), "{f}: {:?}", p.issues);
    }
}

#[test]
fn nvd_record_keeps_every_cvss_version_with_source() {
    let p = parse_cve(&fixture("nvd/CVE-2023-4863.json")).expect("parses");
    let r = &p.records[0];
    assert_eq!(r.id, "CVE-2023-4863");
    assert!(r.cwes.contains(&"CWE-787".to_string()), "{:?}", r.cwes);
    assert!(
        r.cvss
            .iter()
            .any(|m| m.version == "3.1" && m.source == "nvd@nist.gov"),
        "{:?}",
        r.cvss
    );
    let p = parse_cve(&fixture("nvd/CVE-2014-1424.json")).expect("parses");
    assert!(
        p.records[0].cvss.iter().any(|m| m.version == "2.0"),
        "{:?}",
        p.records[0].cvss
    );
}
