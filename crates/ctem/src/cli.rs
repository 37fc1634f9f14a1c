//! Argument definitions (clap derive). Every value with a fixed set of spellings is checked
//! here ([`choice`]), so a bad one is a usage error (exit 2) listing the possible values,
//! before any file or store is touched.

use std::path::PathBuf;

use clap::builder::{PossibleValue, PossibleValuesParser, RangedU64ValueParser};
use clap::{Parser, Subcommand};
use ctem_model::Severity;

use crate::output::color::ColorChoice;

/// A parser accepting exactly `names` (clap lists them in its error and in --help).
pub fn choice(names: impl IntoIterator<Item = &'static str>) -> PossibleValuesParser {
    PossibleValuesParser::new(names.into_iter().map(PossibleValue::new))
}

/// The minimum severities `--severity` takes.
fn severities() -> PossibleValuesParser {
    choice(
        Severity::ALL
            .into_iter()
            .filter(|s| *s != Severity::Unknown)
            .map(Severity::as_str),
    )
}

/// The store filters `--status` takes.
fn exposure_statuses() -> PossibleValuesParser {
    choice(
        ctem_model::ExposureStatus::ALL
            .into_iter()
            .map(|s| s.as_str())
            .chain(["active", "all"]),
    )
}

fn import_formats() -> PossibleValuesParser {
    choice(std::iter::once("auto").chain(ctem_ingest::REGISTRY.iter().map(|f| f.name)))
}

fn intel_kinds() -> PossibleValuesParser {
    choice(std::iter::once("auto").chain(ctem_intel::IntelKind::ALL.map(|k| k.as_str())))
}

pub fn indicator_types() -> PossibleValuesParser {
    choice(ctem_model::intel::IndicatorType::ALL.map(|t| t.as_str()))
}

fn asset_kinds() -> PossibleValuesParser {
    choice(ctem_model::AssetKind::ALL.map(|k| k.as_str()))
}

/// Where a port scan was taken from (`--vantage`).
fn vantages()
-> clap::builder::MapValueParser<PossibleValuesParser, fn(String) -> ctem_core::settings::Vantage> {
    use clap::builder::TypedValueParser;
    use ctem_core::settings::Vantage;
    choice(Vantage::ALL.map(Vantage::as_str))
        .map((|s: String| Vantage::parse(&s).unwrap_or_default()) as fn(String) -> Vantage)
}

/// A count that must be at least 1.
fn positive() -> RangedU64ValueParser<usize> {
    RangedU64ValueParser::new().range(1..)
}

const EXAMPLES: &str = "\
Examples:
  ctem demo                                  build a sample store and tour it
  ctem import trivy.json nessus/ -           import a file, a folder and stdin
  ctem import --scope prod report.json.gz    a gzip report for the prod scope
  ctem exposures --severity high --json      open high and critical exposures as JSON
  ctem top                                   what to fix first
  ctem detect --rules sigma/ events.evtx     run Sigma rules over events
  ctem completions bash > ~/.local/share/bash-completion/completions/ctem";

