//! The full CISA SSVC tree, leaf by leaf, as published in CISA's SSVC guide.

use ctem_risk::ssvc::{
    Decision, Exploitation, MissionWellbeing, SsvcInputs, TechnicalImpact, decide,
};

/// exploitation, automatable, technical impact, mission & well-being, decision.
const PUBLISHED: &str = "\
none,no,partial,low,Track
none,no,partial,medium,Track
none,no,partial,high,Track
none,no,total,low,Track
none,no,total,medium,Track
none,no,total,high,Track*
none,yes,partial,low,Track
none,yes,partial,medium,Track
none,yes,partial,high,Attend
none,yes,total,low,Track
none,yes,total,medium,Track
none,yes,total,high,Attend
poc,no,partial,low,Track
poc,no,partial,medium,Track
poc,no,partial,high,Track*
poc,no,total,low,Track
poc,no,total,medium,Track*
poc,no,total,high,Attend
poc,yes,partial,low,Track
poc,yes,partial,medium,Track
poc,yes,partial,high,Attend
poc,yes,total,low,Track
poc,yes,total,medium,Track*
poc,yes,total,high,Attend
active,no,partial,low,Track
active,no,partial,medium,Track
active,no,partial,high,Attend
active,no,total,low,Track
active,no,total,medium,Attend
active,no,total,high,Act
active,yes,partial,low,Attend
active,yes,partial,medium,Attend
active,yes,partial,high,Act
active,yes,total,low,Attend
active,yes,total,medium,Act
active,yes,total,high,Act";

fn row(line: &str) -> (SsvcInputs, Decision) {
    let f: Vec<&str> = line.split(',').collect();
    let exploitation = match f[0] {
        "none" => Exploitation::None,
        "poc" => Exploitation::Poc,
        _ => Exploitation::Active,
    };
    let technical_impact = match f[2] {
        "partial" => TechnicalImpact::Partial,
        _ => TechnicalImpact::Total,
    };
    let mission_wellbeing = match f[3] {
        "low" => MissionWellbeing::Low,
        "medium" => MissionWellbeing::Medium,
        _ => MissionWellbeing::High,
    };
    let decision = match f[4] {
        "Track" => Decision::Track,
        "Track*" => Decision::TrackStar,
        "Attend" => Decision::Attend,
        _ => Decision::Act,
    };
    let inputs = SsvcInputs {
        exploitation,
        automatable: f[1] == "yes",
        technical_impact,
        mission_wellbeing,
    };
    (inputs, decision)
}

#[test]
fn every_leaf_of_the_cisa_tree() {
    let rows: Vec<_> = PUBLISHED.lines().map(row).collect();
    assert_eq!(rows.len(), 36);
    let distinct: std::collections::HashSet<_> = rows.iter().map(|(i, _)| *i).collect();
    assert_eq!(distinct.len(), 36, "the table covers each combination once");
    for (inputs, want) in rows {
        assert_eq!(decide(&inputs), want, "{inputs:?}");
        assert_eq!(decide(&inputs).to_string(), want.as_str());
    }
}

#[test]
fn more_severe_inputs_never_lower_the_decision() {
    let rows: Vec<_> = PUBLISHED.lines().map(row).collect();
    for (a, _) in &rows {
        for (b, _) in &rows {
            let dominates = b.exploitation >= a.exploitation
                && b.automatable >= a.automatable
                && b.technical_impact >= a.technical_impact
                && b.mission_wellbeing >= a.mission_wellbeing;
            if dominates {
                assert!(decide(b) >= decide(a), "{a:?} -> {b:?}");
            }
        }
    }
}

#[test]
fn mission_from_criticality() {
    use MissionWellbeing::*;
    let got: Vec<_> = [Some(1), Some(2), Some(3), Some(4), Some(5), None]
        .into_iter()
        .map(MissionWellbeing::from_criticality)
        .collect();
    assert_eq!(got, [Low, Low, Medium, High, High, Medium]);
}

#[test]
fn decisions_serialise_in_cisa_spelling() {
    assert_eq!(
        serde_json::to_string(&Decision::TrackStar).unwrap(),
        "\"track*\""
    );
    assert_eq!(Decision::TrackStar.to_string(), "Track*");
}
