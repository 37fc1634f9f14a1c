//! A lazily decoded JSON line: the fast path for flat events.
//!
//! Parsing every event into a `serde_json::Value` costs more than matching all SigmaHQ
//! rules against it. [`FlatEvent`] instead scans one JSON object once, records where each
//! top-level value lies in the line, and decodes only the values the rules ask for (string
//! escapes are resolved into a per-event buffer that is reused across lines). Field names the
//! rules use are interned once in a [`FieldIndex`], so a lookup is one hash of the name and
//! one slot read. Where each string ends comes from one pass over the whole line, 64 bytes
//! at a time, before the scan (`string_scan`): no search stops at every backslash. Nested
//! objects and arrays are kept as raw text and parsed with serde_json only when a rule reads
//! them (rare in flat events).

use std::borrow::Cow;
use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use serde_json::Value;

use crate::event::{Event, FieldValue, RawField, json_field, json_path};
use crate::string_scan::{Esc, StringIndex};

/// FNV-1a: field names are short and trusted enough (rule authors), so a fast hash wins.
#[derive(Default, Clone, Copy)]
pub(crate) struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x100_0000_01b3);
        }
        self.0 = h;
    }
}

pub(crate) type FnvMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;

/// The field names worth decoding, each with a slot number.
///
/// A small open-addressing table keyed by a hash of a name's length and its first and last
/// eight bytes: a top-level key of a line costs two loads, a multiply and (on a hit) one
/// comparison, instead of a byte-by-byte hash.
#[derive(Debug, Default, Clone)]
pub struct FieldIndex {
    names: Vec<Box<str>>,
    /// Per name: its [`Key`] (the hash and the words it was made of).
    keys: Vec<Key>,
    /// Name number per table slot (`u32::MAX` = empty); the length is a power of two.
    table: Vec<u32>,
}

/// A name as [`FieldIndex`] hashes and compares it: its length, its first and last eight
/// bytes (overlapping when short, zero-padded under eight) and a hash of the three. Two names
/// of at most 16 bytes are equal exactly when their keys are, so most lookups compare three
/// words instead of calling `memcmp`; longer names also compare their middle bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key {
    hash: u64,
    len: usize,
    first: u64,
    last: u64,
}

impl Key {
    #[inline]
    fn of(b: &[u8]) -> Key {
        let n = b.len();
        let (a, z) = match b.first_chunk::<8>() {
            Some(head) => {
                let tail = b.last_chunk::<8>().unwrap_or(head);
                (u64::from_le_bytes(*head), u64::from_le_bytes(*tail))
            }
            None => (short_word(b), 0),
        };
        let h = (a ^ (n as u64).rotate_left(56)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ z.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
        Key {
            hash: h ^ (h >> 29),
            len: n,
            first: a,
            last: z,
        }
    }
}

/// The bytes of a name shorter than eight bytes as a little-endian word, zero-padded. Read
/// as two loads that overlap (each byte lands on its own place, so OR-ing them twice is
/// harmless): copying a few bytes into a buffer calls `memcpy`, which cost a quarter of a
/// lookup.
fn short_word(b: &[u8]) -> u64 {
    let n = b.len();
    if let (Some(head), Some(tail)) = (b.first_chunk::<4>(), b.last_chunk::<4>()) {
        u64::from(u32::from_le_bytes(*head)) | u64::from(u32::from_le_bytes(*tail)) << (8 * (n - 4))
    } else if let (Some(&first), Some(&last)) = (b.first(), b.last()) {
        let mid = b[n / 2];
        u64::from(first) | u64::from(mid) << (8 * (n / 2)) | u64::from(last) << (8 * (n - 1))
    } else {
        0
    }
}

impl FieldIndex {
    /// Interns `names` (duplicates are fine).
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let mut idx = FieldIndex::default();
        let mut seen: HashMap<&str, ()> = HashMap::new();
        for n in names {
            if seen.insert(n, ()).is_none() {
                idx.names.push(n.into());
                idx.keys.push(Key::of(n.as_bytes()));
            }
        }
        let size = (idx.names.len() * 2).next_power_of_two().max(16);
        idx.table = vec![u32::MAX; size];
        for (i, k) in idx.keys.iter().enumerate() {
            let mut at = (k.hash as usize) & (size - 1);
            while idx.table[at] != u32::MAX {
                at = (at + 1) & (size - 1);
            }
            idx.table[at] = i as u32;
        }
        idx
    }

