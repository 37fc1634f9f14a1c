use crate::fixture;
use ctem_intel::attack::parse_attack;

#[test]
fn ics_bundle_gz_imports_tactics_techniques_and_relationships() {
    let b = parse_attack(&fixture("attack/ics-attack-8.0.json.gz")).expect("parses");
    assert_eq!(b.spec_version.as_deref(), Some("2.1"));
    assert_eq!(b.tactics.len(), 11);
    assert_eq!(b.techniques.len(), 81);
    assert_eq!(b.mitigations.len(), 50);
    assert_eq!(b.groups.len(), 10);
    assert_eq!(b.software.len(), 17);
    assert_eq!(b.relationships.len(), 510);
    assert!(b.domains.iter().any(|d| d == "ics-attack"));
    // ICS 8.0 ships one technique whose id is the typo `0T800`: kept, and reported.
    let odd: Vec<_> = b
        .techniques
        .iter()
        .filter(|t| !t.id.starts_with('T'))
        .map(|t| t.id.as_str())
        .collect();
    assert_eq!(odd, vec!["0T800"]);
    assert!(
        b.issues.iter().any(|i| i.message.contains("`0T800`")),
        "{:?}",
        b.issues
    );
    assert!(b.techniques.iter().all(|t| !t.tactics.is_empty()));
    let mitigates = b
        .relationships
        .iter()
        .filter(|r| r.relationship_type == "mitigates")
        .count();
    assert_eq!(mitigates, 348);
    assert!(
        b.relationships
            .iter()
            .filter(|r| r.relationship_type == "mitigates")
            .all(|r| r.source_id.as_deref().is_some_and(|s| s.starts_with('M')))
    );
}
