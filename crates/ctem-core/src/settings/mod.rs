//! Settings: one validated value built from `ctem.toml`, the environment and the flags, and
//! passed explicitly to every pipeline. There is no global: two settings values can live in
//! one process (a server serving two stores, a test comparing two models).
//!
//! Sections: `[store]`, `[risk]` (and its `sla`, `teams`, `ownership`, `integrations`),
//! `[[feeds]]`, `[context]`, `[input]`, `[paths]`, `[detect]`, `[incidents]`, `[kpi]`,
//! `[[goals]]`, `[serve]`, `[[sources]]`, `[schedule]` (with `[[schedule.exports]]`) and
//! `[[notify]]`.
//!
//! Each section is a `*Config` type that serde reads and that `build()`s its runtime value
//! (Vector's model). [`SettingsConfig::read`] lists the sections: adding one is a field here,
//! a line in `read`, a line in `build` and its keys in docs/config.md (a test compares the
//! two). Every error of the file is collected and reported at once with its file, line and
//! key; an unknown section or key is an error that names the closest known one.
//!
//! Precedence: flags over the environment over the file over the defaults. The file is
//! `--config FILE`, else `$CTEM_CONFIG`, else `./ctem.toml` when it exists. The store URL is
//! `--db`, else `$CTEM_DB`, else `[store] url`, else `ctem.db`.

mod context;
mod detect;
mod doc;
mod duration;
mod error;
mod feeds;
mod input;
mod integrations;
mod measure;
mod paths;
mod risk;
mod sources;
mod store;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ctem_model::context::ContextRule;
use ctem_model::work::{OwnershipRule, Team};
use ctem_risk::{RiskConfig, RiskModel, SlaConfig};
use serde::{Deserialize, Serialize};

pub use context::{ContextConfig, ContextSettings, VANTAGE_FORMATS, Vantage};
pub use detect::DetectConfig;
pub use duration::parse_duration;
pub use error::{SettingError, SettingsError};
pub use feeds::{Feed, FeedConfig};
pub use input::{InputConfig, InputSettings};
pub use integrations::{TargetConfig, TargetKind};
pub use measure::{
    GoalConfig, IncidentSettings, IncidentsConfig, KpiConfig, MeasureSettings, ServeConfig,
};
pub use paths::PathsConfig;
pub use risk::{OwnershipRuleConfig, TeamConfig};
pub use sources::{
    Export, ExportConfig, Framing, KafkaSource, NOTIFY_EVENTS, NotifyConfig, Protocol, Schedule,
    ScheduleConfig, Source, SourceConfig, SourceKind, SyslogSource,
};
pub use store::{StoreConfig, StoreSettings};

/// The whole settings file, as written: one field per section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SettingsConfig {
    pub store: StoreConfig,
    pub risk: RiskConfig,
    pub sla: SlaConfig,
    pub teams: BTreeMap<String, TeamConfig>,
    /// `None` when the file has no `[[risk.ownership]]`: rules added with `ctem teams` stay.
    pub ownership: Option<Vec<OwnershipRuleConfig>>,
    pub integrations: Vec<TargetConfig>,
    pub feeds: Vec<FeedConfig>,
    pub context: ContextConfig,
    pub input: InputConfig,
    pub paths: PathsConfig,
    pub detect: DetectConfig,
    pub incidents: IncidentsConfig,
    pub kpi: KpiConfig,
    pub goals: Vec<GoalConfig>,
    pub serve: ServeConfig,
    pub sources: Vec<SourceConfig>,
    pub exports: Vec<ExportConfig>,
    pub schedule: ScheduleConfig,
    pub notify: Vec<NotifyConfig>,
}

