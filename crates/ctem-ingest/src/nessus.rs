//! Nessus `.nessus` v2 XML (`NessusClientData_v2`), from Nessus, Tenable.sc/.io exports and
//! Tenable WAS. Each `ReportHost` becomes an asset (a host, or an application when the host
//! name is a URL, as Tenable WAS writes it); `HostProperties` give its addresses, names, MAC
//! and OS. Each `ReportItem` of severity 1-4 becomes an exposure on that asset; severity 0
//! (informational) plugins are inventory, not exposures: their ports become services.

use std::io::BufRead;

use chrono::{DateTime, NaiveDateTime, Utc};
use ctem_model::{
    Asset, AssetKey, AssetKind, Cvss, Exposure, ExposureKind, Identifier, IdentifierKind, Record,
    RecordIssue, Service, Severity,
};

use crate::xml::{XmlEvent, XmlReader, attr, root_element};
use crate::{Emit, EmptyReport, Error, Format, FormatKind, Result, trim_ascii_bom};

pub static FORMAT: Format = Format {
    name: "nessus",
    kind: FormatKind::Scanner,
    description: "Nessus / Tenable .nessus v2 XML (NessusClientData_v2), including Tenable WAS",
    probe,
    parse,
    parse_slice: None,
    empty: EmptyReport::document(
        r#"<?xml version="1.0" ?><NessusClientData_v2><Report name="scan"></Report></NessusClientData_v2>"#,
    ),
};

fn probe(head: &[u8], _file_name: &str) -> u8 {
    let h = trim_ascii_bom(head);
    if h.starts_with(b"<") && root_element(h).as_deref() == Some("NessusClientData_v2") {
        100
    } else {
        0
    }
}

fn parse(input: &mut dyn BufRead, emit: &mut Emit<'_>) -> Result<()> {
    let mut r = XmlReader::new(input);
    match r.next_start()? {
        Some(name) if name == "NessusClientData_v2" => {}
        Some(name) => {
            return Err(Error::Refused(format!(
                "not a .nessus v2 report: root element is <{name}>"
            )));
        }
        None => return Err(Error::Refused("not a .nessus v2 report".into())),
    }
    let mut key: AssetKey = 0;
    let mut host_index = 0usize;
    loop {
        match r.next_event()? {
            XmlEvent::Start { name, attrs, empty } => match name.as_str() {
                "Policy" if !empty => r.skip_element()?,
                "ReportHost" => {
                    let host = attr(&attrs, "name").unwrap_or("").to_string();
                    if !empty {
                        read_host(&mut r, &host, host_index, key, emit)?;
                        key += 1;
                    }
                    host_index += 1;
                }
                _ => {}
            },
            XmlEvent::Eof => return Ok(()),
            _ => {}
        }
    }
}

impl<R: BufRead> XmlReader<R> {
    /// The name of the first element, skipping leading text.
    pub(crate) fn next_start(&mut self) -> Result<Option<String>> {
        loop {
            match self.next_event()? {
                XmlEvent::Start { name, .. } => return Ok(Some(name)),
                XmlEvent::Text(_) => {}
                _ => return Ok(None),
            }
        }
    }
}

struct Item {
    attrs: Vec<(String, String)>,
    fields: Vec<(String, String)>,
}

