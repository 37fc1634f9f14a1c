//! Remediation grouping for `ctem top`.

use ctem_risk::remediation::needed_fix;
use ctem_risk::{OpenExposure, Priority, group_remediations};

fn e<'a>(
    package: &'a str,
    installed: &'a str,
    fixed: Option<&'a str>,
    asset: &'a str,
    risk: f64,
    kev: bool,
) -> OpenExposure<'a> {
    OpenExposure {
        package,
        installed_version: installed,
        fixed_version: fixed,
        asset_id: asset,
        risk_score: risk,
        kev,
        priority: if kev { Priority::P1 } else { Priority::P3 },
    }
}

#[test]
fn groups_by_package_with_the_highest_needed_version() {
    let open = [
        e("openssl", "3.0.2", Some("3.0.7"), "web1", 40.0, false),
        e("openssl", "3.0.2", Some("3.0.13"), "web1", 60.0, true),
        e("openssl", "3.0.9", Some("3.0.13"), "web2", 50.0, false),
        e("zlib", "1.2.11", Some("1.2.12"), "web1", 30.0, false),
        e("busybox", "1.35", None, "db1", 20.0, false),
    ];
    let groups = group_remediations(&open);
    assert_eq!(groups.len(), 3);
    let first = &groups[0];
    assert_eq!(first.action, "upgrade openssl to 3.0.13");
    assert_eq!(first.target_version.as_deref(), Some("3.0.13"));
    assert_eq!((first.assets, first.exposures, first.kev), (2, 3, 1));
    assert_eq!(first.risk_removed, 150.0);
    assert_eq!(first.max_risk, 60.0);
    assert_eq!(groups[1].action, "upgrade zlib to 1.2.12");
    assert_eq!(groups[2].action, "mitigate busybox (no fixed version)");
    assert_eq!(groups[2].target_version, None);
}

#[test]
fn urgency_beats_volume() {
    // a thousand P3 cookie-flag findings rank below one P1 exposure, and a KEV exposure
    // below a P1 only when it is not itself a P1
    let hosts: Vec<String> = (0..1000).map(|i| format!("h{i}")).collect();
    let mut open: Vec<OpenExposure<'_>> = hosts
        .iter()
        .map(|h| e("cookie-flag", "1", Some("2"), h, 35.0, false))
        .collect();
    let mut urgent = e("log4j-core", "2.13.2", None, "app", 20.0, false);
    urgent.priority = Priority::P1;
    open.push(urgent);
    let mut kev_p2 = e("openssl", "1.0", Some("1.1"), "h1", 30.0, true);
    kev_p2.priority = Priority::P2;
    open.push(kev_p2);
    let mut p2 = e("zlib", "1.0", Some("1.1"), "h1", 90.0, false);
    p2.priority = Priority::P2;
    open.push(p2);
    let groups = group_remediations(&open);
    let order: Vec<_> = groups.iter().map(|g| g.package.as_str()).collect();
    assert_eq!(order, ["log4j-core", "openssl", "zlib", "cookie-flag"]);
    assert_eq!(groups[0].priority, Priority::P1);
    assert_eq!(groups[3].priority, Priority::P3);
}

#[test]
fn same_priority_and_kev_ordered_by_risk_removed_then_count() {
    let open = [
        e("x", "1", Some("2"), "h1", 10.0, false),
        e("y", "1", Some("2"), "h1", 5.0, false),
        e("y", "1", Some("2"), "h2", 5.0, false),
    ];
    let order: Vec<_> = group_remediations(&open)
        .into_iter()
        .map(|g| g.package)
        .collect();
    assert_eq!(order, ["y", "x"], "equal risk: more exposures first");
}

#[test]
fn ordered_by_risk_removed() {
    let open = [
        e("a", "1", Some("2"), "h1", 10.0, false),
        e("b", "1", Some("2"), "h1", 30.0, false),
        e("c", "1", Some("2"), "h1", 15.0, false),
        e("c", "1", Some("2"), "h2", 16.0, false),
    ];
    let order: Vec<_> = group_remediations(&open)
        .into_iter()
        .map(|g| g.package)
        .collect();
    assert_eq!(order, ["c", "b", "a"]);
}

#[test]
fn numeric_not_lexical_version_order() {
    let open = [
        e("libx", "1.0", Some("1.9"), "h1", 1.0, false),
        e("libx", "1.0", Some("1.10"), "h2", 1.0, false),
    ];
    assert_eq!(
        group_remediations(&open)[0].target_version.as_deref(),
        Some("1.10")
    );
}

#[test]
fn multi_branch_fixed_versions_pick_the_installed_branch() {
    assert_eq!(needed_fix("3.0.2", "1.1.1w, 3.0.13, 3.1.5"), Some("3.0.13"));
    assert_eq!(needed_fix("1.1.1k", "1.1.1w, 3.0.13"), Some("1.1.1w"));
    assert_eq!(needed_fix("9.0", "1.1.1w, 3.0.13"), Some("3.0.13"));
    assert_eq!(needed_fix("1.0", " , "), None);
    let open = [
        e(
            "openssl",
            "1.1.1k",
            Some("1.1.1w, 3.0.13"),
            "old",
            10.0,
            false,
        ),
        e(
            "openssl",
            "3.0.2",
            Some("1.1.1w, 3.0.13"),
            "new",
            10.0,
            false,
        ),
    ];
    let g = group_remediations(&open);
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].action, "upgrade openssl to 3.0.13");
}

#[test]
fn nan_risk_counts_as_zero_and_empty_input_gives_no_groups() {
    assert!(group_remediations(&[]).is_empty());
    let g = group_remediations(&[e("p", "1", Some("2"), "h", f64::NAN, true)]);
    assert_eq!((g[0].risk_removed, g[0].kev), (0.0, 1));
}
