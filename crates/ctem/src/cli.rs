//! Argument definitions (clap derive).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "ctem", version, about = "Continuous Threat Exposure Management", long_about = None)]
pub struct Cli {
    /// The store: a path, sqlite://PATH or postgres://... (default: $CTEM_DB, else
    /// [store] url of the settings, else ctem.db)
    #[arg(long, global = true)]
    pub db: Option<String>,
    /// Settings file (default: $CTEM_CONFIG, else ./ctem.toml when present)
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Build a fresh store from the bundled sample environment and show what it finds
    Demo {
        /// Folder for the demo store (default: a new demo-* folder here)
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// List the registered input formats
    Formats {
        #[arg(long)]
        json: bool,
    },
    /// Import scanner reports and inventories
    Import {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Format name, or auto to detect it from the content
        #[arg(long, default_value = "auto")]
        format: String,
        /// Lifecycle scope: the report covers all of it (see docs/data-model.md)
        #[arg(long)]
        scope: Option<String>,
        /// Fail (and import nothing from that file) when any record has an issue
        #[arg(long)]
        strict: bool,
        #[arg(long)]
        json: bool,
    },
    /// List assets
    Assets {
        /// host, container_image, cloud_resource, repository, application, identity
        #[arg(long)]
        kind: Option<String>,
        /// Substring of the name or of any identifier
        #[arg(long)]
        search: Option<String>,
        #[arg(long)]
        tag: Option<String>,
        #[arg(long)]
        limit: Option<usize>,
        #[arg(long)]
        json: bool,
    },
    /// List exposures
    #[command(after_help = crate::cmd::gate::EXIT_CODES_HELP)]
    Exposures {
        /// Minimum severity: info, low, medium, high, critical
        #[arg(long)]
        severity: Option<String>,
        /// open, reopened, fixed, accepted, false_positive; active (open or reopened, the
        /// default) or all
        #[arg(long, default_value = "active")]
        status: String,
        /// Asset id, name or identifier
        #[arg(long)]
        asset: Option<String>,
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
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        output: crate::cmd::gate::OutputArgs,
    },
    /// CI gate: list open exposures at or above --fail-on; exit 3 when there are any
    #[command(after_help = crate::cmd::gate::EXIT_CODES_HELP)]
    Gate(crate::cmd::gate::GateArgs),
    /// Show one exposure with its sources and status history
    Exposure {
        id: i64,
        /// Change its status by hand: accepted, false_positive, open, fixed (kept in its
        /// history with --reason; priorities and tickets follow)
        #[arg(long, requires = "reason")]
        set: Option<String>,
        /// Why (required with --set)
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Score a CVSS v2 / v3.x / v4.0 vector
    Cvss {
        vector: String,
        #[arg(long)]
        json: bool,
    },
    /// What to fix first: open exposures grouped by remediation action, with reasons
    Top {
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Why an exposure has its priority
    Explain {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Re-score every exposure and regroup tickets (after a policy or intel change)
    Prioritize {
        #[arg(long)]
        json: bool,
    },
    /// Remediation tickets: list, sync, show, assign, move, comment, push
    Tickets(crate::cmd::tickets::TicketsArgs),
    /// Teams, users with roles, ownership rules
    #[command(subcommand)]
    Teams(crate::cmd::teams::TeamsCommand),
    /// Run Sigma rules and source alerts over events
    Detect(DetectArgs),
    /// Work with detection rules
    #[command(subcommand)]
    Rules(RulesCommand),
    /// List stored detection alerts
    Alerts {
        /// Minimum level: low, medium, high, critical
        #[arg(long)]
        level: Option<String>,
        #[arg(long)]
        rule: Option<String>,
        #[arg(long)]
        host: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Threat intelligence: import files, refresh feeds, list indicators
    #[command(subcommand)]
    Intel(IntelCommand),
    /// Share indicators: blocklists for controls, STIX 2.1 for partners
    #[command(subcommand)]
    Share(ShareCommand),
    /// The package inventory of an asset (from SBOMs: CycloneDX, SPDX)
    Packages {
        /// Asset id
        asset: i64,
        #[arg(long)]
        json: bool,
    },
    /// List imports
    Scans {
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args, Debug)]
pub struct DetectArgs {
    /// Sigma rule folders or files (repeatable)
    #[arg(long = "rules")]
    pub rules: Vec<PathBuf>,
    /// Event format: auto, jsonl, evtx, suricata, zeek, syslog
    #[arg(long, default_value = "auto")]
    pub input: String,
    /// Worker threads for rule evaluation
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Keep reading the file as it grows (one file, line-based formats)
    #[arg(long)]
    pub follow: bool,
    /// Save alerts in the store (for incidents and MTTD). Whenever the store exists, its
    /// active indicators are matched against every event too.
    #[arg(long)]
    pub store: bool,
    /// One JSON alert a line on stdout
    #[arg(long)]
    pub json: bool,
    /// Print the run summary as the last stdout line (JSON)
    #[arg(long)]
    pub summary: bool,
    /// Event files or folders; - reads standard input
    #[arg(required = true)]
    pub files: Vec<String>,
}

#[derive(Subcommand, Debug)]
pub enum RulesCommand {
    /// Parse and compile rules; report what is unsupported and why
    Check {
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum IntelCommand {
    /// Import KEV, EPSS, ATT&CK, STIX, MISP (event or feed manifest.json), IOC lists, CVE records
    Import {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// auto, kev, epss, attack, stix, misp, iocs or cve
        #[arg(long, default_value = "auto")]
        kind: String,
        #[arg(long)]
        json: bool,
    },
    /// Refresh the feeds configured in ctem.toml ([[feeds]]) with conditional GET
    Update {
        /// Fetch even feeds checked within their interval
        #[arg(long)]
        force: bool,
        #[arg(long)]
        json: bool,
    },
    /// List indicators (active ones unless --all)
    Indicators {
        /// ipv4, ipv6, cidr, domain, url, email, md5, sha1, sha256, sha512, filename, pattern
        #[arg(long = "type")]
        r#type: Option<String>,
        #[arg(long)]
        source: Option<String>,
        /// Include revoked and expired indicators
        #[arg(long)]
        all: bool,
        #[arg(long)]
        limit: Option<usize>,
        #[arg(long)]
        json: bool,
    },
    /// Re-run the enrichment of stored exposures (KEV, EPSS, CVE records)
    Enrich {
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
    /// Only indicators of this type (repeatable): ipv4, domain, sha256, ...
    #[arg(long = "indicator-type")]
    pub indicator_type: Vec<String>,
    /// Only indicators with at least this confidence (0-100)
    #[arg(long)]
    pub min_confidence: Option<u8>,
    /// The most restrictive TLP allowed out: clear, green, amber (default), amber+strict, red
    #[arg(long)]
    pub max_tlp: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum ShareCommand {
    /// Write a blocklist for a control
    Blocklist {
        /// email, domain, ip, url or hash
        #[arg(long = "type")]
        r#type: String,
        /// postfix, nftables, rpz, csv or plain
        #[arg(long)]
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
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        filter: ShareFilterArgs,
    },
}
