//! The public `score` API: JSON shape of `ctem cvss --json` and error messages.

use ctem_risk::{Error, Severity, Version, score};
use serde_json::json;

#[test]
fn v31_json_matches_cli_contract() {
    let s = score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H").unwrap();
    assert_eq!(
        serde_json::to_value(&s).unwrap(),
        json!({"vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "version": "3.1",
               "base_score": 9.8, "severity": "critical"})
    );
}

#[test]
fn v3_temporal_and_environmental_appear_when_carried() {
    let v = "CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:C/C:H/I:H/A:N/E:H/RL:O/RC:C/CR:H/IR:H/AR:H/MAV:N/MAC:L/MPR:L/MUI:N/MS:C/MC:H/MI:H/MA:H";
    let j = serde_json::to_value(score(v).unwrap()).unwrap();
    assert_eq!(j["base_score"], 9.3);
    assert_eq!(j["temporal_score"], 8.9);
    assert_eq!(j["environmental_score"], 9.5);
    let only_temporal = score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:U").unwrap();
    assert_eq!(only_temporal.temporal_score, Some(9.0));
    assert_eq!(only_temporal.environmental_score, None);
}

#[test]
fn v2_json_uses_v2_severity_scale() {
    let s = score("AV:N/AC:L/Au:N/C:C/I:C/A:C").unwrap();
    assert_eq!(s.version, Version::V2);
    assert_eq!(s.base_score, 10.0);
    assert_eq!(s.severity, Severity::High);
    let j = serde_json::to_value(&s).unwrap();
    assert_eq!(j["version"], "2.0");
    assert!(j.get("temporal_score").is_none());
}

#[test]
fn v4_json_has_score_and_nomenclature() {
    let base = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N";
    let s = score(base).unwrap();
    let j = serde_json::to_value(&s).unwrap();
    assert_eq!(j["score"], 9.3);
    assert_eq!(j["nomenclature"], "CVSS-B");
    assert_eq!(j["severity"], "critical");
    assert_eq!(j["version"], "4.0");

    let bt = score(&format!("{base}/E:U")).unwrap();
    assert_eq!(bt.nomenclature, Some("CVSS-BT"));
    assert!(bt.score.unwrap() < 9.3);
    assert_eq!(bt.base_score, 9.3, "base_score ignores threat metrics");

    let be = score(&format!("{base}/CR:L/IR:L/AR:L")).unwrap();
    assert_eq!(be.nomenclature, Some("CVSS-BE"));
    let bte = score(&format!("{base}/E:P/MAV:L")).unwrap();
    assert_eq!(bte.nomenclature, Some("CVSS-BTE"));
    // Supplemental metrics and explicit X values do not change the nomenclature.
    let sup = score(&format!("{base}/E:X/CR:X/S:P/AU:Y/U:Amber")).unwrap();
    assert_eq!(sup.nomenclature, Some("CVSS-B"));
    assert_eq!(sup.score, Some(9.3));
}

#[test]
fn malformed_vectors_name_metric_and_value() {
    let e = score("CVSS:3.1/AV:Q/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H").unwrap_err();
    assert!(matches!(&e, Error::InvalidValue { metric: "AV", value, .. } if value == "Q"));
    assert_eq!(
        e.to_string(),
        "invalid value \"Q\" for cvss v3.1 metric AV (allowed: N|A|L|P)"
    );

    let e = score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H").unwrap_err();
    assert_eq!(
        e,
        Error::MissingMetric {
            version: "3.1",
            metric: "A"
        }
    );

    let e = score("CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H").unwrap_err();
    assert_eq!(
        e,
        Error::DuplicateMetric {
            version: "3.1",
            metric: "AV"
        }
    );

    let e =
        score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/XX:1").unwrap_err();
    assert!(matches!(e, Error::UnknownMetric { version: "4.0", ref metric } if metric == "XX"));

    let e = score("CVSS:3.1/AV:N/AC").unwrap_err();
    assert!(
        matches!(e, Error::MalformedComponent { position: 2, .. }),
        "{e}"
    );

    assert!(matches!(
        score("CVSS:5.0/AV:N").unwrap_err(),
        Error::UnsupportedVersion { .. }
    ));
    assert_eq!(score("  ").unwrap_err(), Error::EmptyVector);
    assert!(
        score("AV:N/AC:L/Au:N/C:C/I:C/A:C/").is_err(),
        "trailing slash"
    );
    assert!(
        score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:S/SA:N").is_err(),
        "S is only allowed in MSI/MSA"
    );
}

#[test]
fn v4_modified_safety_impact_reaches_eq4_zero() {
    let base = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N";
    let s = score(&format!("{base}/MSI:S")).unwrap();
    assert_eq!(s.score, Some(10.0));
}

#[test]
fn ssvc_hints_from_vectors() {
    use ctem_risk::Cvss;
    use ctem_risk::ssvc::TechnicalImpact::{Partial, Total};
    let cases = [
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", true, Total),
        (
            "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:L/A:H",
            false,
            Partial,
        ),
        (
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
            true,
            Total,
        ),
        (
            "CVSS:4.0/AV:L/AC:L/AT:N/PR:N/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N",
            false,
            Partial,
        ),
        ("AV:N/AC:L/Au:N/C:C/I:C/A:C", true, Total),
        ("AV:N/AC:M/Au:N/C:P/I:P/A:P", false, Partial),
    ];
    for (v, automatable, impact) in cases {
        let c = Cvss::parse(v).unwrap();
        assert_eq!(
            (c.automatable(), c.technical_impact()),
            (automatable, impact),
            "{v}"
        );
    }
}
