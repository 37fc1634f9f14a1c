//! nmap XML (`-oX`): hosts that are up become host assets with their addresses and names,
//! open ports become services and `open_service` exposures, and the `vulners` NSE script's
//! CVE entries become vulnerabilities on that port.

use std::io::BufRead;

use chrono::{DateTime, Utc};
use ctem_model::{
    Asset, AssetKey, AssetKind, Cvss, Exposure, ExposureKind, Identifier, IdentifierKind, Record,
    RecordIssue, Service, Severity,
};

use crate::xml::{XmlEvent, XmlReader, attr, root_element};
use crate::{Emit, EmptyReport, Error, Format, FormatKind, Result, trim_ascii_bom};

pub static FORMAT: Format = Format {
    name: "nmap",
    kind: FormatKind::Inventory,
    description: "nmap XML output (-oX): hosts, open ports, service versions, vulners CVEs",
    probe,
    parse,
    parse_slice: None,
    empty: EmptyReport::document(
        r#"<?xml version="1.0"?><nmaprun scanner="nmap" args="nmap -oX - 192.0.2.1" start="1700000000" version="7.94"><runstats><finished time="1700000001" elapsed="1.00" exit="success"/><hosts up="0" down="1" total="1"/></runstats></nmaprun>"#,
    ),
};

fn probe(head: &[u8], _file_name: &str) -> u8 {
    let h = trim_ascii_bom(head);
    if h.starts_with(b"<") && root_element(h).as_deref() == Some("nmaprun") {
        100
    } else {
        0
    }
}

#[derive(Default)]
struct HostState {
    up: bool,
    asset: Option<Asset>,
    ports: Vec<PortState>,
    os: Option<(u32, String)>,
    started: Option<DateTime<Utc>>,
}

struct PortState {
    service: Service,
    vulns: Vec<VulnersEntry>,
}

struct VulnersEntry {
    id: String,
    cvss: Option<f64>,
    exploit: bool,
}

fn parse(input: &mut dyn BufRead, emit: &mut Emit<'_>) -> Result<()> {
    let mut r = XmlReader::new(input);
    let mut key: AssetKey = 0;
    let mut host_index = 0usize;
    // root check
    loop {
        match r.next_event()? {
            XmlEvent::Start { name, attrs, .. } => {
                if name != "nmaprun" {
                    return Err(Error::Refused(format!(
                        "not an nmap XML report: root element is <{name}>"
                    )));
                }
                let started = attr(&attrs, "start").and_then(epoch);
                emit(Record::ScanInfo {
                    tool: None,
                    started_at: started,
                    finished_at: None,
                    covers: ctem_model::Coverage::Assets,
                })?;
                break;
            }
            XmlEvent::Text(_) => {}
            XmlEvent::End { .. } | XmlEvent::Eof => {
                return Err(Error::Refused("not an nmap XML report".into()));
            }
        }
    }
    loop {
        match r.next_event()? {
            XmlEvent::Start { name, attrs, empty } if name == "host" => {
                let mut h = HostState {
                    started: attr(&attrs, "starttime").and_then(epoch),
                    ..HostState::default()
                };
                if !empty {
                    read_host(&mut r, &mut h, host_index, emit)?;
                }
                emit_host(h, &mut key, host_index, emit)?;
                host_index += 1;
            }
            XmlEvent::Start { name, attrs, .. } if name == "finished" => {
                if let Some(t) = attr(&attrs, "time").and_then(epoch) {
                    emit(Record::ScanInfo {
                        tool: None,
                        started_at: None,
                        finished_at: Some(t),
                        covers: ctem_model::Coverage::Assets,
                    })?;
                }
            }
            XmlEvent::Eof => return Ok(()),
            _ => {}
        }
    }
}

fn epoch(s: &str) -> Option<DateTime<Utc>> {
    s.trim()
        .parse::<i64>()
        .ok()
        .and_then(|t| DateTime::from_timestamp(t, 0))
}

