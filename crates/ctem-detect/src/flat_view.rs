//! The flat shape over a [`FlatEvent`], with every Sigma field's paths resolved to slots of
//! the line scanner once, in [`Engine::new`](crate::Engine::new).
//!
//! [`MappedEvent`](crate::mapping::MappedEvent) answers a Sigma name by hashing it to find
//! its paths and then hashing each path to find the member of the line: two or three hashes
//! a lookup, and a prefiltered event makes dozens. [`FlatView`] hashes the Sigma name once
//! and reads the slots directly. Names it does not know take the general path, so the answer
//! is always the one `MappedEvent` gives over the same shape (a test compares them on real
//! events).

use std::cell::Cell;

use crate::event::{Event, FieldValue, RawField};
use crate::flat::{FieldIndex, FlatEvent};
use crate::mapping::Shape;

/// Sigma name -> (slot in the scanner's index, path) of each candidate path, in order.
#[derive(Debug, Default)]
pub(crate) struct FlatPaths {
    names: FieldIndex,
    paths: Vec<Vec<(Option<u32>, Box<str>)>>,
    /// Per name: the one slot it can be found in, when it has one path, interned and not
    /// dotted (most names): [`FlatView`] answers those with one slot read.
    single: Vec<Option<u32>>,
}

impl FlatPaths {
    /// Resolves `names` through `shape` into slots of `index`.
    pub fn new<'a>(
        shape: &Shape,
        index: &FieldIndex,
        names: impl IntoIterator<Item = &'a str> + Clone,
    ) -> Self {
        let names_idx = FieldIndex::new(names.clone());
        let mut paths: Vec<Vec<(Option<u32>, Box<str>)>> = vec![Vec::new(); names_idx.len()];
        for n in names {
            if let Some(i) = names_idx.id(n)
                && let Some(slot) = paths.get_mut(i as usize)
                && slot.is_empty()
            {
                *slot = shape
                    .paths(n)
                    .iter()
                    .map(|p| (index.id(p), p.as_str().into()))
                    .collect();
            }
        }
        let single = paths
            .iter()
            .map(|p| match p.as_slice() {
                [(Some(slot), path)] if !path.contains('.') => Some(*slot),
                _ => None,
            })
            .collect();
        FlatPaths {
            names: names_idx,
            paths,
            single,
        }
    }

    /// The number of a Sigma name (for [`Event::field_numbered`]).
    pub fn id(&self, name: &str) -> Option<u32> {
        self.names.id(name)
    }
}

/// A flat event seen through the flat shape, with resolved paths.
pub(crate) struct FlatView<'e, 'a> {
    flat: &'e FlatEvent<'a>,
    paths: &'e FlatPaths,
    shape: &'e Shape,
    /// Whether a key of the line holds a space, once asked: a name the line lacks is then
    /// looked for among such keys, and without them the answer is no at once (a prefiltered
    /// event asks for a dozen absent names, and each look walks every member).
    spaced: Cell<Option<bool>>,
}

impl<'e, 'a> FlatView<'e, 'a> {
    pub fn new(flat: &'e FlatEvent<'a>, paths: &'e FlatPaths, shape: &'e Shape) -> Self {
        FlatView {
            flat,
            paths,
            shape,
            spaced: Cell::new(None),
        }
    }

    fn spaced(&self) -> bool {
        match self.spaced.get() {
            Some(s) => s,
            None => {
                let s = self.flat.has_spaced_key();
                self.spaced.set(Some(s));
                s
            }
        }
    }
}

impl FlatView<'_, '_> {
    /// The value of `name`, whose number in [`FlatPaths`] is `id`.
    fn lookup(&self, id: Option<u32>, name: &str) -> Option<FieldValue<'_>> {
        let found = match id.and_then(|i| self.paths.paths.get(i as usize)) {
            Some(paths) => paths.iter().find_map(|(id, p)| match id {
                Some(id) => self.flat.field_at(*id, p),
                None => self.flat.field(p),
            }),
            None => self
                .shape
                .paths(name)
                .iter()
                .find_map(|p| self.flat.field(p)),
        };
        found.or_else(|| {
            if self.shape.loose.is_empty() || !self.spaced() {
                return None;
            }
            self.shape
                .loose
                .iter()
                .find_map(|o| self.flat.field_loose(o, name))
        })
    }
}