    /// The slot of a name.
    #[inline(always)]
    pub fn id(&self, name: &str) -> Option<u32> {
        if self.table.is_empty() {
            return None;
        }
        let b = name.as_bytes();
        let key = Key::of(b);
        let mask = self.table.len() - 1;
        let mut at = (key.hash as usize) & mask;
        loop {
            let i = *self.table.get(at)?;
            if i == u32::MAX {
                return None;
            }
            if self.keys[i as usize] == key
                && (key.len <= 16
                    || self.names[i as usize].as_bytes()[8..key.len - 8] == b[8..key.len - 8])
            {
                return Some(i);
            }
            at = (at + 1) & mask;
        }
    }

    /// Number of interned names.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True when no name is interned.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// Where one top-level value lies.
#[derive(Debug, Clone, Copy)]
enum Val {
    /// A string in the line, without escapes.
    Str(u32, u32),
    /// A string with escapes, still raw in the line (decoded when first read).
    Escaped(u32, u32),
    Int(i64),
    Float(f64),
    /// An integer beyond `i64` (serde_json renders it as text).
    Big(u32, u32),
    Bool(bool),
    Null,
    /// An object or array, raw.
    Raw(u32, u32),
}

/// A malformed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanError {
    /// Byte offset of the problem.
    pub at: usize,
}

/// One JSON object line, scanned lazily. Reuse one value across lines with [`FlatEvent::scan`]
/// so its buffers are allocated once.
#[derive(Debug)]
pub struct FlatEvent<'a> {
    index: &'a FieldIndex,
    line: &'a str,
    /// Slot per interned name (`u32::MAX` = absent) into `vals`.
    slots: Vec<u32>,
    /// The names whose slot the last line set, cleared one by one: the index holds every
    /// path the rules name, a line sets a few dozen.
    set: Vec<u32>,
    /// (key start, key end, value) of every top-level member, in order.
    vals: Vec<(u32, u32, Val)>,
    /// The decoded text of each escaped value of `vals` (same position) once read; `None`
    /// inside when its escapes are bad.
    decoded: Vec<OnceCell<Option<String>>>,
    /// Buffers of earlier lines' decoded values, reused.
    spare: RefCell<Vec<String>>,
    /// Every leaf's text appears verbatim in the line (see [`Event::verbatim`]).
    plain: bool,
    /// Where the strings of the line end.
    strings: StringIndex,
}

impl<'a> FlatEvent<'a> {
    /// An empty event over `index`.
    pub fn new(index: &'a FieldIndex) -> Self {
        FlatEvent {
            index,
            line: "",
            slots: vec![u32::MAX; index.len()],
            set: Vec::with_capacity(64),
            vals: Vec::with_capacity(64),
            decoded: Vec::new(),
            spare: RefCell::new(Vec::new()),
            plain: false,
            strings: StringIndex::default(),
        }
    }

