//! Remediation SLAs: due dates per priority or SSVC decision, capped by a KEV due date;
//! breach and age. Pure functions on calendar dates.

use crate::model::Priority;
use crate::ssvc::Decision;
use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};

/// Days allowed per priority and per SSVC decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlaConfig {
    /// Days to remediate a P1.
    pub p1_days: u32,
    /// Days to remediate a P2.
    pub p2_days: u32,
    /// Days to remediate a P3.
    pub p3_days: u32,
    /// Days to remediate a P4.
    pub p4_days: u32,
    /// Days to remediate an SSVC Act.
    pub act_days: u32,
    /// Days to remediate an SSVC Attend.
    pub attend_days: u32,
    /// Days to remediate an SSVC Track*.
    pub track_star_days: u32,
    /// Days to remediate an SSVC Track.
    pub track_days: u32,
}

impl Default for SlaConfig {
    fn default() -> Self {
        Self {
            p1_days: 7,
            p2_days: 30,
            p3_days: 90,
            p4_days: 180,
            act_days: 7,
            attend_days: 30,
            track_star_days: 90,
            track_days: 180,
        }
    }
}

/// What the SLA clock is keyed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaTarget {
    /// A risk-model priority.
    Priority(Priority),
    /// An SSVC decision.
    Ssvc(Decision),
}

/// Where one exposure stands against its SLA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SlaStatus {
    /// The date by which it must be remediated.
    pub due: NaiveDate,
    /// Whether the KEV due date is earlier than the policy's and set `due`.
    pub capped_by_kev: bool,
    /// Days from opening to closing, or to `today` while open.
    pub days_open: i64,
    /// Days from `today` to `due` (negative once overdue); for a closed item, from the
    /// closing date.
    pub days_left: i64,
    /// Closed after `due`, or still open after `due`.
    pub breached: bool,
}

impl SlaConfig {
    /// Days allowed for a target.
    pub fn days(&self, target: SlaTarget) -> u32 {
        match target {
            SlaTarget::Priority(Priority::P1) => self.p1_days,
            SlaTarget::Priority(Priority::P2) => self.p2_days,
            SlaTarget::Priority(Priority::P3) => self.p3_days,
            SlaTarget::Priority(Priority::P4) => self.p4_days,
            SlaTarget::Ssvc(Decision::Act) => self.act_days,
            SlaTarget::Ssvc(Decision::Attend) => self.attend_days,
            SlaTarget::Ssvc(Decision::TrackStar) => self.track_star_days,
            SlaTarget::Ssvc(Decision::Track) => self.track_days,
        }
    }

    /// Due date: `opened` plus the target's days, or the KEV due date when earlier.
    /// Returns the date and whether the KEV date decided it.
    pub fn due_date(
        &self,
        opened: NaiveDate,
        target: SlaTarget,
        kev_due: Option<NaiveDate>,
    ) -> (NaiveDate, bool) {
        let policy = opened
            .checked_add_days(Days::new(u64::from(self.days(target))))
            .unwrap_or(NaiveDate::MAX);
        match kev_due {
            Some(kev) if kev < policy => (kev, true),
            _ => (policy, false),
        }
    }

    /// The SLA status of an exposure opened on `opened`, closed on `closed` if it is,
    /// seen on `today`.
    pub fn status(
        &self,
        opened: NaiveDate,
        target: SlaTarget,
        kev_due: Option<NaiveDate>,
        closed: Option<NaiveDate>,
        today: NaiveDate,
    ) -> SlaStatus {
        let (due, capped_by_kev) = self.due_date(opened, target, kev_due);
        let end = closed.unwrap_or(today);
        SlaStatus {
            due,
            capped_by_kev,
            days_open: (end - opened).num_days().max(0),
            days_left: (due - end).num_days(),
            breached: end > due,
        }
    }
}

/// Reads an SLA configuration from TOML text; missing fields keep their defaults.
pub fn from_toml(text: &str) -> crate::Result<SlaConfig> {
    toml::from_str(text).map_err(|e| crate::Error::Config {
        message: e.to_string().trim().to_owned(),
    })
}
