//! Trivy JSON: schema 2 reports of images, filesystems, repositories and VMs (vulnerabilities,
//! misconfigurations, secrets), Kubernetes cluster reports (`ClusterName` with `Resources`,
//! or the older `Vulnerabilities` / `Misconfigurations` resource lists), and the legacy
//! top-level array of results.
//!
//! Schema 1 reports (image metadata at the top level, no `SchemaVersion`) are read too.
//!
//! The report is read streaming: the top level and each result are walked with serde
//! visitors, and each finding is captured raw and decoded on its own, so a finding with a
//! wrong field type becomes a per-record issue (`Results[3].Vulnerabilities[7]: ...`) instead
//! of failing the file, and memory stays flat however many findings there are.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::io::BufRead;

use ctem_model::{
    Asset, AssetKey, AssetKind, Cvss, Exposure, ExposureKind, Identifier, IdentifierKind, Location,
    Package, Record, RecordIssue, Severity,
};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::jsonutil::{has_key, looks_like_json};
use crate::{Emit, EmptyReport, Error, Format, FormatKind, Result};

pub static FORMAT: Format = Format {
    name: "trivy",
    kind: FormatKind::Scanner,
    description: "Trivy JSON (schema 2 image/filesystem/repository/cluster reports, legacy array)",
    probe,
    parse,
    parse_slice: Some(parse_slice),
    empty: EmptyReport {
        blank: false,
        null: true,
        empty_array: false,
        example: r#"{"SchemaVersion": 2, "ArtifactName": "alpine:3.19", "ArtifactType": "container_image", "Results": []}"#,
    },
};

fn probe(head: &[u8], _file_name: &str) -> u8 {
    if !looks_like_json(head) {
        return 0;
    }
    let schema2 = has_key(head, "SchemaVersion") && has_key(head, "ArtifactName");
    let cluster = has_key(head, "ClusterName")
        && (has_key(head, "Resources")
            || has_key(head, "Vulnerabilities")
            || has_key(head, "Misconfigurations"));
    let legacy = crate::trim_ascii_bom(head).starts_with(b"[")
        && has_key(head, "Target")
        && (has_key(head, "Vulnerabilities") || has_key(head, "Type"));
    // schema 1: a top-level object with ImageID / RepoTags and Results, no SchemaVersion
    let schema1 = has_key(head, "Results")
        && has_key(head, "Target")
        && (has_key(head, "Vulnerabilities")
            || has_key(head, "Misconfigurations")
            || has_key(head, "Secrets"));
    if schema2 || cluster {
        90
    } else if legacy || schema1 {
        60
    } else {
        0
    }
}

/// Shared state of one parse: the emit callback and the error it returned, if any.
struct Ctx<'a, 'b> {
    emit: &'a mut Emit<'b>,
    failed: Option<Error>,
    next_key: AssetKey,
    asset: Option<AssetKey>,
    recognised: bool,
    /// Address of the input slice when parsing from memory (progress is reported against it).
    base: Option<usize>,
    last_progress: usize,
}

impl Ctx<'_, '_> {
    fn send<E: de::Error>(&mut self, r: Record) -> std::result::Result<(), E> {
        match (self.emit)(r) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.failed = Some(e);
                Err(E::custom("aborted by the record sink"))
            }
        }
    }

    fn new_asset<E: de::Error>(&mut self, asset: Asset) -> std::result::Result<AssetKey, E> {
        let key = self.next_key;
        self.next_key += 1;
        self.send(Record::Asset { key, asset })?;
        Ok(key)
    }

    fn issue<E: de::Error>(&mut self, record: String, msg: String) -> std::result::Result<(), E> {
        self.send(Record::Issue(RecordIssue::new(record, msg)))
    }
}

fn parse(input: &mut dyn BufRead, emit: &mut Emit<'_>) -> Result<()> {
    let first = loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            return Err(Error::Refused("empty input: not a Trivy report".into()));
        }
        let skip = leading_blank(buf);
        if skip < buf.len() {
            let c = buf[skip];
            input.consume(skip);
            break c;
        }
        let n = buf.len();
        input.consume(n);
    };
    let mut ctx = Ctx::new(emit, None);
    let mut de = serde_json::Deserializer::from_reader(input);
    let res = run(first, &mut ctx, &mut de);
    finish(ctx, res, de.end())
}