    /// The line last scanned.
    pub fn line(&self) -> &'a str {
        self.line
    }

    /// Scans `line` (one JSON object). On error the event is empty.
    pub fn scan(&mut self, line: &'a str) -> Result<(), ScanError> {
        self.strings.build(line.as_bytes());
        self.scan_indexed(line)
    }

    /// Scans a line given as bytes, or says `None` when it is not UTF-8 (the event is then
    /// empty). Only lines with non-ASCII bytes are validated: the string index, built first,
    /// tells whether a line is ASCII, so most lines need no second pass.
    pub fn scan_bytes(&mut self, line: &'a [u8]) -> Option<Result<(), ScanError>> {
        self.strings.build(line);
        let text = if self.strings.ascii() {
            // SAFETY: the index found no byte of 0x80 or above (tested against
            // `<[u8]>::is_ascii`), and ASCII bytes are UTF-8
            unsafe { std::str::from_utf8_unchecked(line) }
        } else if let Ok(t) = std::str::from_utf8(line) {
            t
        } else {
            // leave the event empty, as a failed scan does
            self.strings.build(b"");
            let _ = self.scan_indexed("");
            return None;
        };
        Some(self.scan_indexed(text))
    }

    /// [`FlatEvent::scan`] once the string index of `line` is built.
    fn scan_indexed(&mut self, line: &'a str) -> Result<(), ScanError> {
        self.clear_slots();
        self.vals.clear();
        let spare = self.spare.get_mut();
        for cell in &mut self.decoded {
            if let Some(Some(mut t)) = cell.take() {
                t.clear();
                spare.push(t);
            }
        }
        self.line = line;
        self.plain = true;
        let r = self.scan_object();
        if r.is_err() {
            self.clear_slots();
            self.vals.clear();
        }
        self.plain = self.plain && r.is_ok();
        if self.decoded.len() < self.vals.len() {
            self.decoded.resize_with(self.vals.len(), OnceCell::new);
        }
        r
    }

    fn clear_slots(&mut self) {
        for &id in &self.set {
            if let Some(s) = self.slots.get_mut(id as usize) {
                *s = u32::MAX;
            }
        }
        self.set.clear();
    }

    fn scan_object(&mut self) -> Result<(), ScanError> {
        let b = self.line.as_bytes();
        if b.len() >= u32::MAX as usize {
            return Err(ScanError { at: 0 });
        }
        let mut i = skip_ws(b, 0);
        if b.get(i) != Some(&b'{') {
            return Err(ScanError { at: i });
        }
        i = skip_ws(b, i + 1);
        if b.get(i) == Some(&b'}') {
            return trailing(b, i + 1);
        }
        loop {
            if b.get(i) != Some(&b'"') {
                return Err(ScanError { at: i });
            }
            let (ks, ke, kesc) = self.strings.string_end(i, &mut self.plain)?;
            let kesc = kesc != Esc::None;
            i = skip_ws(b, ke + 1);
            if b.get(i) != Some(&b':') {
                return Err(ScanError { at: i });
            }
            i = skip_ws(b, i + 1);
            let (val, next, esc) = self.value(b, i)?;
            let slot = if kesc {
                let key = unescape(&self.line[ks..ke]).ok_or(ScanError { at: ks })?;
                self.index.id(&key)
            } else {
                self.index.id(&self.line[ks..ke])
            };
            // a value the rules may read must decode (it is decoded when first read);
            // short escapes always do
            if let (Some(_), Val::Escaped(s, e), Esc::Other) = (slot, val, esc)
                && !valid_escapes(&self.line[s as usize..e as usize])
            {
                return Err(ScanError { at: s as usize });
            }
            if let Some(id) = slot {
                self.slots[id as usize] = self.vals.len() as u32;
                self.set.push(id);
            }
            self.vals.push((ks as u32, ke as u32, val));
            i = skip_ws(b, next);
            match b.get(i) {
                Some(b',') => i = skip_ws(b, i + 1),
                Some(b'}') => return trailing(b, i + 1),
                _ => return Err(ScanError { at: i }),
            }
        }
    }

    /// The value starting at `i`, where it ends and the kind of escapes of a string.
    fn value(&mut self, b: &[u8], i: usize) -> Result<(Val, usize, Esc), ScanError> {
        let err = ScanError { at: i };
        match b.get(i) {
            Some(b'"') => {
                let (s, e, esc) = self.strings.string_end(i, &mut self.plain)?;
                let v = if esc == Esc::None {
                    Val::Str(s as u32, e as u32)
                } else {
                    Val::Escaped(s as u32, e as u32)
                };
                Ok((v, e + 1, esc))
            }
            Some(b'{' | b'[') => {
                let e = skip_nested(&self.strings, b, i)?;
                self.plain = self.plain && plain_text(&b[i..e]);
                Ok((Val::Raw(i as u32, e as u32), e, Esc::None))
            }
            Some(b't') if b[i..].starts_with(b"true") => Ok((Val::Bool(true), i + 4, Esc::None)),
            Some(b'f') if b[i..].starts_with(b"false") => Ok((Val::Bool(false), i + 5, Esc::None)),
            Some(b'n') if b[i..].starts_with(b"null") => Ok((Val::Null, i + 4, Esc::None)),
            Some(b'-' | b'0'..=b'9') => {
                // the digits of a short integer (most numbers of events: ids, ports, codes)
                // are summed as they are passed; anything else is parsed below
                let neg = b[i] == b'-';
                let mut e = i + usize::from(neg);
                let mut n: i64 = 0;
                while let Some(d @ b'0'..=b'9') = b.get(e) {
                    n = n.wrapping_mul(10).wrapping_add(i64::from(d - b'0'));
                    e += 1;
                }
                let digits = e - i - usize::from(neg);
                let more = b
                    .get(e)
                    .is_some_and(|c| matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'));
                // serde_json reads `-0` as the float -0.0
                if (1..=18).contains(&digits) && !more && !(neg && n == 0) {
                    return Ok((Val::Int(if neg { -n } else { n }), e, Esc::None));
                }
                while e < b.len() && matches!(b[e], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
                {
                    e += 1;
                }
                let t = &self.line[i..e];
                let v = if t.len() > 1 && t.bytes().skip(1).all(|c| c == b'0') && neg {
                    self.plain = false;
                    Val::Float(-0.0)
                } else if let Ok(n) = t.parse::<i64>() {
                    Val::Int(n)
                } else if t.parse::<u64>().is_ok() {
                    Val::Big(i as u32, e as u32)
                } else {
                    // a float's rendering may differ from its text
                    self.plain = false;
                    Val::Float(t.parse::<f64>().map_err(|_| err)?)
                };
                Ok((v, e, Esc::None))
            }
            _ => Err(err),
        }
    }

    /// The text of the string value at `pos` of `vals`.
    fn text_of(&self, pos: usize) -> Option<Cow<'_, str>> {
        Some(match self.vals.get(pos)?.2 {
            Val::Str(s, e) | Val::Big(s, e) => Cow::Borrowed(&self.line[s as usize..e as usize]),
            Val::Escaped(s, e) => {
                let raw = &self.line[s as usize..e as usize];
                let decode = || {
                    let mut t = self.spare.borrow_mut().pop().unwrap_or_default();
                    unescape_into(raw, &mut t).map(|()| t)
                };
                match self.decoded.get(pos) {
                    Some(cell) => Cow::Borrowed(cell.get_or_init(decode).as_deref()?),
                    None => Cow::Owned(decode()?),
                }
            }
            _ => return None,
        })
    }

    /// The value at `pos` of `vals`.
    fn to_field(&self, pos: usize) -> Option<FieldValue<'_>> {
        Some(match self.vals.get(pos)?.2 {
            Val::Int(n) => FieldValue::Int(n),
            Val::Float(f) => FieldValue::Float(f),
            Val::Bool(b) => FieldValue::Bool(b),
            Val::Null => FieldValue::Null,
            Val::Raw(s, e) => {
                let parsed: Value =
                    serde_json::from_str(&self.line[s as usize..e as usize]).ok()?;
                json_field(&parsed).into_owned()
            }
            _ => FieldValue::Str(self.text_of(pos)?),
        })
    }

    /// The position in `vals` of the member `name` (the last one when repeated).
    fn member(&self, name: &str) -> Option<usize> {
        match self.index.id(name) {
            Some(id) => {
                let slot = self.slots[id as usize];
                (slot != u32::MAX).then_some(slot as usize)
            }
            None => self
                .vals
                .iter()
                .rposition(|(s, e, _)| self.key(*s, *e) == name),
        }
    }

    fn key(&self, s: u32, e: u32) -> Cow<'_, str> {
        let raw = &self.line[s as usize..e as usize];
        if raw.contains('\\') {
            unescape(raw).map(Cow::Owned).unwrap_or(Cow::Borrowed(raw))
        } else {
            Cow::Borrowed(raw)
        }
    }

    /// The whole line as a `serde_json::Value` (for alerts and other detectors).
    pub fn to_value(&self) -> serde_json::Result<Value> {
        serde_json::from_str(self.line)
    }
}

