//! The environment model: assets with their context (zone, criticality, internet-facing,
//! tags, owner), the exposures on them with what makes them likely to be exploited, and the
//! declared reachability of `[paths]` in `ctem.toml`.

use std::collections::{BTreeMap, HashMap};

use ctem_model::{Asset, Exposure, ExposureKind, Service};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The zone of assets that name none.
pub const DEFAULT_ZONE: &str = "default";
/// The pseudo-zone of the attacker on the internet.
pub const INTERNET: &str = "internet";

/// `[[paths.reach]]`: hosts of zone `from` reach hosts of zone `to` on `ports` (all ports
/// when empty).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReachRule {
    pub from: String,
    pub to: String,
    #[serde(default)]
    pub ports: Vec<u16>,
}

/// `[[paths.credentials]]`: assets that share an administrative credential (a local admin
/// password, a domain admin session): admin on one lets an attacker log on to the others.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CredentialGroup {
    pub name: String,
    /// Selectors (see [`Selector`]).
    pub members: Vec<String>,
}

/// `[[paths.assets]]`: asset context set in `ctem.toml` (until an inventory says it).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AssetContext {
    /// A selector (see [`Selector`]).
    #[serde(rename = "match")]
    pub matches: String,
    pub zone: Option<String>,
    pub criticality: Option<u8>,
    pub internet_facing: Option<bool>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub owner: Option<String>,
}

/// The `[paths]` section of `ctem.toml`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PathsConfig {
    /// Assets with one of these tags are crown jewels (as are assets of criticality 5).
    pub crown_jewel_tags: Vec<String>,
    /// Selectors of user workstations: phishing entry points.
    pub phishing: Vec<String>,
    /// Likelihood that a phishing mail gives code execution on a workstation.
    pub phishing_likelihood: f64,
    /// The privilege a phished user runs with: `user`, or `admin` where users are local
    /// administrators of their workstations.
    pub phishing_privilege: String,
    /// Likelihood of dumping a shared credential on an admin host and reusing it.
    pub lateral_likelihood: f64,
    /// Ports credential reuse needs (SSH, SMB, RDP, WinRM).
    pub admin_ports: Vec<u16>,
    /// Whether hosts of one zone reach each other on every port (the usual flat LAN).
    pub intra_zone: bool,
    pub reach: Vec<ReachRule>,
    pub credentials: Vec<CredentialGroup>,
    pub assets: Vec<AssetContext>,
}

impl Default for PathsConfig {
    fn default() -> Self {
        PathsConfig {
            crown_jewel_tags: vec!["crown-jewel".into()],
            phishing: vec!["tag:workstation".into(), "zone:workstations".into()],
            phishing_likelihood: 0.3,
            phishing_privilege: "user".into(),
            lateral_likelihood: 0.5,
            admin_ports: vec![22, 135, 445, 3389, 5985, 5986],
            intra_zone: true,
            reach: Vec::new(),
            credentials: Vec::new(),
            assets: Vec::new(),
        }
    }
}

impl PathsConfig {
    /// Checks likelihoods and selectors.
    pub fn validate(&self) -> Result<()> {
        for (field, p) in [
            ("phishing_likelihood", self.phishing_likelihood),
            ("lateral_likelihood", self.lateral_likelihood),
        ] {
            if !(p > 0.0 && p <= 1.0) {
                return Err(Error::Config {
                    field: field.into(),
                    message: format!("{p} is not a likelihood in (0, 1]"),
                });
            }
        }
        if !matches!(self.phishing_privilege.as_str(), "user" | "admin") {
            return Err(Error::Config {
                field: "phishing_privilege".into(),
                message: format!("{:?} is neither user nor admin", self.phishing_privilege),
            });
        }
        let sels = self
            .phishing
            .iter()
            .map(|s| ("phishing", s))
            .chain(
                self.credentials
                    .iter()
                    .flat_map(|c| c.members.iter().map(|m| ("credentials.members", m))),
            )
            .chain(self.assets.iter().map(|a| ("assets.match", &a.matches)));
        for (field, s) in sels {
            Selector::parse(s).map_err(|message| Error::Config {
                field: field.into(),
                message,
            })?;
        }
        for a in &self.assets {
            if let Some(c) = a.criticality
                && !(1..=5).contains(&c)
            {
                return Err(Error::Config {
                    field: "assets.criticality".into(),
                    message: format!("{c} is not in 1-5"),
                });
            }
        }
        Ok(())
    }
}

