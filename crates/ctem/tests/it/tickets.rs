//! `ctem tickets` and `ctem teams` end to end on the real Trivy Kubernetes reports (full,
//! then a later scan with 7 exposures gone, then the full one again), and the role table of
//! docs/roles.md against `ctem_model::work::permits`.

use std::collections::BTreeMap;
use std::path::Path;

use ctem_model::work::{Action, Role, permits};
use serde_json::Value;

use crate::common::{Env, trivy_fixture};

fn tickets(env: &Env) -> Vec<Value> {
    env.json(&["tickets", "--state", "all", "--json"])
        .as_array()
        .expect("array")
        .clone()
}

fn by_key(list: &[Value]) -> BTreeMap<String, Value> {
    list.iter()
        .map(|t| (t["key"].as_str().unwrap().to_string(), t.clone()))
        .collect()
}

/// Exposure id -> status.
fn statuses(env: &Env) -> BTreeMap<i64, String> {
    env.exposures()
        .iter()
        .map(|e| {
            (
                e["id"].as_i64().unwrap(),
                e["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn show(env: &Env, id: i64) -> Value {
    env.json(&["tickets", "show", &id.to_string(), "--json"])
}

/// Two teams, one per Kubernetes workload, routed by `ctem teams rule name`.
fn k8s_teams(env: &Env) {
    env.ok(&[
        "teams",
        "add",
        "follower",
        "--description",
        "redis followers",
    ]);
    env.ok(&["teams", "add", "leader"]);
    env.ok(&["teams", "rule", "name", "*/redis-follower", "follower"]);
    env.ok(&["teams", "rule", "name", "*/REDIS-LEADER", "leader"]);
    env.ok(&[
        "teams",
        "user",
        "carol",
        "--role",
        "it_operations",
        "--team",
        "follower",
    ]);
}

#[test]
fn tickets_follow_real_scans_verified_reopened_assigned_commented_accepted() {
    let env = Env::new();
    k8s_teams(&env);
    let teams = env.json(&["teams", "list", "--json"]);
    assert_eq!(teams["teams"].as_array().unwrap().len(), 2);
    assert_eq!(teams["rules"].as_array().unwrap().len(), 2);
    assert_eq!(teams["users"][0]["role"], "it_operations");

    env.import(&[trivy_fixture("kubernetes.json")]);
    let first = tickets(&env);
    assert!(!first.is_empty());
    // one ticket per (team, remediation action); both teams have tickets, all open
    let keys = by_key(&first);
    assert_eq!(keys.len(), first.len(), "ticket keys are unique");
    for t in &first {
        assert_eq!(t["state"], "open", "{t}");
        assert!(t["team"] == "follower" || t["team"] == "leader", "{t}");
        // SLA: a P4 ticket's due date is the earliest due date of its exposures
        let ex: Vec<i64> = show(&env, t["id"].as_i64().unwrap())["exposures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_i64().unwrap())
            .collect();
        assert_eq!(t["exposures"].as_u64(), Some(ex.len() as u64));
        let due = ex
            .iter()
            .map(|&i| env.explain(i)["sla"]["due"].as_str().unwrap().to_string())
            .min()
            .unwrap();
        assert_eq!(t["due"].as_str(), Some(due.as_str()), "{t}");
        assert_eq!(t["breached"], false);
    }
    assert!(keys.contains_key("follower|pkg:bsdutils|nofix"), "{keys:?}");
    assert!(keys.contains_key("leader|pkg:apt|fix"), "{keys:?}");
    let members: BTreeMap<i64, Vec<i64>> = first
        .iter()
        .map(|t| {
            let id = t["id"].as_i64().unwrap();
            let ex = show(&env, id)["exposures"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_i64().unwrap())
                .collect();
            (id, ex)
        })
        .collect();

    // assign, comment, in progress
    let bsd = keys["follower|pkg:bsdutils|nofix"]["id"].as_i64().unwrap();
    let bsd_s = bsd.to_string();
    let t = env.json(&["tickets", "assign", &bsd_s, "carol", "--json"]);
    assert_eq!(t["assignee"], "carol");
    assert!(
        !env.run(&["tickets", "assign", &bsd_s, "nobody"])
            .status
            .success()
    );
    let out = env.run_env(
        &["tickets", "comment", &bsd_s, "patched image in review"],
        &[("CTEM_USER", "carol")],
    );
    assert!(out.status.success());
    let t = env.json(&["tickets", "move", &bsd_s, "in_progress", "--json"]);
    assert_eq!(t["state"], "in_progress");
    let events = show(&env, bsd)["events"].as_array().unwrap().clone();
    assert!(
        events.iter().any(|e| e["kind"] == "comment"
            && e["actor"] == "carol"
            && e["text"] == "patched image in review"),
        "{events:?}"
    );
    assert_eq!(
        env.json(&["tickets", "--assignee", "carol", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // a later scan: 7 exposures gone
    env.import(&[trivy_fixture("kubernetes_fabricated_subset.json")]);
    let st = statuses(&env);
    assert_eq!(st.values().filter(|s| *s == "fixed").count(), 7);
    let second = tickets(&env);
    let mut verified = 0;
    for t in &second {
        let id = t["id"].as_i64().unwrap();
        let ex = &members[&id];
        let all_fixed = ex.iter().all(|i| st[i] == "fixed");
        if all_fixed {
            assert_eq!(t["state"], "verified", "{t}");
            assert_eq!(t["exposures"], 0);
            verified += 1;
        } else {
            assert_ne!(t["state"], "verified", "{t}");
            let open = ex.iter().filter(|i| st[*i] != "fixed").count();
            assert_eq!(t["exposures"].as_u64(), Some(open as u64), "{t}");
        }
    }
    assert!(verified >= 2, "{second:?}");
    let bsd_t = by_key(&second)["follower|pkg:bsdutils|nofix"].clone();
    assert_eq!(bsd_t["state"], "verified");
    let leader_bsd = by_key(&second)["leader|pkg:bsdutils|nofix"].clone();
    assert_eq!(leader_bsd["exposures"], 1);
    // the default listing (active) hides verified tickets
    let active = env.json(&["tickets", "--json"]);
    assert!(
        active
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["state"] != "verified")
    );
    // risk acceptance needs an expiry
    let apt = by_key(&second)["leader|pkg:apt|fix"]["id"]
        .as_i64()
        .unwrap()
        .to_string();
    let out = env.run(&["tickets", "move", &apt, "risk_accepted"]);
    assert_eq!(out.status.code(), Some(1));
    let t = env.json(&[
        "tickets",
        "move",
        &apt,
        "risk_accepted",
        "--until",
        "2099-01-31",
        "--json",
    ]);
    assert_eq!(t["state"], "risk_accepted");
    assert_eq!(t["accepted_until"], "2099-01-31");

    // the full report again: the fixed exposures come back, their tickets reopen
    env.import(&[trivy_fixture("kubernetes.json")]);
    let third = by_key(&tickets(&env));
    let bsd_t = &third["follower|pkg:bsdutils|nofix"];
    assert_eq!(bsd_t["state"], "open", "{bsd_t}");
    assert_eq!(bsd_t["reopened"], 1);
    assert_eq!(bsd_t["assignee"], "carol");
    assert_eq!(bsd_t["exposures"], 2);
    for t in third.values() {
        assert_ne!(t["state"], "verified", "{t}");
    }
    // the accepted ticket stays accepted until its expiry
    assert_eq!(third["leader|pkg:apt|fix"]["state"], "risk_accepted");
    let events = show(&env, bsd)["events"].as_array().unwrap().clone();
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    for k in ["created", "verified", "reopened"] {
        assert!(kinds.contains(&k), "{kinds:?}");
    }
}

#[test]
fn ownership_rules_from_ctem_toml_route_before_command_line_rules() {
    let env = Env::new();
    env.ok(&["teams", "add", "leader"]);
    env.ok(&["teams", "rule", "asset_kind", "cloud_resource", "leader"]);
    std::fs::write(
        env.dir.path().join("ctem.toml"),
        "[risk.teams.k8s]\ndescription = \"followers\"\n\
         [[risk.ownership]]\nmatch = \"name\"\npattern = \"*redis-follower\"\nteam = \"k8s\"\n",
    )
    .unwrap();
    env.import(&[trivy_fixture("kubernetes.json")]);
    let list = tickets(&env);
    let teams: std::collections::BTreeSet<&str> =
        list.iter().map(|t| t["team"].as_str().unwrap()).collect();
    assert_eq!(teams.into_iter().collect::<Vec<_>>(), ["k8s", "leader"]);
    // each exposure of a follower workload is on a k8s ticket
    for e in env.exposures() {
        let x = env.explain(e["id"].as_i64().unwrap());
        let asset = x["asset"].as_str().unwrap();
        let want = if asset.ends_with("redis-follower") {
            "k8s"
        } else {
            "leader"
        };
        assert_eq!(x["team"], want, "{asset}");
    }
    let t = env.json(&["teams", "list", "--json"]);
    assert!(
        t["teams"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "k8s" && t["description"] == "followers")
    );
}

#[test]
fn roles_table_in_docs_matches_permits() {
    let md =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/roles.md"))
            .expect("docs/roles.md");
    let rows: Vec<Vec<String>> = md
        .lines()
        .filter(|l| l.trim_start().starts_with('|'))
        .map(|l| {
            l.trim()
                .trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect();
    let header = &rows[0];
    assert_eq!(header[0], "action");
    let roles: Vec<Role> = header[1..]
        .iter()
        .map(|r| Role::parse(r).unwrap_or_else(|| panic!("unknown role {r}")))
        .collect();
    assert_eq!(roles, Role::ALL);
    let mut seen = Vec::new();
    for row in rows.iter().skip(2) {
        let name = row[0]
            .split('`')
            .nth(1)
            .unwrap_or_else(|| panic!("action cell {:?}", row[0]));
        let action = Action::parse(name).unwrap_or_else(|| panic!("unknown action {name}"));
        assert_eq!(row.len(), roles.len() + 1, "{row:?}");
        for (role, cell) in roles.iter().zip(&row[1..]) {
            let want = match cell.as_str() {
                "yes" => true,
                "no" => false,
                other => panic!("{name}/{role}: cell {other:?}"),
            };
            assert_eq!(permits(*role, action), want, "{name} for {role}");
        }
        seen.push(action);
    }
    assert_eq!(seen, Action::ALL, "every action once, in order");
}

#[test]
fn commands_that_change_teams_users_or_exposures_check_the_actors_role() {
    let env = Env::new();
    // bootstrap: the first users are created by anyone
    env.ok(&["teams", "user", "alice", "--role", "admin"]);
    env.ok(&["teams", "user", "bob", "--role", "it_operations"]);
    let as_user = |user: &str, args: &[&str]| env.run_env(args, &[("CTEM_USER", user)]);
    let out = as_user("bob", &["teams", "add", "red"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bob (it_operations) may not manage_teams"),
        "{err}"
    );
    let out = as_user("mallory", &["teams", "add", "red"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("mallory is not a user"));
    assert!(as_user("alice", &["teams", "add", "red"]).status.success());
    // reading needs no role check; triage does
    assert!(as_user("bob", &["teams", "list"]).status.success());
    let out = as_user(
        "bob",
        &["exposure", "1", "--set", "accepted", "--reason", "x"],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("may not triage_exposures"));
    // without CTEM_USER the local operator may do everything
    env.ok(&["teams", "add", "blue"]);
}