/// True when no escape can change a leaf's text (only `\\`, `\"` and control-character
/// escapes) and no number is written as a float (whose rendering may differ).
fn plain_text(b: &[u8]) -> bool {
    let mut in_str = false;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if in_str {
            match c {
                b'\\' => {
                    if !matches!(
                        b.get(i + 1),
                        Some(b'"' | b'\\' | b'n' | b'r' | b't' | b'b' | b'f')
                    ) {
                        return false;
                    }
                    i += 1;
                }
                b'"' => in_str = false,
                _ => {}
            }
        } else {
            match c {
                b'"' => in_str = true,
                b'.' | b'e' | b'E' if i > 0 && b[i - 1].is_ascii_digit() => return false,
                _ => {}
            }
        }
        i += 1;
    }
    true
}

impl Event for FlatEvent<'_> {
    fn verbatim(&self) -> Option<&str> {
        self.plain.then_some(self.line)
    }
    fn verbatim_ascii(&self) -> Option<bool> {
        self.plain.then(|| self.strings.ascii())
    }

    fn field(&self, name: &str) -> Option<FieldValue<'_>> {
        if let Some(pos) = self.member(name) {
            return self.to_field(pos);
        }
        self.nested(name)
    }

    fn keywords(&self, visit: &mut dyn FnMut(&str) -> bool) -> bool {
        // a key given twice keeps its last value, as in a parsed object: the earlier ones are
        // no values of the event (found by the fuzz target `detect_lines`)
        // (an interned key's slot holds its last position; other keys look at the members
        // after them, which are few)
        let last = |pos: usize, ks: u32, ke: u32| {
            let key = self.key(ks, ke);
            match self.index.id(&key) {
                Some(id) => self.slots.get(id as usize) == Some(&(pos as u32)),
                None => !self.vals[pos + 1..]
                    .iter()
                    .any(|(s, e, _)| self.key(*s, *e) == key),
            }
        };
        self.vals
            .iter()
            .enumerate()
            .filter(|(pos, (ks, ke, _))| last(*pos, *ks, *ke))
            .any(|(pos, &(_, _, v))| match v {
                Val::Int(n) => visit(&n.to_string()),
                Val::Float(f) => {
                    serde_json::Number::from_f64(f).is_some_and(|n| visit(&n.to_string()))
                }
                Val::Raw(s, e) => serde_json::from_str::<Value>(&self.line[s as usize..e as usize])
                    .is_ok_and(|v| v.keywords(visit)),
                Val::Bool(b) => visit(if b { "true" } else { "false" }),
                Val::Null => false,
                _ => self.text_of(pos).is_some_and(|t| visit(&t)),
            })
    }

    fn field_loose(&self, parent: &str, name: &str) -> Option<FieldValue<'_>> {
        if !parent.is_empty() {
            return None;
        }
        // as a parsed object answers: keys in order (serde_json's map is sorted), a repeated
        // key with its last value
        let mut best: Option<(Cow<'_, str>, usize)> = None;
        for (pos, (s, e, _)) in self.vals.iter().enumerate() {
            let k = self.key(*s, *e);
            if k.contains(' ')
                && k.chars().filter(|c| *c != ' ').eq(name.chars())
                && best.as_ref().is_none_or(|(b, _)| k <= *b)
            {
                best = Some((k, pos));
            }
        }
        best.and_then(|(_, pos)| self.to_field(pos))
    }
}

