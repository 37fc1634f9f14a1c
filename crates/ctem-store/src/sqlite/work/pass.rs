//! SQLite side of [`crate::risk::RiskRows`]: a prioritisation pass as one IMMEDIATE
//! transaction over the store's connection.

use chrono::{DateTime, NaiveDate, Utc};
use ctem_model::intel::Enrichment;
use ctem_model::work::{OwnershipRule, Team};
use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::{assets, followup, load_rules, rows, scan};
use crate::Result;
use crate::risk::{
    AssetReads, AssetRisk, DetailRisk, FollowUpMark, RiskPass, RiskRows, RiskScope, ScoreExposures,
    TicketHead, TicketWrite, TopRow,
};
use crate::sqlite::SqliteStore;

/// A pass reads every exposure once: memory-mapped pages spare a copy per page. Capped at
/// 64 MiB: mapped pages count as resident memory, and an import (which is followed by a
/// pass) must stay under 512 MiB whatever the store size.
const PASS_MMAP: i64 = 64 << 20;

struct SqlitePass<'c> {
    conn: &'c Connection,
    tx: Option<Transaction<'c>>,
    /// The connection's `mmap_size` before the pass, restored after it.
    mmap: i64,
}

impl SqlitePass<'_> {
    fn tx(&self) -> &Connection {
        self.tx.as_deref().unwrap_or(self.conn)
    }
}

impl Drop for SqlitePass<'_> {
    fn drop(&mut self) {
        // an uncommitted transaction rolls back first
        self.tx = None;
        let _ = self
            .conn
            .query_row(&format!("PRAGMA mmap_size = {}", self.mmap), [], |r| {
                r.get::<_, i64>(0)
            });
    }
}

impl RiskRows for SqliteStore {
    fn begin_risk_pass(&mut self) -> Result<Box<dyn RiskPass + '_>> {
        // restored when the pass ends; ignored where the platform has no mmap
        let mmap: i64 = self
            .conn
            .query_row("PRAGMA mmap_size", [], |r| r.get(0))
            .unwrap_or(0);
        let _ = self
            .conn
            .query_row(&format!("PRAGMA mmap_size = {PASS_MMAP}"), [], |r| {
                r.get::<_, i64>(0)
            });
        let mut pass = Box::new(SqlitePass {
            conn: &self.conn,
            tx: None,
            mmap,
        });
        // IMMEDIATE: no other writer commits while the pass reads (see `scan`); on failure
        // dropping the pass restores the mmap size
        pass.tx = Some(Transaction::new_unchecked(
            &self.conn,
            TransactionBehavior::Immediate,
        )?);
        Ok(pass)
    }

    fn top_rows(&self, each: &mut dyn FnMut(&TopRow<'_>) -> Result<()>) -> Result<()> {
        rows::top_rows(&self.conn, each)
    }
}

impl RiskPass for SqlitePass<'_> {
    fn put_config(&mut self, teams: &[Team], rules: Option<&[OwnershipRule]>) -> Result<()> {
        rows::put_config(self.tx(), teams, rules)
    }

    fn rules(&mut self) -> Result<Vec<OwnershipRule>> {
        load_rules(self.tx())
    }

    fn assets(&mut self, scope: RiskScope, reads: AssetReads) -> Result<Vec<AssetRisk>> {
        assets::load_assets(self.tx(), scope, reads)
    }

    fn open_services(&mut self, scope: RiskScope) -> Result<Vec<(i64, i64)>> {
        rows::load_services(self.tx(), scope)
    }

    fn kev_catalog(&mut self) -> Result<bool> {
        assets::kev_catalog_loaded(self.tx())
    }

    fn cve_intel(&mut self, scope: RiskScope) -> Result<Vec<Enrichment>> {
        rows::load_intel(self.tx(), scope)
    }

    fn details(&mut self, scope: RiskScope) -> Result<Vec<DetailRisk>> {
        rows::load_details(self.tx(), scope)
    }

    fn score(&mut self, scope: RiskScope, scorer: &dyn ScoreExposures, write: bool) -> Result<()> {
        scan::score(self.tx(), scope, scorer, write)
    }

    fn tickets(&mut self) -> Result<Vec<TicketHead>> {
        rows::ticket_heads(self.tx())
    }

    fn write_tickets(&mut self, writes: &[TicketWrite], now: DateTime<Utc>) -> Result<()> {
        rows::write_tickets(self.tx(), writes, now)
    }

    fn enrich(&mut self, scope: RiskScope) -> Result<()> {
        match scope {
            RiskScope::All => crate::sqlite::intel::run_pass(self.tx()).map(drop),
            RiskScope::FollowUp => crate::sqlite::intel::enrich_scope(self.tx()),
        }
    }

    fn follow_up_mark(&mut self) -> Result<FollowUpMark> {
        followup::mark(self.tx())
    }

    fn open_scope(&mut self, scored_max: i64) -> Result<u64> {
        followup::open_scope(self.tx(), scored_max)
    }

    fn scope_groups(&mut self) -> Result<Vec<i64>> {
        followup::scope_groups(self.tx())
    }

    fn grow_scope(&mut self, groups: &[i64]) -> Result<u64> {
        followup::grow_scope(self.tx(), groups)
    }

    fn finish_follow_up(&mut self, settings: &str, day: NaiveDate) -> Result<()> {
        followup::finish(self.tx(), settings, day)
    }

    fn commit(mut self: Box<Self>) -> Result<()> {
        if let Some(tx) = self.tx.take() {
            tx.commit()?;
        }
        Ok(())
    }
}
