//! Asset context: the facts about an asset that prioritisation weighs (criticality, network
//! zone, internet-facing, owning team, environment), where each came from, and the rules
//! that set them.
//!
//! A fact has one of four sources, and the first that knows it decides:
//! 1. **inventory**: an inventory import (`--format inventory`, a CMDB export) said so for
//!    this very asset;
//! 2. **rule**: the first matching context rule (`[[context.rules]]` in `ctem.toml`) that sets
//!    the fact, or for the team the first matching ownership rule;
//! 3. **scanner**: a scanner reported it (an external-vantage port scan marks the hosts it
//!    reached internet-facing);
//! 4. **default**: nobody knows; the risk model leaves an unknown fact out of the score.
//!
//! Rules are tried in one documented order (docs/risk-model.md): a higher explicit `priority`
//! first, then the more specific rule first ([`specificity`]), then file order. So a broad
//! `kind = "host"` rule never shadows a later `name = "testphp*"` rule, whatever the order
//! they were written in. Ownership rules ([`crate::work::OwnershipRule`]) are ordered the
//! same way ([`crate::work::route`]).

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::work::{OwnershipRule, RuleKind, glob};
use crate::{Asset, IdentifierKind};

/// Where a fact about an asset came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FactSource {
    /// An inventory import named this asset and stated the fact.
    Inventory,
    /// A context or ownership rule matched the asset.
    Rule,
    /// A scanner reported it.
    Scanner,
    /// Nobody stated it.
    Default,
}

/// The facts an asset's stored values came from, by fact name (`criticality`, `zone`,
/// `internet_facing`, `team`, `environment`). A stored value with no entry came from a
/// scanner.
pub type FactSources = BTreeMap<String, FactSource>;

/// The fact names, in the order listings show them.
pub const FACTS: [&str; 5] = [
    "criticality",
    "zone",
    "internet_facing",
    "team",
    "environment",
];

/// A context rule as written in `ctem.toml`:
///
/// ```toml
/// [[context.rules]]
/// cidr = "203.0.113.0/24"   # matchers: cidr, name, tag, kind, source (all given must hold)
/// internet_facing = true    # facts: criticality, zone, internet_facing, team
/// zone = "dmz"
/// priority = 10             # optional: higher first; default 0
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContextRule {
    /// An IPv4 or IPv6 network (`10.0.0.0/8`) or address containing one of the asset's
    /// addresses.
    pub cidr: Option<String>,
    /// A glob on the asset's name.
    pub name: Option<String>,
    /// A glob one of the asset's tags matches.
    pub tag: Option<String>,
    /// A glob on the asset kind (`host`, `container_image`, ...).
    pub kind: Option<String>,
    /// A glob on a tool that reported the asset (`nmap`, `trivy`, `inventory`...).
    pub source: Option<String>,
    /// Tried before rules of a lower priority (default 0).
    pub priority: Option<i64>,
    /// Sets criticality, 1 (lowest) to 5 (crown jewel).
    pub criticality: Option<u8>,
    /// Sets the network zone (`internet`, `dmz`, `internal`, `restricted`, `isolated`...).
    pub zone: Option<String>,
    /// Sets whether the asset is reachable from the internet.
    pub internet_facing: Option<bool>,
    /// Sets the owning team.
    pub team: Option<String>,
}

/// A rule that cannot be used, with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// `context rule 2` or `ownership rule 5`.
    pub rule: String,
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.rule, self.message)
    }
}

impl std::error::Error for RuleError {}

