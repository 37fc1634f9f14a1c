//! The field-lookup view of an event: the only way the matcher sees data.

use std::borrow::Cow;

use serde_json::Value;

/// One field value as the matcher sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue<'a> {
    /// Present but null.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(Cow<'a, str>),
    /// A list: a value matches when any element matches.
    List(Vec<FieldValue<'a>>),
    /// A nested object: present, but not a scalar.
    Object,
}

impl FieldValue<'_> {
    /// The text a string pattern is compared with (`None` for null, lists and objects).
    pub fn as_text(&self) -> Option<Cow<'_, str>> {
        match self {
            FieldValue::Str(s) => Some(Cow::Borrowed(s.as_ref())),
            FieldValue::Int(i) => Some(Cow::Owned(i.to_string())),
            FieldValue::Float(f) => Some(Cow::Owned(f.to_string())),
            FieldValue::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
            FieldValue::Null | FieldValue::List(_) | FieldValue::Object => None,
        }
    }

    /// The number a numeric comparison uses (strings are parsed, `0x` hex allowed).
    pub fn as_number(&self) -> Option<f64> {
        match self {
            FieldValue::Int(i) => Some(*i as f64),
            FieldValue::Float(f) => Some(*f),
            FieldValue::Str(s) => parse_number(s),
            _ => None,
        }
    }

    /// Converts into an owned value (`'static`).
    pub fn into_owned(self) -> FieldValue<'static> {
        match self {
            FieldValue::Null => FieldValue::Null,
            FieldValue::Bool(b) => FieldValue::Bool(b),
            FieldValue::Int(i) => FieldValue::Int(i),
            FieldValue::Float(f) => FieldValue::Float(f),
            FieldValue::Str(s) => FieldValue::Str(Cow::Owned(s.into_owned())),
            FieldValue::List(l) => {
                FieldValue::List(l.into_iter().map(|v| v.into_owned()).collect())
            }
            FieldValue::Object => FieldValue::Object,
        }
    }
}

/// Parses a decimal or `0x` hexadecimal number.
pub(crate) fn parse_number(s: &str) -> Option<f64> {
    let t = s.trim();
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return u64::from_str_radix(h, 16).ok().map(|v| v as f64);
    }
    t.parse::<f64>().ok()
}

/// Read access to one event by field name. The engine never sees a concrete record type.
///
/// `field` resolves a name (an implementation may accept dotted paths); `keywords` visits every
/// string-like leaf of the event for unnamed (keyword) searches and stops as soon as the visitor
/// returns `true`, returning `true` in that case.
pub trait Event {
    /// The value of a field, or `None` when the event does not have it.
    fn field(&self, name: &str) -> Option<FieldValue<'_>>;
    /// Visits the text of every leaf value; stops and returns `true` when `visit` does.
    fn keywords(&self, visit: &mut dyn FnMut(&str) -> bool) -> bool;
    /// A child of the object at `parent` whose key equals `name` once spaces are removed
    /// (Windows Defender writes `Threat Name`, Sigma says `ThreatName`). Optional.
    fn field_loose(&self, parent: &str, name: &str) -> Option<FieldValue<'_>> {
        let _ = (parent, name);
        None
    }
    /// A text in which the text of every value [`Event::keywords`] visits appears verbatim,
    /// byte for byte (a raw JSON line without unusual escapes; non-ASCII text is fine), when
    /// the event has one. Lets a keyword prefilter look at one string instead of every value.
    /// Optional.
    fn verbatim(&self) -> Option<&str> {
        None
    }
    /// Whether the text [`Event::verbatim`] gives is all ASCII, when the view knows without
    /// another pass over it.
    #[doc(hidden)]
    fn verbatim_ascii(&self) -> Option<bool> {
        None
    }
    /// [`Event::field`] for a name the engine numbered ahead (`id`, its number among the
    /// rule field names of the engine's flat shape); a view that keeps that table answers
    /// without hashing the name. Always the answer of `field(name)`.
    #[doc(hidden)]
    fn field_numbered(&self, id: Option<u32>, name: &str) -> Option<FieldValue<'_>> {
        let _ = id;
        self.field(name)
    }
    /// What [`Event::field_numbered`]`(id, name)` would find, when the view can tell without
    /// decoding: absent, the raw bytes of a string value (equal bytes mean equal text, so
    /// results that depend on the text alone can be cached by them) or an integer.
    #[doc(hidden)]
    fn raw_numbered(&self, id: Option<u32>, name: &str) -> RawField<'_> {
        let _ = (id, name);
        RawField::Unknown
    }
}

/// A field as [`Event::raw_numbered`] sees it.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawField<'a> {
    /// The view cannot tell cheaply: ask [`Event::field_numbered`].
    Unknown,
    /// The event has no such field.
    Absent,
    /// A string, as raw bytes that decide its text (for JSON: the text between the quotes,
    /// escapes and all).
    Text(&'a [u8]),
    /// An integer.
    Int(i64),
}

