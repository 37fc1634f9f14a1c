//! masscan JSON output (`-oJ`: an array of `{ip, timestamp, ports: [...]}` objects, with the
//! trailing-comma quirk of old versions tolerated). Each IP is a host asset; each open port
//! is a service and an open-service exposure (info severity; the store and the risk stage
//! decide what an open port is worth).

use std::io::BufRead;

use ctem_model::{Exposure, ExposureKind, Service, Severity};
use serde_json::Value;

use crate::common::{Out, arr, has, host_asset2, is_json, read_all, s};
use crate::{Emit, EmptyReport, Error, Format, FormatKind, Result};

pub static FORMAT: Format = Format {
    name: "masscan",
    kind: FormatKind::Inventory,
    description: "masscan JSON output (-oJ)",
    probe,
    parse,
    parse_slice: None,
    empty: EmptyReport {
        blank: true,
        null: false,
        empty_array: true,
        example: r#""#,
    },
};

fn probe(head: &[u8], _file_name: &str) -> u8 {
    if is_json(head)
        && has(head, "ip")
        && has(head, "ports")
        && (has(head, "proto") || has(head, "status"))
    {
        88
    } else {
        0
    }
}

fn parse(input: &mut dyn BufRead, emit: &mut Emit<'_>) -> Result<()> {
    let buf = read_all(input, "masscan")?;
    let doc: Value = match serde_json::from_slice(&buf) {
        Ok(v) => v,
        Err(e) => {
            // masscan before 1.3 ends the last object with `},\n]`
            let text = String::from_utf8_lossy(&buf);
            let fixed = text
                .trim_end()
                .trim_end_matches(']')
                .trim_end()
                .trim_end_matches(',')
                .to_string()
                + "]";
            serde_json::from_str(&fixed).map_err(|_| Error::json(e))?
        }
    };
    let Some(items) = doc.as_array() else {
        return Err(Error::Refused(
            "not a JSON array: not masscan -oJ output".into(),
        ));
    };
    let mut out = Out::new(emit);
    for (i, h) in items.iter().enumerate() {
        let place = format!("[{i}]");
        let Some(ip) = s(h, &["ip"]) else {
            out.issue(place, "entry without ip")?;
            continue;
        };
        let key = out.asset(host_asset2(Some(ip), None))?;
        for (pi, p) in arr(h, "ports").iter().enumerate() {
            let Some(port) = p["port"].as_u64().and_then(|x| u16::try_from(x).ok()) else {
                out.issue(
                    format!("{place}.ports[{pi}]"),
                    "port is not a number 0-65535",
                )?;
                continue;
            };
            let state = s(p, &["status"]).unwrap_or("open");
            let proto = s(p, &["proto"]).unwrap_or("tcp").to_ascii_lowercase();
            let name = s(p, &["service", "name"]).map(str::to_string);
            out.service(
                key,
                Service {
                    protocol: proto.clone(),
                    port,
                    state: state.to_string(),
                    name,
                    product: None,
                    version: None,
                    cpe: Vec::new(),
                },
            )?;
            if state == "open" {
                let mut e = Exposure::new(
                    ExposureKind::OpenService,
                    format!("open port {port}/{proto}"),
                    Severity::Info,
                );
                e.port = Some(port);
                e.protocol = Some(proto);
                e.evidence = s(p, &["reason"]).map(|r| format!("reason: {r}"));
                out.exposure(key, e)?;
            }
        }
    }
    Ok(())
}
