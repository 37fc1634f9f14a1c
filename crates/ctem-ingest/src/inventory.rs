//! Asset inventories (a CMDB export) as CSV or JSON: one asset per row or object, with the
//! business context scanners cannot see. The columns (CSV header in any order, any case) or
//! JSON keys are:
//!
//! | column | meaning |
//! |---|---|
//! | `name` | the asset's name (a host name, FQDN or address for hosts) |
//! | `ip` | one or more addresses, `;`- or space-separated (a JSON array too) |
//! | `fqdn` | fully qualified domain name |
//! | `mac` | hardware address |
//! | `owner` | owning team (`owner_team` and `team` are read too) |
//! | `criticality` | 1 (lowest) to 5 (crown jewel) |
//! | `zone` | network zone (`internet`, `dmz`, `internal`, `restricted`, `isolated`...) |
//! | `internet_facing` | `true`/`false` (`yes`/`no`, `1`/`0`) |
//! | `environment` | `production`, `staging`... (`env` is read too) |
//! | `tags` | `;`-separated (a JSON array too) |
//! | `kind` | `host` (default), `application`, `container_image`, `repository`, `cloud_resource` |
//!
//! Every column but one identifier (`name`, `ip`, `fqdn` or `mac`) is optional; any other
//! column becomes a tag `column:value`. A row with no identifier, or a value that cannot be
//! read (criticality 7, internet_facing "maybe"), is an issue naming its line and column,
//! and the row is skipped. The store matches inventory assets to scanned ones with the
//! same identity rules as scanner reports, lets the inventory's facts outrank scanners',
//! and creates the assets no scanner has seen (listed as never scanned).

use std::io::BufRead;

use ctem_model::{Asset, AssetKind, Identifier, IdentifierKind};
use serde_json::Value;

use crate::common::{Out, csv_header, has, is_json, read_all};
use crate::{Emit, EmptyReport, Error, Format, FormatKind, Result};

pub static FORMAT: Format = Format {
    name: "inventory",
    kind: FormatKind::Inventory,
    description: "asset inventory (CMDB export) as CSV or JSON: criticality, zone, owner, internet-facing",
    probe,
    parse,
    parse_slice: None,
    empty: EmptyReport::document("name,ip,fqdn,owner,criticality,zone,internet_facing\n"),
};

/// The columns read as facts; anything else becomes a tag.
const KNOWN: &[&str] = &[
    "name",
    "ip",
    "fqdn",
    "mac",
    "owner",
    "owner_team",
    "team",
    "criticality",
    "zone",
    "internet_facing",
    "environment",
    "env",
    "tags",
    "kind",
];

fn probe(head: &[u8], _file_name: &str) -> u8 {
    if let Some(h) = csv_header(head) {
        let cols: Vec<&str> = h
            .split([',', ';'])
            .map(|c| c.trim().trim_matches('"'))
            .collect();
        let id = ["name", "ip", "fqdn", "mac"]
            .iter()
            .any(|c| cols.contains(c));
        let fact = ["criticality", "internet_facing"]
            .iter()
            .any(|c| cols.contains(c));
        return if id && fact { 90 } else { 0 };
    }
    if is_json(head)
        && (has(head, "internet_facing") || (has(head, "criticality") && has(head, "owner")))
        && (has(head, "name") || has(head, "ip") || has(head, "fqdn"))
    {
        return 80;
    }
    0
}

/// One row or object: (column, value) pairs, columns lower-cased.
type Row = Vec<(String, String)>;

fn parse(input: &mut dyn BufRead, emit: &mut Emit<'_>) -> Result<()> {
    let buf = read_all(input, "inventory")?;
    let rows = if is_json(&buf) {
        json_rows(&buf)?
    } else {
        csv_rows(&buf)?
    };
    let mut out = Out::new(emit);
    for (place, row) in rows {
        match asset(&row) {
            Ok(a) => {
                out.asset(a)?;
            }
            Err((column, message)) => {
                let record = match column {
                    Some(c) => format!("{place}, column {c}"),
                    None => place,
                };
                out.issue(record, message)?;
            }
        }
    }
    Ok(())
}

fn csv_rows(buf: &[u8]) -> Result<Vec<(String, Row)>> {
    let csv = crate::common::csv_with(buf, b',')?;
    let header: Vec<String> = csv
        .header
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    if !header
        .iter()
        .any(|h| ["name", "ip", "fqdn", "mac"].contains(&h.as_str()))
    {
        return Err(Error::Refused(
            "CSV without a name, ip, fqdn or mac column: not an asset inventory".into(),
        ));
    }
    Ok(csv
        .rows
        .iter()
        .map(|(line, rec)| {
            let row = header
                .iter()
                .zip(rec.iter())
                .map(|(h, v)| (h.clone(), v.trim().to_owned()))
                .filter(|(_, v)| !v.is_empty())
                .collect();
            (format!("line {line}"), row)
        })
        .collect())
}

