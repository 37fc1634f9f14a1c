//! Helpers shared by the document-shaped parsers (most JSON, CSV and small XML formats):
//! reading the whole input, walking `serde_json::Value`s, building the usual assets, and an
//! [`Out`] that numbers assets, merges repeats of the same asset within one report, and
//! sends records through the caller's callback.

use std::collections::HashMap;
use std::io::BufRead;

use ctem_model::{
    Asset, AssetKey, AssetKind, Cvss, Exposure, Identifier, IdentifierKind, Package, Record,
    RecordIssue, Severity,
};
use serde_json::Value;

use crate::{Emit, Error, Result};

/// The record sink of one parse: asset numbering and dedup, exposures, issues.
pub(crate) struct Out<'a, 'b> {
    emit: &'a mut Emit<'b>,
    next: AssetKey,
    seen: HashMap<(AssetKind, String), AssetKey>,
}

impl<'a, 'b> Out<'a, 'b> {
    pub fn new(emit: &'a mut Emit<'b>) -> Self {
        Out {
            emit,
            next: 0,
            seen: HashMap::new(),
        }
    }

    /// A package of asset `key`'s inventory.
    pub fn package(&mut self, key: AssetKey, package: ctem_model::Package) -> Result<()> {
        (self.emit)(Record::Package {
            asset: key,
            package,
        })
    }

    /// Names the tool when the report is produced by something other than the format's name.
    pub fn scan(&mut self, tool: Option<&str>) -> Result<()> {
        self.scan_covering(tool, ctem_model::Coverage::Assets)
    }

    /// [`Out::scan`] for a report that speaks for less than its assets (VEX documents).
    pub fn scan_covering(
        &mut self,
        tool: Option<&str>,
        covers: ctem_model::Coverage,
    ) -> Result<()> {
        (self.emit)(Record::ScanInfo {
            tool: tool.map(str::to_string),
            started_at: None,
            finished_at: None,
            covers,
        })
    }

    /// Emits `asset` unless an asset of the same kind with the same strongest identifier (or
    /// name) was emitted already in this report; returns its key either way.
    pub fn asset(&mut self, mut asset: Asset) -> Result<AssetKey> {
        if asset.name.is_empty()
            && let Some(i) = asset.identifiers_by_strength().first()
        {
            asset.name = i.value.clone();
        }
        let id = asset
            .identifiers_by_strength()
            .first()
            .map(|i| format!("{}={}", i.kind.as_str(), i.value))
            .unwrap_or_else(|| format!("name={}", asset.name));
        if let Some(k) = self.seen.get(&(asset.kind, id.clone())) {
            return Ok(*k);
        }
        let key = self.next;
        self.next += 1;
        self.seen.insert((asset.kind, id), key);
        (self.emit)(Record::Asset { key, asset })?;
        Ok(key)
    }

    pub fn exposure(&mut self, asset: AssetKey, e: Exposure) -> Result<()> {
        (self.emit)(Record::Exposure {
            asset,
            exposure: Box::new(e),
        })
    }

    pub fn service(&mut self, asset: AssetKey, service: ctem_model::Service) -> Result<()> {
        (self.emit)(Record::Service { asset, service })
    }

    pub fn issue(&mut self, place: impl Into<String>, msg: impl Into<String>) -> Result<()> {
        (self.emit)(Record::Issue(RecordIssue::new(place, msg)))
    }
}

/// Reads the whole input; an input of only blanks is refused as empty.
pub(crate) fn read_all(input: &mut dyn BufRead, what: &str) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    input.read_to_end(&mut buf)?;
    if crate::trim_ascii_bom(&buf).is_empty() {
        return Err(Error::Refused(format!("empty input: not a {what} report")));
    }
    Ok(buf)
}

/// Reads the whole input as one JSON document.
pub(crate) fn read_json(input: &mut dyn BufRead, what: &str) -> Result<Value> {
    let buf = read_all(input, what)?;
    let b = buf.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&buf);
    serde_json::from_slice(b).map_err(Error::json)
}