fn parse_slice(input: &[u8], emit: &mut Emit<'_>) -> Result<()> {
    let skip = leading_blank(input);
    let Some(&first) = input.get(skip) else {
        return Err(Error::Refused("empty input: not a Trivy report".into()));
    };
    let mut ctx = Ctx::new(emit, Some(input.as_ptr() as usize));
    let mut de = serde_json::Deserializer::from_slice(&input[skip..]);
    let res = run(first, &mut ctx, &mut de);
    finish(ctx, res, de.end())
}

fn leading_blank(buf: &[u8]) -> usize {
    buf.iter()
        .take_while(|b| b.is_ascii_whitespace() || matches!(**b, 0xef | 0xbb | 0xbf))
        .count()
}

fn run<'de, D>(first: u8, ctx: &mut Ctx<'_, '_>, de: D) -> std::result::Result<(), D::Error>
where
    D: Deserializer<'de>,
{
    match first {
        b'{' => TopSeed { ctx }.deserialize(de),
        b'[' => LegacySeed { ctx }.deserialize(de),
        _ => Err(de::Error::custom("not JSON: not a Trivy report")),
    }
}

fn finish(
    mut ctx: Ctx<'_, '_>,
    res: std::result::Result<(), serde_json::Error>,
    end: std::result::Result<(), serde_json::Error>,
) -> Result<()> {
    if let Some(e) = ctx.failed.take() {
        return Err(e);
    }
    res.map_err(Error::json)?;
    end.map_err(Error::json)?;
    if !ctx.recognised {
        return Err(Error::Refused(
            "JSON without SchemaVersion/ArtifactName/Results or ClusterName: not a Trivy report"
                .into(),
        ));
    }
    Ok(())
}

impl<'a, 'b> Ctx<'a, 'b> {
    fn new(emit: &'a mut Emit<'b>, base: Option<usize>) -> Self {
        Ctx {
            emit,
            failed: None,
            next_key: 0,
            asset: None,
            recognised: false,
            base,
            last_progress: 0,
        }
    }

