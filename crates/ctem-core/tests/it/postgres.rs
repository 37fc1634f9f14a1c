//! The domain's conformance suites on PostgreSQL: the same cases as `conformance.rs` runs
//! on SQLite, through `ctem_store::testsuite_pg` (server from `CTEM_TEST_POSTGRES`; SKIPPED
//! when unset outside CI, a failure in CI; a schema per case).

use ctem_core::testsuite;
use ctem_store::testsuite_pg::{run_cases, server};

/// The cases of operations PostgreSQL does not offer yet (an import, a prioritisation
/// pass): each must fail with the `unavailable` error naming it.
const PENDING: &[&str] = &[
    "reprioritize_scores_routes_caps_due_dates_and_groups",
    "accepted_and_vex_not_affected_lower_the_score_and_leave_tickets",
    "tickets_are_verified_by_a_later_scan_and_reopened",
    "manual_ticket_moves_assignment_comments_and_expiry",
    "local_addresses_never_merge_assets_across_sources",
    "inventory_facts_outrank_scanners_and_mark_never_scanned",
    "context_rules_and_service_inventory_reach_the_scores",
];

#[test]
fn work_conformance_postgres() {
    let Some(base) = server() else { return };
    run_cases(&base, testsuite::work::CASES, PENDING);
}

#[test]
fn context_conformance_postgres() {
    let Some(base) = server() else { return };
    run_cases(&base, testsuite::context::CASES, PENDING);
}