/// An IP network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Reads `10.0.0.0/8`, `2001:db8::/32` or a bare address (a /32 or /128).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.trim().parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.trim().parse::<u8>().ok().filter(|p| *p <= max)?,
            None => max,
        };
        Some(Cidr { addr, prefix })
    }

    /// Whether `ip` is inside the network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }

    /// Prefix bits on the IPv4 scale (an IPv6 prefix counts a quarter).
    fn weight(&self) -> u32 {
        let p = u32::from(self.prefix);
        if self.addr.is_ipv4() { p } else { p / 4 }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Matcher {
    Cidr(Cidr),
    Name(String),
    Repository(String),
    Tag(String),
    Zone(String),
    Source(String),
    Kind(String),
}

/// Literal (non-wildcard) characters of a glob.
fn literal_len(p: &str) -> u32 {
    p.chars().filter(|c| *c != '*' && *c != '?').count().min(99) as u32
}

impl Matcher {
    /// How narrowly the matcher picks assets (docs/risk-model.md, "rule order").
    fn specificity(&self) -> u32 {
        match self {
            Matcher::Name(p) | Matcher::Repository(p) => {
                let exact = if p.contains(['*', '?']) { 0 } else { 100 };
                100 + exact + literal_len(p)
            }
            Matcher::Cidr(c) => 100 + c.weight(),
            Matcher::Tag(_) => 60,
            Matcher::Zone(_) => 50,
            Matcher::Source(_) => 30,
            Matcher::Kind(_) => 10,
        }
    }

    fn matches(&self, asset: &Asset, tools: &[String]) -> bool {
        match self {
            Matcher::Cidr(c) => addresses(asset).any(|ip| c.contains(ip)),
            Matcher::Name(p) => glob(p, &asset.name),
            Matcher::Repository(p) => {
                asset.kind == crate::AssetKind::Repository
                    && (glob(p, &asset.name)
                        || asset
                            .identifiers
                            .iter()
                            .any(|i| i.kind == IdentifierKind::RepoUrl && glob(p, &i.value)))
            }
            Matcher::Tag(p) => asset.tags.iter().any(|t| glob(p, t)),
            Matcher::Zone(p) => asset.zone.as_deref().is_some_and(|z| glob(p, z)),
            Matcher::Source(p) => tools.iter().any(|t| glob(p, t)),
            Matcher::Kind(p) => glob(p, asset.kind.as_str()),
        }
    }

    fn label(&self) -> String {
        match self {
            Matcher::Cidr(c) => format!("cidr {}/{}", c.addr, c.prefix),
            Matcher::Name(p) => format!("name {p}"),
            Matcher::Repository(p) => format!("repository {p}"),
            Matcher::Tag(p) => format!("tag {p}"),
            Matcher::Zone(p) => format!("zone {p}"),
            Matcher::Source(p) => format!("source {p}"),
            Matcher::Kind(p) => format!("kind {p}"),
        }
    }
}

/// The IP addresses of an asset: its address identifiers, and its name when it is one.
fn addresses(asset: &Asset) -> impl Iterator<Item = IpAddr> + '_ {
    asset
        .identifiers
        .iter()
        .filter(|i| matches!(i.kind, IdentifierKind::Ipv4 | IdentifierKind::Ipv6))
        .map(|i| i.value.as_str())
        .chain(std::iter::once(asset.name.as_str()))
        .filter_map(|v| v.parse().ok())
}

/// The specificity of an ownership rule alone (its one matcher).
pub fn specificity(rule: &OwnershipRule) -> u32 {
    ownership_matcher(rule).specificity()
}

fn ownership_matcher(rule: &OwnershipRule) -> Matcher {
    let p = rule.pattern.clone();
    match rule.kind {
        RuleKind::Tag => Matcher::Tag(p),
        RuleKind::Zone => Matcher::Zone(p),
        RuleKind::Name => Matcher::Name(p),
        RuleKind::Repository => Matcher::Repository(p),
        RuleKind::AssetKind => Matcher::Kind(p),
    }
}

