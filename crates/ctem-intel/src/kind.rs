//! The registry of intelligence kinds, content sniffing, and one entry point that imports
//! any of them.

use crate::attack::{AttackBundle, looks_like_attack, parse_attack};
use crate::cve::parse_cve;
use crate::epss::{EpssFile, parse_epss};
use crate::error::{Error, Result};
use crate::iocs::{classify, parse_iocs};
use crate::kev::{KevCatalog, parse_kev};
use crate::misp::{MispImport, parse_misp};
use crate::stix::{StixBundle, parse_stix};
use crate::util::{Issue, Parsed, is_gzip};
use ctem_model::intel::{CveRecord, Indicator};
use serde::Serialize;
use std::io::Read;

/// One kind of threat-intelligence input (`ctem intel import --kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IntelKind {
    Kev,
    Epss,
    Attack,
    Stix,
    Misp,
    Iocs,
    Cve,
}

impl IntelKind {
    /// Every kind, in the order `--kind` documents them.
    pub const ALL: [IntelKind; 7] = [
        Self::Kev,
        Self::Epss,
        Self::Attack,
        Self::Stix,
        Self::Misp,
        Self::Iocs,
        Self::Cve,
    ];

    /// The name used on the command line and in summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Kev => "kev",
            Self::Epss => "epss",
            Self::Attack => "attack",
            Self::Stix => "stix",
            Self::Misp => "misp",
            Self::Iocs => "iocs",
            Self::Cve => "cve",
        }
    }

    /// One line for `ctem formats`.
    pub fn description(self) -> &'static str {
        match self {
            Self::Kev => "CISA Known Exploited Vulnerabilities catalog (JSON)",
            Self::Epss => "FIRST EPSS scores (CSV, plain or gzip)",
            Self::Attack => {
                "MITRE ATT&CK STIX 2.0/2.1 bundle (enterprise, ICS, mobile; plain or gzip)"
            }
            Self::Stix => {
                "STIX 2.0/2.1 bundle: indicators, sightings, observed-data, malware, relationships"
            }
            Self::Misp => "MISP event JSON (feed event files; manifest.json lists them)",
            Self::Iocs => {
                "plain or CSV list of IOCs (IPs, CIDRs, domains, URLs, e-mails, hashes; defanged ok)"
            }
            Self::Cve => "CVE JSON 5.x records or NVD API 2.0 responses",
        }
    }

    /// Parses the CLI spelling (`auto` is not a kind: use `None`).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
    }
}

/// The result of importing one input, by kind.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum IntelImport {
    Kev(KevCatalog),
    Epss(EpssFile),
    Attack(AttackBundle),
    Stix(StixBundle),
    Misp(MispImport),
    Iocs(Parsed<Indicator>),
    Cve(Parsed<CveRecord>),
}

impl IntelImport {
    pub fn kind(&self) -> IntelKind {
        match self {
            Self::Kev(_) => IntelKind::Kev,
            Self::Epss(_) => IntelKind::Epss,
            Self::Attack(_) => IntelKind::Attack,
            Self::Stix(_) => IntelKind::Stix,
            Self::Misp(_) => IntelKind::Misp,
            Self::Iocs(_) => IntelKind::Iocs,
            Self::Cve(_) => IntelKind::Cve,
        }
    }

    /// Per-record issues met while importing.
    pub fn issues(&self) -> &[Issue] {
        match self {
            Self::Kev(x) => &x.issues,
            Self::Epss(x) => &x.issues,
            Self::Attack(x) => &x.issues,
            Self::Stix(x) => &x.issues,
            Self::Misp(x) => &x.issues,
            Self::Iocs(x) => &x.issues,
            Self::Cve(x) => &x.issues,
        }
    }

    /// The indicators it carries (STIX, MISP, IOC lists; empty for the others).
    pub fn indicators(&self) -> &[Indicator] {
        match self {
            Self::Stix(x) => &x.indicators,
            Self::Misp(x) => &x.indicators,
            Self::Iocs(x) => &x.records,
            _ => &[],
        }
    }