/// `tag:NAME`, `zone:NAME`, `name:GLOB`, `kind:KIND` or `id:N`; `*` and `?` are wildcards,
/// case-insensitive.
#[derive(Debug, Clone, PartialEq)]
pub enum Selector {
    Tag(String),
    Zone(String),
    Name(String),
    Kind(String),
    Id(i64),
}

impl Selector {
    pub fn parse(s: &str) -> std::result::Result<Self, String> {
        let (k, v) = s.split_once(':').ok_or_else(|| {
            format!("selector {s:?} is not KEY:VALUE (tag, zone, name, kind, id)")
        })?;
        let v = v.trim().to_ascii_lowercase();
        Ok(match k.trim() {
            "tag" => Selector::Tag(v),
            "zone" => Selector::Zone(v),
            "name" => Selector::Name(v),
            "kind" => Selector::Kind(v),
            "id" => Selector::Id(v.parse().map_err(|_| format!("selector {s:?}: bad id"))?),
            other => return Err(format!("selector {s:?}: unknown key {other:?}")),
        })
    }

    pub fn matches(&self, a: &EnvAsset) -> bool {
        match self {
            Selector::Tag(t) => a.tags.iter().any(|x| glob(t, &x.to_ascii_lowercase())),
            Selector::Zone(z) => glob(z, &a.zone.to_ascii_lowercase()),
            Selector::Name(n) => glob(n, &a.name.to_ascii_lowercase()),
            Selector::Kind(k) => glob(k, &a.kind),
            Selector::Id(i) => a.id == *i,
        }
    }
}

/// Glob with `*` and `?` (inputs already lower case).
pub fn glob(p: &str, s: &str) -> bool {
    let (p, s) = (p.as_bytes(), s.as_bytes());
    let (mut pi, mut si, mut star, mut mark) = (0, 0, None, 0);
    while si < s.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = si;
            pi += 1;
        } else if let Some(st) = star {
            pi = st + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// An asset as the attack graph sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnvAsset {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub zone: String,
    pub criticality: Option<u8>,
    pub internet_facing: bool,
    pub tags: Vec<String>,
    pub owner: Option<String>,
    /// Open TCP/UDP ports known from scans.
    pub ports: Vec<u16>,
}

/// Where an exploit runs from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Vector {
    /// Over the network, from any zone that reaches the port.
    Network,
    /// From the same network segment only.
    Adjacent,
    /// With code execution on the asset already: privilege escalation.
    Local,
    /// Leaks a credential of the asset's credential groups.
    Credential,
}

/// An exposure as the attack graph sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnvExposure {
    pub id: i64,
    pub asset: i64,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cve: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    pub vector: Vector,
    pub kev: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epss: Option<f64>,
    /// CVSS exploitability normalised to 0-1 (v3 `8.22 AV AC PR UI / 3.887`), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exploitability: Option<f64>,
    pub severity: String,
    /// Likelihood of a successful exploit, see [`likelihood`].
    pub likelihood: f64,
}

/// The likelihood that an attacker in position exploits an exposure:
/// `1 - (1 - kev)(1 - epss)(1 - 0.3 x exploitability)`, with `kev` 0.9 for a CISA KEV entry,
/// `epss` the FIRST EPSS probability, `exploitability` the CVSS exploitability (0-1), or by
/// severity when there is no vector (critical 1, high 0.7, medium 0.4, low 0.2); kept in
/// [0.01, 0.99].
pub fn likelihood(
    kev: bool,
    epss: Option<f64>,
    exploitability: Option<f64>,
    severity: &str,
) -> f64 {
    let e = exploitability.unwrap_or(match severity {
        "critical" => 1.0,
        "high" => 0.7,
        "medium" => 0.4,
        "low" => 0.2,
        _ => 0.1,
    });
    let miss = (1.0 - if kev { 0.9 } else { 0.0 })
        * (1.0 - epss.unwrap_or(0.0).clamp(0.0, 1.0))
        * (1.0 - 0.3 * e.clamp(0.0, 1.0));
    (1.0 - miss).clamp(0.01, 0.99)
}