impl FlatView<'_, '_> {
    /// What [`FlatView::lookup`] would find, as [`Event::raw_numbered`] tells it.
    fn raw(&self, id: Option<u32>) -> RawField<'_> {
        let Some(i) = id else {
            return RawField::Unknown;
        };
        if let Some(Some(slot)) = self.paths.single.get(i as usize) {
            return match self.flat.raw_at(*slot) {
                RawField::Absent if !self.shape.loose.is_empty() && self.spaced() => {
                    RawField::Unknown
                }
                found => found,
            };
        }
        let Some(paths) = self.paths.paths.get(i as usize) else {
            return RawField::Unknown;
        };
        for (slot, p) in paths {
            let Some(slot) = slot else {
                return RawField::Unknown;
            };
            match self.flat.raw_at(*slot) {
                // absent as a member, but a dotted path may still lead into an object
                RawField::Absent if p.contains('.') => return RawField::Unknown,
                RawField::Absent => {}
                found => return found,
            }
        }
        if !self.shape.loose.is_empty() && self.spaced() {
            return RawField::Unknown;
        }
        RawField::Absent
    }
}

impl Event for FlatView<'_, '_> {
    fn field(&self, name: &str) -> Option<FieldValue<'_>> {
        self.lookup(self.paths.names.id(name), name)
    }
    fn field_numbered(&self, id: Option<u32>, name: &str) -> Option<FieldValue<'_>> {
        // a number not from this table would answer for another name
        debug_assert_eq!(id, self.paths.names.id(name), "{name}");
        self.lookup(id, name)
    }
    fn raw_numbered(&self, id: Option<u32>, name: &str) -> RawField<'_> {
        debug_assert_eq!(id, self.paths.names.id(name), "{name}");
        self.raw(id)
    }
    fn keywords(&self, visit: &mut dyn FnMut(&str) -> bool) -> bool {
        self.flat.keywords(visit)
    }
    fn field_loose(&self, parent: &str, name: &str) -> Option<FieldValue<'_>> {
        self.flat.field_loose(parent, name)
    }
    fn verbatim(&self) -> Option<&str> {
        self.flat.verbatim()
    }
    fn verbatim_ascii(&self) -> Option<bool> {
        self.flat.verbatim_ascii()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::Mappings;
    use serde_json::Value;

    /// Every key of real OTRF events, plus Sigma names that only resolve through the shape
    /// (aliases, explicit fields) and unknown ones: the view answers as `MappedEvent` over
    /// the parsed `Value`.
    #[test]
    fn flat_view_answers_as_the_value_path_on_real_events() {
        use std::io::Read;
        let root = std::env::var_os("CTEM_SHARED_FIXTURES")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures")
            });
        let path = root.join("events/jsonl/otrf-windows-100k.flat.jsonl.gz");
        let Ok(file) = std::fs::File::open(&path) else {
            eprintln!("flat_view: {} not found; skipping", path.display());
            return;
        };
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(file)
            .take(4 << 20)
            .read_to_string(&mut text)
            .ok();
        let lines: Vec<&str> = text.lines().take(1500).collect();
        let mut names: Vec<String> = [
            "Image",
            "ParentImage",
            "Provider_Name",
            "Computer",
            "SecurityUserID",
            "ThreatName",
            "Nope",
        ]
        .map(String::from)
        .to_vec();
        for l in &lines {
            if let Ok(Value::Object(o)) = serde_json::from_str::<Value>(l) {
                names.extend(o.keys().cloned());
            }
        }
        names.sort_unstable();
        names.dedup();
        let mut m = Mappings::builtin().expect("builtin mappings");
        m.prepare(names.iter().map(String::as_str));
        let index = FieldIndex::new(
            m.all_paths(names.iter().map(String::as_str))
                .iter()
                .map(String::as_str),
        );
        let shape = m.shapes.last().expect("a fallback shape");
        // half the names resolved ahead, half through the general path
        let paths = FlatPaths::new(shape, &index, names.iter().step_by(2).map(String::as_str));
        let mut flat = FlatEvent::new(&index);
        let mut compared = 0;
        let mut raw_seen = 0;
        for l in lines {
            let Ok(v) = serde_json::from_str::<Value>(l) else {
                continue;
            };
            flat.scan(l).expect("a line serde_json reads");
            let view = FlatView::new(&flat, &paths, shape);
            let slow = m.view(&v);
            if !std::ptr::eq(slow.shape, shape) {
                continue;
            }
            for n in &names {
                let field = view.field(n);
                assert_eq!(field, slow.field(n), "{n} in {l}");
                compared += 1;
                // what the prefilter's caches see of the field agrees with it
                match view.raw_numbered(paths.id(n), n) {
                    RawField::Unknown => {}
                    RawField::Absent => assert_eq!(field, None, "{n} in {l}"),
                    RawField::Int(i) => assert_eq!(field, Some(FieldValue::Int(i)), "{n}"),
                    RawField::Text(b) => {
                        let quoted = format!("\"{}\"", String::from_utf8_lossy(b));
                        let text: String = serde_json::from_str(&quoted).expect("a JSON string");
                        assert_eq!(field, Some(FieldValue::Str(text.into())), "{n} in {l}");
                        raw_seen += 1;
                    }
                }
            }
        }
        assert!(compared > 10_000, "{compared}");
        assert!(raw_seen > 1_000, "{raw_seen}");
    }
}
