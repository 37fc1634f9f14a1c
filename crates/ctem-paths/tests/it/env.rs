//! The attack-graph rules of docs/paths.md on hand-made environments with known answers.

use ctem_paths::env::{
    AssetContext, CredentialGroup, EnvAsset, EnvExposure, Environment, PathsConfig, ReachRule,
    Vector,
};
use ctem_paths::query::{blast_radius, chokepoints, path_factors, top_paths};
use ctem_paths::synth::{Spec, generate};
use ctem_paths::{AttackGraph, Rule};

fn host(id: i64, name: &str, zone: &str) -> EnvAsset {
    EnvAsset {
        id,
        name: name.into(),
        kind: "host".into(),
        zone: zone.into(),
        criticality: Some(2),
        internet_facing: false,
        tags: Vec::new(),
        owner: None,
        ports: vec![22, 443],
    }
}

fn vuln(id: i64, asset: i64, port: Option<u16>, vector: Vector, likelihood: f64) -> EnvExposure {
    EnvExposure {
        id,
        asset,
        title: format!("x{id}"),
        cve: Some(format!("CVE-2024-{id:04}")),
        port,
        vector,
        kev: false,
        epss: None,
        exploitability: None,
        severity: "high".into(),
        likelihood,
    }
}

/// web (dmz, internet-facing) -> app (apps) -> db (crown jewel), with a second, less likely
/// route web -> db through a local privilege escalation on app and a shared credential.
fn three_tier() -> (Environment, PathsConfig) {
    let mut web = host(1, "web", "dmz");
    web.internet_facing = true;
    let app = host(2, "app", "apps");
    let mut db = host(3, "db", "data");
    db.criticality = Some(5);
    let env = Environment {
        assets: vec![web, app, db],
        exposures: vec![
            vuln(10, 1, Some(443), Vector::Network, 0.9),
            vuln(20, 2, Some(8080), Vector::Network, 0.5),
            vuln(21, 2, None, Vector::Local, 0.4),
            vuln(30, 3, Some(5432), Vector::Network, 0.8),
            // on a port no rule opens: never reachable
            vuln(31, 3, Some(9999), Vector::Network, 0.99),
        ],
    };
    let cfg = PathsConfig {
        reach: vec![
            ReachRule {
                from: "dmz".into(),
                to: "apps".into(),
                ports: vec![8080],
            },
            ReachRule {
                from: "apps".into(),
                to: "data".into(),
                ports: vec![5432, 22],
            },
        ],
        credentials: vec![CredentialGroup {
            name: "ops".into(),
            members: vec!["name:app".into(), "name:db".into()],
        }],
        ..PathsConfig::default()
    };
    (env, cfg)
}

#[test]
fn most_likely_path_multiplies_step_likelihoods() {
    let (env, cfg) = three_tier();
    let g = AttackGraph::build(&env, &cfg);
    assert_eq!(g.goals.len(), 1);
    let paths = top_paths(&g, &env, 5, None);
    // 0.9 (web) x 0.5 (app) x 0.8 (db exploit) = 0.36
    assert!(
        (paths[0].likelihood - 0.36).abs() < 1e-9,
        "{}",
        paths[0].likelihood
    );
    assert_eq!(paths[0].exposures, vec![10, 20, 30]);
    // second: through the privilege escalation and the shared credential:
    // 0.9 x 0.5 x 0.4 x 0.5 (lateral_likelihood) = 0.09; the graph's detours (admin on app,
    // then the same exploit of db at 0.144) add no exposure-distinct way in and are dropped
    assert!(
        (paths[1].likelihood - 0.09).abs() < 1e-9,
        "{}",
        paths[1].likelihood
    );
    assert_eq!(paths[1].exposures, vec![10, 20, 21]);
    let rules: Vec<Rule> = paths[1].steps.iter().map(|s| s.rule).collect();
    assert!(
        rules.contains(&Rule::PrivilegeEscalation) && rules.contains(&Rule::LateralMovement),
        "{rules:?}"
    );
    // the exposure on a closed port is on no path
    assert!(paths.iter().all(|p| !p.exposures.contains(&31)));
    assert_eq!(paths.len(), 2, "exactly two distinct ways in");
}

#[test]
fn min_cut_and_ranking_on_the_three_tier_environment() {
    let (env, cfg) = three_tier();
    let g = AttackGraph::build(&env, &cfg);
    let c = chokepoints(&g, &env, 10, 5);
    // both routes go through web's 10 and app's 20: either alone cuts everything; the cut
    // is one exposure
    let cut = c.min_cut.clone().expect("cuttable");
    assert_eq!(cut.len(), 1);
    assert!(cut == vec![10] || cut == vec![20], "{cut:?}");
    // the first fix cuts both paths and removes all their likelihood
    assert_eq!(c.ranking[0].paths_cut, 2);
    assert!((c.ranking[0].risk_removed - 0.45).abs() < 1e-9);
    assert_eq!(
        c.ranking.len(),
        1,
        "nothing left to cut after the first fix"
    );
}

#[test]
fn path_factor_marks_only_exposures_on_a_path() {
    let (mut env, cfg) = three_tier();
    // a host in a zone nobody reaches
    env.assets.push(host(9, "island", "lab"));
    env.exposures
        .push(vuln(90, 9, Some(443), Vector::Network, 0.99));
    let g = AttackGraph::build(&env, &cfg);
    let f = path_factors(&g, &env);
    assert!((f[&30] - 0.36).abs() < 1e-9);
    // the best path through 21: admin on app, then the exploit of db: 0.9 x 0.5 x 0.4 x 0.8
    assert!((f[&21] - 0.144).abs() < 1e-9);
    assert!(!f.contains_key(&90));
}

