//! Integration tests of ctem-measure on stores built in the test.

mod coverage;
mod fixture;
mod goals;
mod incidents;
mod kpis;
mod reports;
