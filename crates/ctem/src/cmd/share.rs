//! `ctem share ...`: stored indicators out to controls (blocklists) and partners (STIX 2.1).
//! What may leave is `ctem_intel::share::ShareFilter`: by default nothing above TLP:AMBER,
//! and never a revoked or expired indicator.

use ctem_core::Settings;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow};
use ctem_intel::share::ShareFilter;
use ctem_intel::share::blocklist::{BlocklistFormat, BlocklistType, blocklist};
use ctem_model::intel::{IndicatorType, Tlp};
use ctem_store::intel::IndicatorFilter;

use crate::cli::{ShareCommand, ShareFilterArgs};

fn filter(a: &ShareFilterArgs) -> Result<ShareFilter> {
    let mut f = ShareFilter::new(chrono::Utc::now());
    f.sources = a.source.clone();
    f.types = a
        .indicator_type
        .iter()
        .map(|t| {
            t.parse::<IndicatorType>()
                .map_err(|_| anyhow!("unknown indicator type {t:?}"))
        })
        .collect::<Result<_>>()?;
    f.min_confidence = a.min_confidence;
    if let Some(t) = &a.max_tlp {
        f.max_tlp = t
            .parse::<Tlp>()
            .map_err(|_| anyhow!("unknown TLP {t:?}: clear, green, amber, amber+strict, red"))?;
    }
    Ok(f)
}

fn write(out: Option<&Path>, text: &str) -> Result<()> {
    match out {
        Some(p) => std::fs::write(p, text).with_context(|| format!("write {}", p.display())),
        None => {
            out!("{text}");
            Ok(())
        }
    }
}

pub fn run(settings: &Settings, cmd: ShareCommand) -> Result<ExitCode> {
    let store = super::open_existing(settings)?;
    let now = chrono::Utc::now();
    let all = store.indicators(&IndicatorFilter {
        active_at: Some(now),
        ..IndicatorFilter::default()
    })?;
    match cmd {
        ShareCommand::Blocklist {
            r#type,
            format,
            out,
            filter: fa,
        } => {
            let kind = BlocklistType::parse(&r#type).ok_or_else(|| {
                anyhow!("unknown blocklist type {type:?}: email, domain, ip, url or hash")
            })?;
            let format = BlocklistFormat::parse(&format).ok_or_else(|| {
                anyhow!("unknown blocklist format {format:?}: postfix, nftables, rpz, csv or plain")
            })?;
            let text = blocklist(&all, kind, format, &filter(&fa)?)?;
            write(out.as_deref(), &text)?;
        }
        ShareCommand::Vex { asset, out } => {
            let text = super::gate::vex_text(store.as_ref(), asset)?;
            write(out.as_deref(), &text)?;
        }
        ShareCommand::Stix { out, filter: fa } => {
            let text = ctem_intel::stix::export::export_stix(&all, &filter(&fa)?);
            write(out.as_deref(), &text)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
