//! The dashboard's overview: a handful of aggregate queries, each one pass over an index or
//! a table, so the page costs the same whatever page of exposures a user looks at.

use chrono::NaiveDate;
use rusqlite::params;

use super::SqliteStore;
use super::work::day_num;
use crate::{Overview, Result};

impl SqliteStore {
    pub(crate) fn query_overview(&self, today: NaiveDate, days: u32) -> Result<Overview> {
        let c = &self.conn;
        let assets: i64 = c.query_row("SELECT count(*) FROM assets", [], |r| r.get(0))?;
        let mut by_severity = [0u64; 6];
        {
            let mut st = c.prepare(
                "SELECT severity, count(*) FROM exposures
                 WHERE status IN ('open', 'reopened') GROUP BY severity",
            )?;
            let rows = st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?;
            for row in rows {
                let (s, n) = row?;
                if let Some(slot) = usize::try_from(s).ok().and_then(|s| by_severity.get_mut(s)) {
                    *slot = n as u64;
                }
            }
        }
        let mut by_priority = [0u64; 4];
        let (mut kev_open, mut breached) = (0u64, 0u64);
        {
            let mut st = c.prepare(
                "SELECT r.priority, count(*), sum(r.kev), sum(r.due IS NOT NULL AND r.due < ?1)
                 FROM exposure_risk r JOIN exposures e ON e.id = r.exposure_id
                 WHERE e.status IN ('open', 'reopened') GROUP BY r.priority",
            )?;
            let rows = st.query_map([day_num(today)], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Option<i64>>(2)?.unwrap_or(0),
                    r.get::<_, Option<i64>>(3)?.unwrap_or(0),
                ))
            })?;
            for row in rows {
                let (p, n, kev, late) = row?;
                if let Some(slot) = usize::try_from(p - 1)
                    .ok()
                    .and_then(|p| by_priority.get_mut(p))
                {
                    *slot = n as u64;
                }
                kev_open += kev as u64;
                breached += late as u64;
            }
        }
        // new and fixed exposures per day over the window
        let start = today - chrono::Duration::days(i64::from(days.max(1)) - 1);
        let from = start
            .and_hms_opt(0, 0, 0)
            .map(|d| d.and_utc().timestamp())
            .unwrap_or(0);
        let mut trend: Vec<(NaiveDate, u64, u64)> = (0..days.max(1))
            .map(|i| (start + chrono::Duration::days(i64::from(i)), 0, 0))
            .collect();
        for (col, slot) in [("first_seen", 1usize), ("fixed_at", 2)] {
            let mut st = c.prepare(&format!(
                "SELECT ({col} - ?1) / 86400, count(*) FROM exposures
                 WHERE {col} >= ?1 GROUP BY 1"
            ))?;
            let rows = st.query_map(params![from], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
            })?;
            for row in rows {
                let (day, n) = row?;
                if let Some(t) = usize::try_from(day).ok().and_then(|d| trend.get_mut(d)) {
                    if slot == 1 {
                        t.1 = n as u64;
                    } else {
                        t.2 = n as u64;
                    }
                }
            }
        }
        Ok(Overview {
            assets: assets as u64,
            open_by_severity: by_severity,
            open_by_priority: by_priority,
            kev_open,
            sla_breached: breached,
            trend,
        })
    }
}