#[test]
fn blast_radius_follows_reach_and_credentials() {
    let (env, cfg) = three_tier();
    let g = AttackGraph::build(&env, &cfg);
    let r = blast_radius(&g, &env, 1); // admin on app
    let db = r.iter().find(|x| x.asset == "db").expect("db reached");
    assert!(db.crown_jewel);
    // from admin on app: the exploit gives user on db at 0.8, the ops credential admin at 0.5
    assert!((db.likelihood - 0.8).abs() < 1e-9, "{db:?}");
    assert!((db.admin_likelihood.unwrap() - 0.5).abs() < 1e-9, "{db:?}");
    assert!(
        r.iter().all(|x| x.asset != "web"),
        "no route back to the DMZ"
    );
}

#[test]
fn phishing_enters_workstations() {
    let (mut env, mut cfg) = three_tier();
    let mut ws = host(4, "pc-17", "corp");
    ws.tags.push("workstation".into());
    env.assets.push(ws);
    cfg.reach.push(ReachRule {
        from: "corp".into(),
        to: "apps".into(),
        ports: vec![],
    });
    let g = AttackGraph::build(&env, &cfg);
    let paths = top_paths(&g, &env, 3, None);
    // phishing (0.3) -> pc-17 -> app 0.5 -> db 0.8 = 0.12
    let p = paths
        .iter()
        .find(|p| p.entry == "phishing")
        .expect("a phishing path");
    assert!((p.likelihood - 0.12).abs() < 1e-9, "{}", p.likelihood);
    assert_eq!(p.steps[0].rule, Rule::Phish);
    assert_eq!(p.steps[0].to, "pc-17 (user)");
}

#[test]
fn environment_from_the_store_model_applies_config_context() {
    use ctem_model::{Asset, AssetKind, Exposure, ExposureKind, Severity};
    let mut a = Asset::new(AssetKind::Host, "web01.corp");
    a.id = Some(7);
    let mut x = Exposure::new(
        ExposureKind::Vulnerability,
        "CVE-2021-44228 in log4j",
        Severity::Critical,
    );
    x.id = Some(70);
    x.asset_id = Some(7);
    x.port = Some(8080);
    x.cves = vec!["CVE-2021-44228".into()];
    x.cvss.push(ctem_model::Cvss {
        version: "3.1".into(),
        vector: Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H".into()),
        score: Some(10.0),
        source: None,
    });
    let mut open = Exposure::new(
        ExposureKind::OpenService,
        "open port 22/tcp",
        Severity::Info,
    );
    open.id = Some(71);
    open.asset_id = Some(7);
    open.port = Some(22);
    let cfg = PathsConfig {
        assets: vec![AssetContext {
            matches: "name:web*".into(),
            zone: Some("dmz".into()),
            criticality: Some(5),
            internet_facing: Some(true),
            ..AssetContext::default()
        }],
        ..PathsConfig::default()
    };
    let env = Environment::from_model(&[a], &Default::default(), &[x, open], &cfg).unwrap();
    assert_eq!(env.assets[0].zone, "dmz");
    assert!(env.assets[0].internet_facing);
    assert_eq!(
        env.assets[0].ports,
        vec![22],
        "an open service is a port, not an exposure"
    );
    assert_eq!(env.exposures.len(), 1);
    assert_eq!(env.exposures[0].vector, Vector::Network);
    assert!((env.exposures[0].likelihood - 0.3).abs() < 0.01);
    let g = AttackGraph::build(&env, &cfg);
    let p = top_paths(&g, &env, 1, None);
    assert_eq!(p[0].exposures, vec![70]);
    // a bad selector is an error naming the field
    let bad = PathsConfig {
        phishing: vec!["colour:red".into()],
        ..PathsConfig::default()
    };
    let e = Environment::from_model(&[], &Default::default(), &[], &bad).unwrap_err();
    assert!(e.to_string().contains("[paths] phishing"), "{e}");
}

#[test]
fn generated_environment_paths_are_consistent() {
    let (env, cfg) = generate(&Spec {
        hosts: 400,
        crown_jewels: 3,
        ..Spec::default()
    });
    let g = AttackGraph::build(&env, &cfg);
    assert_eq!(g.goals.len(), 3);
    let paths = top_paths(&g, &env, 4, None);
    for w in paths.windows(2) {
        if w[0].target == w[1].target {
            assert!(
                w[0].likelihood >= w[1].likelihood - 1e-12,
                "ordered by likelihood"
            );
        }
    }
    let c = chokepoints(&g, &env, 4, 5);
    if let Some(cut) = &c.min_cut {
        // removing the cut exposures leaves no path: rebuild without them
        let mut env2 = env.clone();
        env2.exposures.retain(|x| !cut.contains(&x.id));
        let g2 = AttackGraph::build(&env2, &cfg);
        assert!(
            top_paths(&g2, &env2, 1, None).is_empty(),
            "the min cut leaves a path"
        );
        // and no smaller cut: removing all but one of them leaves a path (minimality)
        if let Some(&keep) = cut.first() {
            let mut env3 = env.clone();
            env3.exposures
                .retain(|x| x.id == keep || !cut.contains(&x.id));
            let g3 = AttackGraph::build(&env3, &cfg);
            assert!(!top_paths(&g3, &env3, 1, None).is_empty());
        }
    }
    // greedy picks never increase in removed risk
    for w in c.ranking.windows(2) {
        assert!(w[0].risk_removed >= w[1].risk_removed - 1e-12);
    }
}
