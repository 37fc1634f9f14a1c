//! naabu JSON lines (`-json`): one `{host?, ip, port, protocol?, tls?}` object a line (older
//! versions nest `port: {Port, Protocol, TLS}`). Each IP (with its host name) is a host
//! asset; each line is a service and an open-service exposure of info severity.

use std::io::BufRead;

use ctem_model::{Exposure, ExposureKind, Service, Severity};
use serde_json::Value;

use crate::common::{Out, has, host_asset2, is_json, read_json_or_lines, s};
use crate::{Emit, EmptyReport, Error, Format, FormatKind, Result};

pub static FORMAT: Format = Format {
    name: "naabu",
    kind: FormatKind::Inventory,
    description: "naabu JSON lines (-json)",
    probe,
    parse,
    parse_slice: None,
    empty: EmptyReport {
        blank: true,
        null: false,
        empty_array: false,
        example: r#""#,
    },
};

fn probe(head: &[u8], _file_name: &str) -> u8 {
    if is_json(head)
        && has(head, "ip")
        && has(head, "port")
        && !has(head, "ports")
        && !has(head, "template-id")
    {
        if has(head, "tls") || has(head, "protocol") || has(head, "Port") {
            85
        } else {
            40
        }
    } else {
        0
    }
}

fn parse(input: &mut dyn BufRead, emit: &mut Emit<'_>) -> Result<()> {
    let doc = read_json_or_lines(input, "naabu")?;
    let items: Vec<&Value> = match &doc {
        Value::Array(a) => a.iter().collect(),
        Value::Object(_) => vec![&doc],
        _ => return Err(Error::Refused("not naabu output".into())),
    };
    let mut out = Out::new(emit);
    for (i, r) in items.into_iter().enumerate() {
        let place = format!("line {}", i + 1);
        let ip = s(r, &["ip"]);
        let host = s(r, &["host"]);
        if ip.is_none() && host.is_none() {
            out.issue(place, "entry without ip or host")?;
            continue;
        }
        let port = r["port"]
            .as_u64()
            .or(r["port"]["Port"].as_u64())
            .and_then(|p| u16::try_from(p).ok());
        let Some(port) = port else {
            out.issue(place, "port is not a number 0-65535")?;
            continue;
        };
        let proto = s(r, &["protocol"])
            .or(s(r, &["port", "Protocol"]))
            .unwrap_or("tcp")
            .to_ascii_lowercase();
        let proto = if proto == "0" {
            "tcp".to_string()
        } else {
            proto
        };
        let key = out.asset(host_asset2(ip, host))?;
        let tls = r["tls"]
            .as_bool()
            .or(r["port"]["TLS"].as_bool())
            .unwrap_or(false);
        out.service(
            key,
            Service {
                protocol: proto.clone(),
                port,
                state: "open".into(),
                name: tls.then(|| "ssl".to_string()),
                product: None,
                version: None,
                cpe: Vec::new(),
            },
        )?;
        let mut e = Exposure::new(
            ExposureKind::OpenService,
            format!("open port {port}/{proto}"),
            Severity::Info,
        );
        e.port = Some(port);
        e.protocol = Some(proto);
        e.first_seen = crate::common::time(s(r, &["timestamp"]));
        out.exposure(key, e)?;
    }
    Ok(())
}
