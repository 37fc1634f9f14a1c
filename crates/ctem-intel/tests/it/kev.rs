use crate::fixture;
use ctem_intel::kev::parse_kev;
use ctem_model::intel::RansomwareUse;

#[test]
fn vunnel_catalog_reads_header_and_entries() {
    let cat = parse_kev(&fixture("kev/valid-catalog-1.json")).expect("parses");
    assert_eq!(cat.info.catalog_version.as_deref(), Some("2025.02.19"));
    assert!(!cat.entries.is_empty());
    assert!(cat.issues.is_empty(), "{:?}", cat.issues);
    let e = &cat.entries[0];
    assert_eq!(e.cve_id, "CVE-2025-0108");
    assert_eq!(e.date_added.to_string(), "2025-02-18");
    assert_eq!(
        e.due_date.map(|d| d.to_string()).as_deref(),
        Some("2025-03-11")
    );
    assert_eq!(
        e.known_ransomware_campaign_use,
        Some(RansomwareUse::Unknown)
    );
}

#[test]
fn single_entry_file_is_one_entry_with_cwes() {
    let cat = parse_kev(&fixture("kev/example1.json")).expect("parses");
    assert_eq!(cat.entries.len(), 1);
    assert_eq!(cat.entries[0].cwes, vec!["CWE-306"]);
}
