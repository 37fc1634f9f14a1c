//! The typed AST of a Sigma rule, built from YAML once. Nothing after this module sees YAML.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::condition::{self, Cond};
use crate::error::{Error, Result};

/// `logsource` of a rule.
#[derive(
    serde::Serialize,
    serde::Deserialize,
    Debug,
    Clone,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
)]
pub struct LogSource {
    pub product: Option<String>,
    pub category: Option<String>,
    pub service: Option<String>,
}

/// A scalar value of a detection item.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
pub enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

impl Scalar {
    /// The Sigma string form of the value (numbers and booleans as written).
    pub fn as_sigma_str(&self) -> Option<String> {
        match self {
            Scalar::Null => None,
            Scalar::Bool(b) => Some(b.to_string()),
            Scalar::Int(i) => Some(i.to_string()),
            Scalar::Float(f) => Some(f.to_string()),
            Scalar::Str(s) => Some(s.clone()),
        }
    }
}

/// A value modifier (`field|contains|all`).
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Modifier {
    Contains,
    StartsWith,
    EndsWith,
    All,
    Exists,
    Cased,
    Neq,
    Windash,
    Re,
    ReI,
    ReM,
    ReS,
    Base64,
    Base64Offset,
    Utf16Le,
    Utf16Be,
    Utf16,
    Lt,
    Lte,
    Gt,
    Gte,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
    Cidr,
    Expand,
    FieldRef,
}

impl Modifier {
    /// Parses one modifier name as written after `|`.
    pub fn parse(s: &str) -> Option<Modifier> {
        use Modifier::*;
        Some(match s {
            "contains" => Contains,
            "startswith" => StartsWith,
            "endswith" => EndsWith,
            "all" => All,
            "exists" => Exists,
            "cased" => Cased,
            "neq" => Neq,
            "windash" => Windash,
            "re" => Re,
            "i" => ReI,
            "m" => ReM,
            "s" => ReS,
            "base64" => Base64,
            "base64offset" => Base64Offset,
            "utf16le" | "wide" => Utf16Le,
            "utf16be" => Utf16Be,
            "utf16" => Utf16,
            "lt" => Lt,
            "lte" => Lte,
            "gt" => Gt,
            "gte" => Gte,
            "minute" => Minute,
            "hour" => Hour,
            "day" => Day,
            "week" => Week,
            "month" => Month,
            "year" => Year,
            "cidr" => Cidr,
            "expand" => Expand,
            "fieldref" => FieldRef,
            _ => return None,
        })
    }
}

/// One `field|mods: values` item; `field` is `None` for keyword searches.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
pub struct FieldItem {
    pub field: Option<String>,
    pub modifiers: Vec<Modifier>,
    pub values: Vec<Scalar>,
}

/// A named search: an OR of ANDed item groups.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
pub struct Search {
    pub alternatives: Vec<Vec<FieldItem>>,
}

/// The `detection` section.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
pub struct Detection {
    pub searches: BTreeMap<String, Search>,
    pub conditions: Vec<Cond>,
    pub timeframe: Option<String>,
}

/// A parsed Sigma detection rule.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
pub struct Rule {
    pub id: Option<String>,
    pub name: Option<String>,
    pub title: String,
    pub level: Option<String>,
    pub status: Option<String>,
    pub tags: Vec<String>,
    pub logsource: LogSource,
    pub detection: Detection,
}

/// A Sigma document: a detection rule, a correlation rule, or a filter.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
pub enum Document {
    Rule(Box<Rule>),
    Correlation(Box<crate::correlation::CorrelationRule>),
    /// A document without detection or correlation (e.g. an action: global / reset).
    Other,
}

/// Parses YAML text (possibly several `---` documents) into Sigma documents.
pub fn parse_yaml(text: &str, origin: &str) -> Result<Vec<Document>> {
    let opts = serde_saphyr::options! {
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
        underscored_numbers_as_strings: true,
    };
    let docs: Vec<Value> =
        serde_saphyr::from_multiple_with_options(text, opts).map_err(|e| Error::Yaml {
            path: origin.to_string(),
            message: e.to_string().lines().next().unwrap_or_default().to_string(),
        })?;
    let mut out = Vec::new();
    for d in docs.iter().filter(|d| !d.is_null()) {
        out.push(parse_document(d, origin)?);
    }
    Ok(out)
}

/// Builds one document from a generic value.
pub fn parse_document(doc: &Value, origin: &str) -> Result<Document> {
    let obj = doc.as_object().ok_or_else(|| Error::Rule {
        rule: origin.to_string(),
        message: "document is not a mapping".into(),
    })?;
    let label = obj
        .get("id")
        .and_then(Value::as_str)
        .or_else(|| obj.get("title").and_then(Value::as_str))
        .unwrap_or(origin)
        .to_string();
    if obj.contains_key("correlation") {
        return crate::correlation::parse_correlation(obj, &label)
            .map(|c| Document::Correlation(Box::new(c)));
    }
    let Some(det) = obj.get("detection") else {
        return Ok(Document::Other);
    };
    let rule = Rule {
        id: str_of(obj.get("id")),
        name: str_of(obj.get("name")),
        title: str_of(obj.get("title")).unwrap_or_default(),
        level: str_of(obj.get("level")),
        status: str_of(obj.get("status")),
        tags: obj
            .get("tags")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|t| str_of(Some(t))).collect())
            .unwrap_or_default(),
        logsource: parse_logsource(obj.get("logsource")),
        detection: parse_detection(det, &label)?,
    };
    Ok(Document::Rule(Box::new(rule)))
}