    /// Reports progress when parsing from memory, every 4 MiB.
    fn progress<E: de::Error>(&mut self, at: &str) -> std::result::Result<(), E> {
        if let Some(base) = self.base {
            let off = (at.as_ptr() as usize).saturating_sub(base);
            if off >= self.last_progress + (4 << 20) {
                self.last_progress = off;
                self.send(Record::Progress { offset: off as u64 })?;
            }
        }
        Ok(())
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct Metadata {
    #[serde(rename = "OS")]
    os: Option<Os>,
    #[serde(rename = "ImageID")]
    image_id: Option<String>,
    repo_digests: Option<Vec<String>>,
    repo_tags: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Os {
    family: Option<String>,
    name: Option<String>,
}

struct TopSeed<'c, 'a, 'b> {
    ctx: &'c mut Ctx<'a, 'b>,
}

impl<'de> DeserializeSeed<'de> for TopSeed<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TopSeed<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Trivy report object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        let ctx = self.ctx;
        let mut name: Option<String> = None;
        let mut kind: Option<String> = None;
        let mut meta = Metadata::default();
        let mut cluster: Option<String> = None;
        while let Some(k) = map.next_key::<Cow<'de, str>>()? {
            match k.as_ref() {
                "SchemaVersion" => {
                    ctx.recognised = true;
                    map.next_value::<IgnoredAny>()?;
                }
                "ArtifactName" => name = map.next_value()?,
                "ArtifactType" => kind = map.next_value()?,
                "Metadata" => meta = map.next_value::<Option<Metadata>>()?.unwrap_or_default(),
                // schema 1 keeps the image metadata at the top level
                "ImageID" => meta.image_id = map.next_value()?,
                "RepoDigests" => meta.repo_digests = map.next_value()?,
                "RepoTags" => {
                    meta.repo_tags = map.next_value()?;
                    if name.is_none() {
                        name = meta.repo_tags.as_ref().and_then(|t| t.first().cloned());
                        kind = Some("container_image".into());
                    }
                }
                "CreatedAt" => {
                    let t: Option<String> = map.next_value()?;
                    let at = t.and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok());
                    ctx.send(Record::ScanInfo {
                        tool: None,
                        started_at: at.map(|t| t.to_utc()),
                        finished_at: None,
                        covers: ctem_model::Coverage::Assets,
                    })?;
                }
                "ClusterName" => {
                    ctx.recognised = true;
                    cluster = map.next_value()?;
                }
                "Results" => {
                    ctx.recognised = true;
                    if ctx.asset.is_none() {
                        let a = artifact_asset(name.as_deref(), kind.as_deref(), &meta);
                        ctx.asset = Some(ctx.new_asset(a)?);
                    }
                    map.next_value_seed(ResultsSeed {
                        ctx,
                        path: "Results".into(),
                        resource: None,
                    })?;
                }
                "Resources" | "Vulnerabilities" | "Misconfigurations" if cluster.is_some() => {
                    let path = k.to_string();
                    map.next_value_seed(ResourcesSeed {
                        ctx,
                        cluster: cluster.clone().unwrap_or_default(),
                        path,
                    })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if ctx.asset.is_none() && name.is_some() {
            let a = artifact_asset(name.as_deref(), kind.as_deref(), &meta);
            ctx.asset = Some(ctx.new_asset(a)?);
        }
        Ok(())
    }
}

fn artifact_asset(name: Option<&str>, kind: Option<&str>, meta: &Metadata) -> Asset {
    let name = name.unwrap_or("trivy-target").to_string();
    let mut a = match kind.unwrap_or("") {
        "container_image" => {
            let mut a = Asset::new(AssetKind::ContainerImage, &name);
            a.add_identifier(Identifier::new(IdentifierKind::ImageRef, &name));
            for d in meta.repo_digests.iter().flatten() {
                let digest = d.rsplit('@').next().unwrap_or(d);
                a.add_identifier(Identifier::new(IdentifierKind::ImageDigest, digest));
            }
            if let Some(id) = &meta.image_id {
                a.add_identifier(Identifier::new(IdentifierKind::ImageDigest, id));
            }
            for t in meta.repo_tags.iter().flatten() {
                a.add_identifier(Identifier::new(IdentifierKind::ImageRef, t));
            }
            a
        }
        "repository" if name.contains("://") || name.starts_with("git@") => {
            Asset::new(AssetKind::Repository, &name)
                .with_identifier(Identifier::new(IdentifierKind::RepoUrl, &name))
        }
        "repository" => Asset::new(AssetKind::Repository, &name)
            .with_identifier(Identifier::new(IdentifierKind::Name, &name)),
        "vm" => Asset::new(AssetKind::Host, &name)
            .with_identifier(Identifier::new(IdentifierKind::Name, &name)),
        _ => Asset::new(AssetKind::Application, &name)
            .with_identifier(Identifier::new(IdentifierKind::Name, &name)),
    };
    if let Some(os) = &meta.os {
        let s = [os.family.as_deref(), os.name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        if !s.is_empty() {
            a.os = Some(s);
        }
    }
    a
}

/// The legacy format: a top-level array of results, no artifact. The asset is named from the
/// first result's target: `image:tag (os version)` makes a container image, anything else an
/// application named by that target.
struct LegacySeed<'c, 'a, 'b> {
    ctx: &'c mut Ctx<'a, 'b>,
}

impl<'de> DeserializeSeed<'de> for LegacySeed<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for LegacySeed<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of Trivy results")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> std::result::Result<(), A::Error> {
        ResultsSeed {
            ctx: self.ctx,
            path: String::new(),
            resource: None,
        }
        .visit_seq(seq)
    }
}

/// A list of Kubernetes resources, each with its own results.
struct ResourcesSeed<'c, 'a, 'b> {
    ctx: &'c mut Ctx<'a, 'b>,
    cluster: String,
    path: String,
}

impl<'de> DeserializeSeed<'de> for ResourcesSeed<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ResourcesSeed<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of Kubernetes resources")
    }
    fn visit_unit<E: de::Error>(self) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        let mut i = 0usize;
        loop {
            let seed = ResourceSeed {
                ctx: &mut *self.ctx,
                cluster: &self.cluster,
                path: format!("{}[{i}]", self.path),
            };
            if seq.next_element_seed(seed)?.is_none() {
                return Ok(());
            }
            i += 1;
        }
    }
}

struct ResourceSeed<'c, 'a, 'b, 's> {
    ctx: &'c mut Ctx<'a, 'b>,
    cluster: &'s str,
    path: String,
}

