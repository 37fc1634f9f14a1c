//! The conformance suites of the domain over the store traits: the prioritisation pass
//! (scores, routing, tickets, `top`), asset context, and the follow-up. Every backend runs
//! them beside `ctem_store::testsuite` (behind the `testsuite` cargo feature, outside the
//! production API).

pub mod context;
pub mod followup;
pub mod work;