    /// How many records it produced, all types together.
    pub fn record_count(&self) -> usize {
        match self {
            Self::Kev(x) => x.entries.len(),
            Self::Epss(x) => x.scores.len(),
            Self::Attack(x) => {
                x.tactics.len()
                    + x.techniques.len()
                    + x.mitigations.len()
                    + x.groups.len()
                    + x.software.len()
                    + x.data_sources.len()
                    + x.data_components.len()
                    + x.relationships.len()
            }
            Self::Stix(x) => {
                x.indicators.len()
                    + x.sightings.len()
                    + x.observed_data.len()
                    + x.software.len()
                    + x.attack_patterns.len()
                    + x.relationships.len()
            }
            Self::Misp(x) => x.indicators.len(),
            Self::Iocs(x) => x.records.len(),
            Self::Cve(x) => x.records.len(),
        }
    }
}

const SNIFF: usize = 1 << 20;

fn head(bytes: &[u8]) -> Vec<u8> {
    if is_gzip(bytes) {
        let mut out = Vec::new();
        let _ = flate2::read::MultiGzDecoder::new(bytes)
            .take(SNIFF as u64)
            .read_to_end(&mut out);
        out
    } else {
        bytes[..bytes.len().min(SNIFF)].to_vec()
    }
}

fn has(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Guesses the kind of an input from its content (the first MiB, inflated if gzip), using the
/// file name only to break ties. `None` when nothing fits.
pub fn detect_kind(bytes: &[u8], filename: &str) -> Option<IntelKind> {
    let h = head(bytes);
    let h = h.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&h);
    let start = h.iter().position(|b| !b.is_ascii_whitespace())?;
    let body = &h[start..];
    let name = filename.to_ascii_lowercase();
    if body[0] == b'{' || body[0] == b'[' {
        let compact: Vec<u8> = body
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        let c = compact.as_slice();
        if has(c, "\"cveMetadata\"") {
            return Some(IntelKind::Cve);
        }
        if has(c, "\"cveID\"") {
            return Some(IntelKind::Kev);
        }
        if has(c, "\"vulnerabilities\"") && has(c, "\"cve\":{") {
            return Some(IntelKind::Cve);
        }
        let stixish = has(c, "\"type\":\"bundle\"")
            || (has(c, "\"spec_version\"") && has(c, "\"type\":\""))
            || has(c, "\"objects\":[{\"type\"")
            || has(c, "\"objects\":[{\"id\"");
        if stixish || (c.starts_with(b"[{\"type\":\"") && has(c, "\"id\":\"")) {
            return Some(if looks_like_attack(c) {
                IntelKind::Attack
            } else {
                IntelKind::Stix
            });
        }
        if c.starts_with(b"{\"type\":\"") && has(c, "\"spec_version\":\"2.") {
            return Some(IntelKind::Stix);
        }
        if has(c, "\"Event\":{")
            || has(c, "\"Attribute\":[")
            || has(c, "\"Object\":[")
            || (has(c, "\"info\":") && has(c, "\"analysis\":") && has(c, "\"date\":"))
        {
            return Some(IntelKind::Misp);
        }
        return None;
    }
    let text = std::str::from_utf8(body).ok().or_else(|| {
        // cut inside a multi-byte character at the sniff limit
        std::str::from_utf8(&body[..body.len().saturating_sub(4)]).ok()
    })?;
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next()?;
    if first.starts_with("#model_version") || first.eq_ignore_ascii_case("cve,epss,percentile") {
        return Some(IntelKind::Epss);
    }
    if name.contains("epss") && first.starts_with("cve,") {
        return Some(IntelKind::Epss);
    }
    if first.starts_with('<') || first.starts_with("cveID,vendorProject") {
        return None;
    }
    let sample: Vec<&str> = std::iter::once(first)
        .chain(lines)
        .filter(|l| !l.starts_with('#'))
        .take(50)
        .collect();
    let hits = sample
        .iter()
        .filter(|l| {
            crate::iocs::split_csv(l)
                .iter()
                .any(|c| classify(c).is_some())
        })
        .count();
    (hits * 2 >= sample.len() && hits > 0).then_some(IntelKind::Iocs)
}