/// What a rule sets.
#[derive(Debug, Clone, Default, PartialEq)]
struct Sets {
    criticality: Option<u8>,
    zone: Option<String>,
    internet_facing: Option<bool>,
    team: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
struct Compiled {
    matchers: Vec<Matcher>,
    priority: i64,
    specificity: u32,
    position: usize,
    sets: Sets,
    label: String,
}

impl Compiled {
    fn matches(&self, asset: &Asset, tools: &[String]) -> bool {
        self.matchers.iter().all(|m| m.matches(asset, tools))
    }
}

/// One fact with its source and, for a rule, which rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fact<T> {
    pub value: Option<T>,
    pub source: FactSource,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

impl<T> Fact<T> {
    fn default_() -> Self {
        Fact {
            value: None,
            source: FactSource::Default,
            rule: None,
        }
    }
}

/// An asset's effective context, each fact with its source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AssetContext {
    pub criticality: Fact<u8>,
    pub zone: Fact<String>,
    pub internet_facing: Fact<bool>,
    pub team: Fact<String>,
    pub environment: Fact<String>,
}

/// Context and ownership rules in their one order, ready to resolve assets.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContextRules {
    rules: Vec<Compiled>,
}

fn compile_context(i: usize, r: &ContextRule) -> Result<Compiled, RuleError> {
    let err = |message: String| RuleError {
        rule: format!("context rule {}", i + 1),
        message,
    };
    let mut matchers = Vec::new();
    if let Some(c) = &r.cidr {
        let c = Cidr::parse(c).ok_or_else(|| err(format!("{c:?} is not an IP network")))?;
        matchers.push(Matcher::Cidr(c));
    }
    for (v, f) in [
        (&r.name, Matcher::Name as fn(String) -> Matcher),
        (&r.tag, Matcher::Tag),
        (&r.kind, Matcher::Kind),
        (&r.source, Matcher::Source),
    ] {
        if let Some(p) = v.as_deref().filter(|p| !p.trim().is_empty()) {
            matchers.push(f(p.trim().to_owned()));
        }
    }
    if matchers.is_empty() {
        return Err(err(
            "matches nothing: give cidr, name, tag, kind or source".into()
        ));
    }
    if let Some(c) = r.criticality
        && !(1..=5).contains(&c)
    {
        return Err(err(format!("criticality {c} is not 1-5")));
    }
    let sets = Sets {
        criticality: r.criticality,
        zone: r.zone.clone().filter(|z| !z.trim().is_empty()),
        internet_facing: r.internet_facing,
        team: r.team.clone().filter(|t| !t.trim().is_empty()),
    };
    if sets == Sets::default() {
        return Err(err(
            "sets nothing: give criticality, zone, internet_facing or team".into(),
        ));
    }
    let label = matchers
        .iter()
        .map(Matcher::label)
        .collect::<Vec<_>>()
        .join(" and ");
    Ok(Compiled {
        specificity: matchers.iter().map(Matcher::specificity).sum(),
        matchers,
        priority: r.priority.unwrap_or(0),
        position: i,
        sets,
        label,
    })
}

fn order(a: &Compiled, b: &Compiled) -> std::cmp::Ordering {
    b.priority
        .cmp(&a.priority)
        .then(b.specificity.cmp(&a.specificity))
        .then(a.position.cmp(&b.position))
}