impl FlatEvent<'_> {
    /// [`Event::field`] for a name interned in the index as `id`: no hashing.
    pub fn field_at(&self, id: u32, name: &str) -> Option<FieldValue<'_>> {
        match self.slots.get(id as usize) {
            Some(&slot) if slot != u32::MAX => self.to_field(slot as usize),
            _ => self.nested(name),
        }
    }

    /// The member interned as `id` as [`Event::raw_numbered`] sees it. The raw bytes of a
    /// string without escapes are its text; with escapes they hold a backslash, so equal raw
    /// bytes always mean equal text.
    pub(crate) fn raw_at(&self, id: u32) -> RawField<'_> {
        let slot = self.slots.get(id as usize).copied().unwrap_or(u32::MAX);
        if slot == u32::MAX {
            return RawField::Absent;
        }
        match self.vals.get(slot as usize).map(|v| v.2) {
            Some(Val::Str(s, e) | Val::Escaped(s, e)) => {
                RawField::Text(&self.line.as_bytes()[s as usize..e as usize])
            }
            Some(Val::Int(n)) => RawField::Int(n),
            _ => RawField::Unknown,
        }
    }

    /// True when a top-level key may hold a space (only such keys answer
    /// [`Event::field_loose`]): one has a space or an escape.
    pub(crate) fn has_spaced_key(&self) -> bool {
        let b = self.line.as_bytes();
        self.vals.iter().any(|(s, e, _)| {
            b[*s as usize..*e as usize]
                .iter()
                .any(|c| matches!(c, b' ' | b'\\'))
        })
    }

    /// A dotted path into a nested object: parses that object only.
    fn nested(&self, name: &str) -> Option<FieldValue<'_>> {
        let (head, _) = name.split_once('.')?;
        let Val::Raw(s, e) = self.vals.get(self.member(head)?)?.2 else {
            return None;
        };
        let mut root = serde_json::Map::new();
        let inner: Value = serde_json::from_str(&self.line[s as usize..e as usize]).ok()?;
        root.insert(head.to_string(), inner);
        let root = Value::Object(root);
        json_path(&root, name).map(|v| json_field(v).into_owned())
    }
}