fn json_rows(buf: &[u8]) -> Result<Vec<(String, Row)>> {
    let b = buf.strip_prefix(b"\xef\xbb\xbf").unwrap_or(buf);
    let doc: Value = serde_json::from_slice(b).map_err(Error::json)?;
    let (items, prefix) = match &doc {
        Value::Array(a) => (a, ""),
        Value::Object(o) => match o.get("assets").and_then(Value::as_array) {
            Some(a) => (a, "assets"),
            None => {
                return Err(Error::Refused(
                    "JSON object without an `assets` array: not an asset inventory".into(),
                ));
            }
        },
        _ => {
            return Err(Error::Refused(
                "JSON that is neither an array nor an object: not an asset inventory".into(),
            ));
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let place = format!("{prefix}[{i}]");
        let Some(obj) = item.as_object() else {
            out.push((place, Vec::new()));
            continue;
        };
        let row = obj
            .iter()
            .filter_map(|(k, v)| {
                let text = match v {
                    Value::Null => return None,
                    Value::String(s) => s.trim().to_owned(),
                    Value::Array(a) => a
                        .iter()
                        .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
                        .collect::<Vec<_>>()
                        .join(";"),
                    other => other.to_string(),
                };
                (!text.is_empty()).then(|| (k.trim().to_ascii_lowercase(), text))
            })
            .collect();
        out.push((place, row));
    }
    Ok(out)
}

type RowError = (Option<&'static str>, String);

fn get<'r>(row: &'r Row, names: &[&str]) -> Option<&'r str> {
    names
        .iter()
        .find_map(|n| row.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str()))
}

fn list(v: &str) -> impl Iterator<Item = &str> {
    v.split([';', ' ', ','])
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn boolean(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" => Some(true),
        "false" | "no" | "n" | "0" => Some(false),
        _ => None,
    }
}

/// The asset of one row, or the column and reason it cannot be read.
fn asset(row: &Row) -> std::result::Result<Asset, RowError> {
    let kind = match get(row, &["kind"]) {
        None => AssetKind::Host,
        Some(k) => AssetKind::parse(&k.to_ascii_lowercase())
            .filter(|k| *k != AssetKind::Identity)
            .ok_or((
                Some("kind"),
                format!(
                    "unknown kind {k:?}: host, application, container_image, repository or cloud_resource"
                ),
            ))?,
    };
    let name = get(row, &["name"]);
    let mut a = Asset::new(kind, name.unwrap_or(""));
    if let Some(n) = name {
        a.add_identifier(name_identifier(kind, n));
    }
    if let Some(ips) = get(row, &["ip"]) {
        for ip in list(ips) {
            let id = Identifier::ip(ip)
                .ok_or_else(|| (Some("ip"), format!("{ip:?} is not an IP address")))?;
            a.add_identifier(id);
        }
    }
    if let Some(f) = get(row, &["fqdn"]) {
        a.add_identifier(Identifier::new(IdentifierKind::Fqdn, f));
    }
    if let Some(m) = get(row, &["mac"]) {
        a.add_identifier(Identifier::new(IdentifierKind::Mac, m));
    }
    if a.identifiers.is_empty() {
        return Err((None, "no identifier: give name, ip, fqdn or mac".into()));
    }
    if a.name.is_empty() {
        a.name = a
            .identifiers_by_strength()
            .first()
            .map(|i| i.value.clone())
            .unwrap_or_default();
    }
    if let Some(c) = get(row, &["criticality"]) {
        let v = c
            .parse::<u8>()
            .ok()
            .filter(|v| (1..=5).contains(v))
            .ok_or_else(|| (Some("criticality"), format!("{c:?} is not 1-5")))?;
        a.criticality = Some(v);
    }
    if let Some(i) = get(row, &["internet_facing"]) {
        a.internet_facing = Some(boolean(i).ok_or_else(|| {
            (
                Some("internet_facing"),
                format!("{i:?} is not true or false"),
            )
        })?);
    }
    a.zone = get(row, &["zone"]).map(str::to_owned);
    a.owner_team = get(row, &["owner", "owner_team", "team"]).map(str::to_owned);
    a.environment = get(row, &["environment", "env"]).map(str::to_owned);
    if let Some(t) = get(row, &["tags"]) {
        for tag in t.split(';').map(str::trim).filter(|t| !t.is_empty()) {
            push_tag(&mut a, tag.to_owned());
        }
    }
    for (k, v) in row {
        if !KNOWN.contains(&k.as_str()) {
            push_tag(&mut a, format!("{k}:{v}"));
        }
    }
    Ok(a)
}

fn push_tag(a: &mut Asset, tag: String) {
    if !a.tags.contains(&tag) {
        a.tags.push(tag);
    }
}