/// The section paths, in the order they are read (a sub-section before its parent).
pub const SECTIONS: &[&str] = &[
    "store",
    "risk.sla",
    "risk.teams",
    "risk.ownership",
    "risk.integrations",
    "risk",
    "feeds",
    "context",
    "input",
    "paths",
    "detect",
    "incidents",
    "kpi",
    "goals",
    "serve",
    "sources",
    "schedule.exports",
    "schedule",
    "notify",
];

impl SettingsConfig {
    /// Reads every section of the document; problems are left in `doc`.
    fn read(doc: &mut doc::Doc<'_>) -> Self {
        SettingsConfig {
            store: doc.section("store"),
            sla: doc.section("risk.sla"),
            teams: doc.section("risk.teams"),
            ownership: doc.section("risk.ownership"),
            integrations: doc.section("risk.integrations"),
            risk: doc.section("risk"),
            feeds: doc.section("feeds"),
            context: doc.section("context"),
            input: doc.section("input"),
            paths: doc.section("paths"),
            detect: doc.section("detect"),
            incidents: doc.section("incidents"),
            kpi: doc.section("kpi"),
            goals: doc.section("goals"),
            serve: doc.section("serve"),
            sources: doc.section("sources"),
            exports: doc.section("schedule.exports"),
            schedule: doc.section("schedule"),
            notify: doc.section("notify"),
        }
    }

    /// Validates every section and builds the runtime settings. Errors are `(key, message)`.
    pub fn build(self) -> Result<Settings, Vec<(String, String)>> {
        let mut errors = Vec::new();
        let store = self.store.build().map_err(|e| errors.extend(e)).ok();
        let model = self
            .risk
            .build()
            .map_err(|e| errors.push(("risk".into(), e.to_string())))
            .ok();
        errors.extend(integrations::check(&self.integrations));
        let context = self.context.build().map_err(|e| errors.extend(e)).ok();
        let input = self.input.build().map_err(|e| errors.extend(e)).ok();
        let paths = paths::build(self.paths).map_err(|e| errors.extend(e)).ok();
        let detect = self.detect.build().map_err(|e| errors.extend(e)).ok();
        let measure = measure::build(self.incidents, self.kpi, self.goals)
            .map_err(|e| errors.extend(e))
            .ok();
        let sources = sources::build_sources(self.sources)
            .map_err(|e| errors.extend(e))
            .ok();
        let schedule = self
            .schedule
            .build(self.exports)
            .map_err(|e| errors.extend(e))
            .ok();
        errors.extend(sources::check_notify(&self.notify));
        let mut feeds = Vec::new();
        for (i, f) in self.feeds.into_iter().enumerate() {
            if feeds.iter().any(|o: &Feed| o.name == f.name) {
                errors.push((
                    format!("feeds[{i}].name"),
                    format!("feed {:?} is named twice", f.name),
                ));
            }
            match f.build(&format!("feeds[{i}]")) {
                Ok(f) => feeds.push(f),
                Err(e) => errors.extend(e),
            }
        }
        let (
            Some(store),
            Some(model),
            Some(context),
            Some(input),
            Some(paths),
            Some(detect),
            Some(measure),
            Some(sources),
            Some(schedule),
        ) = (
            store, model, context, input, paths, detect, measure, sources, schedule,
        )
        else {
            return Err(errors);
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Settings {
            source: None,
            store,
            risk: RiskSettings {
                model,
                sla: self.sla,
                teams: self
                    .teams
                    .into_iter()
                    .map(|(name, t)| t.build(name))
                    .collect(),
                rules: self.ownership.map(|rules| {
                    rules
                        .into_iter()
                        .enumerate()
                        .map(|(i, r)| r.build(i))
                        .collect()
                }),
                integrations: self.integrations,
                context: context.rules,
            },
            feeds,
            vantage: context.vantage,
            input,
            paths,
            detect,
            measure,
            serve: self.serve,
            sources,
            schedule,
            notify: self.notify,
        })
    }
}