impl<'de> DeserializeSeed<'de> for ResourceSeed<'_, '_, '_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ResourceSeed<'_, '_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Kubernetes resource")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        let mut ns = String::new();
        let mut kind = String::new();
        let mut name = String::new();
        while let Some(k) = map.next_key::<Cow<'de, str>>()? {
            match k.as_ref() {
                "Namespace" => ns = map.next_value::<Option<String>>()?.unwrap_or_default(),
                "Kind" => kind = map.next_value::<Option<String>>()?.unwrap_or_default(),
                "Name" => name = map.next_value::<Option<String>>()?.unwrap_or_default(),
                "Results" => {
                    let id = format!("k8s://{}/{}/{}/{}", self.cluster, ns, kind, name);
                    let display = if ns.is_empty() {
                        format!("{kind}/{name}")
                    } else {
                        format!("{ns}/{kind}/{name}")
                    };
                    let mut a = Asset::new(AssetKind::CloudResource, display)
                        .with_identifier(Identifier::new(IdentifierKind::CloudId, &id));
                    a.tags.push(format!("k8s-cluster:{}", self.cluster));
                    if !ns.is_empty() {
                        a.tags.push(format!("k8s-namespace:{ns}"));
                    }
                    let key = self.ctx.new_asset(a)?;
                    self.ctx.asset = Some(key);
                    map.next_value_seed(ResultsSeed {
                        ctx: &mut *self.ctx,
                        path: format!("{}.Results", self.path),
                        resource: Some(format!("{kind}/{name}")),
                    })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

struct ResultsSeed<'c, 'a, 'b> {
    ctx: &'c mut Ctx<'a, 'b>,
    path: String,
    resource: Option<String>,
}

impl<'de> DeserializeSeed<'de> for ResultsSeed<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ResultsSeed<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of Trivy results")
    }
    fn visit_unit<E: de::Error>(self) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        let mut i = 0usize;
        loop {
            let seed = ResultSeed {
                ctx: &mut *self.ctx,
                path: format!("{}[{i}]", self.path),
                resource: self.resource.as_deref(),
            };
            if seq.next_element_seed(seed)?.is_none() {
                return Ok(());
            }
            i += 1;
        }
    }
}

struct ResultSeed<'c, 'a, 'b, 's> {
    ctx: &'c mut Ctx<'a, 'b>,
    path: String,
    resource: Option<&'s str>,
}

impl<'de> DeserializeSeed<'de> for ResultSeed<'_, '_, '_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

/// What a result says about the findings in it.
struct ResultInfo<'s> {
    target: String,
    class: String,
    typ: String,
    resource: Option<&'s str>,
}

impl<'de> Visitor<'de> for ResultSeed<'_, '_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Trivy result object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        let ctx = self.ctx;
        let mut info = ResultInfo {
            target: String::new(),
            class: String::new(),
            typ: String::new(),
            resource: self.resource,
        };
        while let Some(k) = map.next_key::<Cow<'de, str>>()? {
            match k.as_ref() {
                "Target" => info.target = map.next_value::<Option<String>>()?.unwrap_or_default(),
                "Class" => info.class = map.next_value::<Option<String>>()?.unwrap_or_default(),
                "Type" => info.typ = map.next_value::<Option<String>>()?.unwrap_or_default(),
                "Vulnerabilities" | "Misconfigurations" | "Secrets" => {
                    if ctx.asset.is_none() {
                        // legacy array: the first target names the asset
                        let a = legacy_asset(&info.target);
                        ctx.recognised = true;
                        ctx.asset = Some(ctx.new_asset(a)?);
                    }
                    map.next_value_seed(FindingsSeed {
                        ctx: &mut *ctx,
                        info: &info,
                        which: k.to_string(),
                        path: &self.path,
                    })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// One list of findings (`Vulnerabilities`, `Misconfigurations` or `Secrets`), decoded one
/// element at a time: each is captured raw (borrowed when parsing from memory) and decoded on
/// its own so a bad element is a per-record issue.
struct FindingsSeed<'c, 'a, 'b, 'i, 's> {
    ctx: &'c mut Ctx<'a, 'b>,
    info: &'i ResultInfo<'s>,
    which: String,
    path: &'i str,
}

impl<'de> DeserializeSeed<'de> for FindingsSeed<'_, '_, '_, '_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FindingsSeed<'_, '_, '_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of findings")
    }
    fn visit_unit<E: de::Error>(self) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        let mut j = 0usize;
        loop {
            let owned: Box<RawValue>;
            let raw: &str = if self.ctx.base.is_some() {
                match seq.next_element::<&'de RawValue>()? {
                    Some(r) => r.get(),
                    None => return Ok(()),
                }
            } else {
                match seq.next_element::<Box<RawValue>>()? {
                    Some(r) => {
                        owned = r;
                        owned.get()
                    }
                    None => return Ok(()),
                }
            };
            let res = match self.which.as_str() {
                "Vulnerabilities" => vuln(raw, self.info),
                "Misconfigurations" => misconf(raw, self.info),
                _ => secret(raw, self.info),
            };
            match res {
                Ok(Some(e)) => {
                    let asset = self.ctx.asset.unwrap_or_default();
                    self.ctx.send(Record::Exposure {
                        asset,
                        exposure: Box::new(e),
                    })?
                }
                Ok(None) => {}
                Err(msg) => {
                    let place = format!("{}.{}[{j}]", self.path, self.which);
                    self.ctx.issue(place, msg)?
                }
            }
            self.ctx.progress(raw)?;
            j += 1;
        }
    }
}