/// Reads JSON: one document, or JSON lines (one object a line) returned as an array.
pub(crate) fn read_json_or_lines(input: &mut dyn BufRead, what: &str) -> Result<Value> {
    let buf = read_all(input, what)?;
    let b = buf.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&buf);
    match serde_json::from_slice::<Value>(b) {
        Ok(v) => Ok(v),
        Err(first) => {
            let mut out = Vec::new();
            for (i, line) in b.split(|c| *c == b'\n').enumerate() {
                if line.trim_ascii().is_empty() {
                    continue;
                }
                match serde_json::from_slice::<Value>(line) {
                    Ok(v) => out.push(v),
                    Err(_) if out.is_empty() => return Err(Error::json(first)),
                    Err(e) => {
                        return Err(Error::Json {
                            line: i + 1,
                            column: e.column(),
                            message: "invalid JSON line".into(),
                        });
                    }
                }
            }
            Ok(Value::Array(out))
        }
    }
}

/// The string at `v[k1][k2]...`, trimmed, when it is a non-empty string (or a number).
pub(crate) fn s<'v>(v: &'v Value, path: &[&str]) -> Option<&'v str> {
    let mut cur = v;
    for k in path {
        cur = cur.get(k)?;
    }
    cur.as_str().map(str::trim).filter(|x| !x.is_empty())
}