/// Attack vector and normalised exploitability of a CVSS v3.x / v4.0 vector.
pub fn cvss_exploitability(vector: &str) -> Option<(Vector, f64)> {
    let mut m: HashMap<&str, &str> = HashMap::new();
    for part in vector.split('/') {
        if let Some((k, v)) = part.split_once(':') {
            m.insert(k, v);
        }
    }
    let (av, avw) = match *m.get("AV")? {
        "N" => (Vector::Network, 0.85),
        "A" => (Vector::Adjacent, 0.62),
        "L" => (Vector::Local, 0.55),
        "P" => (Vector::Local, 0.2),
        _ => return None,
    };
    let ac = if m.get("AC") == Some(&"H") {
        0.44
    } else {
        0.77
    };
    let pr = match m.get("PR").copied() {
        Some("H") => 0.27,
        Some("L") => 0.62,
        _ => 0.85,
    };
    let ui = match m.get("UI").copied() {
        Some("R") | Some("A") | Some("P") => 0.62,
        _ => 0.85,
    };
    let e: f64 = 8.22 * avw * ac * pr * ui / 3.887;
    Some((av, e.min(1.0)))
}

/// The environment: assets by id and their exposures.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    pub assets: Vec<EnvAsset>,
    pub exposures: Vec<EnvExposure>,
}

impl Environment {
    /// Builds the model from stored assets, their open services and active exposures,
    /// applying the `[[paths.assets]]` context (config wins over what the store says).
    pub fn from_model(
        assets: &[Asset],
        services: &HashMap<i64, Vec<Service>>,
        exposures: &[Exposure],
        cfg: &PathsConfig,
    ) -> Result<Self> {
        cfg.validate()?;
        let ctx: Vec<(Selector, &AssetContext)> = cfg
            .assets
            .iter()
            .filter_map(|c| Some((Selector::parse(&c.matches).ok()?, c)))
            .collect();
        let mut out = Environment::default();
        for a in assets {
            let Some(id) = a.id else { continue };
            let mut ports: Vec<u16> = services
                .get(&id)
                .map(|s| {
                    s.iter()
                        .filter(|s| s.state == "open")
                        .map(|s| s.port)
                        .collect()
                })
                .unwrap_or_default();
            ports.sort_unstable();
            ports.dedup();
            let mut e = EnvAsset {
                id,
                name: a.name.clone(),
                kind: a.kind.as_str().to_string(),
                zone: a.zone.clone().unwrap_or_else(|| DEFAULT_ZONE.into()),
                criticality: a.criticality,
                internet_facing: a.internet_facing.unwrap_or(false),
                tags: a.tags.clone(),
                owner: a.owner_team.clone(),
                ports,
            };
            for (sel, c) in &ctx {
                if sel.matches(&e) {
                    apply_context(&mut e, c);
                }
            }
            out.assets.push(e);
        }
        let known: HashMap<i64, ()> = out.assets.iter().map(|a| (a.id, ())).collect();
        for x in exposures {
            let (Some(id), Some(asset)) = (x.id, x.asset_id) else {
                continue;
            };
            if !x.status.is_active() || !known.contains_key(&asset) {
                continue;
            }
            // an open port is reachability, not a weakness: it adds to the asset's ports
            if x.kind == ExposureKind::OpenService {
                if let (Some(p), Some(a)) = (x.port, out.assets.iter_mut().find(|a| a.id == asset))
                    && !a.ports.contains(&p)
                {
                    a.ports.push(p);
                }
                continue;
            }
            out.exposures.push(env_exposure(id, asset, x));
        }
        Ok(out)
    }

    /// Crown jewels: criticality 5 or a crown-jewel tag.
    pub fn crown_jewels(&self, cfg: &PathsConfig) -> Vec<usize> {
        let tags: Vec<String> = cfg
            .crown_jewel_tags
            .iter()
            .map(|t| t.to_ascii_lowercase())
            .collect();
        (0..self.assets.len())
            .filter(|&i| {
                let a = &self.assets[i];
                a.criticality == Some(5)
                    || a.tags
                        .iter()
                        .any(|t| tags.contains(&t.to_ascii_lowercase()))
            })
            .collect()
    }

