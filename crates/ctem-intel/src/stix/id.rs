//! Deterministic STIX 2.1 identifiers (STIX 2.1, section 2.9 "Identifier"): a UUIDv5 (RFC 4122
//! / 9562, SHA-1, name-based) in the STIX namespace `00abedb4-aa42-466c-9c01-fed23315a9b7`,
//! whose name is the canonical JSON (RFC 8785) of the object's ID contributing properties. The
//! same object exported twice, by ctem or any other STIX producer following the rule, has the
//! same id, so consumers deduplicate it.

use std::collections::BTreeMap;

use serde_json::Value;
use sha1::{Digest, Sha1};

/// The STIX 2.1 namespace for UUIDv5 identifiers.
pub const STIX_NAMESPACE: [u8; 16] = [
    0x00, 0xab, 0xed, 0xb4, 0xaa, 0x42, 0x46, 0x6c, 0x9c, 0x01, 0xfe, 0xd2, 0x33, 0x15, 0xa9, 0xb7,
];

/// The UUIDv5 of `name` in `namespace`, in its 8-4-4-4-12 text form.
pub fn uuid_v5(namespace: &[u8; 16], name: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(namespace);
    h.update(name);
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x: String = b.iter().map(|v| format!("{v:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &x[..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..]
    )
}

/// The canonical JSON (RFC 8785) of an object: keys sorted at every level, no blanks, the
/// minimal escapes JSON.stringify writes (serde_json's). Keys are sorted by UTF-8 bytes, which
/// is RFC 8785's UTF-16 order for the ASCII property names STIX uses; numbers are written as
/// serde_json writes them, which is RFC 8785's form for the integers ctem puts in ids.
pub fn canonical_json(props: &[(&str, Value)]) -> String {
    let sorted: BTreeMap<&str, &Value> = props.iter().map(|(k, v)| (*k, v)).collect();
    let mut out = String::new();
    out.push('{');
    for (i, (k, v)) in sorted.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&Value::from(k).to_string());
        out.push(':');
        write_canonical(v, &mut out);
    }
    out.push('}');
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let props: Vec<(&str, Value)> =
                m.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
            out.push_str(&canonical_json(&props));
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// `TYPE--UUIDv5` from the object's ID contributing properties.
pub fn stix_id(object_type: &str, props: &[(&str, Value)]) -> String {
    let name = canonical_json(props);
    format!(
        "{object_type}--{}",
        uuid_v5(&STIX_NAMESPACE, name.as_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Values computed with Python's `uuid.uuid5`, an independent implementation.
    #[test]
    fn matches_an_independent_uuid_v5() {
        let dns = [
            0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4,
            0x30, 0xc8,
        ];
        assert_eq!(
            uuid_v5(&dns, b"python.org"),
            "886313e1-3b8a-5372-9b90-0c9aee199e5d"
        );
        assert_eq!(
            stix_id("ipv4-addr", &[("value", json!("198.51.100.3"))]),
            "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4"
        );
    }

    #[test]
    fn canonical_json_sorts_keys_and_drops_blanks() {
        let c = canonical_json(&[("name", json!("ctem")), ("identity_class", json!("system"))]);
        assert_eq!(c, r#"{"identity_class":"system","name":"ctem"}"#);
        let nested = canonical_json(&[
            ("b", json!({"z": [1, "x\n"], "a": null})),
            ("a", json!(true)),
        ]);
        assert_eq!(nested, r#"{"a":true,"b":{"a":null,"z":[1,"x\n"]}}"#);
        assert_eq!(
            stix_id(
                "identity",
                &[("name", json!("ctem")), ("identity_class", json!("system"))]
            ),
            "identity--7ab16f35-a390-5777-a898-383f365fb39e"
        );
    }
}