/// The validated settings every pipeline takes.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The file they were read from, if any.
    pub source: Option<PathBuf>,
    pub store: StoreSettings,
    pub risk: RiskSettings,
    pub feeds: Vec<Feed>,
    /// `[context] vantage`: where port scans imported without `--vantage` were taken from
    /// (the section's rules are `risk.context`).
    pub vantage: Vantage,
    /// `[input]`: caps on what one input may expand to.
    pub input: InputSettings,
    /// `[paths]`: the attack-path model's environment.
    pub paths: PathsConfig,
    /// `[detect]`: default rule folders and extra logsource mapping files.
    pub detect: ctem_detect::DetectConfig,
    /// `[incidents]`, `[kpi]`, `[[goals]]`: what ctem-measure reads.
    pub measure: MeasureSettings,
    /// `[serve]`: the server's defaults.
    pub serve: ServeConfig,
    /// `[[sources]]`: what the scheduler reads continuously.
    pub sources: Vec<Source>,
    /// `[schedule]` and `[[schedule.exports]]`: the scheduler's jobs.
    pub schedule: Schedule,
    /// `[[notify]]`: the owning teams' channels.
    pub notify: Vec<NotifyConfig>,
}

/// The `[risk]` section and its sub-sections, built.
#[derive(Debug, Clone)]
pub struct RiskSettings {
    pub model: RiskModel,
    pub sla: SlaConfig,
    pub teams: Vec<Team>,
    /// `None` when the file has no `[[risk.ownership]]`: rules added with `ctem teams` stay.
    pub rules: Option<Vec<OwnershipRule>>,
    pub integrations: Vec<TargetConfig>,
    /// `[[context.rules]]`: asset context rules, in file order.
    pub context: Vec<ContextRule>,
}

impl Default for Settings {
    fn default() -> Self {
        match SettingsConfig::default().build() {
            Ok(s) => s,
            // the defaults are valid: a test builds them
            Err(e) => unreachable!("default settings are invalid: {e:?}"),
        }
    }
}

/// What the command line says about settings.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    /// `--config FILE`.
    pub config: Option<PathBuf>,
    /// `--db URL`.
    pub db: Option<String>,
}

impl Settings {
    /// Builds the settings from the flags, the environment (`env("CTEM_CONFIG")`,
    /// `env("CTEM_DB")`) and the file.
    pub fn load(
        flags: &Flags,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, SettingsError> {
        let path = flags
            .config
            .clone()
            .or_else(|| env("CTEM_CONFIG").map(PathBuf::from))
            .or_else(|| Some(PathBuf::from("ctem.toml")).filter(|p| p.exists()));
        let mut settings = match &path {
            None => Settings::default(),
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| SettingsError::Read {
                    path: p.display().to_string(),
                    message: e.to_string(),
                })?;
                Settings::from_toml(&text, Some(p))?
            }
        };
        if let Some(db) = flags.db.clone().or_else(|| env("CTEM_DB")) {
            settings.store.url = db;
        }
        Ok(settings)
    }

    /// Builds the settings from the text of a settings file named `file`.
    pub fn from_toml(text: &str, file: Option<&Path>) -> Result<Settings, SettingsError> {
        let name = file.map_or_else(|| "settings".to_string(), |p| p.display().to_string());
        let mut doc = doc::Doc::parse(text, &name);
        let built = SettingsConfig::read(&mut doc).build();
        if let Err(invalid) = &built {
            let (lines, _) = toml::de::DeTable::parse_recoverable(text);
            for (key, message) in invalid {
                doc.invalid(key, message.clone(), lines.get_ref());
            }
        }
        let mut errors = doc.finish();
        match built {
            Ok(mut s) if errors.is_empty() => {
                s.source = file.map(Path::to_path_buf);
                return Ok(s);
            }
            _ => errors.sort_by_key(|e| e.line.unwrap_or(usize::MAX)),
        }
        Err(SettingsError::Invalid(errors))
    }
}

#[cfg(test)]
mod tests;