pub(crate) fn str_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn parse_logsource(v: Option<&Value>) -> LogSource {
    let get = |k: &str| {
        v.and_then(|v| str_of(v.get(k)))
            .map(|s| s.to_ascii_lowercase())
    };
    LogSource {
        product: get("product"),
        category: get("category"),
        service: get("service"),
    }
}

fn rule_err(rule: &str, message: impl Into<String>) -> Error {
    Error::Rule {
        rule: rule.to_string(),
        message: message.into(),
    }
}

fn parse_detection(det: &Value, rule: &str) -> Result<Detection> {
    let obj = det
        .as_object()
        .ok_or_else(|| rule_err(rule, "detection is not a mapping"))?;
    let mut searches = BTreeMap::new();
    let mut cond_texts = Vec::new();
    let mut timeframe = None;
    for (k, v) in obj {
        match k.as_str() {
            "condition" => match v {
                Value::String(s) => cond_texts.push(s.clone()),
                Value::Array(a) => {
                    for c in a {
                        let s = c
                            .as_str()
                            .ok_or_else(|| rule_err(rule, "condition list holds a non-string"))?;
                        cond_texts.push(s.to_string());
                    }
                }
                _ => return Err(rule_err(rule, "condition is not a string or list")),
            },
            "timeframe" => timeframe = str_of(Some(v)),
            _ => {
                searches.insert(k.clone(), parse_search(v, rule)?);
            }
        }
    }
    if cond_texts.is_empty() {
        return Err(rule_err(rule, "detection has no condition"));
    }
    let names: Vec<&str> = searches.keys().map(String::as_str).collect();
    let conditions = cond_texts
        .iter()
        .map(|c| condition::parse(c, &names))
        .collect::<Result<Vec<_>>>()?;
    Ok(Detection {
        searches,
        conditions,
        timeframe,
    })
}

fn scalar(v: &Value, rule: &str) -> Result<Scalar> {
    Ok(match v {
        Value::Null => Scalar::Null,
        Value::Bool(b) => Scalar::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Scalar::Int(i),
            None => Scalar::Float(n.as_f64().unwrap_or_default()),
        },
        Value::String(s) => Scalar::Str(s.clone()),
        _ => return Err(rule_err(rule, "nested value where a scalar was expected")),
    })
}

fn scalars(v: &Value, rule: &str) -> Result<Vec<Scalar>> {
    match v {
        Value::Array(a) => a.iter().map(|x| scalar(x, rule)).collect(),
        other => Ok(vec![scalar(other, rule)?]),
    }
}

fn parse_map(m: &serde_json::Map<String, Value>, rule: &str) -> Result<Vec<FieldItem>> {
    let mut items = Vec::with_capacity(m.len());
    for (key, v) in m {
        let mut parts = key.split('|');
        let field = parts.next().unwrap_or_default();
        let mut modifiers = Vec::new();
        for p in parts {
            let m = Modifier::parse(p).ok_or_else(|| Error::Unsupported {
                rule: rule.to_string(),
                message: format!("unknown modifier {p:?} on {key:?}"),
            })?;
            modifiers.push(m);
        }
        let values = if v.as_array().is_some_and(|a| a.is_empty()) {
            return Err(rule_err(rule, format!("empty value list for {key:?}")));
        } else {
            scalars(v, rule)?
        };
        items.push(FieldItem {
            field: (!field.is_empty()).then(|| field.to_string()),
            modifiers,
            values,
        });
    }
    Ok(items)
}

fn parse_search(v: &Value, rule: &str) -> Result<Search> {
    match v {
        Value::Object(m) => Ok(Search {
            alternatives: vec![parse_map(m, rule)?],
        }),
        Value::Array(list) => {
            let mut alternatives = Vec::new();
            let mut keywords = Vec::new();
            for x in list {
                match x {
                    Value::Object(m) => alternatives.push(parse_map(m, rule)?),
                    other => keywords.push(scalar(other, rule)?),
                }
            }
            if !keywords.is_empty() {
                alternatives.push(vec![FieldItem {
                    field: None,
                    modifiers: Vec::new(),
                    values: keywords,
                }]);
            }
            Ok(Search { alternatives })
        }
        Value::String(_) | Value::Number(_) | Value::Bool(_) => Ok(Search {
            alternatives: vec![vec![FieldItem {
                field: None,
                modifiers: Vec::new(),
                values: vec![scalar(v, rule)?],
            }]],
        }),
        Value::Null => Err(rule_err(rule, "empty search")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_document_and_modifiers() {
        let y = "title: a\nid: x1\nlogsource: {product: Windows}\ndetection:\n  sel:\n    Image|endswith: ['\\\\a.exe', '\\\\b.exe']\n    EventID: 1\n  condition: sel\n---\ntitle: b\ndetection:\n  kw: [foo, bar]\n  condition: kw\n";
        let docs = parse_yaml(y, "t.yml").expect("parses");
        assert_eq!(docs.len(), 2);
        let Document::Rule(r) = &docs[0] else {
            panic!("rule")
        };
        assert_eq!(r.logsource.product.as_deref(), Some("windows"));
        let sel = &r.detection.searches["sel"].alternatives[0];
        let img = sel
            .iter()
            .find(|i| i.field.as_deref() == Some("Image"))
            .expect("image");
        assert_eq!(img.modifiers, vec![Modifier::EndsWith]);
        assert_eq!(img.values.len(), 2);
        let Document::Rule(r2) = &docs[1] else {
            panic!("rule")
        };
        assert_eq!(r2.detection.searches["kw"].alternatives[0][0].field, None);
    }

    #[test]
    fn unknown_modifier_is_unsupported() {
        let y = "title: a\ndetection:\n  sel:\n    A|bogus: 1\n  condition: sel\n";
        assert!(matches!(parse_yaml(y, "t"), Err(Error::Unsupported { .. })));
    }
}