/// Imports one input of the given kind, or of the detected kind when `kind` is `None`.
/// `filename` names the input in errors and is the `source` of its indicators.
pub fn import(kind: Option<IntelKind>, bytes: &[u8], filename: &str) -> Result<IntelImport> {
    let kind = match kind.or_else(|| detect_kind(bytes, filename)) {
        Some(k) => k,
        None => {
            let h = head(bytes);
            let err = if h.starts_with(b"cveID,vendorProject") {
                Error::unsupported(
                    "kev",
                    "the KEV CSV export is not read; import known_exploited_vulnerabilities.json",
                )
            } else if h.trim_ascii_start().starts_with(b"<") {
                Error::unsupported("intel", "XML input (STIX 1.x, OpenIOC) is not supported")
            } else {
                Error::UnknownKind
            };
            return Err(err.in_file(filename));
        }
    };
    let source = filename.rsplit(['/', '\\']).next().unwrap_or(filename);
    let result = match kind {
        IntelKind::Kev => parse_kev(bytes).map(IntelImport::Kev),
        IntelKind::Epss => parse_epss(bytes).map(IntelImport::Epss),
        IntelKind::Attack => parse_attack(bytes).map(IntelImport::Attack),
        IntelKind::Stix => parse_stix(bytes, source).map(IntelImport::Stix),
        IntelKind::Misp => parse_misp(bytes, source).map(IntelImport::Misp),
        IntelKind::Iocs => parse_iocs(bytes, source).map(IntelImport::Iocs),
        IntelKind::Cve => parse_cve(bytes).map(IntelImport::Cve),
    };
    let mut parsed = result.map_err(|e| e.in_file(filename))?;
    crate::limits::Limits::default().bound(&mut parsed);
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_each_kind() {
        let cases: [(&[u8], Option<IntelKind>); 9] = [
            (
                br#"{"catalogVersion":"1","vulnerabilities":[{"cveID":"CVE-2020-0001"}]}"#,
                Some(IntelKind::Kev),
            ),
            (
                b"#model_version:v1,score_date:2025-01-01\ncve,epss,percentile\n",
                Some(IntelKind::Epss),
            ),
            (
                br#"{"type": "bundle", "objects": [{"type": "x-mitre-tactic"}]}"#,
                Some(IntelKind::Attack),
            ),
            (
                br#"{"type": "bundle", "objects": [{"type": "indicator"}]}"#,
                Some(IntelKind::Stix),
            ),
            (
                br#"{"Event": {"info": "x", "Attribute": []}}"#,
                Some(IntelKind::Misp),
            ),
            (b"evil.example\n10.0.0.1\n", Some(IntelKind::Iocs)),
            (
                br#"{"dataType":"CVE_RECORD","cveMetadata":{}}"#,
                Some(IntelKind::Cve),
            ),
            (
                br#"{"vulnerabilities": [{"cve": {"id": "CVE-2020-0001"}}]}"#,
                Some(IntelKind::Cve),
            ),
            (b"hello world\nthis is prose\n", None),
        ];
        for (bytes, want) in cases {
            assert_eq!(
                detect_kind(bytes, "x"),
                want,
                "{}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn unknown_input_error_names_the_file() {
        let err = import(None, b"<xml/>", "dir/feed.xml").expect_err("refused");
        assert!(err.to_string().starts_with("dir/feed.xml: "), "{err}");
        for k in IntelKind::ALL {
            assert_eq!(IntelKind::parse(k.as_str()), Some(k));
            assert!(!k.description().is_empty());
        }
    }
}