/// The first byte from `i` on that is not JSON white space. Compact lines have none, so the
/// first byte is checked inline and the loop is called only past it.
#[inline(always)]
fn skip_ws(b: &[u8], i: usize) -> usize {
    match b.get(i) {
        Some(b' ' | b'\t' | b'\r' | b'\n') => skip_ws_run(b, i + 1),
        _ => i,
    }
}

#[inline(never)]
fn skip_ws_run(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\r' | b'\n') {
        i += 1;
    }
    i
}

fn trailing(b: &[u8], i: usize) -> Result<(), ScanError> {
    let j = skip_ws(b, i);
    if j == b.len() {
        Ok(())
    } else {
        Err(ScanError { at: j })
    }
}

/// The end (exclusive) of the object or array starting at `i` of the line `strings` indexes.
fn skip_nested(strings: &StringIndex, b: &[u8], i: usize) -> Result<usize, ScanError> {
    let mut depth = 0usize;
    let mut j = i;
    while j < b.len() {
        match b[j] {
            b'"' => {
                let (_, e, _) = strings.string_end(j, &mut true)?;
                j = e;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return Ok(j + 1);
                }
            }
            _ => {}
        }
        j += 1;
    }
    Err(ScanError { at: i })
}

/// True when [`unescape_into`] accepts `s`, without decoding it.
fn valid_escapes(s: &str) -> bool {
    let b = s.as_bytes();
    let hex = |at: usize| -> Option<u32> {
        let h = std::str::from_utf8(b.get(at..at + 4)?).ok()?;
        if !h.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(h, 16).ok()
    };
    let mut i = 0;
    while let Some(k) = b.get(i..).and_then(|r| memchr::memchr(b'\\', r)) {
        i += k + 1;
        match b.get(i) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 1,
            Some(b'u') => {
                let Some(hi) = hex(i + 1) else { return false };
                i += 5;
                if (0xD800..0xDC00).contains(&hi) {
                    if b.get(i..i + 2) != Some(b"\\u") {
                        return false;
                    }
                    match hex(i + 2) {
                        Some(lo) if (0xDC00..0xE000).contains(&lo) => i += 6,
                        _ => return false,
                    }
                } else if char::from_u32(hi).is_none() {
                    return false;
                }
            }
            _ => return false,
        }
    }
    true
}

