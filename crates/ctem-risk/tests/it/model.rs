//! The risk model: monotonicity, explanations, configuration, policies.

use ctem_risk::ssvc::{Decision, TechnicalImpact};
use ctem_risk::{NetworkZone, Policy, Priority, RiskConfig, RiskInput, RiskModel, Severity};

fn model() -> RiskModel {
    RiskConfig::default().build().unwrap()
}

fn typical() -> RiskInput {
    RiskInput {
        kev: Some(false),
        epss_probability: Some(0.02),
        epss_percentile: Some(0.8),
        cvss_base_score: Some(7.5),
        internet_facing: Some(false),
        network_zone: Some(NetworkZone::Internal),
        asset_criticality: Some(3),
        fix_available: Some(true),
        ..RiskInput::default()
    }
}

fn score(input: &RiskInput) -> f64 {
    model().score(input).score
}

#[test]
fn kev_raises_the_score() {
    let base = typical();
    let kev = RiskInput {
        kev: Some(true),
        ..typical()
    };
    assert!(score(&kev) > score(&base));
    let ransomware = RiskInput {
        kev_ransomware: Some(true),
        ..kev.clone()
    };
    assert!(score(&ransomware) > score(&kev));
}

#[test]
fn mitigating_facts_lower_the_score() {
    let base = typical();
    for lowered in [
        RiskInput {
            vex_not_affected: Some(true),
            ..typical()
        },
        RiskInput {
            accepted_risk: Some(true),
            ..typical()
        },
    ] {
        assert!(score(&lowered) < score(&base), "{lowered:?}");
    }
    let vex = model().score(&RiskInput {
        vex_not_affected: Some(true),
        kev: Some(true),
        ..typical()
    });
    assert_eq!(
        vex.priority,
        Priority::P4,
        "not affected is never urgent, even in KEV"
    );
}

#[test]
fn every_raising_input_is_monotone() {
    let base = score(&typical());
    let raised = [
        RiskInput {
            asset_criticality: Some(5),
            ..typical()
        },
        RiskInput {
            epss_probability: Some(0.9),
            ..typical()
        },
        RiskInput {
            cvss_base_score: Some(9.8),
            ..typical()
        },
        RiskInput {
            internet_facing: Some(true),
            ..typical()
        },
        RiskInput {
            network_zone: Some(NetworkZone::Dmz),
            ..typical()
        },
        RiskInput {
            exploit_public: Some(true),
            ..typical()
        },
    ];
    for r in raised {
        assert!(score(&r) > base, "{r:?}");
    }
    let lowered = [
        RiskInput {
            asset_criticality: Some(1),
            ..typical()
        },
        RiskInput {
            cvss_base_score: Some(3.1),
            ..typical()
        },
        RiskInput {
            network_zone: Some(NetworkZone::Isolated),
            ..typical()
        },
        RiskInput {
            service_reachable: Some(false),
            ..typical()
        },
    ];
    for l in lowered {
        assert!(score(&l) < base, "{l:?}");
    }
}

#[test]
fn criticality_is_monotone_over_its_whole_range() {
    let scores: Vec<f64> = (1..=5)
        .map(|c| {
            score(&RiskInput {
                asset_criticality: Some(c),
                ..typical()
            })
        })
        .collect();
    assert!(scores.windows(2).all(|w| w[0] < w[1]), "{scores:?}");
}

#[test]
fn scanner_severity_used_without_cvss() {
    let s = |sev| {
        score(&RiskInput {
            cvss_base_score: None,
            scanner_severity: Some(sev),
            ..typical()
        })
    };
    assert!(s(Severity::Critical) > s(Severity::High));
    assert!(s(Severity::High) > s(Severity::Medium));
    assert!(s(Severity::Medium) > s(Severity::Low));
}