fn legacy_asset(target: &str) -> Asset {
    if let Some((img, _)) = target.split_once(" (")
        && img.contains(':')
    {
        return Asset::new(AssetKind::ContainerImage, img)
            .with_identifier(Identifier::new(IdentifierKind::ImageRef, img));
    }
    let name = if target.is_empty() {
        "trivy-target"
    } else {
        target
    };
    Asset::new(AssetKind::Application, name)
        .with_identifier(Identifier::new(IdentifierKind::Name, name))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TVuln<'a> {
    #[serde(rename = "VulnerabilityID", borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pkg_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pkg_path: Option<Cow<'a, str>>,
    #[serde(borrow)]
    installed_version: Option<Cow<'a, str>>,
    #[serde(borrow)]
    fixed_version: Option<Cow<'a, str>>,
    #[serde(borrow)]
    status: Option<Cow<'a, str>>,
    #[serde(borrow)]
    severity: Option<Cow<'a, str>>,
    #[serde(borrow)]
    title: Option<Cow<'a, str>>,
    #[serde(borrow)]
    description: Option<Cow<'a, str>>,
    // borrowed where the text has no escapes: one allocation per string, in the model
    #[serde(rename = "CweIDs", borrow)]
    cwe_ids: Option<Vec<Cow<'a, str>>>,
    #[serde(rename = "VendorIDs", borrow)]
    vendor_ids: Option<Vec<Cow<'a, str>>>,
    #[serde(rename = "CVSS", borrow)]
    cvss: Option<BTreeMap<Cow<'a, str>, TCvss<'a>>>,
    #[serde(borrow)]
    references: Option<Vec<Cow<'a, str>>>,
    #[serde(rename = "PrimaryURL", borrow)]
    primary_url: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct TCvss<'a> {
    #[serde(rename = "V2Vector", borrow)]
    v2_vector: Option<Cow<'a, str>>,
    #[serde(rename = "V2Score")]
    v2_score: Option<f64>,
    #[serde(rename = "V3Vector", borrow)]
    v3_vector: Option<Cow<'a, str>>,
    #[serde(rename = "V3Score")]
    v3_score: Option<f64>,
    #[serde(rename = "V40Vector", borrow)]
    v40_vector: Option<Cow<'a, str>>,
    #[serde(rename = "V40Score")]
    v40_score: Option<f64>,
}

fn severity(s: Option<&str>) -> std::result::Result<Severity, String> {
    match s {
        None => Ok(Severity::Unknown),
        Some(s) => Severity::parse(s).ok_or_else(|| format!("unknown Severity {s:?}")),
    }
}