/// Resolves JSON string escapes; `None` on a bad escape.
fn unescape(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    unescape_into(s, &mut out)?;
    Some(out)
}

/// Appends `s` with its JSON escapes resolved to `out`; `None` on a bad escape (`out` then
/// holds a partial text). Runs between backslashes are copied whole.
fn unescape_into(s: &str, out: &mut String) -> Option<()> {
    let mut rest = s;
    while let Some(k) = memchr::memchr(b'\\', rest.as_bytes()) {
        out.push_str(&rest[..k]);
        let mut chars = rest[k + 1..].chars();
        match chars.next()? {
            '"' => out.push('"'),
            '\\' => out.push('\\'),
            '/' => out.push('/'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'u' => {
                let hi = hex4(&mut chars)?;
                let code = if (0xD800..0xDC00).contains(&hi) {
                    if chars.next()? != '\\' || chars.next()? != 'u' {
                        return None;
                    }
                    let lo = hex4(&mut chars)?;
                    if !(0xDC00..0xE000).contains(&lo) {
                        return None;
                    }
                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                } else {
                    hi
                };
                out.push(char::from_u32(code)?);
            }
            _ => return None,
        }
        rest = chars.as_str();
    }
    out.push_str(rest);
    Some(())
}

fn hex4(chars: &mut std::str::Chars<'_>) -> Option<u32> {
    let mut v = 0;
    for _ in 0..4 {
        v = v * 16 + chars.next()?.to_digit(16)?;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same_as_value(line: &str, names: &[&str]) {
        let idx = FieldIndex::new(names.iter().copied());
        let mut ev = FlatEvent::new(&idx);
        ev.scan(line).expect("scans");
        let v: Value = serde_json::from_str(line).expect("json");
        for n in names
            .iter()
            .chain(["Unknown", "nested.b", "nested.z"].iter())
        {
            assert_eq!(ev.field(n), v.field(n), "{n}");
        }
        let mut a = Vec::new();
        let mut b = Vec::new();
        ev.keywords(&mut |s| {
            a.push(s.to_string());
            false
        });
        v.keywords(&mut |s| {
            b.push(s.to_string());
            false
        });
        a.sort();
        b.sort();
        assert_eq!(a, b);
    }

    #[test]
    fn fields_match_the_value_path() {
        same_as_value(
            r#"{"Image":"C:\\Windows\\cmd.exe","EventID":1,"K":-9223372036854775808,
               "Big":18446744073709551615,"F":1.5,"B":true,"N":null,"tags":["a",2],
               "nested":{"b":"x"},"U":"\u00e9\ud83d\ude00","Threat Name":"t", "Unknown":"u"}"#,
            &[
                "Image", "EventID", "K", "Big", "F", "B", "N", "tags", "nested", "U",
            ],
        );
    }

    /// Numbers read as serde_json reads them: short integers summed while scanned, the rest
    /// (long, fractions, exponents, beyond 64 bits) parsed.
    #[test]
    fn numbers_match_the_value_path() {
        for t in [
            "0",
            "-0",
            "5",
            "-5",
            "4688",
            "123456789012345678",
            "-123456789012345678",
            "1234567890123456789",
            "9223372036854775807",
            "-9223372036854775808",
            "9223372036854775808",
            "18446744073709551615",
            "18446744073709551616",
            "1.5",
            "-1.5e3",
            "1e5",
            "2E-3",
            "0.0",
            "-0.0",
            "12e+2",
        ] {
            same_as_value(
                &format!(r#"{{"N":{t},"M":[{t}],"After":1}}"#),
                &["N", "M", "After"],
            );
            same_as_value(&format!(r#"{{"N":{t}}}"#), &["N"]);
        }
    }

    /// Lookups compare keys (length, first and last eight bytes) and, past 16 bytes, the
    /// middle: names that differ only in the middle, in padding or by a NUL are told apart.
    #[test]
    fn field_index_tells_close_names_apart() {
        let mut names: Vec<String> = Vec::new();
        for n in 0..40 {
            let base: String = (0..n).map(|i| (b'a' + (i % 26) as u8) as char).collect();
            names.push(base.clone());
            if n > 0 {
                let mut mid = base.clone().into_bytes();
                mid[n / 2] = b'Z';
                names.push(String::from_utf8(mid).expect("ascii"));
                names.push(format!("{}\0", &base[..n - 1]));
            }
        }
        let (known, unknown) = names.split_at(names.len() / 2);
        let idx = FieldIndex::new(known.iter().map(String::as_str));
        for n in known {
            let id = idx.id(n).expect("known");
            assert_eq!(&*idx.names[id as usize], n.as_str());
        }
        for n in unknown {
            assert_eq!(idx.id(n).is_some(), known.contains(n), "{n:?}");
        }
    }

    #[test]
    fn bad_lines_are_errors() {
        let idx = FieldIndex::new(["a"]);
        let mut ev = FlatEvent::new(&idx);
        for bad in [
            "",
            "[1]",
            r#"{"a":}"#,
            r#"{"a":"x""#,
            r#"{"a":1} x"#,
            r#"{"a":"\q"}"#,
        ] {
            assert!(ev.scan(bad).is_err(), "{bad}");
            assert_eq!(ev.field("a"), None);
        }
        ev.scan(r#" { } "#).expect("empty object");
    }

    /// Values the rules may read are decoded when first read, but their escapes are checked
    /// when the line is scanned, as when they were decoded up front: a bad one makes the line
    /// an error; in a value no rule reads it does not.
    #[test]
    fn escapes_of_wanted_values_are_checked_when_scanned() {
        let idx = FieldIndex::new(["a"]);
        let mut ev = FlatEvent::new(&idx);
        for bad in [
            r#"{"a":"x\ud800"}"#,
            r#"{"a":"\udc00"}"#,
            r#"{"a":"\ud800\u0041"}"#,
            r#"{"a":"\u00g0"}"#,
            r#"{"a":"\u00"}"#,
            r#"{"a":"\x"}"#,
        ] {
            assert!(ev.scan(bad).is_err(), "{bad}");
            let unread = bad.replace("\"a\"", "\"b\"");
            let mut other = FlatEvent::new(&idx);
            assert!(other.scan(&unread).is_ok(), "{unread}");
        }
        for (good, text) in [
            (r#"{"a":"\ud83d\ude00\/\u00e9"}"#, "\u{1f600}/\u{e9}"),
            (r#"{"a":"c:\\w\t\"q\""}"#, "c:\\w\t\"q\""),
        ] {
            ev.scan(good).expect("scans");
            for _ in 0..2 {
                assert_eq!(ev.field("a"), Some(FieldValue::Str(text.into())), "{good}");
            }
        }
    }

    /// The two overlapping loads of a short name give the zero-padded word.
    #[test]
    fn short_words_are_zero_padded() {
        let name = b"\x01\x02\x03\x04\x05\x06\x07";
        for n in 0..8 {
            let mut w = [0u8; 8];
            w[..n].copy_from_slice(&name[..n]);
            assert_eq!(short_word(&name[..n]), u64::from_le_bytes(w), "{n}");
        }
    }

    #[test]
    fn loose_keys_drop_spaces() {
        let idx = FieldIndex::new(["x"]);
        let mut ev = FlatEvent::new(&idx);
        ev.scan(r#"{"Threat Name":"t"}"#).expect("scans");
        assert_eq!(
            ev.field_loose("", "ThreatName"),
            Some(FieldValue::Str("t".into()))
        );
    }
}
