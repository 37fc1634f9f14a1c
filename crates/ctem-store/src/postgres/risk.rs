//! The row I/O of prioritisation on PostgreSQL ([`crate::risk::RiskRows`]).

use super::{PgStore, unavailable};
use crate::Result;
use crate::risk::{RiskPass, RiskRows, TopRow};

impl RiskRows for PgStore {
    fn begin_risk_pass(&mut self) -> Result<Box<dyn RiskPass + '_>> {
        Err(unavailable("prioritisation"))
    }

    fn top_rows(&self, _each: &mut dyn FnMut(&TopRow<'_>) -> Result<()>) -> Result<()> {
        Err(unavailable("top"))
    }
}