fn read_host<R: BufRead>(
    r: &mut XmlReader<R>,
    h: &mut HostState,
    host_index: usize,
    emit: &mut Emit<'_>,
) -> Result<()> {
    let mut asset = Asset::new(AssetKind::Host, "");
    let mut cur_port: Option<PortState> = None;
    let mut depth = 0usize;
    loop {
        match r.next_event()? {
            XmlEvent::Start { name, attrs, empty } => {
                match name.as_str() {
                    "status" => h.up = attr(&attrs, "state") == Some("up"),
                    "address" => {
                        let addr = attr(&attrs, "addr").unwrap_or("");
                        let id = match attr(&attrs, "addrtype").unwrap_or("ipv4") {
                            "mac" => Some(Identifier::new(IdentifierKind::Mac, addr)),
                            "ipv6" => Some(Identifier::new(IdentifierKind::Ipv6, addr)),
                            "ipv4" => Some(Identifier::new(IdentifierKind::Ipv4, addr)),
                            _ => None,
                        };
                        if let Some(id) = id {
                            asset.add_identifier(id);
                        }
                    }
                    "hostname" => {
                        if let Some(n) = attr(&attrs, "name") {
                            asset.add_identifier(Identifier::host_name(n));
                        }
                    }
                    "osmatch" => {
                        let acc = attr(&attrs, "accuracy")
                            .and_then(|a| a.parse::<u32>().ok())
                            .unwrap_or(0);
                        if let Some(n) = attr(&attrs, "name")
                            && h.os.as_ref().is_none_or(|(a, _)| acc > *a)
                        {
                            h.os = Some((acc, n.to_string()));
                        }
                    }
                    "port" => {
                        let portid = attr(&attrs, "portid").unwrap_or("");
                        match portid.parse::<u16>() {
                            Ok(p) => {
                                cur_port = Some(PortState {
                                    service: Service {
                                        protocol: attr(&attrs, "protocol")
                                            .unwrap_or("tcp")
                                            .to_string(),
                                        port: p,
                                        state: String::new(),
                                        name: None,
                                        product: None,
                                        version: None,
                                        cpe: Vec::new(),
                                    },
                                    vulns: Vec::new(),
                                })
                            }
                            Err(_) => emit(Record::Issue(RecordIssue::new(
                                format!("host[{host_index}].port[portid={portid}]"),
                                "port id is not a number from 0 to 65535",
                            )))?,
                        }
                    }
                    "state" => {
                        if let Some(p) = cur_port.as_mut() {
                            p.service.state = attr(&attrs, "state").unwrap_or("").to_string();
                        }
                    }
                    "service" => {
                        if let Some(p) = cur_port.as_mut() {
                            let s = &mut p.service;
                            s.name = attr(&attrs, "name").map(str::to_string);
                            s.product = attr(&attrs, "product").map(str::to_string);
                            s.version = attr(&attrs, "version").map(str::to_string);
                        }
                    }
                    "cpe" if !empty => {
                        let t = r.text_until_end()?;
                        if let Some(p) = cur_port.as_mut() {
                            p.service.cpe.push(t.trim().to_string());
                        }
                        continue;
                    }
                    "script" if attr(&attrs, "id") == Some("vulners") && !empty => {
                        let entries = read_vulners(r)?;
                        if let Some(p) = cur_port.as_mut() {
                            p.vulns.extend(entries);
                        }
                        continue;
                    }
                    "script" | "extraports" | "os" | "trace" | "hostscript" if !empty => {
                        if name == "os" {
                            // keep osmatch: descend
                        } else {
                            r.skip_element()?;
                            continue;
                        }
                    }
                    _ => {}
                }
                if !empty {
                    depth += 1;
                }
            }
            XmlEvent::End { name } => {
                if depth == 0 {
                    break;
                }
                depth -= 1;
                if name == "port"
                    && let Some(p) = cur_port.take()
                {
                    h.ports.push(p);
                }
            }
            XmlEvent::Text(_) => {}
            XmlEvent::Eof => {
                return Err(Error::Xml {
                    position: r.position(),
                    message: "unexpected end of input inside <host>".into(),
                });
            }
        }
    }
    h.asset = Some(asset);
    Ok(())
}

