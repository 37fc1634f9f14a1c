use crate::fixture;
use ctem_intel::iocs::parse_iocs;
use ctem_model::intel::IndicatorType;

#[test]
fn pymisp_hash_csv_yields_three_hashes_per_row() {
    let p = parse_iocs(&fixture("iocs/valid_fieldnames.csv"), "pymisp").expect("parses");
    let count = |t| p.records.iter().filter(|i| i.kind == t).count();
    assert_eq!(count(IndicatorType::Md5), 3);
    assert_eq!(count(IndicatorType::Sha1), 3);
    assert_eq!(count(IndicatorType::Sha256), 3);
    assert!(p.issues.is_empty(), "{:?}", p.issues);
}

#[test]
fn defanged_list_is_normalised() {
    let p = parse_iocs(
        b"hxxps://bad[.]example/x\n198[.]51[.]100[.]7\nops[@]bad[.]example\n",
        "t",
    )
    .expect("parses");
    let vals: Vec<_> = p
        .records
        .iter()
        .map(|i| (i.kind, i.value.as_str()))
        .collect();
    assert_eq!(
        vals,
        vec![
            (IndicatorType::Url, "https://bad.example/x"),
            (IndicatorType::Ipv4, "198.51.100.7"),
            (IndicatorType::Email, "ops@bad.example"),
        ]
    );
}