fn read_host<R: BufRead>(
    r: &mut XmlReader<R>,
    host: &str,
    host_index: usize,
    key: AssetKey,
    emit: &mut Emit<'_>,
) -> Result<()> {
    let mut props: Vec<(String, String)> = Vec::new();
    let mut emitted = false;
    let mut started = None;
    let mut item_index = 0usize;
    let mut services: Vec<Service> = Vec::new();
    loop {
        match r.next_event()? {
            XmlEvent::Start { name, attrs, empty } => match name.as_str() {
                "HostProperties" if !empty => {
                    props = read_props(r)?;
                    started = prop(&props, "HOST_START_TIMESTAMP")
                        .and_then(|t| t.parse::<i64>().ok())
                        .and_then(|t| DateTime::from_timestamp(t, 0))
                        .or_else(|| prop(&props, "HOST_START").and_then(parse_nessus_date));
                }
                "ReportItem" => {
                    if !emitted {
                        emit_asset(host, &props, key, emit)?;
                        emitted = true;
                    }
                    let fields = if empty { Vec::new() } else { read_fields(r)? };
                    let item = Item { attrs, fields };
                    let place = format!("ReportHost[{host_index}].ReportItem[{item_index}]");
                    item_index += 1;
                    handle_item(item, &place, key, started, &mut services, emit)?;
                }
                _ => {
                    if !empty {
                        r.skip_element()?;
                    }
                }
            },
            XmlEvent::End { .. } => break,
            XmlEvent::Text(_) => {}
            XmlEvent::Eof => {
                return Err(Error::Xml {
                    position: r.position(),
                    message: "unexpected end of input inside <ReportHost>".into(),
                });
            }
        }
    }
    if !emitted {
        emit_asset(host, &props, key, emit)?;
    }
    for s in services {
        emit(Record::Service {
            asset: key,
            service: s,
        })?;
    }
    Ok(())
}

fn read_props<R: BufRead>(r: &mut XmlReader<R>) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    loop {
        match r.next_event()? {
            XmlEvent::Start { name, attrs, empty } => {
                if empty {
                    continue;
                }
                let text = r.text_until_end()?;
                if name == "tag"
                    && let Some(n) = attr(&attrs, "name")
                {
                    out.push((n.to_string(), text.trim().to_string()));
                }
            }
            XmlEvent::End { .. } => return Ok(out),
            XmlEvent::Text(_) => {}
            XmlEvent::Eof => {
                return Err(Error::Xml {
                    position: r.position(),
                    message: "unexpected end of input inside <HostProperties>".into(),
                });
            }
        }
    }
}

fn read_fields<R: BufRead>(r: &mut XmlReader<R>) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    loop {
        match r.next_event()? {
            XmlEvent::Start { name, empty, .. } => {
                let text = if empty {
                    String::new()
                } else {
                    r.text_until_end()?
                };
                out.push((name, text));
            }
            XmlEvent::End { .. } => return Ok(out),
            XmlEvent::Text(_) => {}
            XmlEvent::Eof => {
                return Err(Error::Xml {
                    position: r.position(),
                    message: "unexpected end of input inside <ReportItem>".into(),
                });
            }
        }
    }
}

fn prop<'a>(props: &'a [(String, String)], name: &str) -> Option<&'a str> {
    props
        .iter()
        .find(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v.as_str())
}

/// `Tue Jun 15 10:00:00 2021` as Nessus writes HOST_START.
fn parse_nessus_date(s: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(s.trim(), "%a %b %e %H:%M:%S %Y")
        .ok()
        .map(|n| n.and_utc())
}

fn emit_asset(
    host: &str,
    props: &[(String, String)],
    key: AssetKey,
    emit: &mut Emit<'_>,
) -> Result<()> {
    let is_url = host.contains("://");
    let mut asset = Asset::new(
        if is_url {
            AssetKind::Application
        } else {
            AssetKind::Host
        },
        host,
    );
    if is_url {
        asset.add_identifier(Identifier::new(IdentifierKind::Name, host));
    } else {
        if let Some(ip) = prop(props, "host-ip").and_then(Identifier::ip) {
            asset.add_identifier(ip);
        }
        if let Some(f) = prop(props, "host-fqdn") {
            asset.add_identifier(Identifier::host_name(f));
        }
        if let Some(n) = prop(props, "netbios-name") {
            asset.add_identifier(Identifier::new(IdentifierKind::Hostname, n));
        }
        if let Some(m) = prop(props, "mac-address") {
            for mac in m.split_whitespace() {
                asset.add_identifier(Identifier::new(IdentifierKind::Mac, mac));
            }
        }
        if !host.is_empty() {
            asset.add_identifier(Identifier::host_name(host));
        }
        asset.os = prop(props, "operating-system").map(|s| s.lines().next().unwrap_or(s).into());
        if let Some(n) = asset
            .identifiers
            .iter()
            .find(|i| i.kind == IdentifierKind::Fqdn)
        {
            asset.name = n.value.clone();
        }
    }
    if asset.name.is_empty()
        && let Some(i) = asset.identifiers_by_strength().first()
    {
        asset.name = i.value.clone();
    }
    emit(Record::Asset { key, asset })
}

