//! Grype JSON (`grype -o json`, every schema from 0.2x to today, and `grype explain` input).
//! The scanned source is one asset: a container image (user input reference and manifest
//! digest), or a directory / file named by its path. Each match becomes a package
//! vulnerability: the matched id plus related ids (CVE aliases), the artifact as the package
//! (first location as its path), fix versions, CVSS entries and the data source as reference.

use std::io::BufRead;

use ctem_model::{Asset, AssetKind, Exposure, ExposureKind};
use serde_json::Value;

use crate::common::{
    Out, arr, cvss, has, image_asset, is_json, named_asset, num, package, read_json, s, severity,
};
use crate::{Emit, EmptyReport, Error, Format, FormatKind, Result};

pub static FORMAT: Format = Format {
    name: "grype",
    kind: FormatKind::Scanner,
    description: "Grype JSON (matches with vulnerability, artifact and source)",
    probe,
    parse,
    parse_slice: Some(parse_slice),
    empty: EmptyReport::document(
        r#"{"matches": [], "source": {"type": "image", "target": {"userInput": "busybox:latest"}}, "descriptor": {"name": "grype", "version": "0.74.0"}}"#,
    ),
};

fn probe(head: &[u8], _file_name: &str) -> u8 {
    if is_json(head)
        && has(head, "matches")
        && (has(head, "artifact") || has(head, "descriptor") || has(head, "source"))
    {
        if has(head, "descriptor") || has(head, "matchDetails") {
            90
        } else {
            60
        }
    } else {
        0
    }
}

fn parse(input: &mut dyn BufRead, emit: &mut Emit<'_>) -> Result<()> {
    let doc = read_json(input, "Grype")?;
    let Some(matches) = doc.get("matches").and_then(Value::as_array) else {
        return Err(Error::Refused(
            "no `matches` array: not a Grype report".into(),
        ));
    };
    let mut out = Out::new(emit);
    let asset = source_asset(&doc["source"], &doc["distro"]);
    let key = out.asset(asset)?;
    for (i, m) in matches.iter().enumerate() {
        match one(m) {
            Ok(e) => out.exposure(key, e)?,
            Err(msg) => out.issue(format!("matches[{i}]"), msg)?,
        }
    }
    Ok(())
}

/// The scanned source as an asset.
fn source_asset(src: &Value, distro: &Value) -> Asset {
    let mut asset = match (s(src, &["type"]), &src["target"]) {
        (Some("image"), t) => image_asset(
            s(t, &["userInput"]).or(s(t, &["tags", "0"])),
            s(t, &["manifestDigest"]).or(s(t, &["imageID"])),
        ),
        (_, Value::String(t)) => named_asset(AssetKind::Application, t.trim_matches('"')),
        (_, t) => named_asset(
            AssetKind::Application,
            s(t, &["path"])
                .or(s(t, &["userInput"]))
                .unwrap_or("grype scan"),
        ),
    };
    if let Some(d) = s(distro, &["name"]) {
        asset.os = Some(
            format!("{d} {}", s(distro, &["version"]).unwrap_or(""))
                .trim()
                .to_string(),
        );
    }
    asset
}

/// The in-memory path, for reports of any size: Grype writes `source` after `matches`, so a
/// first pass reads the document around the matches (each match only skipped), a second
/// decodes the matches one at a time. Both report progress, so the caller can release the
/// mapped pages behind them; memory stays flat.
fn parse_slice(input: &[u8], emit: &mut Emit<'_>) -> Result<()> {
    let base = input.as_ptr() as usize;
    let mut pass = Pass {
        emit,
        base,
        last: 0,
        decode: false,
        source: Value::Null,
        distro: Value::Null,
        has_matches: false,
        failed: None,
    };
    run_pass(input, &mut pass)?;
    if !pass.has_matches {
        return Err(Error::Refused(
            "no `matches` array: not a Grype report".into(),
        ));
    }
    let asset = source_asset(&pass.source, &pass.distro);
    (pass.emit)(ctem_model::Record::Asset { key: 0, asset })?;
    pass.decode = true;
    pass.last = 0;
    run_pass(input, &mut pass)
}

fn run_pass(input: &[u8], pass: &mut Pass<'_, '_>) -> Result<()> {
    let mut de = serde_json::Deserializer::from_slice(input);
    let res = serde::de::DeserializeSeed::deserialize(&mut *pass, &mut de);
    if let Some(e) = pass.failed.take() {
        return Err(e);
    }
    res.map_err(Error::json)?;
    de.end().map_err(Error::json)
}