/// Like [`s`] but also renders numbers and booleans.
pub(crate) fn st(v: &Value, path: &[&str]) -> Option<String> {
    let mut cur = v;
    for k in path {
        cur = cur.get(k)?;
    }
    match cur {
        Value::String(x) if !x.trim().is_empty() => Some(x.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The array at `v[k]`, or an empty slice.
pub(crate) fn arr<'v>(v: &'v Value, k: &str) -> &'v [Value] {
    v.get(k)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// A number (or numeric string) at `v[k]`.
pub(crate) fn num(v: &Value, k: &str) -> Option<f64> {
    match v.get(k)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `"None"`, `"null"`, `"N/A"` and blanks, as some tools write missing values.
pub(crate) fn present(x: Option<&str>) -> Option<&str> {
    x.map(str::trim).filter(|v| {
        !v.is_empty()
            && !v.eq_ignore_ascii_case("none")
            && !v.eq_ignore_ascii_case("null")
            && !v.eq_ignore_ascii_case("n/a")
    })
}

/// A severity word; `Err` names the word for a record issue.
pub(crate) fn severity(word: Option<&str>) -> std::result::Result<Severity, String> {
    match word {
        None => Ok(Severity::Unknown),
        Some(w) => Severity::parse(w).ok_or_else(|| format!("unknown severity {w:?}")),
    }
}

/// A CVSS entry from a vector (the version read from its prefix) and/or a score.
pub(crate) fn cvss(vector: Option<&str>, score: Option<f64>, source: &str) -> Option<Cvss> {
    let vector = present(vector);
    if vector.is_none() && score.is_none() {
        return None;
    }
    let version = match vector {
        Some(v) if v.starts_with("CVSS:3.1") => "3.1",
        Some(v) if v.starts_with("CVSS:3.0") => "3.0",
        Some(v) if v.starts_with("CVSS:4.0") => "4.0",
        Some(_) => "2.0",
        None => "3.1",
    };
    Some(Cvss {
        version: version.into(),
        vector: vector.map(str::to_string),
        score,
        source: Some(source.into()),
    })
}

pub(crate) fn package(
    name: &str,
    version: Option<&str>,
    fixed: Option<&str>,
    ecosystem: Option<&str>,
    path: Option<&str>,
) -> Package {
    Package {
        name: name.to_string(),
        version: present(version).map(str::to_string),
        fixed_version: present(fixed).map(str::to_string),
        ecosystem: present(ecosystem).map(str::to_string),
        path: present(path).map(str::to_string),
    }
}

/// A host with both an address and a name.
pub(crate) fn host_asset2(ip: Option<&str>, name: Option<&str>) -> Asset {
    let ip = present(ip);
    let name = present(name).filter(|n| Some(*n) != ip);
    let mut a = Asset::new(AssetKind::Host, name.or(ip).unwrap_or(""));
    if let Some(ip) = ip {
        a.add_identifier(Identifier::ip(ip).unwrap_or_else(|| Identifier::host_name(ip)));
    }
    if let Some(n) = name {
        a.add_identifier(Identifier::host_name(n));
    }
    a
}

/// A web application named by the origin (`scheme://host[:port]`) of `url`.
pub(crate) fn web_asset(url: &str) -> Asset {
    let origin = origin(url);
    Asset::new(AssetKind::Application, &origin)
        .with_identifier(Identifier::new(IdentifierKind::Name, &origin))
}

/// `scheme://host[:port]` of a URL (the URL itself when it has no scheme).
pub(crate) fn origin(url: &str) -> String {
    let u = url.trim();
    match u.find("://") {
        Some(i) => {
            let rest = &u[i + 3..];
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            format!("{}://{}", u[..i].to_ascii_lowercase(), &rest[..end]).to_ascii_lowercase()
        }
        None => u.trim_end_matches('/').to_string(),
    }
}

/// A container image by reference and, when known, digest.
pub(crate) fn image_asset(reference: Option<&str>, digest: Option<&str>) -> Asset {
    let r = present(reference);
    let d = present(digest);
    let mut a = Asset::new(AssetKind::ContainerImage, r.or(d).unwrap_or("image"));
    if let Some(r) = r {
        a.add_identifier(Identifier::new(IdentifierKind::ImageRef, r));
    }
    if let Some(d) = d.filter(|d| d.starts_with("sha256:")) {
        a.add_identifier(Identifier::new(IdentifierKind::ImageDigest, d));
    }
    if a.identifiers.is_empty() {
        a.add_identifier(Identifier::new(IdentifierKind::Name, &a.name.clone()));
    }
    a
}

/// A project, repository or scan root with no better identity than its name.
pub(crate) fn named_asset(kind: AssetKind, name: &str) -> Asset {
    let n = name.trim();
    let id = if kind == AssetKind::Repository && n.contains("://") {
        Identifier::new(IdentifierKind::RepoUrl, n)
    } else {
        Identifier::new(IdentifierKind::Name, n)
    };
    Asset::new(kind, n).with_identifier(id)
}

/// A cloud resource by its provider id (ARN, Azure id, ...), with a display name.
pub(crate) fn cloud_asset(id: &str, name: Option<&str>) -> Asset {
    Asset::new(AssetKind::CloudResource, present(name).unwrap_or(id))
        .with_identifier(Identifier::new(IdentifierKind::CloudId, id))
}

/// Parses an RFC 3339 time.
pub(crate) fn time(s: Option<&str>) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(s?.trim())
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// Adds every `CVE-`/`GHSA-` style id found as whole words in `text`.
pub(crate) fn ids_in_text(e: &mut Exposure, text: &str) {
    for w in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')) {
        let up = w.to_ascii_uppercase();
        if (up.starts_with("CVE-") && up.len() >= 13) || up.starts_with("GHSA-") {
            e.add_vuln_id(w);
        }
    }
}

/// Probe helper: the trimmed head starts with `{` or `[`.
pub(crate) fn is_json(head: &[u8]) -> bool {
    crate::jsonutil::looks_like_json(head)
}

/// Probe helper: `"key"` appears in the head.
pub(crate) fn has(head: &[u8], key: &str) -> bool {
    crate::jsonutil::has_key(head, key)
}

/// Probe helper: the raw bytes appear in the head.
pub(crate) fn contains(head: &[u8], needle: &str) -> bool {
    memchr::memmem::find(head, needle.as_bytes()).is_some()
}

/// Probe helper: the XML root element, when the head looks like XML.
pub(crate) fn xml_root(head: &[u8]) -> Option<String> {
    let h = crate::trim_ascii_bom(head);
    if h.starts_with(b"<") {
        crate::xml::root_element(h)
    } else {
        None
    }
}

/// A CSV document: the header (trimmed, BOM removed) and the records, with their line numbers.
pub(crate) struct Csv {
    pub header: Vec<String>,
    pub rows: Vec<(usize, csv::StringRecord)>,
}

impl Csv {
    /// The column index of the first header matching one of `names` (case-insensitive).
    pub fn col(&self, names: &[&str]) -> Option<usize> {
        names
            .iter()
            .find_map(|n| self.header.iter().position(|h| h.eq_ignore_ascii_case(n)))
    }

    /// The trimmed, non-empty value at column `c` of `row`.
    pub fn get<'r>(&self, row: &'r csv::StringRecord, c: Option<usize>) -> Option<&'r str> {
        row.get(c?).map(str::trim).filter(|s| !s.is_empty())
    }
}