fn handle_item(
    item: Item,
    place: &str,
    key: AssetKey,
    started: Option<DateTime<Utc>>,
    services: &mut Vec<Service>,
    emit: &mut Emit<'_>,
) -> Result<()> {
    let a = |k: &str| attr(&item.attrs, k).unwrap_or("");
    let field = |k: &str| {
        item.fields
            .iter()
            .find(|(n, v)| n == k && !v.trim().is_empty())
            .map(|(_, v)| v.trim())
    };
    let port: Option<u16> = match a("port").parse::<u16>() {
        Ok(0) => None,
        Ok(p) => Some(p),
        Err(_) => {
            return emit(Record::Issue(RecordIssue::new(
                place,
                format!("port {:?} is not a number", a("port")),
            )));
        }
    };
    let protocol = a("protocol").to_ascii_lowercase();
    if let Some(p) = port
        && !services
            .iter()
            .any(|s| s.port == p && s.protocol == protocol)
    {
        let svc = a("svc_name");
        services.push(Service {
            protocol: protocol.clone(),
            port: p,
            state: "open".into(),
            name: (!svc.is_empty()).then(|| svc.trim_end_matches('?').to_string()),
            product: None,
            version: None,
            cpe: Vec::new(),
        });
    }
    let sev = match a("severity").trim() {
        "0" => Severity::Info,
        "1" => Severity::Low,
        "2" => Severity::Medium,
        "3" => Severity::High,
        "4" => Severity::Critical,
        other => {
            return emit(Record::Issue(RecordIssue::new(
                place,
                format!("severity {other:?} is not 0-4"),
            )));
        }
    };
    if sev == Severity::Info {
        return Ok(());
    }
    let plugin = a("pluginID");
    if plugin.is_empty() {
        return emit(Record::Issue(RecordIssue::new(place, "missing pluginID")));
    }
    let family = a("pluginFamily");
    let title = field("plugin_name")
        .or(Some(a("pluginName")).filter(|s| !s.is_empty()))
        .unwrap_or(plugin);
    let lower = title.to_ascii_lowercase();
    let kind = if family.contains("Compliance") {
        ExposureKind::Misconfiguration
    } else if family.contains("Default Unix Accounts")
        || lower.contains("default credentials")
        || lower.contains("default password")
        || lower.contains("blank password")
    {
        ExposureKind::WeakCredential
    } else {
        ExposureKind::Vulnerability
    };
    let mut e = Exposure::new(kind, title, sev);
    e.rule_id = Some(plugin.to_string());
    e.port = port;
    e.protocol = Some(protocol).filter(|p| !p.is_empty());
    e.description = field("description")
        .or(field("synopsis"))
        .map(str::to_string);
    e.solution = field("solution").map(str::to_string);
    e.evidence = field("plugin_output").map(str::to_string);
    e.first_seen = started;
    for (n, v) in &item.fields {
        match n.as_str() {
            "cve" => e.add_vuln_id(v),
            "cwe" => e.add_cwe(v),
            "see_also" => e
                .references
                .extend(v.split_whitespace().map(str::to_string)),
            _ => {}
        }
    }
    for (ver_field, score_field, version) in [
        ("cvss_vector", "cvss_base_score", "2.0"),
        ("cvss3_vector", "cvss3_base_score", "3.x"),
        ("cvss4_vector", "cvss4_base_score", "4.0"),
    ] {
        let vector = field(ver_field).map(|v| v.trim_start_matches("CVSS2#").to_string());
        let score = field(score_field).and_then(|s| s.parse::<f64>().ok());
        if vector.is_some() || score.is_some() {
            let version = match (&vector, version) {
                (Some(v), "3.x") if v.starts_with("CVSS:3.1") => "3.1",
                (_, "3.x") => "3.0",
                (_, v) => v,
            };
            e.cvss.push(Cvss {
                version: version.into(),
                vector,
                score,
                source: Some("nessus".into()),
            });
        }
    }
    emit(Record::Exposure {
        asset: key,
        exposure: Box::new(e),
    })
}