/// The identifier a name gives an asset of `kind`, as the scanners of that kind name it.
fn name_identifier(kind: AssetKind, name: &str) -> Identifier {
    match kind {
        AssetKind::Host => Identifier::host_name(name),
        AssetKind::ContainerImage => Identifier::new(IdentifierKind::ImageRef, name),
        AssetKind::Repository if name.contains("://") => {
            Identifier::new(IdentifierKind::RepoUrl, name)
        }
        AssetKind::CloudResource => Identifier::new(IdentifierKind::CloudId, name),
        _ => Identifier::new(IdentifierKind::Name, name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Record, parse_bytes};

    fn assets(bytes: &[u8]) -> (Vec<Asset>, Vec<String>) {
        let mut assets = Vec::new();
        let mut issues = Vec::new();
        for r in parse_bytes(&FORMAT, bytes).expect("parse") {
            match r {
                Record::Asset { asset, .. } => assets.push(asset),
                Record::Issue(i) => issues.push(format!("{}: {}", i.record, i.message)),
                _ => {}
            }
        }
        (assets, issues)
    }

    #[test]
    fn csv_header_in_any_order_and_case_with_unknown_columns_as_tags() {
        let csv = b"Criticality,NAME,IP,Owner,Internet_Facing,Zone,Environment,Tags,Cost Center\n\
5,web01.corp,10.0.0.5;10.0.1.5,web,true,dmz,production,pci;payments,CC-42\n\
2,,10.0.0.9,,no,,,,\n";
        let (a, issues) = assets(csv);
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(a.len(), 2);
        let w = &a[0];
        assert_eq!(w.name, "web01.corp");
        assert_eq!(w.kind, AssetKind::Host);
        assert_eq!(
            (w.criticality, w.internet_facing, w.zone.as_deref()),
            (Some(5), Some(true), Some("dmz"))
        );
        assert_eq!(w.owner_team.as_deref(), Some("web"));
        assert_eq!(w.environment.as_deref(), Some("production"));
        assert_eq!(w.tags, ["pci", "payments", "cost center:CC-42"]);
        let ids: Vec<String> = w
            .identifiers
            .iter()
            .map(|i| format!("{}={}", i.kind.as_str(), i.value))
            .collect();
        assert_eq!(ids, ["fqdn=web01.corp", "ipv4=10.0.0.5", "ipv4=10.0.1.5"]);
        assert_eq!(a[1].name, "10.0.0.9");
        assert_eq!(a[1].internet_facing, Some(false));
    }

    #[test]
    fn json_arrays_and_wrapped_objects() {
        let json = br#"{"assets": [
            {"name": "app", "kind": "application", "criticality": 4, "internet_facing": true,
             "tags": ["crown-jewel"], "owner": "platform", "business_unit": "retail"},
            {"ip": ["192.0.2.7"], "mac": "00-1A-2B-3C-4D-5E", "criticality": "3"}
        ]}"#;
        let (a, issues) = assets(json);
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(a[0].kind, AssetKind::Application);
        assert_eq!(a[0].identifiers[0].kind, IdentifierKind::Name);
        assert_eq!(a[0].tags, ["crown-jewel", "business_unit:retail"]);
        assert_eq!(a[1].criticality, Some(3));
        assert_eq!(a[1].name, "00:1a:2b:3c:4d:5e");
    }

    #[test]
    fn bad_rows_are_issues_naming_line_and_column() {
        let csv = b"name,criticality,internet_facing,ip,kind\n\
ok,3,true,,\n\
bad-crit,7,true,,\n\
bad-bool,2,maybe,,\n\
bad-ip,2,,10.0.0.300,\n\
,2,,,\n\
bad-kind,2,,,toaster\n";
        let (a, issues) = assets(csv);
        assert_eq!(a.len(), 1);
        assert_eq!(
            issues,
            [
                "line 3, column criticality: \"7\" is not 1-5",
                "line 4, column internet_facing: \"maybe\" is not true or false",
                "line 5, column ip: \"10.0.0.300\" is not an IP address",
                "line 6: no identifier: give name, ip, fqdn or mac",
                "line 7, column kind: unknown kind \"toaster\": host, application, container_image, repository or cloud_resource",
            ]
        );
    }

    #[test]
    fn not_an_inventory_is_refused() {
        let e = parse_bytes(&FORMAT, b"plugin,severity\n1,high\n").unwrap_err();
        assert!(e.to_string().contains("not an asset inventory"), "{e}");
        let e = parse_bytes(&FORMAT, br#"{"runs": []}"#).unwrap_err();
        assert!(e.to_string().contains("not an asset inventory"), "{e}");
        assert!(parse_bytes(&FORMAT, b"").is_err());
    }

    #[test]
    fn probe_reads_inventories_only() {
        assert!(probe(b"name,ip,criticality\nweb,10.0.0.1,3\n", "x") >= 80);
        assert!(probe(b"Name,IP,Internet_Facing\n", "x") >= 80);
        assert_eq!(probe(b"Plugin ID,Risk,Host\n", "x"), 0);
        assert!(probe(br#"[{"name": "a", "internet_facing": true}]"#, "x") >= 80);
        assert_eq!(probe(br#"{"runs": [{"tool": {}}]}"#, "x"), 0);
    }
}