/// Reads a whole CSV document (flexible record lengths); a row that cannot be read stops the
/// parse with its line number.
pub(crate) fn read_csv(input: &mut dyn BufRead, what: &str) -> Result<Csv> {
    let buf = read_all(input, what)?;
    csv_from(&buf, 0)
}

/// A CSV document whose header is the first line containing `needle` (report preambles,
/// as Qualys VMDR writes them, are skipped); the whole input when no line has it.
pub(crate) fn read_csv_after(input: &mut dyn BufRead, what: &str, needle: &str) -> Result<Csv> {
    let buf = read_all(input, what)?;
    let mut off = 0;
    for (skipped, line) in buf.split(|c| *c == b'\n').take(20).enumerate() {
        if memchr::memmem::find(line, needle.as_bytes()).is_some() {
            return csv_from(&buf[off..], skipped);
        }
        off += line.len() + 1;
    }
    csv_from(&buf, 0)
}

fn csv_from(buf: &[u8], skipped: usize) -> Result<Csv> {
    csv_inner(buf, skipped, b',')
}

/// A CSV document with another delimiter (Prowler 3+ writes `;`).
pub(crate) fn csv_with(buf: &[u8], delimiter: u8) -> Result<Csv> {
    csv_inner(buf, 0, delimiter)
}

fn csv_inner(buf: &[u8], skipped: usize, delimiter: u8) -> Result<Csv> {
    let b = buf.strip_prefix(b"\xef\xbb\xbf").unwrap_or(buf);
    let mut r = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(true)
        .from_reader(b);
    let header = r
        .headers()
        .map_err(csv_err)?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_string())
        .collect();
    let mut rows = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(csv_err)?;
        let line = rec.position().map(|p| p.line() as usize).unwrap_or(0) + skipped;
        if rec.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        rows.push((line, rec));
    }
    Ok(Csv { header, rows })
}

fn csv_err(e: csv::Error) -> Error {
    let line = e.position().map(|p| p.line() as usize).unwrap_or(0);
    Error::Csv {
        line,
        message: e.to_string(),
    }
}

/// Probe helper for CSV: the first line of the head (the header), lower-cased.
pub(crate) fn csv_header(head: &[u8]) -> Option<String> {
    let h = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    let end = memchr::memchr(b'\n', h).unwrap_or(h.len());
    let line = std::str::from_utf8(&h[..end]).ok()?;
    if !(line.contains(',') || line.contains(';')) || line.trim_start().starts_with(['{', '[', '<'])
    {
        return None;
    }
    Some(line.to_ascii_lowercase())
}

/// A small element tree built through the safe [`crate::xml`] reader, for XML reports that
/// are documents rather than streams (a few megabytes at most). Names are local names
/// (namespace prefixes dropped).
#[derive(Debug, Default, Clone)]
pub(crate) struct Node {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub text: String,
    pub children: Vec<Node>,
}

impl Node {
    pub fn attr(&self, k: &str) -> Option<&str> {
        crate::xml::attr(&self.attrs, k)
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }

    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    pub fn all<'n>(&'n self, name: &'n str) -> impl Iterator<Item = &'n Node> + 'n {
        self.children
            .iter()
            .filter(move |c| c.name.eq_ignore_ascii_case(name))
    }

    /// The trimmed text of the first child called `name`, when not empty.
    pub fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name)
            .map(|c| c.text.trim())
            .filter(|t| !t.is_empty())
    }

    /// The text at a path of child names.
    pub fn at(&self, path: &[&str]) -> Option<&str> {
        let mut cur = self;
        for p in path {
            cur = cur.child(p)?;
        }
        Some(cur.text.trim()).filter(|t| !t.is_empty())
    }

    /// Every descendant called `name` (depth first, not below a match).
    pub fn find_all<'n>(&'n self, name: &str, out: &mut Vec<&'n Node>) {
        for c in &self.children {
            if c.name.eq_ignore_ascii_case(name) {
                out.push(c);
            } else {
                c.find_all(name, out);
            }
        }
    }

    /// All text below this node, child texts joined by newlines.
    pub fn deep_text(&self) -> String {
        let mut s = self.text.trim().to_string();
        for c in &self.children {
            let t = c.deep_text();
            if !t.is_empty() {
                if !s.is_empty() {
                    s.push('\n');
                }
                s.push_str(&t);
            }
        }
        s
    }
}