#[derive(Parser, Debug)]
#[command(
    name = "ctem",
    version,
    about = "Continuous Threat Exposure Management",
    long_about = None,
    after_help = EXAMPLES
)]
pub struct Cli {
    /// The store: a path, sqlite://PATH or postgres://USER@HOST/DB[?schema=NAME] (default:
    /// $CTEM_DB, else [store] url of the settings, else ctem.db)
    #[arg(long, global = true, help_heading = "Global options")]
    pub db: Option<String>,
    /// Settings file (default: $CTEM_CONFIG, else ./ctem.toml when present)
    #[arg(long, global = true, help_heading = "Global options")]
    pub config: Option<PathBuf>,
    /// Colour severities and priorities: auto (on a terminal, unless NO_COLOR is set), always
    /// or never
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "auto",
        help_heading = "Global options"
    )]
    pub color: ColorChoice,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Build a fresh store from the bundled sample environment and show what it finds
    #[command(after_help = "Examples:\n  ctem demo\n  ctem demo --dir /tmp/ctem-demo")]
    Demo {
        /// Folder for the demo store (default: a new demo-* folder here)
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Then serve the dashboard on it, with a demo admin whose password is printed once
        #[arg(long)]
        serve: bool,
        /// Address for --serve
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
    },
    /// The API, OpenAPI document, TAXII 2.1 and metrics over HTTP
    #[command(
        after_help = "Examples:\n  ctem serve\n  ctem serve --listen 0.0.0.0:8443 --rules rules/windows\n  ctem --db team.db serve"
    )]
    Serve(crate::cmd::serve::ServeArgs),
    /// The scheduler and sources without the HTTP server (until SIGINT / SIGTERM)
    #[command(
        after_help = "Examples:\n  ctem run\n  ctem run --once --json\n  ctem --config ctem.toml run"
    )]
    Run(crate::cmd::run::RunArgs),
    /// Each declared source's status, last data and volume; or the recorded runs
    #[command(
        after_help = "Examples:\n  ctem sources\n  ctem sources --json\n  ctem sources --runs"
    )]
    Sources {
        /// The recorded job runs, newest first, instead of the sources
        #[arg(long)]
        runs: bool,
        /// With --runs: how many
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// One JSON array on stdout
        #[arg(long)]
        json: bool,
    },
    /// Users who sign in to the server
    #[command(
        subcommand,
        after_help = "Examples:\n  printf '%s\\n' \"$PW\" | ctem users add alice --role vulnerability_manager"
    )]
    Users(crate::cmd::serve::UsersCommand),
    /// API tokens: create (shown once), list, revoke
    #[command(
        subcommand,
        after_help = "Examples:\n  ctem tokens create --name ci --role it_operations\n  ctem tokens create --name mdr --role incident_responder --partner mdr --expires 2027-06-30\n  ctem tokens list\n  ctem tokens revoke 3"
    )]
    Tokens(crate::cmd::serve::TokensCommand),
    /// The audit log: every change, who, what, when, from where
    #[command(after_help = "Examples:\n  ctem audit\n  ctem audit --limit 20 --json")]
    Audit {
        /// One JSON array on stdout
        #[arg(long)]
        json: bool,
        /// Only the last N entries
        #[arg(long)]
        limit: Option<usize>,
    },
    /// List the registered input formats
    #[command(after_help = "Examples:\n  ctem formats\n  ctem formats --json | jq -r '.[].name'")]
    Formats {
        /// One JSON array on stdout
        #[arg(long)]
        json: bool,
    },
    /// Import scanner reports and inventories: files, folders (recursively), gzip, - for stdin
    #[command(
        after_help = "Examples:\n  ctem import trivy.json\n  ctem import reports/\n  \
                            trivy image -f json alpine | ctem import --scope ci -\n  \
                            ctem import --format nessus scan.nessus.gz"
    )]
    Import {
        /// Report files, folders (walked recursively, in sorted order), or - for stdin;
        /// gzip is recognised by its content
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Format name, or auto to detect it from the content (see `ctem formats`)
        #[arg(long, default_value = "auto", value_parser = import_formats(), hide_possible_values = true)]
        format: String,
        /// Lifecycle scope: the report covers all of it (see docs/data-model.md)
        #[arg(long)]
        scope: Option<String>,
        /// Fail (and import nothing from that file) when any record has an issue
        #[arg(long)]
        strict: bool,
        /// Where a port scan (nmap, masscan, naabu) was taken from: external marks every
        /// host it reached internet-facing (default: `[context] vantage`, else internal)
        #[arg(long, value_parser = vantages())]
        vantage: Option<ctem_core::settings::Vantage>,
        /// The summaries as one JSON array, one object per file
        #[arg(long)]
        json: bool,
    },
    /// List assets
    #[command(
        after_help = "Examples:\n  ctem assets --kind container_image\n  ctem assets --search 10.0.0. --json"
    )]
    Assets {
        /// Only assets of this kind
        #[arg(long, value_parser = asset_kinds())]
        kind: Option<String>,
        /// Substring of the name or of any identifier
        #[arg(long)]
        search: Option<String>,
        /// Only assets with this tag
        #[arg(long)]
        tag: Option<String>,
        /// At most this many
        #[arg(long)]
        limit: Option<usize>,
        /// One JSON array on stdout
        #[arg(long)]
        json: bool,
    },
    /// List exposures
    #[command(after_help = crate::cmd::gate::EXIT_CODES_HELP)]
    Exposures {
        /// Minimum severity
        #[arg(long, value_parser = severities(), ignore_case = true)]
        severity: Option<String>,
        /// Statuses (comma-separated); active is open or reopened
        #[arg(long, default_value = "active", value_delimiter = ',', value_parser = exposure_statuses())]
        status: Vec<String>,
        /// Asset id, name or identifier
        #[arg(long)]
        asset: Option<String>,
        /// Only exposures with this CVE
        #[arg(long)]
        cve: Option<String>,
        /// Only exposures reported by this tool
        #[arg(long)]
        tool: Option<String>,
        /// Only exposures whose CVE is in the CISA KEV catalog
        #[arg(long)]
        kev: bool,
        /// At most this many (human output shows 100 unless told)
        #[arg(long)]
        limit: Option<usize>,
        /// One JSON array on stdout
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        output: crate::cmd::gate::OutputArgs,
    },
    /// CI gate: list open exposures at or above --fail-on; exit 3 when there are any
    #[command(after_help = crate::cmd::gate::EXIT_CODES_HELP)]
    Gate(crate::cmd::gate::GateArgs),
    /// Show one exposure with its sources and status history
    #[command(
        after_help = "Examples:\n  ctem exposure 42\n  ctem exposure 42 --set accepted --reason \"compensating WAF rule\""
    )]
    Exposure {
        /// The exposure id (see `ctem exposures`)
        id: i64,
        /// Change its status by hand (kept in its history with --reason; priorities and
        /// tickets follow)
        #[arg(long, requires = "reason", value_parser = choice(["accepted", "false_positive", "open", "fixed"]))]
        set: Option<String>,
        /// Why (required with --set)
        #[arg(long)]
        reason: Option<String>,
        /// One JSON object on stdout
        #[arg(long)]
        json: bool,
    },
    /// Score a CVSS v2 / v3.x / v4.0 vector
    #[command(after_help = "Example:\n  ctem cvss CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")]
    Cvss {
        /// The vector, e.g. CVSS:3.1/AV:N/AC:L/...
        vector: String,
        /// One JSON object on stdout
        #[arg(long)]
        json: bool,
    },
    /// What to fix first: open exposures grouped by remediation action, with reasons
    #[command(after_help = "Examples:\n  ctem top --limit 5\n  ctem top --json")]
    Top {
        /// At most this many groups
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// One JSON array on stdout
        #[arg(long)]
        json: bool,
    },
    /// Why an exposure has its priority
    #[command(after_help = "Examples:\n  ctem explain 42\n  ctem explain 42 --json")]
    Explain {
        /// The exposure id
        id: i64,
        /// One JSON object on stdout
        #[arg(long)]
        json: bool,
    },
    /// Re-score every exposure and regroup tickets (after a policy or intel change)
    #[command(
        after_help = "Examples:\n  ctem prioritize\n  ctem --config ctem.toml prioritize --json"
    )]
    Prioritize {
        /// The summary as one JSON object
        #[arg(long)]
        json: bool,
    },
    /// Remediation tickets: list, sync, show, assign, move, comment, push
    #[command(
        after_help = "Examples:\n  ctem tickets --team platform\n  ctem tickets move 7 in_progress\n  ctem tickets push"
    )]
    Tickets(crate::cmd::tickets::TicketsArgs),
    /// Teams, users with roles, ownership rules
    #[command(subcommand)]
    #[command(
        after_help = "Examples:\n  ctem teams add platform --description \"images and code\"\n  ctem teams rule asset_kind container_image platform\n  ctem teams list"
    )]
    Teams(crate::cmd::teams::TeamsCommand),
    /// Run Sigma rules and source alerts over events
    #[command(
        after_help = "Examples:\n  ctem detect --rules sigma/rules events.evtx\n  \
                            zcat eve.json.gz | ctem detect --rules rules/ --json -\n  \
                            ctem detect --rules rules/ --follow --store /var/log/app.jsonl"
    )]
    Detect(DetectArgs),
    /// Trial of a new event source before trusting it: a sample decoded into a scratch
    /// store (never the real one); what it fills, its logsource, the rules it leaves blind,
    /// its time span and skew, and a verdict
    #[command(
        after_help = "Examples:\n  ctem pilot --rules sigma/rules/windows sample.jsonl\n  \
                            ctem pilot --format syslog --json /var/log/auth.log"
    )]
    Pilot(crate::cmd::pilot::PilotArgs),
    /// Work with detection rules
    #[command(subcommand)]
    #[command(
        after_help = "Examples:\n  ctem rules check sigma/rules\n  ctem rules check --json sigma/rules"
    )]
    Rules(RulesCommand),
    /// List stored detection alerts
    #[command(
        after_help = "Examples:\n  ctem alerts --level high\n  ctem alerts --host WIN-01 --json"
    )]
    Alerts {
        /// Minimum level
        #[arg(long, value_parser = choice(["informational", "low", "medium", "high", "critical"]), ignore_case = true)]
        level: Option<String>,
        /// Only alerts of this rule id
        #[arg(long)]
        rule: Option<String>,
        /// Only alerts on this host
        #[arg(long)]
        host: Option<String>,
        /// At most this many, newest first
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// One JSON array on stdout
        #[arg(long)]
        json: bool,
    },
    /// Threat intelligence: import files, refresh feeds, list indicators
    #[command(subcommand)]
    #[command(
        after_help = "Examples:\n  ctem intel import kev.json epss.csv.gz\n  ctem intel update\n  ctem intel indicators --type domain"
    )]
    Intel(IntelCommand),
    /// Share indicators: blocklists for controls, STIX 2.1 for partners
    #[command(subcommand)]
    #[command(
        after_help = "Examples:\n  ctem share blocklist --type domain --format rpz\n  ctem share stix --out bundle.json"
    )]
    Share(ShareCommand),
    /// The package inventory of an asset (from SBOMs: CycloneDX, SPDX)
    #[command(after_help = "Examples:\n  ctem packages 3\n  ctem packages 3 --json")]
    Packages {
        /// Asset id
        asset: i64,
        /// One JSON array on stdout
        #[arg(long)]
        json: bool,
    },
    /// List imports
    #[command(after_help = "Examples:\n  ctem scans\n  ctem scans --json")]
    Scans {
        /// One JSON array on stdout
        #[arg(long)]
        json: bool,
    },
    /// Incidents grouped from alerts (same host or user within a window; [incidents])
    #[command(after_help = "Examples:\n  ctem incidents\n  ctem incidents --json")]
    Incidents {
        /// One JSON array on stdout
        #[arg(long)]
        json: bool,
    },
    /// One incident with its alerts and state history; --set moves it
    #[command(
        after_help = "Examples:\n  ctem incident 3\n  CTEM_USER=ann ctem incident 3 --set contained\n\n\
                      Only users with the incident_responder or admin role may change a state \
                      ($CTEM_USER names the user; unset is the local operator)."
    )]
    Incident {
        /// Incident id
        id: i64,
        /// Move it to this state
        #[arg(long, value_parser = choice(["new", "acknowledged", "contained", "resolved", "false_positive"]))]
        set: Option<String>,
        /// One JSON document on stdout
        #[arg(long)]
        json: bool,
    },
    /// KPIs computed from the store (docs/kpis.md): a value with its sample size, or why not
    #[command(
        after_help = "Examples:\n  ctem kpi\n  ctem kpi --since 2026-01-01 --json\n  ctem kpi --snapshot"
    )]
    Kpi {
        /// One JSON array on stdout
        #[arg(long)]
        json: bool,
        /// Windowed KPIs (MTTD, MTTR, remediation, SLA, incidents) from this date (YYYY-MM-DD)
        #[arg(long, value_parser = date_arg)]
        since: Option<chrono::NaiveDate>,
        /// Write (or replace) today's snapshot for trends
        #[arg(long)]
        snapshot: bool,
    },
    /// Goals of ctem.toml ([[goals]]) with status, value, trend and what moves them
    #[command(after_help = "Examples:\n  ctem goals\n  ctem goals --json")]
    Goals {
        /// One JSON array on stdout
        #[arg(long)]
        json: bool,
    },
    /// The gap-analysis report: coverage, data sources, ATT&CK, posture, goals, top actions
    #[command(
        after_help = "Examples:\n  ctem assess\n  ctem assess --format html --out assessment.html"
    )]
    Assess {
        /// Report format
        #[arg(long, default_value = "md", value_parser = choice(["md", "html"]))]
        format: String,
        /// Write the report here instead of stdout
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// The periodic review: what changed since the last review and what to adapt (recorded)
    #[command(
        after_help = "Examples:\n  ctem review\n  ctem review --since 2026-11-01 --format html --out review.html"
    )]
    Review {
        /// Compare from this date (YYYY-MM-DD); default: the previous review
        #[arg(long, value_parser = date_arg)]
        since: Option<chrono::NaiveDate>,
        /// Report format
        #[arg(long, default_value = "md", value_parser = choice(["md", "html"]))]
        format: String,
        /// Write the report here instead of stdout
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Print a shell completion script
    #[command(
        after_help = "Examples:\n  ctem completions bash > ~/.local/share/bash-completion/completions/ctem\n  \
                            ctem completions zsh > ~/.zfunc/_ctem\n  \
                            ctem completions fish > ~/.config/fish/completions/ctem.fish"
    )]
    Completions {
        /// The shell
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) of ctem or of one command
    #[command(
        after_help = "Examples:\n  ctem man > ctem.1 && man -l ctem.1\n  ctem man import | man -l -"
    )]
    Man {
        /// A command, for its own page (ctem-COMMAND(1))
        command: Option<String>,
    },
    // --- validation (crates/ctem-paths): attack, paths, chokepoints, scenario, coverage ---
    /// ATT&CK techniques in the store, with the rules and exposures linked to them
    #[command(
        subcommand,
        after_help = "Examples:\n  ctem attack techniques --tactic lateral-movement\n  ctem attack show T1059.001 --rules rules/windows"
    )]
    Attack(AttackCommand),
    /// The most likely attack paths to the crown jewels, or the blast radius of one asset
    #[command(
        after_help = "Examples:\n  ctem paths --top 3\n  ctem paths --to db-01 --json\n  ctem paths --from laptop-17"
    )]
    Paths {
        /// Only paths to this crown jewel (id or name)
        #[arg(long, conflicts_with = "from")]
        to: Option<String>,
        /// Blast radius: what an attacker with admin on this asset reaches
        #[arg(long)]
        from: Option<String>,
        /// Paths per crown jewel
        #[arg(long, default_value_t = 3)]
        top: usize,
        /// Machine-readable JSON on stdout
        #[arg(long)]
        json: bool,
    },
    /// The fixes that cut the attack paths: a minimum cut and a greedy ranking
    #[command(
        after_help = "Examples:\n  ctem chokepoints\n  ctem chokepoints --top 5 --paths 20 --json"
    )]
    Chokepoints {
        /// Fixes in the ranking
        #[arg(long, default_value_t = 10)]
        top: usize,
        /// Paths per crown jewel the ranking weighs
        #[arg(long, default_value_t = 10)]
        paths: usize,
        /// Machine-readable JSON on stdout
        #[arg(long)]
        json: bool,
    },
    /// Simulated attack scenarios
    #[command(
        subcommand,
        after_help = "Examples:\n  ctem scenario run examples/scenarios/phishing-to-ransomware.yml --rules examples/scenarios/rules\n  ctem scenario run FILE --exercise"
    )]
    Scenario(ScenarioCommand),
    /// Attack-scenario exercises: tasks per team with acknowledge and complete times
    #[command(
        subcommand,
        after_help = "Examples:\n  ctem exercise list\n  ctem exercise ack 1 2\n  ctem exercise complete 1 2"
    )]
    Exercise(ExerciseCommand),
    /// Detection coverage by ATT&CK technique: rules present, logsource seen, proven by replay
    #[command(
        after_help = "Examples:\n  ctem coverage --rules rules/windows --json\n  ctem coverage --rules rules/windows --replay attack.evtx --navigator layer.json"
    )]
    Coverage {
        /// Sigma rule folders (repeatable)
        #[arg(long = "rules", required = true)]
        rules: Vec<PathBuf>,
        /// Event files replayed through the rules (repeatable)
        #[arg(long)]
        replay: Vec<PathBuf>,
        /// Scenario files whose replay events count too (repeatable)
        #[arg(long)]
        scenario: Vec<PathBuf>,
        /// Write an ATT&CK Navigator layer (format 4.5) here
        #[arg(long)]
        navigator: Option<PathBuf>,
        /// Machine-readable JSON on stdout
        #[arg(long)]
        json: bool,
    },
    // --- end of validation ---
}

