//! FIRST EPSS scores (CSV, plain or gzipped).
//!
//! ```text
//! #model_version:v2023.03.01,score_date:2025-02-20T00:00:00+0000
//! cve,epss,percentile
//! CVE-1999-0001,0.00383,0.73075
//! ```
//! The comment line is required, with its `score_date`, as the reference loaders (FIRST's
//! files, Grype's vunnel) require it: the date is what every score is dated by, and a file
//! without it is a cut or another export, refused rather than stored undated. The header is
//! required and checked too, so a file of another shape is refused instead of read as
//! garbage. A row whose CVE id is not `CVE-YYYY-NNNN` of at most 24 bytes is a per-row issue
//! (a 50 MB "CVE id" is never stored). Rows are split by hand, not
//! with a CSV library: the format has no quoting, and a 300,000-row file parses in tens of
//! milliseconds.

use crate::error::{Error, Result};
use crate::util::{Issue, maybe_gunzip, parse_date, text};
use chrono::NaiveDate;
use ctem_model::intel::EpssScore;
use serde::Serialize;

const FORMAT: &str = "epss";
const HEADER: &str = "cve,epss,percentile";

/// A parsed EPSS file.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EpssFile {
    pub model_version: Option<String>,
    pub score_date: Option<NaiveDate>,
    pub scores: Vec<EpssScore>,
    pub issues: Vec<Issue>,
}

/// Parses an EPSS CSV (plain or gzipped).
pub fn parse_epss(bytes: &[u8]) -> Result<EpssFile> {
    let bytes = maybe_gunzip(bytes)?;
    let body = text(FORMAT, &bytes)?;
    let mut out = EpssFile {
        scores: Vec::with_capacity(body.len() / 32),
        ..EpssFile::default()
    };
    let mut header_seen = false;
    for (idx, raw) in body.split('\n').enumerate() {
        let line_no = idx + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.trim().is_empty() {
            continue;
        }
        if !header_seen {
            if let Some(comment) = line.strip_prefix('#') {
                read_comment(comment, &mut out);
                continue;
            }
            let normalized = line.trim().to_ascii_lowercase().replace(' ', "");
            if normalized != HEADER {
                return Err(Error::Header {
                    format: FORMAT,
                    line: line_no,
                    found: line.chars().take(80).collect(),
                    expected: HEADER,
                });
            }
            if out.score_date.is_none() {
                return Err(Error::Unsupported {
                    format: FORMAT,
                    message: format!(
                        "line {line_no}: no `#model_version:...,score_date:YYYY-MM-DD...` line \
                         before the header, so the scores have no date (FIRST's EPSS files \
                         start with one)"
                    ),
                });
            }
            header_seen = true;
            continue;
        }
        match row(line, out.score_date) {
            Ok(s) => out.scores.push(s),
            Err(msg) => out.issues.push(Issue::new(format!("line {line_no}"), msg)),
        }
    }
    if !header_seen {
        return Err(Error::Header {
            format: FORMAT,
            line: 1,
            found: String::new(),
            expected: HEADER,
        });
    }
    Ok(out)
}

fn read_comment(comment: &str, out: &mut EpssFile) {
    for part in comment.split(',') {
        if let Some((k, v)) = part.split_once(':') {
            match k.trim() {
                "model_version" => out.model_version = Some(v.trim().to_string()),
                "score_date" => out.score_date = parse_date(v),
                _ => {}
            }
        }
    }
}

fn row(line: &str, date: Option<NaiveDate>) -> Result<EpssScore, String> {
    let mut it = line.split(',');
    let (Some(cve), Some(epss), Some(pct), None) = (it.next(), it.next(), it.next(), it.next())
    else {
        return Err(format!("expected 3 fields: `{}`", clip(line)));
    };
    let cve = cve.trim();
    if !crate::cve::is_cve_id(cve) {
        return Err(format!("invalid cve id `{}`", clip(cve)));
    }
    let num = |s: &str, what: &str| -> Result<f64, String> {
        match s.trim().parse::<f64>() {
            Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
            _ => Err(format!(
                "{cve}: {what} `{}` is not a number in 0..1",
                clip(s)
            )),
        }
    };
    Ok(EpssScore {
        cve_id: if cve.bytes().any(|b| b.is_ascii_lowercase()) {
            cve.to_ascii_uppercase()
        } else {
            cve.to_string()
        },
        epss: num(epss, "epss")?,
        percentile: num(pct, "percentile")?,
        date,
    })
}

fn clip(s: &str) -> String {
    s.chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_comment_header_and_rows() {
        let f = parse_epss(
            b"#model_version:v2023.03.01,score_date:2025-02-20T00:00:00+0000\r\n\
              cve,epss,percentile\r\nCVE-1999-0001,0.00383,0.73075\r\n",
        )
        .expect("parses");
        assert_eq!(f.model_version.as_deref(), Some("v2023.03.01"));
        assert_eq!(f.score_date, NaiveDate::from_ymd_opt(2025, 2, 20));
        assert_eq!(f.scores.len(), 1);
        assert_eq!(f.scores[0].epss, 0.00383);
        assert_eq!(f.scores[0].date, f.score_date);
    }

    #[test]
    fn wrong_header_is_refused_with_line_and_expected_header() {
        let err = parse_epss(b"cve,score\nCVE-1999-0001,0.1\n").expect_err("refused");
        let msg = err.to_string();
        assert!(
            msg.contains("line 1") && msg.contains("cve,epss,percentile"),
            "{msg}"
        );
    }

    #[test]
    fn a_file_without_its_score_date_line_is_refused() {
        for body in [
            &b"cve,epss,percentile\nCVE-1999-0001,0.1,0.2\n"[..],
            b"#model_version:v2023.03.01\ncve,epss,percentile\nCVE-1999-0001,0.1,0.2\n",
            b"#model_version:v1,score_date:yesterday\ncve,epss,percentile\n",
        ] {
            let msg = parse_epss(body).expect_err("refused").to_string();
            assert!(msg.contains("score_date") && msg.contains("line"), "{msg}");
        }
    }

    #[test]
    fn bad_rows_become_issues() {
        let f = parse_epss(
            b"#model_version:v1,score_date:2025-01-01\ncve,epss,percentile\n\
              CVE-1,0.1,0.2\nCVE-2020-0001,2,0.2\n",
        )
        .expect("parses");
        assert!(f.scores.is_empty());
        assert_eq!(f.issues.len(), 2);
        assert_eq!(f.issues[0].record, "line 3");
    }
}