/// Reads a whole XML document into a [`Node`] tree (DTD entity declarations refused).
pub(crate) fn read_xml(input: &mut dyn BufRead) -> Result<Node> {
    use crate::xml::{XmlEvent, XmlReader};
    let mut r = XmlReader::new(input);
    let mut stack: Vec<Node> = Vec::new();
    loop {
        match r.next_event()? {
            XmlEvent::Start { name, attrs, empty } => {
                let n = Node {
                    name,
                    attrs,
                    ..Node::default()
                };
                if empty {
                    match stack.last_mut() {
                        Some(p) => p.children.push(n),
                        None => return Ok(n),
                    }
                } else {
                    if stack.len() > 512 {
                        return Err(Error::Refused("XML nested deeper than 512 elements".into()));
                    }
                    stack.push(n);
                }
            }
            XmlEvent::End { .. } => {
                let Some(n) = stack.pop() else {
                    return Err(Error::Xml {
                        position: r.position(),
                        message: "end tag without a start".into(),
                    });
                };
                match stack.last_mut() {
                    Some(p) => p.children.push(n),
                    None => return Ok(n),
                }
            }
            XmlEvent::Text(t) => {
                if let Some(n) = stack.last_mut() {
                    n.text.push_str(&t);
                }
            }
            XmlEvent::Eof => {
                return Err(Error::Xml {
                    position: r.position(),
                    message: "unexpected end of input".into(),
                });
            }
        }
    }
}

/// Converts an XML element to JSON the way CycloneDX and similar schemas map: attributes
/// and child elements become keys; a plural element whose children all share one name
/// becomes an array; a leaf becomes its text.
pub(crate) fn xml_to_json(n: &Node) -> Value {
    if n.children.is_empty() && n.attrs.is_empty() {
        return Value::String(n.text.trim().to_string());
    }
    let plural = !n.children.is_empty()
        && n.attrs.is_empty()
        && n.children.iter().all(|c| c.name == n.children[0].name)
        && is_plural_of(&n.name, &n.children[0].name);
    if plural {
        return Value::Array(n.children.iter().map(xml_to_json).collect());
    }
    let mut m = serde_json::Map::new();
    for (k, v) in &n.attrs {
        m.insert(k.clone(), Value::String(v.clone()));
    }
    for c in &n.children {
        let v = xml_to_json(c);
        match m.get_mut(&c.name) {
            Some(existing) => {
                let old = existing.take();
                *existing = match old {
                    Value::Array(mut a) => {
                        a.push(v);
                        Value::Array(a)
                    }
                    o => Value::Array(vec![o, v]),
                };
            }
            None => {
                m.insert(c.name.clone(), v);
            }
        }
    }
    if !n.text.trim().is_empty() {
        m.insert("#text".into(), Value::String(n.text.trim().to_string()));
    }
    Value::Object(m)
}

/// `components` of `component`, `advisories` of `advisory`, `hashes` of `hash`, `affects` of
/// `target`.
fn is_plural_of(list: &str, item: &str) -> bool {
    list.strip_suffix('s') == Some(item)
        || list.strip_suffix("es") == Some(item)
        || (item.ends_with('y') && list.strip_suffix("ies") == item.strip_suffix('y'))
        || (list == "affects" && item == "target")
}

/// The status a VEX statement decides for the exposure it is about. `fixed` (CSAF `fixed`,
/// `first_fixed`, `recommended`; CycloneDX `resolved`) closes it; `not_affected` (CSAF
/// `known_not_affected`) and CycloneDX `false_positive` make it `false_positive`, with the
/// statement and its justification as the reason (`accepted` is kept for risk a person
/// accepted, which the risk model weighs apart); `affected`, `under_investigation`,
/// `exploitable` and `in_triage` leave it open.
pub(crate) fn vex_status(word: &str) -> ctem_model::ExposureStatus {
    use ctem_model::ExposureStatus as S;
    match word {
        "fixed" | "first_fixed" | "recommended" | "resolved" | "resolved_with_pedigree" => S::Fixed,
        "not_affected" | "known_not_affected" | "false_positive" => S::FalsePositive,
        _ => S::Open,
    }
}