impl ContextRules {
    /// Compiles context rules (in file order) and ownership rules (in their stored order,
    /// after the context rules for ties) into the one order.
    pub fn build(context: &[ContextRule], ownership: &[OwnershipRule]) -> Result<Self, RuleError> {
        let mut rules = Vec::with_capacity(context.len() + ownership.len());
        for (i, r) in context.iter().enumerate() {
            rules.push(compile_context(i, r)?);
        }
        for (i, r) in ownership.iter().enumerate() {
            let m = ownership_matcher(r);
            rules.push(Compiled {
                specificity: m.specificity(),
                label: format!("ownership {}", m.label()),
                matchers: vec![m],
                priority: r.priority.unwrap_or(0),
                position: context.len() + i,
                sets: Sets {
                    team: Some(r.team.clone()),
                    ..Sets::default()
                },
            });
        }
        rules.sort_by(order);
        Ok(ContextRules { rules })
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether any rule matches on the tools that reported an asset (the caller then loads
    /// them).
    pub fn uses_sources(&self) -> bool {
        self.rules
            .iter()
            .any(|r| r.matchers.iter().any(|m| matches!(m, Matcher::Source(_))))
    }

    /// Whether any rule matches on addresses (the caller then loads address identifiers).
    pub fn uses_addresses(&self) -> bool {
        self.rules
            .iter()
            .any(|r| r.matchers.iter().any(|m| matches!(m, Matcher::Cidr(_))))
    }

    /// The effective context of `asset` whose stored facts came from `stored`, reported by
    /// `tools`.
    pub fn resolve(&self, asset: &Asset, stored: &FactSources, tools: &[String]) -> AssetContext {
        let matching: Vec<&Compiled> = self
            .rules
            .iter()
            .filter(|r| r.matches(asset, tools))
            .collect();
        let from_inventory = |fact: &str| stored.get(fact) == Some(&FactSource::Inventory);
        fn pick<T: Clone>(
            stored_value: Option<T>,
            inventory: bool,
            matching: &[&Compiled],
            get: impl Fn(&Sets) -> Option<T>,
        ) -> Fact<T> {
            if inventory && stored_value.is_some() {
                return Fact {
                    value: stored_value,
                    source: FactSource::Inventory,
                    rule: None,
                };
            }
            if let Some((r, v)) = matching.iter().find_map(|r| get(&r.sets).map(|v| (r, v))) {
                return Fact {
                    value: Some(v),
                    source: FactSource::Rule,
                    rule: Some(r.label.clone()),
                };
            }
            match stored_value {
                Some(v) => Fact {
                    value: Some(v),
                    source: FactSource::Scanner,
                    rule: None,
                },
                None => Fact::default_(),
            }
        }
        AssetContext {
            criticality: pick(
                asset.criticality,
                from_inventory("criticality"),
                &matching,
                |s| s.criticality,
            ),
            zone: pick(asset.zone.clone(), from_inventory("zone"), &matching, |s| {
                s.zone.clone()
            }),
            internet_facing: pick(
                asset.internet_facing,
                from_inventory("internet_facing"),
                &matching,
                |s| s.internet_facing,
            ),
            team: pick(
                asset.owner_team.clone().filter(|t| !t.is_empty()),
                from_inventory("team"),
                &matching,
                |s| s.team.clone(),
            ),
            environment: pick(
                asset.environment.clone(),
                from_inventory("environment"),
                &matching,
                |_| None,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AssetKind, Identifier};

    fn host(name: &str, ip: &str) -> Asset {
        Asset::new(AssetKind::Host, name).with_identifier(Identifier::new(IdentifierKind::Ipv4, ip))
    }

    #[test]
    fn cidr_contains_v4_and_v6() {
        let c = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(c.contains("10.1.200.3".parse().unwrap()));
        assert!(!c.contains("10.2.0.1".parse().unwrap()));
        assert!(!c.contains("::1".parse().unwrap()));
        assert!(
            Cidr::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        let v6 = Cidr::parse("2001:db8::/32").unwrap();
        assert!(v6.contains("2001:db8:1::5".parse().unwrap()));
        assert!(
            Cidr::parse("10.0.0.1")
                .unwrap()
                .contains("10.0.0.1".parse().unwrap())
        );
        assert_eq!(Cidr::parse("10.0.0.0/33"), None);
        assert_eq!(Cidr::parse("nope/8"), None);
    }

    #[test]
    fn more_specific_rules_win_whatever_the_file_order() {
        let broad = ContextRule {
            kind: Some("host".into()),
            criticality: Some(2),
            team: Some("it".into()),
            ..ContextRule::default()
        };
        let narrow = ContextRule {
            name: Some("testphp*".into()),
            criticality: Some(4),
            ..ContextRule::default()
        };
        let rules = ContextRules::build(&[broad, narrow], &[]).unwrap();
        let ctx = rules.resolve(
            &host("testphp.vulnweb.com", "44.228.249.3"),
            &FactSources::new(),
            &[],
        );
        assert_eq!(ctx.criticality.value, Some(4));
        assert_eq!(ctx.criticality.rule.as_deref(), Some("name testphp*"));
        // the narrow rule does not set a team: the broad one still does
        assert_eq!(ctx.team.value.as_deref(), Some("it"));
        assert_eq!(ctx.team.source, FactSource::Rule);
        let other = rules.resolve(&host("db01", "10.0.0.5"), &FactSources::new(), &[]);
        assert_eq!(other.criticality.value, Some(2));
    }

    #[test]
    fn explicit_priority_beats_specificity() {
        let broad = ContextRule {
            cidr: Some("0.0.0.0/0".into()),
            zone: Some("internal".into()),
            priority: Some(5),
            ..ContextRule::default()
        };
        let narrow = ContextRule {
            name: Some("web01".into()),
            zone: Some("dmz".into()),
            ..ContextRule::default()
        };
        let rules = ContextRules::build(&[narrow, broad], &[]).unwrap();
        let ctx = rules.resolve(&host("web01", "10.0.0.1"), &FactSources::new(), &[]);
        assert_eq!(ctx.zone.value.as_deref(), Some("internal"));
    }

    #[test]
    fn inventory_beats_rules_beat_scanners() {
        let rules = ContextRules::build(
            &[ContextRule {
                cidr: Some("10.0.0.0/8".into()),
                criticality: Some(3),
                internet_facing: Some(false),
                ..ContextRule::default()
            }],
            &[],
        )
        .unwrap();
        let mut a = host("db01", "10.0.0.5");
        a.criticality = Some(5);
        a.internet_facing = Some(true);
        a.zone = Some("dmz".into());
        let stored: FactSources = [("criticality".to_string(), FactSource::Inventory)].into();
        let ctx = rules.resolve(&a, &stored, &[]);
        assert_eq!(
            (ctx.criticality.value, ctx.criticality.source),
            (Some(5), FactSource::Inventory)
        );
        assert_eq!(
            (ctx.internet_facing.value, ctx.internet_facing.source),
            (Some(false), FactSource::Rule)
        );
        assert_eq!(ctx.zone.source, FactSource::Scanner);
        assert_eq!(ctx.team.source, FactSource::Default);
        assert_eq!(ctx.team.value, None);
    }

    #[test]
    fn source_and_tag_matchers() {
        let rules = ContextRules::build(
            &[ContextRule {
                source: Some("nmap".into()),
                tag: Some("pci*".into()),
                criticality: Some(4),
                ..ContextRule::default()
            }],
            &[],
        )
        .unwrap();
        assert!(rules.uses_sources() && !rules.uses_addresses());
        let mut a = host("h", "10.0.0.1");
        a.tags = vec!["pci-dss".into()];
        let tools = vec!["nmap".to_string()];
        assert_eq!(
            rules
                .resolve(&a, &FactSources::new(), &tools)
                .criticality
                .value,
            Some(4)
        );
        assert_eq!(
            rules
                .resolve(&a, &FactSources::new(), &[])
                .criticality
                .value,
            None
        );
    }

    #[test]
    fn bad_rules_name_their_place() {
        for (r, want) in [
            (ContextRule::default(), "matches nothing"),
            (
                ContextRule {
                    name: Some("x".into()),
                    ..ContextRule::default()
                },
                "sets nothing",
            ),
            (
                ContextRule {
                    cidr: Some("10.0.0.0/40".into()),
                    criticality: Some(3),
                    ..ContextRule::default()
                },
                "not an IP network",
            ),
            (
                ContextRule {
                    name: Some("x".into()),
                    criticality: Some(7),
                    ..ContextRule::default()
                },
                "not 1-5",
            ),
        ] {
            let e = ContextRules::build(&[r], &[]).unwrap_err();
            assert_eq!(e.rule, "context rule 1");
            assert!(e.to_string().contains(want), "{e}");
        }
    }
}