    /// The asset named by `key`: its id, its name, or a unique name prefix.
    pub fn find_asset(&self, key: &str) -> Result<usize> {
        if let Ok(id) = key.parse::<i64>()
            && let Some(i) = self.assets.iter().position(|a| a.id == id)
        {
            return Ok(i);
        }
        let k = key.to_ascii_lowercase();
        if let Some(i) = self
            .assets
            .iter()
            .position(|a| a.name.to_ascii_lowercase() == k)
        {
            return Ok(i);
        }
        let pre: Vec<usize> = (0..self.assets.len())
            .filter(|&i| self.assets[i].name.to_ascii_lowercase().starts_with(&k))
            .collect();
        match pre.as_slice() {
            [i] => Ok(*i),
            _ => Err(Error::UnknownAsset(key.to_string())),
        }
    }

    /// Zones and how many assets each holds.
    pub fn zones(&self) -> BTreeMap<String, usize> {
        let mut z = BTreeMap::new();
        for a in &self.assets {
            *z.entry(a.zone.clone()).or_insert(0) += 1;
        }
        z
    }
}

fn apply_context(e: &mut EnvAsset, c: &AssetContext) {
    if let Some(z) = &c.zone {
        e.zone = z.clone();
    }
    if c.criticality.is_some() {
        e.criticality = c.criticality;
    }
    if let Some(f) = c.internet_facing {
        e.internet_facing = f;
    }
    for t in &c.tags {
        if !e.tags.contains(t) {
            e.tags.push(t.clone());
        }
    }
    if c.owner.is_some() {
        e.owner = c.owner.clone();
    }
}

fn env_exposure(id: i64, asset: i64, x: &Exposure) -> EnvExposure {
    let vector_text = x
        .cvss
        .iter()
        .filter_map(|c| c.vector.as_deref())
        .find(|v| v.starts_with("CVSS:3") || v.starts_with("CVSS:4"))
        .map(str::to_string)
        .or_else(|| {
            x.intel.as_ref().and_then(|i| {
                i.cvss
                    .iter()
                    .find_map(|c| Some(c.vector.clone()).filter(|v| v.starts_with("CVSS:3")))
            })
        });
    let parsed = vector_text.as_deref().and_then(cvss_exploitability);
    let vector = match x.kind {
        ExposureKind::Secret => Vector::Credential,
        ExposureKind::WeakCredential => Vector::Network,
        _ => match parsed {
            Some((v, _)) => v,
            None if x.port.is_some() => Vector::Network,
            None => Vector::Local,
        },
    };
    let kev = x.intel.as_ref().is_some_and(|i| i.kev);
    let epss = x.intel.as_ref().and_then(|i| i.epss);
    let exploitability = parsed.map(|(_, e)| e);
    let severity = x.severity.as_str().to_string();
    EnvExposure {
        id,
        asset,
        title: x.title.clone(),
        cve: x.cves.first().cloned(),
        port: x.port,
        vector,
        kev,
        epss,
        exploitability,
        likelihood: likelihood(kev, epss, exploitability, &severity),
        severity,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn likelihood_rises_with_kev_and_epss() {
        let base = likelihood(false, None, Some(0.5), "high");
        assert!((base - 0.15).abs() < 1e-9);
        assert!(likelihood(false, Some(0.6), Some(0.5), "high") > base);
        assert!(likelihood(true, None, Some(0.5), "high") > 0.9);
        assert_eq!(likelihood(true, Some(1.0), Some(1.0), "critical"), 0.99);
    }

    #[test]
    fn cvss_vectors_give_vector_and_exploitability() {
        let (v, e) = cvss_exploitability("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H").unwrap();
        assert_eq!(v, Vector::Network);
        assert!((e - 1.0).abs() < 0.01, "{e}");
        let (v, e) = cvss_exploitability("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H").unwrap();
        assert_eq!(v, Vector::Local);
        assert!(e < 0.5);
        assert!(cvss_exploitability("AV:Q").is_none());
    }

    #[test]
    fn selectors_and_globs() {
        assert!(glob("web*", "web01"));
        assert!(glob("w?b*1", "web01"));
        assert!(!glob("db*", "web01"));
        assert!(Selector::parse("colour:red").is_err());
        assert!(Selector::parse("nocolon").is_err());
        let bad = PathsConfig {
            phishing_likelihood: 1.5,
            ..PathsConfig::default()
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("phishing_likelihood")
        );
    }
}
