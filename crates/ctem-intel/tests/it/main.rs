//! Integration tests of ctem-intel on real files (tests/fixtures, see its README).

mod attack;
mod cve;
mod enrich;
mod epss;
mod iocs;
mod kev;
mod robustness;
mod stix;

use std::path::PathBuf;

/// Bytes of a file under tests/fixtures.
pub fn fixture(rel: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

mod misp {
    use crate::fixture;
    use ctem_intel::misp::parse_misp;
    use ctem_model::intel::IndicatorType;

    #[test]
    fn pymisp_event_url_attribute() {
        let m = parse_misp(&fixture("misp/misp_event.json"), "pymisp").expect("parses");
        assert!(m.indicators.iter().any(|i| i.kind == IndicatorType::Url
            && i.value == "http://fake.website.com/malware/is/here"));
        assert_eq!(m.skipped_attributes, 1);
        assert_eq!(
            m.indicators[0].category.as_deref(),
            Some("Payload delivery")
        );
        assert_eq!(m.indicators[0].to_ids, Some(false));
    }

    #[test]
    fn object_attributes_and_tags_become_labels() {
        let m = parse_misp(&fixture("misp/event_obj_attr_tag.json"), "pymisp").expect("parses");
        assert!(!m.indicators.is_empty());
        assert!(
            m.indicators.iter().any(|i| !i.labels.is_empty()),
            "{:?}",
            m.indicators
        );
    }

    #[test]
    fn feed_events_with_crlf_parse() {
        for f in [
            "misp/misp_event_00199eb3fd1a0aa6771b7f12fad895a0.json",
            "misp/57c4445b-c548-4654-af0b-4be3950d210f.json",
            "misp/sighting_1.json",
        ] {
            let m = parse_misp(&fixture(f), "feed").expect(f);
            assert_eq!(m.events.len(), 1, "{f}");
        }
        let m = parse_misp(
            &fixture("misp/57c4445b-c548-4654-af0b-4be3950d210f.json"),
            "feed",
        )
        .expect("parses");
        assert!(
            m.indicators.iter().any(|i| i.kind.is_hash()),
            "{:?}",
            m.indicators
        );
    }
}

mod kind {
    use crate::fixture;
    use ctem_intel::kind::{IntelKind, detect_kind, import};

    #[test]
    fn detects_the_fixture_kinds() {
        for (f, k) in [
            ("kev/valid-catalog-1.json", IntelKind::Kev),
            ("kev/example1.json", IntelKind::Kev),
            ("epss/example-1.csv", IntelKind::Epss),
            ("attack/ics-attack-8.0.json.gz", IntelKind::Attack),
            ("stix/poisonivy.json", IntelKind::Stix),
            ("misp/misp_event.json", IntelKind::Misp),
            ("iocs/valid_fieldnames.csv", IntelKind::Iocs),
            ("cve5/CVE-2024-3094.json", IntelKind::Cve),
            ("nvd/CVE-2023-4863.json", IntelKind::Cve),
        ] {
            assert_eq!(detect_kind(&fixture(f), f), Some(k), "{f}");
            let imp = import(None, &fixture(f), f).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(imp.kind(), k);
            assert!(imp.record_count() > 0, "{f}");
        }
    }
}
