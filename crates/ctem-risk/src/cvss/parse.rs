//! The vector syntax shared by every CVSS version: `METRIC:VALUE` parts separated by `/`.

use crate::error::{Error, Result};

/// One metric of a CVSS version: its abbreviation and allowed values.
pub(crate) struct MetricDef {
    pub name: &'static str,
    pub values: &'static [&'static str],
    /// Base metrics must be present; the others default to "not defined".
    pub required: bool,
}

/// Shorthand constructor used by the per-version tables.
pub(crate) const fn def(
    name: &'static str,
    values: &'static [&'static str],
    required: bool,
) -> MetricDef {
    MetricDef {
        name,
        values,
        required,
    }
}

/// Parses `body` (the vector without its `CVSS:x.y/` prefix) against `defs`.
///
/// Returns, per metric of `defs`, the index of its value in `MetricDef::values`, or `None`
/// when the metric is absent. `first_position` is the index of `body`'s first part in the
/// whole vector, so error positions count the prefix too.
pub(crate) fn parse_metrics<const N: usize>(
    version: &'static str,
    body: &str,
    defs: &[MetricDef; N],
    first_position: usize,
) -> Result<[Option<u8>; N]> {
    let mut out = [None; N];
    for (i, component) in body.split('/').enumerate() {
        let position = first_position + i;
        let Some((name, value)) = component.split_once(':') else {
            return Err(Error::MalformedComponent {
                component: component.to_owned(),
                position,
            });
        };
        if name.is_empty() || value.is_empty() || value.contains(':') {
            return Err(Error::MalformedComponent {
                component: component.to_owned(),
                position,
            });
        }
        let Some(idx) = defs.iter().position(|d| d.name == name) else {
            return Err(Error::UnknownMetric {
                version,
                metric: name.to_owned(),
            });
        };
        let d = &defs[idx];
        let Some(v) = d.values.iter().position(|&v| v == value) else {
            return Err(Error::InvalidValue {
                version,
                metric: d.name,
                value: value.to_owned(),
                allowed: d.values.join("|"),
            });
        };
        if out[idx].is_some() {
            return Err(Error::DuplicateMetric {
                version,
                metric: d.name,
            });
        }
        // Value tables have fewer than 256 entries; the cast cannot truncate.
        out[idx] = Some(v as u8);
    }
    if let Some(d) = defs
        .iter()
        .zip(out.iter())
        .find(|(d, v)| d.required && v.is_none())
        .map(|(d, _)| d)
    {
        return Err(Error::MissingMetric {
            version,
            metric: d.name,
        });
    }
    Ok(out)
}

/// Rounds half up to one decimal, after cancelling binary floating-point noise (the
/// reference implementations compute in decimal arithmetic).
pub(crate) fn round1_half_up(x: f64) -> f64 {
    let scaled = (x * 100_000.0).round() / 10_000.0;
    (scaled + 0.5).floor() / 10.0
}

/// The CVSS v3.1 `Roundup`: the smallest number with one decimal that is equal to or
/// higher than its input, computed on integers to avoid floating-point artefacts.
pub(crate) fn roundup(x: f64) -> f64 {
    let int_input = (x * 100_000.0).round() as i64;
    if int_input % 10_000 == 0 {
        int_input as f64 / 100_000.0
    } else {
        ((int_input / 10_000) + 1) as f64 / 10.0
    }
}