fn nonempty(s: &Option<Cow<'_, str>>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn vuln(raw: &str, info: &ResultInfo<'_>) -> std::result::Result<Option<Exposure>, String> {
    let v: TVuln<'_> = serde_json::from_str(raw).map_err(|e| e.to_string())?;
    let Some(id) = nonempty(&v.id) else {
        return Err("missing VulnerabilityID".into());
    };
    let Some(pkg) = nonempty(&v.pkg_name) else {
        return Err("missing PkgName".into());
    };
    let sev = severity(v.severity.as_deref())?;
    let title = nonempty(&v.title).unwrap_or_else(|| format!("{id} in {pkg}"));
    let mut e = Exposure::new(ExposureKind::Vulnerability, title, sev);
    e.add_vuln_id(&id);
    for a in v.vendor_ids.iter().flatten() {
        e.add_vuln_id(a);
    }
    for c in v.cwe_ids.iter().flatten() {
        e.add_cwe(c);
    }
    e.rule_id = Some(id);
    e.description = nonempty(&v.description);
    let path = nonempty(&v.pkg_path).or_else(|| {
        (info.class == "lang-pkgs" && !info.target.is_empty()).then(|| info.target.clone())
    });
    e.package = Some(Package {
        name: pkg,
        version: nonempty(&v.installed_version),
        fixed_version: nonempty(&v.fixed_version),
        ecosystem: (!info.typ.is_empty()).then(|| info.typ.clone()),
        path,
    });
    if let Some(f) = e.package.as_ref().and_then(|p| p.fixed_version.as_ref()) {
        e.solution = Some(format!("upgrade to {f}"));
    } else if v.status.as_deref() == Some("will_not_fix") {
        e.solution = Some("the vendor will not fix this".into());
    }
    for (source, c) in v.cvss.into_iter().flatten() {
        for (version, vector, score) in [
            ("2.0", c.v2_vector, c.v2_score),
            ("3.x", c.v3_vector, c.v3_score),
            ("4.0", c.v40_vector, c.v40_score),
        ] {
            if vector.is_none() && score.is_none() {
                continue;
            }
            let version = match (version, vector.as_deref()) {
                ("3.x", Some(v)) if v.starts_with("CVSS:3.0") => "3.0",
                ("3.x", _) => "3.1",
                (v, _) => v,
            };
            e.cvss.push(Cvss {
                version: version.into(),
                vector: vector.map(Cow::into_owned),
                score,
                source: Some(source.to_string()),
            });
        }
    }
    if let Some(u) = v.primary_url {
        e.references.push(u.into_owned());
    }
    e.references
        .extend(v.references.into_iter().flatten().map(Cow::into_owned));
    Ok(Some(e))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TMisconf {
    #[serde(rename = "ID")]
    id: Option<String>,
    #[serde(rename = "AVDID")]
    avd_id: Option<String>,
    title: Option<String>,
    description: Option<String>,
    message: Option<String>,
    resolution: Option<String>,
    severity: Option<String>,
    status: Option<String>,
    #[serde(rename = "PrimaryURL")]
    primary_url: Option<String>,
    references: Option<Vec<String>>,
    cause_metadata: Option<TCause>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TCause {
    resource: Option<String>,
    start_line: Option<u32>,
}

fn misconf(raw: &str, info: &ResultInfo<'_>) -> std::result::Result<Option<Exposure>, String> {
    let m: TMisconf = serde_json::from_str(raw).map_err(|e| e.to_string())?;
    if let Some(s) = &m.status
        && s != "FAIL"
    {
        return Ok(None);
    }
    let Some(id) = m.id.clone().or(m.avd_id.clone()) else {
        return Err("missing ID".into());
    };
    let sev = severity(m.severity.as_deref())?;
    let mut e = Exposure::new(
        ExposureKind::Misconfiguration,
        m.title.unwrap_or_else(|| id.clone()),
        sev,
    );
    e.rule_id = Some(id);
    if let Some(a) = m.avd_id {
        e.advisories.push(a);
    }
    e.description = m.description;
    e.evidence = m.message;
    e.solution = m.resolution;
    let cause = m.cause_metadata;
    e.location = Some(Location {
        path: (!info.target.is_empty()).then(|| info.target.clone()),
        line: cause.as_ref().and_then(|c| c.start_line).filter(|l| *l > 0),
        resource: cause
            .and_then(|c| c.resource)
            .filter(|r| !r.is_empty())
            .or(info.resource.map(str::to_string)),
    });
    e.references.extend(m.primary_url);
    e.references.extend(m.references.into_iter().flatten());
    Ok(Some(e))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TSecret {
    #[serde(rename = "RuleID")]
    rule_id: Option<String>,
    category: Option<String>,
    severity: Option<String>,
    title: Option<String>,
    start_line: Option<u32>,
    #[serde(rename = "Match")]
    matched: Option<String>,
}

fn secret(raw: &str, info: &ResultInfo<'_>) -> std::result::Result<Option<Exposure>, String> {
    let s: TSecret = serde_json::from_str(raw).map_err(|e| e.to_string())?;
    let Some(rule) = s.rule_id else {
        return Err("missing RuleID".into());
    };
    let sev = severity(s.severity.as_deref())?;
    let mut e = Exposure::new(
        ExposureKind::Secret,
        s.title.unwrap_or_else(|| rule.clone()),
        sev,
    );
    e.rule_id = Some(rule);
    e.description = s.category.map(|c| format!("secret of category {c}"));
    e.evidence = s.matched;
    e.location = Some(Location {
        path: (!info.target.is_empty()).then(|| info.target.clone()),
        line: s.start_line,
        resource: None,
    });
    e.solution = Some("revoke and rotate the secret, then remove it from the source".into());
    Ok(Some(e))
}
