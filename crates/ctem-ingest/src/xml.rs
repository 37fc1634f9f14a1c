//! A small safe layer over quick-xml: streaming events with names and attributes decoded,
//! entity references resolved (predefined and character references only), and DTDs checked.
//!
//! Safety: quick-xml never fetches or expands DTDs. We go further and refuse any document whose
//! DOCTYPE declares entities or points at an external DTD (`SYSTEM` / `PUBLIC`), so an XXE or
//! billion-laughs file is rejected with a clear error instead of being half-read. A plain
//! `<!DOCTYPE nmaprun>` is fine. References to undeclared entities are an error too.

use std::borrow::Cow;
use std::io::BufRead;

use quick_xml::XmlVersion;
use quick_xml::events::Event;

use crate::error::{Error, Result};

/// One simplified XML event.
#[derive(Debug)]
pub enum XmlEvent {
    /// An element opened; `empty` when it was `<x/>` (no `End` follows).
    Start {
        name: String,
        attrs: Vec<(String, String)>,
        empty: bool,
    },
    End {
        name: String,
    },
    /// Text content (entity references resolved, CDATA included), not trimmed.
    Text(String),
    Eof,
}

pub struct XmlReader<R: BufRead> {
    inner: quick_xml::Reader<R>,
    buf: Vec<u8>,
    pending_text: String,
    pending: Option<XmlEvent>,
    seen_root: bool,
}

impl<R: BufRead> XmlReader<R> {
    pub fn new(r: R) -> Self {
        let mut inner = quick_xml::Reader::from_reader(r);
        inner.config_mut().check_end_names = true;
        XmlReader {
            inner,
            buf: Vec::with_capacity(8192),
            pending_text: String::new(),
            pending: None,
            seen_root: false,
        }
    }

    pub fn position(&self) -> u64 {
        self.inner.buffer_position()
    }

    fn err(&self, message: impl Into<String>) -> Error {
        err_at(&self.inner, message)
    }

    /// The next event; adjacent text pieces are merged into one `Text`.
    pub fn next_event(&mut self) -> Result<XmlEvent> {
        if let Some(ev) = self.pending.take() {
            return Ok(ev);
        }
        loop {
            self.buf.clear();
            let ev = match self.inner.read_event_into(&mut self.buf) {
                Ok(ev) => ev,
                Err(e) => {
                    let msg = e.to_string();
                    return Err(self.err(msg));
                }
            };
            let out = match ev {
                Event::Text(t) => {
                    self.pending_text.push_str(&t.xml10_content());
                    continue;
                }
                Event::CData(t) => {
                    self.pending_text.push_str(&t.xml10_content());
                    continue;
                }
                Event::GeneralRef(r) => {
                    let resolved = match r.resolve_char_ref() {
                        Ok(Some(c)) => c.to_string(),
                        Ok(None) => {
                            let name = r.xml10_content();
                            match quick_xml::escape::resolve_predefined_entity(&name) {
                                Some(s) => s.to_string(),
                                None => {
                                    return Err(err_at(
                                        &self.inner,
                                        format!("reference to undeclared entity &{name};"),
                                    ));
                                }
                            }
                        }
                        Err(e) => return Err(err_at(&self.inner, e.to_string())),
                    };
                    self.pending_text.push_str(&resolved);
                    continue;
                }
                Event::DocType(t) => {
                    let text = t.xml10_content();
                    let up = text.to_ascii_uppercase();
                    if up.contains("<!ENTITY") || up.contains("SYSTEM") || up.contains("PUBLIC") {
                        return Err(Error::Refused(
                            "the document declares a DTD with entities or an external DTD; \
                             ctem never resolves them (XXE protection)"
                                .into(),
                        ));
                    }
                    continue;
                }
                Event::Start(s) => {
                    self.seen_root = true;
                    let (name, attrs) = decode_start(&self.inner, &s)?;
                    XmlEvent::Start {
                        name,
                        attrs,
                        empty: false,
                    }
                }
                Event::Empty(s) => {
                    self.seen_root = true;
                    let (name, attrs) = decode_start(&self.inner, &s)?;
                    XmlEvent::Start {
                        name,
                        attrs,
                        empty: true,
                    }
                }
                Event::End(e) => XmlEvent::End {
                    name: e.local_name().as_ref().to_string(),
                },
                Event::Eof => {
                    if !self.seen_root {
                        return Err(Error::Refused("no XML element in the input".into()));
                    }
                    XmlEvent::Eof
                }
                Event::Comment(_) | Event::Decl(_) | Event::PI(_) => continue,
            };
            if !self.pending_text.is_empty() {
                let text = std::mem::take(&mut self.pending_text);
                self.pending = Some(out);
                return Ok(XmlEvent::Text(text));
            }
            return Ok(out);
        }
    }
}