// --- validation (crates/ctem-paths) ---
#[derive(Subcommand, Debug)]
pub enum AttackCommand {
    /// List techniques
    Techniques {
        /// Only techniques of this tactic (shortname, e.g. lateral-movement)
        #[arg(long)]
        tactic: Option<String>,
        /// Count the rules tagged with each technique in these folders (repeatable)
        #[arg(long = "rules")]
        rules: Vec<PathBuf>,
        /// Machine-readable JSON on stdout
        #[arg(long)]
        json: bool,
    },
    /// One technique: tactics, data sources, mitigations, detection notes, rules, exposures
    Show {
        /// The technique id (e.g. T1059.001)
        id: String,
        /// Sigma rule folders (repeatable)
        #[arg(long = "rules")]
        rules: Vec<PathBuf>,
        /// Machine-readable JSON on stdout
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum ScenarioCommand {
    /// Evaluate a scenario: per step feasible, detectable, proven, and the team that acts
    Run {
        /// The scenario file (YAML)
        file: PathBuf,
        /// Sigma rule folders (repeatable)
        #[arg(long = "rules")]
        rules: Vec<PathBuf>,
        /// Replay these events for every step (instead of the steps' own files)
        #[arg(long)]
        replay: Option<PathBuf>,
        /// Open an exercise: one task per step for the team that must act
        #[arg(long)]
        exercise: bool,
        /// Machine-readable JSON on stdout
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum ExerciseCommand {
    /// List exercises with their progress
    List {
        /// Machine-readable JSON on stdout
        #[arg(long)]
        json: bool,
    },
    /// One exercise with its tasks and their times
    Show {
        /// The exercise id (see `ctem exercise list`)
        id: i64,
        /// Machine-readable JSON on stdout
        #[arg(long)]
        json: bool,
    },
    /// The team acknowledges a task
    Ack {
        /// The exercise id (see `ctem exercise list`)
        id: i64,
        /// The step number
        step: i64,
        /// Machine-readable JSON on stdout
        #[arg(long)]
        json: bool,
    },
    /// The team completes a task (acknowledging it if it had not)
    Complete {
        /// The exercise id (see `ctem exercise list`)
        id: i64,
        /// The step number
        step: i64,
        /// Machine-readable JSON on stdout
        #[arg(long)]
        json: bool,
    },
}
// --- end of validation ---

#[derive(clap::Args, Debug)]
pub struct DetectArgs {
    /// Sigma rule folders or files (repeatable; default: [detect] rules of ctem.toml, else
    /// none: source alerts and indicator matches only)
    #[arg(long = "rules")]
    pub rules: Vec<PathBuf>,
    /// Event format (auto, jsonl, evtx, suricata, zeek, syslog, auditd), or a stream:
    /// syslog://udp/ADDR:PORT, syslog://tcp/ADDR:PORT, kafka://BROKERS/TOPIC (with --group)
    #[arg(long, default_value = "auto", value_parser = event_input)]
    pub input: String,
    /// Kafka consumer group (--input kafka://...)
    #[arg(long, value_name = "G")]
    pub group: Option<String>,
    /// Also produce alerts to this Kafka topic (--input kafka://...)
    #[arg(long, value_name = "TOPIC")]
    pub alerts_topic: Option<String>,
    /// Streams: messages the bounded queue holds (syslog), or the batch size (kafka)
    #[arg(long, value_name = "N", value_parser = positive())]
    pub queue: Option<usize>,
    /// Streams: stop after this many seconds without a message (default: run until killed)
    #[arg(long, value_name = "SECS")]
    pub exit_idle: Option<f64>,
    /// Worker threads for rule evaluation (at least 1)
    #[arg(long, default_value_t = 1, value_parser = positive())]
    pub threads: usize,
    /// Keep reading the file as it grows (one file, line-based formats)
    #[arg(long)]
    pub follow: bool,
    /// Save alerts in the store (for incidents and MTTD). Whenever the store exists, its
    /// active indicators are matched against every event too.
    #[arg(long)]
    pub store: bool,
    /// One JSON alert a line on stdout (a stream: JSON lines, not an array)
    #[arg(long)]
    pub json: bool,
    /// Print the run summary as the last stdout line (JSON)
    #[arg(long)]
    pub summary: bool,
    /// Parse every rule file again, without the rule cache ([detect] rule_cache)
    #[arg(long)]
    pub no_rule_cache: bool,
    /// Event files or folders (gzip is recognised by its content); - reads standard input;
    /// none with a stream --input
    pub files: Vec<String>,
}

/// `--input` of `detect`: a format name (or an alias the decoder reads), or a stream URL.
fn event_input(s: &str) -> Result<String, String> {
    if s.starts_with("syslog://") {
        return s
            .parse::<ctem_stream::Listen>()
            .map(|_| s.to_string())
            .map_err(|e| e.to_string());
    }
    if s.starts_with("kafka://") {
        #[cfg(feature = "kafka")]
        return ctem_stream::KafkaConfig::from_url(s, "-")
            .map(|_| s.to_string())
            .map_err(|e| e.to_string());
        #[cfg(not(feature = "kafka"))]
        return Err("this ctem was built without Kafka (feature kafka)".into());
    }
    let cmd = clap::Command::new("ctem").arg(clap::Arg::new("input").value_parser(event_formats()));
    match cmd.try_get_matches_from(["ctem", s]) {
        Ok(_) => Ok(s.to_string()),
        Err(_) => Err(format!(
            "{s:?} is no event format (auto, jsonl, evtx, suricata, zeek, syslog, auditd) and no \
             stream (syslog://udp/ADDR:PORT, syslog://tcp/ADDR:PORT, kafka://BROKERS/TOPIC)"
        )),
    }
}

/// Ends the process with a usage error (exit 2) as clap prints its own.
pub fn usage_error(message: &str) -> ! {
    use clap::CommandFactory;
    Cli::command()
        .error(clap::error::ErrorKind::MissingRequiredArgument, message)
        .exit()
}

/// `--input` of `detect`: the names and the aliases the decoder reads.
fn event_formats() -> PossibleValuesParser {
    let shown = [
        "auto", "jsonl", "evtx", "suricata", "zeek", "syslog", "auditd",
    ];
    let aliases = ["json", "suricata_eve", "zeek_json", "zeek_tsv", "cef"];
    PossibleValuesParser::new(
        shown.into_iter().map(PossibleValue::new).chain(
            aliases
                .into_iter()
                .map(|a| PossibleValue::new(a).hide(true)),
        ),
    )
}

#[derive(Subcommand, Debug)]
pub enum RulesCommand {
    /// Parse and compile rules; report what is unsupported and why
    Check {
        /// Rule folders or files
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// The report as one JSON object
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum IntelCommand {
    /// Import KEV, EPSS, ATT&CK, STIX, MISP (event or feed manifest.json), IOC lists, CVE records
    #[command(
        after_help = "Examples:\n  ctem intel import known_exploited_vulnerabilities.json\n  \
                            ctem intel import --kind epss epss_scores-current.csv.gz\n  \
                            curl -s URL | ctem intel import --kind iocs -"
    )]
    Import {
        /// Files, folders (walked recursively) or - for stdin; gzip is recognised by its content
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// What the files hold, or auto to detect it
        #[arg(long, default_value = "auto", value_parser = intel_kinds())]
        kind: String,
        /// The summaries as one JSON array, one object per file
        #[arg(long)]
        json: bool,
    },
    /// Refresh the feeds configured in ctem.toml ([[feeds]]) with conditional GET
    Update {
        /// Fetch even feeds checked within their interval
        #[arg(long)]
        force: bool,
        /// The outcomes as one JSON array, one object per feed
        #[arg(long)]
        json: bool,
    },
    /// List indicators (active ones unless --all)
    Indicators {
        /// Only indicators of this type
        #[arg(long = "type", value_parser = indicator_types())]
        r#type: Option<String>,
        /// Only indicators from this source
        #[arg(long)]
        source: Option<String>,
        /// Include revoked and expired indicators
        #[arg(long)]
        all: bool,
        /// At most this many
        #[arg(long)]
        limit: Option<usize>,
        /// One JSON array on stdout
        #[arg(long)]
        json: bool,
    },
    /// Re-run the enrichment of stored exposures (KEV, EPSS, CVE records)
    Enrich {
        /// The summary as one JSON object
        #[arg(long)]
        json: bool,
    },
}

/// What may be shared (by default nothing above TLP:AMBER, never revoked or expired).
#[derive(clap::Args, Debug, Default)]
pub struct ShareFilterArgs {
    /// Only indicators from this source (repeatable)
    #[arg(long)]
    pub source: Vec<String>,
    /// Only indicators of this type (repeatable)
    #[arg(long = "indicator-type", value_parser = indicator_types())]
    pub indicator_type: Vec<String>,
    /// Only indicators with at least this confidence (0-100)
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub min_confidence: Option<u8>,
    /// The most restrictive TLP allowed out (default amber)
    #[arg(long, value_parser = choice(["clear", "white", "green", "amber", "amber+strict", "red"]), ignore_case = true)]
    pub max_tlp: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum ShareCommand {
    /// Write a blocklist for a control
    #[command(
        after_help = "Examples:\n  ctem share blocklist --type ip --format nftables --out /etc/nftables.d/ctem.nft\n  \
                            ctem share blocklist --type domain --format rpz --max-tlp green"
    )]
    Blocklist {
        /// What to block
        #[arg(long = "type", value_parser = choice(["email", "domain", "ip", "url", "hash"]))]
        r#type: String,
        /// The control's format
        #[arg(long, value_parser = choice(["postfix", "nftables", "rpz", "csv", "plain"]))]
        format: String,
        /// Write here instead of standard output
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        filter: ShareFilterArgs,
    },
    /// Write a CycloneDX 1.6 VEX of the triage decisions on package vulnerabilities
    Vex {
        /// Only this asset (id, name or identifier)
        #[arg(long)]
        asset: Option<String>,
        /// Write here instead of standard output
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Write a STIX 2.1 bundle of the shareable indicators
    Stix {
        /// Write here instead of standard output
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        filter: ShareFilterArgs,
    },
}

/// A `YYYY-MM-DD` date, checked by clap (a bad one is a usage error).
fn date_arg(s: &str) -> Result<chrono::NaiveDate, String> {
    crate::cmd::risk::date(s).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent_and_every_flag_is_described() {
        let cmd = super::Cli::command();
        cmd.clone().debug_assert();
        fn walk(c: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for a in c.get_arguments() {
                let builtin = matches!(a.get_id().as_str(), "help" | "version");
                if !builtin && a.get_help().is_none() {
                    missing.push(format!("{path} --{}", a.get_id()));
                }
            }
            for s in c.get_subcommands() {
                walk(s, &format!("{path} {}", s.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&cmd, "ctem", &mut missing);
        assert!(missing.is_empty(), "flags without help: {missing:?}");
        let no_examples: Vec<&str> = cmd
            .get_subcommands()
            .filter(|c| {
                !c.get_after_help()
                    .is_some_and(|h| h.to_string().starts_with("Example"))
            })
            .map(|c| c.get_name())
            .collect();
        assert!(
            no_examples.is_empty(),
            "--help without examples: {no_examples:?}"
        );
    }

    #[test]
    fn the_blocklist_names_are_the_library_names() {
        use ctem_intel::share::blocklist::{BlocklistFormat, BlocklistType};
        for t in ["email", "domain", "ip", "url", "hash"] {
            assert!(BlocklistType::parse(t).is_some(), "{t}");
        }
        for f in ["postfix", "nftables", "rpz", "csv", "plain"] {
            assert!(BlocklistFormat::parse(f).is_some(), "{f}");
        }
        for f in [
            "auto", "jsonl", "evtx", "suricata", "zeek", "syslog", "json", "cef",
        ] {
            assert!(f.parse::<ctem_detect::decode::Format>().is_ok(), "{f}");
        }
    }
}