fn read_vulners<R: BufRead>(r: &mut XmlReader<R>) -> Result<Vec<VulnersEntry>> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut cur: Vec<(String, String)> = Vec::new();
    loop {
        match r.next_event()? {
            XmlEvent::Start { name, attrs, empty } => {
                if name == "elem" && !empty {
                    let k = attr(&attrs, "key").unwrap_or("").to_string();
                    let v = r.text_until_end()?;
                    cur.push((k, v));
                    continue;
                }
                if !empty {
                    depth += 1;
                }
            }
            XmlEvent::End { name } => {
                if depth == 0 {
                    return Ok(out);
                }
                depth -= 1;
                if name == "table" && !cur.is_empty() {
                    let get = |k: &str| cur.iter().find(|(a, _)| a == k).map(|(_, v)| v.trim());
                    let is_cve = get("type") == Some("cve")
                        || get("id").is_some_and(|i| i.starts_with("CVE-"));
                    if is_cve && let Some(id) = get("id") {
                        out.push(VulnersEntry {
                            id: id.to_string(),
                            cvss: get("cvss").and_then(|c| c.parse().ok()),
                            exploit: get("is_exploit") == Some("true"),
                        });
                    }
                    cur.clear();
                }
            }
            XmlEvent::Text(_) => {}
            XmlEvent::Eof => {
                return Err(Error::Xml {
                    position: r.position(),
                    message: "unexpected end of input inside <script>".into(),
                });
            }
        }
    }
}

fn emit_host(h: HostState, key: &mut AssetKey, index: usize, emit: &mut Emit<'_>) -> Result<()> {
    let Some(mut asset) = h.asset else {
        return Ok(());
    };
    if !h.up {
        return Ok(());
    }
    if asset.identifiers.is_empty() {
        return emit(Record::Issue(RecordIssue::new(
            format!("host[{index}]"),
            "host has no address or name",
        )));
    }
    asset.name = asset.identifiers_by_strength()[0].value.clone();
    // prefer a DNS name as display name when there is one
    if let Some(n) = asset
        .identifiers
        .iter()
        .find(|i| matches!(i.kind, IdentifierKind::Fqdn | IdentifierKind::Hostname))
    {
        asset.name = n.value.clone();
    } else if let Some(ip) = asset
        .identifiers
        .iter()
        .find(|i| matches!(i.kind, IdentifierKind::Ipv4 | IdentifierKind::Ipv6))
    {
        asset.name = ip.value.clone();
    }
    asset.os = h.os.map(|(_, n)| n);
    let k = *key;
    *key += 1;
    emit(Record::Asset { key: k, asset })?;
    for p in h.ports {
        let open = p.service.state == "open";
        if open {
            let label = service_label(&p.service);
            let mut e = Exposure::new(
                ExposureKind::OpenService,
                format!("open port {}/{}{label}", p.service.port, p.service.protocol),
                Severity::Info,
            );
            e.port = Some(p.service.port);
            e.protocol = Some(p.service.protocol.clone());
            e.first_seen = h.started;
            emit(Record::Exposure {
                asset: k,
                exposure: Box::new(e),
            })?;
        }
        for v in &p.vulns {
            let mut e = Exposure::new(
                ExposureKind::Vulnerability,
                format!(
                    "{}{}",
                    v.id,
                    service_label(&p.service)
                        .replacen(" (", " in ", 1)
                        .trim_end_matches(')')
                ),
                v.cvss.map(Severity::from_cvss).unwrap_or_default(),
            );
            e.add_vuln_id(&v.id);
            e.rule_id = Some(v.id.clone());
            e.port = Some(p.service.port);
            e.protocol = Some(p.service.protocol.clone());
            if let Some(s) = v.cvss {
                e.cvss.push(Cvss {
                    version: "unknown".into(),
                    vector: None,
                    score: Some(s),
                    source: Some("vulners".into()),
                });
            }
            if v.exploit {
                e.evidence = Some("vulners: exploit available".into());
            }
            emit(Record::Exposure {
                asset: k,
                exposure: Box::new(e),
            })?;
        }
        emit(Record::Service {
            asset: k,
            service: p.service,
        })?;
    }
    Ok(())
}

fn service_label(s: &Service) -> String {
    let what = s.product.as_ref().or(s.name.as_ref());
    match (what, &s.version) {
        (Some(w), Some(v)) => format!(" ({w} {v})"),
        (Some(w), None) => format!(" ({w})"),
        _ => String::new(),
    }
}