fn err_at<R>(inner: &quick_xml::Reader<R>, message: impl Into<String>) -> Error {
    Error::Xml {
        position: inner.error_position().max(inner.buffer_position()),
        message: message.into(),
    }
}

fn decode_start<R>(
    inner: &quick_xml::Reader<R>,
    s: &quick_xml::events::BytesStart<'_>,
) -> Result<(String, Vec<(String, String)>)> {
    {
        let name = s.local_name().as_ref().to_string();
        let mut attrs = Vec::new();
        for a in s.attributes() {
            let a = a.map_err(|e| err_at(inner, format!("in <{name}>: {e}")))?;
            let key = a.key.local_name().as_ref().to_string();
            let value: Cow<'_, str> = a
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|e| err_at(inner, format!("in <{name} {key}>: {e}")))?;
            attrs.push((key, value.into_owned()));
        }
        Ok((name, attrs))
    }
}

impl<R: BufRead> XmlReader<R> {
    /// Reads the text content of the element just opened, up to its end tag; nested elements
    /// are skipped with their text.
    pub fn text_until_end(&mut self) -> Result<String> {
        let mut depth = 0usize;
        let mut out = String::new();
        loop {
            match self.next_event()? {
                XmlEvent::Text(t) => {
                    if depth == 0 {
                        out.push_str(&t)
                    }
                }
                XmlEvent::Start { empty, .. } => {
                    if !empty {
                        depth += 1
                    }
                }
                XmlEvent::End { .. } => {
                    if depth == 0 {
                        return Ok(out);
                    }
                    depth -= 1;
                }
                XmlEvent::Eof => return Err(self.err("unexpected end of input inside element")),
            }
        }
    }

    /// Skips the element just opened, with everything inside it.
    pub fn skip_element(&mut self) -> Result<()> {
        let mut depth = 0usize;
        loop {
            match self.next_event()? {
                XmlEvent::Start { empty, .. } => {
                    if !empty {
                        depth += 1
                    }
                }
                XmlEvent::End { .. } => {
                    if depth == 0 {
                        return Ok(());
                    }
                    depth -= 1;
                }
                XmlEvent::Text(_) => {}
                XmlEvent::Eof => return Err(self.err("unexpected end of input inside element")),
            }
        }
    }
}

/// The value of attribute `key`.
pub fn attr<'a>(attrs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Looks at the start of a file for the first element name, skipping the prolog.
pub fn root_element(head: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(&head[..head.len().min(4096)])
        .ok()
        .or_else(|| {
            // a cut multi-byte char at the end: back off
            let mut n = head.len().min(4096);
            while n > 0 {
                n -= 1;
                if let Ok(s) = std::str::from_utf8(&head[..n]) {
                    return Some(s);
                }
            }
            None
        })?;
    let mut rest = s.trim_start_matches('\u{feff}');
    loop {
        let i = rest.find('<')?;
        rest = &rest[i + 1..];
        if rest.starts_with('?') || rest.starts_with('!') {
            continue;
        }
        let end = rest
            .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
            .unwrap_or(rest.len());
        let name = &rest[..end];
        let local = name.rsplit(':').next().unwrap_or(name);
        return Some(local.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(x: &str) -> Result<Vec<String>> {
        let mut r = XmlReader::new(x.as_bytes());
        let mut out = Vec::new();
        loop {
            match r.next_event()? {
                XmlEvent::Eof => return Ok(out),
                XmlEvent::Start { name, .. } => out.push(format!("<{name}")),
                XmlEvent::End { name } => out.push(format!("{name}>")),
                XmlEvent::Text(t) => out.push(t),
            }
        }
    }

    #[test]
    fn refuses_entity_declarations() {
        let xxe = r#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>"#;
        assert!(matches!(all(xxe), Err(Error::Refused(_))));
        let lol = r#"<!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><r>&b;</r>"#;
        assert!(matches!(all(lol), Err(Error::Refused(_))));
    }

    #[test]
    fn plain_doctype_and_references_are_fine() {
        let x = "<!DOCTYPE nmaprun><r a='1 &amp; 2'>x &lt; y &#45;&#x41;</r>";
        assert_eq!(all(x).unwrap(), vec!["<r", "x < y -A", "r>"]);
    }

    #[test]
    fn undeclared_entity_is_an_error() {
        assert!(matches!(all("<r>&foo;</r>"), Err(Error::Xml { .. })));
    }

    #[test]
    fn root_element_skips_prolog() {
        let h = b"<?xml version='1.0'?>\n<!-- c -->\n<!DOCTYPE x>\n<NessusClientData_v2>";
        assert_eq!(root_element(h).as_deref(), Some("NessusClientData_v2"));
    }
}