impl<E: Event + ?Sized> Event for &E {
    fn field(&self, name: &str) -> Option<FieldValue<'_>> {
        (**self).field(name)
    }
    fn keywords(&self, visit: &mut dyn FnMut(&str) -> bool) -> bool {
        (**self).keywords(visit)
    }
    fn field_loose(&self, parent: &str, name: &str) -> Option<FieldValue<'_>> {
        (**self).field_loose(parent, name)
    }
    fn verbatim(&self) -> Option<&str> {
        (**self).verbatim()
    }
    fn verbatim_ascii(&self) -> Option<bool> {
        (**self).verbatim_ascii()
    }
    fn field_numbered(&self, id: Option<u32>, name: &str) -> Option<FieldValue<'_>> {
        (**self).field_numbered(id, name)
    }
    fn raw_numbered(&self, id: Option<u32>, name: &str) -> RawField<'_> {
        (**self).raw_numbered(id, name)
    }
}

/// Converts a JSON value into a field value, borrowing strings.
pub fn json_field(v: &Value) -> FieldValue<'_> {
    match v {
        Value::Null => FieldValue::Null,
        Value::Bool(b) => FieldValue::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => FieldValue::Int(i),
            None => match n.as_u64() {
                Some(u) => FieldValue::Str(Cow::Owned(u.to_string())),
                None => FieldValue::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
        },
        Value::String(s) => FieldValue::Str(Cow::Borrowed(s)),
        Value::Array(a) => FieldValue::List(a.iter().map(json_field).collect()),
        Value::Object(o) => match o.get("#text") {
            // evtx renders elements with attributes as {"#attributes": .., "#text": ..}
            Some(t) => json_field(t),
            None => FieldValue::Object,
        },
    }
}

/// Walks a dotted path (`a.b.c`) into nested objects; a `*` segment matches any child object.
/// The whole name is first tried as one key, so flat keys holding dots still resolve.
pub fn json_path<'v>(root: &'v Value, path: &str) -> Option<&'v Value> {
    if let Some(v) = root.as_object().and_then(|o| o.get(path)) {
        return Some(v);
    }
    if !path.contains('.') {
        return None;
    }
    walk(root, path)
}

fn walk<'v>(cur: &'v Value, path: &str) -> Option<&'v Value> {
    let (head, rest) = match path.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (path, None),
    };
    let obj = cur.as_object()?;
    if head == "*" {
        let rest = rest?;
        return obj.values().find_map(|child| walk(child, rest));
    }
    // a key may itself hold dots: try the longest remaining key first
    if rest.is_some()
        && let Some(v) = obj.get(path)
    {
        return Some(v);
    }
    let next = obj.get(head)?;
    match rest {
        None => Some(next),
        Some(r) => walk(next, r),
    }
}

fn visit_json(v: &Value, visit: &mut dyn FnMut(&str) -> bool) -> bool {
    match v {
        Value::String(s) => visit(s),
        Value::Number(n) => visit(&n.to_string()),
        Value::Bool(b) => visit(if *b { "true" } else { "false" }),
        Value::Null => false,
        Value::Array(a) => a.iter().any(|x| visit_json(x, visit)),
        Value::Object(o) => o.values().any(|x| visit_json(x, visit)),
    }
}

impl Event for Value {
    fn field(&self, name: &str) -> Option<FieldValue<'_>> {
        json_path(self, name).map(json_field)
    }
    fn keywords(&self, visit: &mut dyn FnMut(&str) -> bool) -> bool {
        visit_json(self, visit)
    }
    fn field_loose(&self, parent: &str, name: &str) -> Option<FieldValue<'_>> {
        let obj = if parent.is_empty() {
            Some(self)
        } else {
            json_path(self, parent)
        }?
        .as_object()?;
        obj.iter()
            .find(|(k, _)| k.contains(' ') && k.chars().filter(|c| *c != ' ').eq(name.chars()))
            .map(|(_, v)| json_field(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dotted_paths_and_flat_dotted_keys() {
        let v = json!({"a": {"b": {"c": 5}}, "x.y": "flat", "arr": [1, "two"]});
        assert_eq!(v.field("a.b.c"), Some(FieldValue::Int(5)));
        assert_eq!(v.field("x.y"), Some(FieldValue::Str("flat".into())));
        assert_eq!(v.field("a.*.c"), Some(FieldValue::Int(5)));
        assert_eq!(v.field("a.b.d"), None);
        assert!(matches!(v.field("arr"), Some(FieldValue::List(l)) if l.len() == 2));
    }

    #[test]
    fn text_element_of_evtx_attributes() {
        let v = json!({"Data": {"#attributes": {"Name": "x"}, "#text": "hello"}});
        assert_eq!(v.field("Data"), Some(FieldValue::Str("hello".into())));
    }

    #[test]
    fn keywords_visit_all_leaves() {
        let v = json!({"a": {"b": "needle"}, "c": [1, "hay"]});
        assert!(v.keywords(&mut |s| s == "needle"));
        assert!(v.keywords(&mut |s| s == "1"));
        assert!(!v.keywords(&mut |s| s == "nothing"));
    }
}
