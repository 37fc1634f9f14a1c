//! Integration tests of ctem-measure on stores built in the test.

mod fixture;
mod goals;
mod incidents;
mod kpis;
mod reports;