#[test]
fn explanation_lists_every_factor_and_adds_up() {
    let r = model().score(&RiskInput {
        kev: Some(true),
        ..typical()
    });
    let names: Vec<_> = r.factors.iter().map(|f| f.name).collect();
    let all = [
        "kev",
        "kev_ransomware",
        "epss",
        "exploit_public",
        "severity",
        "exposure",
        "asset_criticality",
        "vex_not_affected",
        "accepted_risk",
        "no_fix_available",
    ];
    assert_eq!(names, all);
    let text = r.explain();
    for name in all {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
    assert!(text.contains("listed in CISA KEV"), "{text}");
    assert!(text.contains("CVSS base score 7.5"), "{text}");
    assert!(text.contains("asset criticality 3 of 5"), "{text}");
    let sum: f64 = r.factors.iter().map(|f| f.contribution).sum();
    assert!((sum - r.score).abs() <= 0.05, "{sum} vs {}", r.score);

    let mitigated = model().score(&RiskInput {
        accepted_risk: Some(true),
        ..typical()
    });
    let accepted = mitigated
        .factors
        .iter()
        .find(|f| f.name == "accepted_risk")
        .unwrap();
    assert!(accepted.contribution < 0.0);
    let sum: f64 = mitigated.factors.iter().map(|f| f.contribution).sum();
    assert!((sum - mitigated.score).abs() <= 0.05);
}

#[test]
fn unknown_inputs_are_explained_and_listed_as_missing() {
    let r = model().score(&RiskInput::default());
    let text = r.explain();
    assert!(text.contains("severity unknown, assumed"), "{text}");
    assert!(
        text.contains("asset criticality unknown, left out of the score (neutral)"),
        "{text}"
    );
    assert!(r.score > 0.0 && r.score < 100.0);
    assert_eq!(
        r.missing,
        ["kev", "epss", "severity", "exposure", "asset_criticality"]
    );
    assert!(model().score(&typical()).missing.is_empty());
}

#[test]
fn unknown_context_is_neutral() {
    // unknown exposure and criticality leave the mean: the score is that of the known
    // factors alone, so it lies between the scores of the lowest and highest context
    let unknown = RiskInput {
        internet_facing: None,
        network_zone: None,
        asset_criticality: None,
        ..typical()
    };
    let known_low = RiskInput {
        network_zone: Some(NetworkZone::Isolated),
        asset_criticality: Some(1),
        ..unknown.clone()
    };
    let known_high = RiskInput {
        internet_facing: Some(true),
        asset_criticality: Some(5),
        ..unknown.clone()
    };
    let (u, lo, hi) = (score(&unknown), score(&known_low), score(&known_high));
    assert!(lo < u && u < hi, "{lo} {u} {hi}");
    let w = RiskConfig::default().weights;
    let known_weight = w.kev + w.kev_ransomware + w.epss + w.exploit_public + w.severity;
    let expected = (0.02 * w.epss + 0.75 * w.severity) / known_weight * 100.0;
    assert!((u - expected).abs() <= 0.05, "{u} vs {expected}");
    let r = model().score(&unknown);
    let sum: f64 = r.factors.iter().map(|f| f.contribution).sum();
    assert!((sum - r.score).abs() <= 0.05);
}

#[test]
fn no_fix_changes_the_action_not_the_urgency() {
    let fix = model().score(&typical());
    let no_fix = model().score(&RiskInput {
        fix_available: Some(false),
        ..typical()
    });
    assert_eq!((fix.score, fix.priority), (no_fix.score, no_fix.priority));
    let f = no_fix
        .factors
        .iter()
        .find(|f| f.name == "no_fix_available")
        .unwrap();
    assert_eq!((f.value, f.contribution), (1.0, 0.0));
    assert!(f.reason.contains("mitigate"), "{}", f.reason);
    // an old file that still sets the multiplier loads, and the multiplier does nothing
    let old = RiskConfig::from_toml("[mitigations]\nno_fix_available = 0.5\n")
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(
        old.score(&RiskInput {
            fix_available: Some(false),
            ..typical()
        })
        .score,
        fix.score
    );
}

#[test]
fn log4shell_with_no_fix_and_unknown_context_is_p1() {
    let log4shell = RiskInput {
        kev: Some(true),
        kev_ransomware: Some(true),
        epss_probability: Some(0.944),
        exploit_public: Some(true),
        cvss_base_score: Some(10.0),
        fix_available: Some(false),
        automatable: Some(true),
        technical_impact: Some(TechnicalImpact::Total),
        ..RiskInput::default()
    };
    let r = model().score(&log4shell);
    assert_eq!(r.priority, Priority::P1, "{}", r.explain());
    assert!(r.score >= 90.0, "{}", r.explain());
}

#[test]
fn quick_path_agrees_with_full_scoring() {
    let m = model();
    for input in [
        typical(),
        RiskInput::default(),
        RiskInput {
            kev: Some(true),
            asset_criticality: Some(5),
            internet_facing: Some(true),
            ..typical()
        },
        RiskInput {
            vex_not_affected: Some(true),
            ..typical()
        },
    ] {
        let full = m.score(&input);
        assert_eq!(m.quick(&input), (full.score, full.priority));
    }
}

#[test]
fn worst_case_is_p1_and_best_case_is_p4() {
    let worst = RiskInput {
        kev: Some(true),
        kev_ransomware: Some(true),
        epss_probability: Some(1.0),
        exploit_public: Some(true),
        cvss_base_score: Some(10.0),
        internet_facing: Some(true),
        asset_criticality: Some(5),
        ..RiskInput::default()
    };
    let r = model().score(&worst);
    assert_eq!(r.score, 100.0);
    assert_eq!(r.priority, Priority::P1);
    let best = RiskInput {
        kev: Some(false),
        epss_probability: Some(0.0),
        cvss_base_score: Some(0.0),
        network_zone: Some(NetworkZone::Isolated),
        asset_criticality: Some(1),
        ..RiskInput::default()
    };
    assert_eq!(model().score(&best).priority, Priority::P4);
}

#[test]
fn kev_floor_raises_priority_unless_disabled() {
    let low_kev = RiskInput {
        kev: Some(true),
        cvss_base_score: Some(4.0),
        network_zone: Some(NetworkZone::Restricted),
        asset_criticality: Some(1),
        ..RiskInput::default()
    };
    let r = model().score(&low_kev);
    assert_eq!(r.priority, Priority::P1, "not known unreachable: P1");
    assert!(r.kev_floor_applied);
    assert!(r.explain().contains("KEV floor"));
    for unreachable in [
        RiskInput {
            service_reachable: Some(false),
            ..low_kev.clone()
        },
        RiskInput {
            network_zone: Some(NetworkZone::Isolated),
            ..low_kev.clone()
        },
    ] {
        let r = model().score(&unreachable);
        assert_eq!(
            r.priority,
            Priority::P2,
            "known unreachable: the lower floor"
        );
        assert!(r.kev_floor_applied);
    }
    let configured = RiskConfig::from_toml("kev_floor = \"P2\"\nkev_floor_unreachable = \"P3\"")
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(configured.score(&low_kev).priority, Priority::P2);
    let no_floor = RiskConfig::from_toml("kev_floor = \"P4\"")
        .unwrap()
        .build()
        .unwrap();
    let r = no_floor.score(&low_kev);
    assert!(r.priority > Priority::P2 && !r.kev_floor_applied);
}

#[test]
fn ssvc_act_is_p1_under_the_risk_score_policy_too() {
    let act = RiskInput {
        kev: Some(true),
        automatable: Some(true),
        technical_impact: Some(TechnicalImpact::Total),
        cvss_base_score: Some(5.0),
        asset_criticality: Some(4),
        network_zone: Some(NetworkZone::Restricted),
        ..RiskInput::default()
    };
    let r = model().score(&act);
    assert_eq!(r.ssvc, Decision::Act);
    assert_eq!(r.priority, Priority::P1);
    let accepted = model().score(&RiskInput {
        accepted_risk: Some(true),
        ..act
    });
    assert_ne!(
        accepted.priority,
        Priority::P1,
        "accepted risk is not raised"
    );
}

#[test]
fn ssvc_policy_uses_the_decision() {
    let m = RiskConfig::from_toml("policy = \"ssvc\"")
        .unwrap()
        .build()
        .unwrap();
    let act = RiskInput {
        kev: Some(true),
        automatable: Some(true),
        technical_impact: Some(TechnicalImpact::Total),
        asset_criticality: Some(4),
        ..RiskInput::default()
    };
    let r = m.score(&act);
    assert_eq!(
        (r.ssvc, r.priority, r.policy),
        (Decision::Act, Priority::P1, Policy::Ssvc)
    );
    let track = RiskInput {
        asset_criticality: Some(1),
        ..RiskInput::default()
    };
    assert_eq!(m.score(&track).priority, Priority::P4);
    assert!(m.score(&act).explain().contains("by ssvc policy"));
    // Critical severity stands in for an unknown technical impact.
    let derived = m.ssvc_inputs(&RiskInput {
        cvss_base_score: Some(9.8),
        ..RiskInput::default()
    });
    assert_eq!(derived.technical_impact, TechnicalImpact::Total);
}

#[test]
fn toml_config_defaults_and_validation() {
    let c = RiskConfig::from_toml("").unwrap();
    assert_eq!(c, RiskConfig::default());
    let c = RiskConfig::from_toml("[weights]\nkev = 50.0\n[thresholds]\np1 = 80.0\n").unwrap();
    assert_eq!(
        (
            c.weights.kev,
            c.weights.epss,
            c.thresholds.p1,
            c.thresholds.p2
        ),
        (50.0, 15.0, 80.0, 50.0)
    );
    let e = RiskConfig::from_toml("[weights]\nkevv = 1.0\n").unwrap_err();
    assert!(e.to_string().contains("kevv"), "{e}");
    let bad = RiskConfig::from_toml("[thresholds]\np1 = 10.0\np2 = 50.0\n").unwrap();
    assert!(bad.build().unwrap_err().to_string().contains("thresholds"));
    let bad = RiskConfig::from_toml("[mitigations]\naccepted_risk = 1.5\n").unwrap();
    assert!(bad.build().is_err());
    let bad = RiskConfig::from_toml("[weights]\nkev = -1.0\n").unwrap();
    assert!(bad.build().is_err());
}

#[test]
fn weights_change_the_ranking() {
    let kev_only = RiskInput {
        kev: Some(true),
        cvss_base_score: Some(5.0),
        ..RiskInput::default()
    };
    let severe = RiskInput {
        kev: Some(false),
        cvss_base_score: Some(10.0),
        ..RiskInput::default()
    };
    let default = model();
    assert!(default.score(&kev_only).score > default.score(&severe).score);
    let severity_heavy = RiskConfig::from_toml("[weights]\nkev = 1.0\nseverity = 80.0\n")
        .unwrap()
        .build()
        .unwrap();
    assert!(severity_heavy.score(&kev_only).score < severity_heavy.score(&severe).score);
}

#[test]
fn zone_names_are_read_leniently() {
    assert_eq!(NetworkZone::from_name("DMZ"), Some(NetworkZone::Dmz));
    assert_eq!(
        NetworkZone::from_name(" corp "),
        Some(NetworkZone::Internal)
    );
    assert_eq!(NetworkZone::from_name("mars"), None);
}
