//! Small helpers shared by the JSON parsers.

/// Whether the first non-blank byte opens a JSON object or array.
pub fn looks_like_json(head: &[u8]) -> bool {
    matches!(crate::trim_ascii_bom(head).first(), Some(b'{') | Some(b'['))
}

/// Whether a JSON document's head mentions `"key"` (a cheap probe, not a parse).
pub fn has_key(head: &[u8], key: &str) -> bool {
    let pat = format!("\"{key}\"");
    memchr::memmem::find(head, pat.as_bytes()).is_some()
}