/// The asset a VEX product names: an OCI purl or image reference is a container image
/// (digest from the purl version); any other product is an application named by its id.
pub(crate) fn product_asset(id: &str) -> Asset {
    if let Some(rest) = id.strip_prefix("pkg:oci/") {
        let rest = rest.split('?').next().unwrap_or(rest);
        let (name, digest) = match rest.split_once('@') {
            Some((n, d)) => (n, Some(d.replace("%3A", ":").replace("%3a", ":"))),
            None => (rest, None),
        };
        let repo = id
            .split("repository_url=")
            .nth(1)
            .map(|r| r.split('&').next().unwrap_or(r).replace("%2F", "/"));
        let reference = match repo {
            Some(r) if r.ends_with(&format!("/{name}")) => r,
            Some(r) => format!("{r}/{name}"),
            None => name.to_string(),
        };
        return image_asset(Some(&reference), digest.as_deref());
    }
    named_asset(AssetKind::Application, id)
}

/// A package from a purl (`pkg:npm/%40scope/name@1.0?x=y`): ecosystem, name, version.
pub(crate) fn purl_package(purl: &str) -> Option<Package> {
    let p = purl.strip_prefix("pkg:")?;
    let p = p.split(['?', '#']).next().unwrap_or(p);
    let (path, version) = match p.rsplit_once('@') {
        Some((a, b)) if !b.contains('/') => (a, Some(b.replace("%3A", ":"))),
        _ => (p, None),
    };
    let (eco, name) = path.split_once('/')?;
    let name = name.replace("%40", "@").replace("%2F", "/");
    let name = match eco {
        "apk" | "deb" | "rpm" => name.rsplit('/').next().unwrap_or(&name).to_string(),
        "maven" => name.replacen('/', ":", 1),
        _ => name,
    };
    Some(Package {
        name,
        version,
        fixed_version: None,
        ecosystem: Some(eco.to_string()),
        path: None,
    })
}

/// Removes a DOCTYPE that only points at an external DTD (`<!DOCTYPE SCAN SYSTEM "x.dtd">`,
/// as Qualys writes it) by blanking it out, so the safe reader, which refuses external DTDs,
/// can read the document. The DTD is never fetched either way; a DOCTYPE with an internal
/// subset (which could declare entities) is left alone, for the reader to judge.
pub(crate) fn blank_external_doctype(buf: &mut [u8]) {
    let head = &buf[..buf.len().min(4096)];
    let Some(start) = memchr::memmem::find(head, b"<!DOCTYPE") else {
        return;
    };
    let Some(len) = memchr::memchr(b'>', &buf[start..]) else {
        return;
    };
    let decl = &buf[start..start + len];
    if decl.contains(&b'[') {
        return;
    }
    for b in &mut buf[start..=start + len] {
        if *b != b'\n' {
            *b = b' ';
        }
    }
}

/// Reads a whole XML document after [`blank_external_doctype`].
pub(crate) fn read_xml_doc(input: &mut dyn BufRead, what: &str) -> Result<Node> {
    let mut buf = read_all(input, what)?;
    blank_external_doctype(&mut buf);
    let mut r: &[u8] = &buf;
    read_xml(&mut r)
}

/// Decodes standard base64 (whitespace ignored); `None` on any other character.
pub(crate) fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            b' ' | b'\n' | b'\r' | b'\t' => continue,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// The first line of an HTTP message (request line or status line), base64 or plain.
pub(crate) fn http_first_line(data: &str, base64: bool) -> Option<String> {
    let bytes = if base64 {
        base64_decode(data)?
    } else {
        data.as_bytes().to_vec()
    };
    let text = String::from_utf8_lossy(&bytes);
    text.lines()
        .next()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
}

/// Strips HTML tags and collapses blank lines (Burp and ZAP write HTML descriptions).
pub(crate) fn strip_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A secret shown safely: its first four characters and its length.
pub(crate) fn redact(secret: &str) -> String {
    let s = secret.trim();
    if s.eq_ignore_ascii_case("redacted") || s.is_empty() {
        return "REDACTED".into();
    }
    let head: String = s.chars().take(4).collect();
    format!("{head}... ({} chars)", s.chars().count())
}