struct Pass<'a, 'b> {
    emit: &'a mut Emit<'b>,
    base: usize,
    last: usize,
    /// false: the first pass (collect `source` and `distro`); true: emit the matches.
    decode: bool,
    source: Value,
    distro: Value,
    has_matches: bool,
    failed: Option<Error>,
}

impl Pass<'_, '_> {
    fn send<E: serde::de::Error>(&mut self, r: ctem_model::Record) -> std::result::Result<(), E> {
        (self.emit)(r).map_err(|e| {
            self.failed = Some(e);
            E::custom("aborted by the record sink")
        })
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for &mut Pass<'_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for &mut Pass<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a Grype report object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<(), A::Error> {
        use serde::de::IgnoredAny;
        while let Some(k) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match k.as_ref() {
                "matches" => {
                    self.has_matches = true;
                    map.next_value_seed(Matches(&mut *self))?;
                }
                "source" if !self.decode => self.source = map.next_value()?,
                "distro" if !self.decode => self.distro = map.next_value()?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

struct Matches<'p, 'a, 'b>(&'p mut Pass<'a, 'b>);

impl<'de> serde::de::DeserializeSeed<'de> for Matches<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Matches<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list of Grype matches")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<(), A::Error> {
        let pass = self.0;
        let mut i = 0usize;
        while let Some(raw) = seq.next_element::<&'de serde_json::value::RawValue>()? {
            let at = (raw.get().as_ptr() as usize).saturating_sub(pass.base);
            if pass.decode {
                let rec = match serde_json::from_str::<Value>(raw.get())
                    .map_err(|e| e.to_string())
                    .and_then(|m| one(&m))
                {
                    Ok(e) => ctem_model::Record::Exposure {
                        asset: 0,
                        exposure: Box::new(e),
                    },
                    Err(msg) => ctem_model::Record::Issue(ctem_model::RecordIssue::new(
                        format!("matches[{i}]"),
                        msg,
                    )),
                };
                pass.send(rec)?;
            }
            if at >= pass.last + (4 << 20) {
                pass.last = at;
                pass.send(ctem_model::Record::Progress { offset: at as u64 })?;
            }
            i += 1;
        }
        Ok(())
    }
}

fn one(m: &Value) -> std::result::Result<Exposure, String> {
    let v = &m["vulnerability"];
    let a = &m["artifact"];
    let id = s(v, &["id"]).ok_or("missing vulnerability.id")?;
    let name = s(a, &["name"]).ok_or("missing artifact.name")?;
    let sev = severity(s(v, &["severity"]))?;
    let mut e = Exposure::new(ExposureKind::Vulnerability, format!("{id} in {name}"), sev);
    e.add_vuln_id(id);
    for r in arr(m, "relatedVulnerabilities") {
        if let Some(r) = s(r, &["id"]) {
            e.add_vuln_id(r);
        }
    }
    let fixed: Vec<&str> = arr(&v["fix"], "versions")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    e.package = Some(package(
        name,
        s(a, &["version"]),
        (!fixed.is_empty()).then(|| fixed.join(", ")).as_deref(),
        s(a, &["type"]),
        arr(a, "locations").first().and_then(|l| s(l, &["path"])),
    ));
    e.description = s(v, &["description"])
        .or_else(|| {
            arr(m, "relatedVulnerabilities")
                .iter()
                .find_map(|r| s(r, &["description"]))
        })
        .map(str::to_string);
    for c in arr(v, "cvss").iter().chain(
        arr(m, "relatedVulnerabilities")
            .iter()
            .flat_map(|r| arr(r, "cvss")),
    ) {
        let src = s(c, &["source"]).unwrap_or("grype");
        if let Some(x) = cvss(s(c, &["vector"]), num(&c["metrics"], "baseScore"), src) {
            e.cvss.push(x);
        }
    }
    if !fixed.is_empty() {
        e.solution = Some(format!("upgrade {name} to {}", fixed.join(" or ")));
    }
    e.references
        .extend(s(v, &["dataSource"]).map(str::to_string));
    e.references.extend(
        arr(v, "urls")
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string),
    );
    e.references.dedup();
    Ok(e)
}
