//! Rule prefilter: most rules are rejected by one Aho-Corasick pass per field.
//!
//! For each rule we derive a *necessary literal formula* in conjunctive normal form: a few
//! clauses, each a set of (field, literal, anchor) atoms, such that if the rule matches, every
//! clause has an atom whose literal occurs (ASCII case-insensitively) in its field's text, at
//! the place its anchor says (the whole text, its start, its end, anywhere). It follows the
//! condition tree: an `and` needs the clauses of all its children (the most selective few are
//! kept), an `or` needs the pairwise unions of its children's clauses (or the union of their
//! best clauses when that grows too large), `not` needs nothing we can name. A field item
//! contributes one clause with the literal of each exact / prefix / suffix / contains value
//! (or its longest ASCII run, unanchored); `|all` items one clause per value. Rules without
//! such a formula are always evaluated.
//!
//! Per bucket of rules (one logsource), all literals of one field form one automaton; an event
//! runs each automaton once over that field and a rule is evaluated in full only when all its
//! clauses were satisfied (plus the always-evaluated ones). The formula is necessary, not
//! sufficient, so the full matcher still decides: the prefilter can only skip rules that
//! cannot match, never add hits.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use aho_corasick::{AhoCorasick, AhoCorasickKind};

use crate::compile::{CCond, CompiledDetection, FieldMatcher};
use crate::event::{Event, FieldValue, RawField};
use crate::fold_find::FoldFind;
use crate::ruleset::CompiledRule;
use crate::value::{StrPat, ValueMatcher, fold};

/// Where a literal must lie in the field's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Anchor {
    Exact,
    Prefix,
    Suffix,
    Contains,
}

/// A literal that may occur in a field: (field, literal, anchor).
type Atom = (String, String, Anchor);
/// At least one atom of a clause occurs when the rule matches.
type Clause = Vec<Atom>;
/// Every clause holds when the rule matches (at most [`MAX_CLAUSES`]).
type Cnf = Vec<Clause>;

/// Clauses kept per rule (the most selective ones); the hit mask of a rule is a `u32`.
const MAX_CLAUSES: usize = 8;

/// A clause beyond the best one is kept only when its weakest atom scores this much (see
/// [`score`]): a short literal (`iex`, `add`) occurs in most long values, and every
/// occurrence costs the automaton a reported match while rejecting almost nothing.
const MIN_EXTRA_SCORE: usize = 5;

/// Field automata with at most this many literals are built as DFAs.
const MAX_DFA_PATTERNS: usize = 300;
/// Larger sets, up to this many literals, become DFAs once their NFA has scanned
/// [`LAZY_DFA_BYTES_PER_LITERAL`] bytes per literal (summed over threads): only the sets the
/// events use pay the memory and the build time, and the rule load stays fast.
const MAX_LAZY_DFA_PATTERNS: usize = 1500;
/// A DFA pays for itself after about this much text per literal. Its build costs about
/// 25 µs a literal (`TargetObject`, 648 literals: 16 ms; `ScriptBlockText`, 1,007: 14 ms),
/// and it saves a few ns a byte over the NFA: the break-even is at 5-8 MB of text scanned
/// for those sets. A 100k-event OTRF run scans about 0.7 MB of `TargetObject` values that
/// miss the value caches; building its DFA after 256 KiB, as before, cost 30 ms of a run of
/// 400 ms for no measurable gain.
const LAZY_DFA_BYTES_PER_LITERAL: u64 = 8 << 10;

/// One rule a pattern belongs to: which clause it satisfies and where it must lie.
#[derive(Debug, Clone, Copy)]
struct Owner {
    rule: usize,
    anchor: Anchor,
    bit: u32,
    /// All clause bits of the rule.
    full: u32,
}

/// Per field: literal -> pattern id, patterns, owners per pattern.
type Pats = (HashMap<String, usize>, Vec<String>, Vec<Vec<Owner>>);

/// One field of a bucket.
#[derive(Debug)]
struct FieldFilter {
    name: String,
    /// Its number (see [`Event::field_numbered`]).
    id: Option<u32>,
    ac: AhoCorasick,
    /// The rules of each pattern.
    owners: Vec<Vec<Owner>>,
    /// The number of its value cache in [`Marks`].
    cache: usize,
    /// For a set too large for a DFA up front (see [`MAX_LAZY_DFA_PATTERNS`]).
    lazy: Option<LazyDfa>,
    /// No literal holds a line break, so every match lies within one line of a text and a
    /// long text can be looked at line by line (see [`LineCache`]).
    by_line: bool,
}

/// The DFA of a large literal set, built when its NFA has done enough work.
#[derive(Debug)]
struct LazyDfa {
    pats: Vec<String>,
    scanned: AtomicU64,
    /// Bytes to scan before the DFA is built.
    after: u64,
    dfa: OnceLock<Option<AhoCorasick>>,
}

impl FieldFilter {
    /// The automaton to run: the DFA once built.
    fn automaton(&self) -> &AhoCorasick {
        self.lazy
            .as_ref()
            .and_then(|l| l.dfa.get())
            .and_then(Option::as_ref)
            .unwrap_or(&self.ac)
    }

    /// Counts bytes the NFA scanned; builds the DFA when they pass its threshold.
    fn scanned(&self, bytes: usize) {
        let Some(l) = &self.lazy else { return };
        if l.dfa.get().is_some() {
            return;
        }
        let before = l.scanned.fetch_add(bytes as u64, Ordering::Relaxed);
        if before < l.after && before + bytes as u64 >= l.after {
            l.dfa.get_or_init(|| {
                AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .kind(Some(AhoCorasickKind::DFA))
                    .build(&l.pats)
                    .ok()
            });
        }
    }
}

/// The prefilter of one bucket.
#[derive(Debug)]
pub(crate) struct BucketFilter {
    /// Rules (global indexes) evaluated on every event of the bucket.
    pub always: Vec<usize>,
    /// Per field: its number (see [`Event::field_numbered`]), automaton and, per pattern, the
    /// rules it belongs to. The field [`KEYWORDS`] stands for every value of the event
    /// (keyword searches).
    fields: Vec<FieldFilter>,
    /// A SIMD (Teddy) searcher over the plain keyword literals, run on the lower-cased raw
    /// line: when it finds nothing, no value can hold a keyword.
    kw_gate: Option<Gate>,
}

/// Per-thread state of the prefilter: clause bits seen per rule for the current event and the
/// rules whose clauses are all satisfied.
#[derive(Debug)]
pub(crate) struct Marks {
    generation: u32,
    gen_of: Vec<u32>,
    mask: Vec<u32>,
    /// Candidate rules of the current event (unsorted, each once).
    pub cand: Vec<usize>,
    gate_buf: Vec<u8>,
    /// One value cache per field filter of the engine (see [`ValueCache`]), made on first use.
    caches: Vec<ValueCache>,
    /// One line cache per field filter, made on first use.
    lines: Vec<LineCache>,
    /// Key bytes the caches took since they were last all cleared, and the bound on them.
    cache_bytes: usize,
    cache_budget: usize,
    /// The matches of the line being looked at.
    found: Vec<Found>,
    /// While `recording` (a field value scanned for its cache): every (rule, bit, full) it
    /// marked.
    rec: Vec<Mark>,
    recording: bool,
}

/// (rule, clause bit, all clause bits) as [`Marks::hit`] takes them.
type Mark = (u32, u32, u32);

/// Lookups per window of a value cache; a window with fewer hits than [`CACHE_MIN_HITS`]
/// turns the cache off for [`CACHE_OFF_WINDOWS`] windows (values that never repeat, such as
/// PowerShell `ContextInfo` with its sequence numbers, would only cost a hash and a copy).
const CACHE_WINDOW: u32 = 1024;
const CACHE_MIN_HITS: u32 = CACHE_WINDOW / 8;
const CACHE_OFF_WINDOWS: u32 = 15;
/// A cache forgets everything when it holds this many values or key bytes; longer values
/// are not cached.
const CACHE_MAX_ENTRIES: usize = 16 << 10;
const CACHE_MAX_BYTES: usize = 4 << 20;
const CACHE_MAX_KEY: usize = 16 << 10;
/// All caches of one thread forget everything once they have taken this many key bytes
/// since they last did: a few hundred field caches of 4 MiB each would otherwise allow a
/// stream of distinct long values to hold a gigabyte.
const CACHE_THREAD_BYTES: usize = 64 << 20;

/// What one field automaton found in recent keys (values or lines of values), each kept as
/// a run of `T` in one vector: real event streams repeat most values (a process-access
/// `CallTrace` of 530 bytes, escaped, takes about 1,300 distinct values in 43,000 OTRF
/// events). Per thread, bounded, verified by comparing the whole key; a window of lookups
/// with few hits turns it off for a while.
#[derive(Debug)]
struct Recent<T> {
    map: HashMap<Box<[u8]>, (u32, u32), foldhash::fast::RandomState>,
    items: Vec<T>,
    bytes: usize,
    lookups: u32,
    hits: u32,
    /// Lookups left before the cache is tried again.
    off: u32,
}

impl<T> Default for Recent<T> {
    fn default() -> Self {
        Recent {
            map: HashMap::default(),
            items: Vec::new(),
            bytes: 0,
            lookups: 0,
            hits: 0,
            off: 0,
        }
    }
}

impl<T: Copy> Recent<T> {
    /// Where the items kept for `key` lie in `items`, or whether to keep the ones found now.
    fn get(&mut self, key: &[u8]) -> Result<(u32, u32), bool> {
        if self.off > 0 {
            self.off -= 1;
            return Err(false);
        }
        self.lookups += 1;
        let found = self.map.get(key).copied();
        if found.is_some() {
            self.hits += 1;
        }
        if self.lookups == CACHE_WINDOW {
            if self.hits < CACHE_MIN_HITS {
                self.off = CACHE_WINDOW * CACHE_OFF_WINDOWS;
                self.clear();
            }
            self.lookups = 0;
            self.hits = 0;
        }
        found.ok_or(key.len() <= CACHE_MAX_KEY)
    }

    /// The items kept at `at` (from [`Recent::get`]).
    fn items(&self, (start, len): (u32, u32)) -> &[T] {
        &self.items[start as usize..(start + len) as usize]
    }

    fn put(&mut self, key: &[u8], items: &[T]) {
        if self.map.len() >= CACHE_MAX_ENTRIES || self.bytes + key.len() > CACHE_MAX_BYTES {
            self.clear();
        }
        let (Ok(start), Ok(len)) = (u32::try_from(self.items.len()), u32::try_from(items.len()))
        else {
            return;
        };
        self.items.extend_from_slice(items);
        self.bytes += key.len();
        self.map.insert(key.into(), (start, len));
    }

    fn clear(&mut self) {
        self.map.clear();
        self.items.clear();
        self.bytes = 0;
    }
}

/// The marks a field automaton made on a value: a hit replays them instead of decoding the
/// value and running the automaton over it.
type ValueCache = Recent<Mark>;

/// Texts at least this long are looked at line by line.
const LINE_MIN_TEXT: usize = 1024;

/// A match within one line: (pattern, at the line's start, at the line's end).
type Found = (u32, bool, bool);

/// The automaton's matches in each line of long values of one field: PowerShell
/// `ContextInfo` (5 KB, about twenty `Key = Value` lines) never repeats as a whole, for its
/// sequence number and times, but most of its lines do.
type LineCache = Recent<Found>;

/// What [`Marks::replay`] did.
enum Replay {
    /// The value's marks were replayed.
    Done,
    /// Scan the value; record its marks for the cache when `true`.
    Scan(bool),
}

impl Marks {
    pub fn new(rules: usize) -> Self {
        Marks {
            generation: 0,
            gen_of: vec![0; rules],
            mask: vec![0; rules],
            cand: Vec::new(),
            gate_buf: Vec::new(),
            caches: Vec::new(),
            lines: Vec::new(),
            found: Vec::new(),
            cache_bytes: 0,
            cache_budget: CACHE_THREAD_BYTES,
            rec: Vec::new(),
            recording: false,
        }
    }

    /// Replays the marks cache `c` holds for `raw`, or says to scan (and whether to record).
    fn replay(&mut self, c: usize, raw: &[u8]) -> Replay {
        if self.caches.len() <= c {
            self.caches.resize_with(c + 1, ValueCache::default);
        }
        let (start, len) = match self.caches[c].get(raw) {
            Ok(at) => at,
            Err(record) => return Replay::Scan(record),
        };
        for k in start..start + len {
            let (rule, bit, full) = self.caches[c].items[k as usize];
            self.hit(rule as usize, bit, full);
        }
        Replay::Done
    }

    /// Starts recording marks for a value cache.
    fn record(&mut self) {
        self.rec.clear();
        self.recording = true;
    }

    /// Keeps the marks recorded since [`Marks::record`] as cache `c`'s entry for `raw`.
    fn store(&mut self, c: usize, raw: &[u8]) {
        self.recording = false;
        self.spend(raw.len());
        if let Some(cache) = self.caches.get_mut(c) {
            cache.put(raw, &self.rec);
        }
    }

    /// Counts `bytes` of keys about to be kept; past the thread's budget every cache is
    /// cleared first.
    fn spend(&mut self, bytes: usize) {
        self.cache_bytes += bytes;
        if self.cache_bytes > self.cache_budget {
            self.caches.iter_mut().for_each(Recent::clear);
            self.lines.iter_mut().for_each(Recent::clear);
            self.cache_bytes = bytes;
        }
    }

    /// Forgets the previous event.
    pub fn start(&mut self) {
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.gen_of.iter_mut().for_each(|g| *g = 0);
            self.generation = 1;
        }
        self.cand.clear();
    }

    fn hit(&mut self, rule: usize, bit: u32, full: u32) {
        if self.recording {
            self.rec.push((rule as u32, bit, full));
        }
        let (Some(g), Some(m)) = (self.gen_of.get_mut(rule), self.mask.get_mut(rule)) else {
            return;
        };
        if *g != self.generation {
            *g = self.generation;
            *m = 0;
        }
        if *m == full {
            return;
        }
        *m |= bit;
        if *m == full {
            self.cand.push(rule);
        }
    }
}

/// Looks for the JSON-escaped keyword literals in a raw line.
#[derive(Debug)]
struct Gate {
    /// The one-pass case-insensitive searcher, when every literal suits it.
    fold: Option<FoldFind>,
    search: GateSearch,
    /// Every literal is ASCII.
    ascii: bool,
}

/// The searcher of a [`Gate`], run over the lower-cased line.
#[derive(Debug)]
enum GateSearch {
    /// Case-sensitive SIMD search.
    Teddy(aho_corasick::packed::Searcher),
    /// Too many literals for Teddy.
    Ac(AhoCorasick),
}

/// The pseudo field of keyword searches: literals looked for in every value.
const KEYWORDS: &str = "\0keywords";

/// A literal as it appears inside a JSON string that uses only short escapes.
fn json_escaped(lit: &str) -> String {
    let quoted = serde_json::to_string(lit).unwrap_or_default();
    quoted
        .strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .unwrap_or(lit)
        .to_string()
}

impl BucketFilter {
    /// The filter of the rules `idx`; `number` gives a field name's number for
    /// [`Event::field_numbered`].
    pub fn new(
        rules: &[CompiledRule],
        idx: &[usize],
        number: &dyn Fn(&str) -> Option<u32>,
        caches: &mut usize,
    ) -> Self {
        let mut always = Vec::new();
        let mut per_field: Vec<(String, Pats)> = Vec::new();
        for &i in idx {
            match rule_need(&rules[i].detection) {
                Some(cnf) if cnf.iter().all(|c| !c.is_empty()) => {
                    let full = (1u32 << cnf.len()) - 1;
                    for (c, clause) in cnf.into_iter().enumerate() {
                        for (field, lit, anchor) in clause {
                            let owner = Owner {
                                rule: i,
                                anchor,
                                bit: 1 << c,
                                full,
                            };
                            add(&mut per_field, field, lit, owner);
                        }
                    }
                }
                _ => always.push(i),
            }
        }
        let mut fields = Vec::new();
        let mut kw_gate = None;
        for (field, (_, pats, owners)) in per_field {
            if field == KEYWORDS {
                kw_gate = keyword_gate(&pats);
            }
            // a DFA is about twice as fast per byte as the contiguous NFA the builder picks
            // past 100 patterns, and long fields (`ContextInfo`, `Payload`) spend their time
            // there; the largest sets stay NFAs (DFAs up to 300 literals cost about 2.5 MiB
            // in all, a DFA of every set 100 MiB)
            let kind = (pats.len() <= MAX_DFA_PATTERNS).then_some(AhoCorasickKind::DFA);
            match AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .kind(kind)
                .build(&pats)
            {
                Ok(ac) => {
                    let id = number(&field);
                    let by_line = pats.iter().all(|p| !p.contains('\n'));
                    let lazy =
                        (kind.is_none() && pats.len() <= MAX_LAZY_DFA_PATTERNS).then(|| LazyDfa {
                            after: pats.len() as u64 * LAZY_DFA_BYTES_PER_LITERAL,
                            pats,
                            scanned: AtomicU64::new(0),
                            dfa: OnceLock::new(),
                        });
                    fields.push(FieldFilter {
                        name: field,
                        id,
                        ac,
                        owners,
                        cache: *caches,
                        lazy,
                        by_line,
                    });
                    *caches += 1;
                }
                // cannot happen for plain literals; evaluate those rules always instead
                Err(_) => always.extend(owners.into_iter().flatten().map(|o| o.rule)),
            }
        }
        always.sort_unstable();
        always.dedup();
        BucketFilter {
            always,
            fields,
            kw_gate,
        }
    }

    /// Adds to `marks.cand` every rule that may match `ev`, `always` ones included.
    pub fn candidates<E: Event + ?Sized>(&self, ev: &E, marks: &mut Marks) {
        for &i in &self.always {
            marks.hit(i, 1, 1);
        }
        for f in &self.fields {
            let (field, id, owners, cache) = (&f.name, &f.id, &f.owners, &f.cache);
            let ac = f.automaton();
            if field == KEYWORDS {
                if let Some(text) = ev.verbatim()
                    && let Some(gate) = &self.kw_gate
                    && !gate_hit(gate, text, ev.verbatim_ascii(), &mut marks.gate_buf)
                {
                    continue;
                }
                ev.keywords(&mut |t| {
                    look(ac, owners, t, marks);
                    false
                });
                continue;
            }
            let mut int_key = [0u8; 9];
            let raw = match ev.raw_numbered(*id, field) {
                RawField::Absent => continue,
                RawField::Unknown => None,
                RawField::Text(t) => Some(t),
                RawField::Int(n) => {
                    // 0xFF never occurs in UTF-8 text, so an integer's key is no text's key
                    int_key[0] = 0xFF;
                    int_key[1..].copy_from_slice(&n.to_le_bytes());
                    Some(&int_key[..])
                }
            };
            let record = match raw.map(|r| marks.replay(*cache, r)) {
                Some(Replay::Done) => continue,
                Some(Replay::Scan(record)) => record,
                None => false,
            };
            let Some(v) = ev.field_numbered(*id, field) else {
                continue;
            };
            if record {
                marks.record();
            }
            let mut bytes = 0;
            scan(&v, &mut |t| {
                bytes += t.len();
                if f.by_line && t.len() >= LINE_MIN_TEXT {
                    look_lines(ac, owners, t, marks, *cache);
                } else {
                    look(ac, owners, t, marks);
                }
            });
            f.scanned(bytes);
            if let (true, Some(raw)) = (record, raw) {
                marks.store(*cache, raw);
            }
        }
    }
}

fn add(per_field: &mut Vec<(String, Pats)>, field: String, lit: String, owner: Owner) {
    let pos = match per_field.iter().position(|(f, _)| *f == field) {
        Some(p) => p,
        None => {
            per_field.push((field, Default::default()));
            per_field.len() - 1
        }
    };
    let (ids, pats, owners) = &mut per_field[pos].1;
    let l = lit.to_ascii_lowercase();
    let id = *ids.entry(l.clone()).or_insert_with(|| {
        pats.push(l);
        owners.push(Vec::new());
        pats.len() - 1
    });
    owners[id].push(owner);
}

fn keyword_gate(pats: &[String]) -> Option<Gate> {
    let escaped: Vec<String> = pats.iter().map(|p| json_escaped(p)).collect();
    let search = match aho_corasick::packed::Config::new()
        .builder()
        .extend(&escaped)
        .build()
    {
        Some(g) => GateSearch::Teddy(g),
        None => GateSearch::Ac(
            AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(&escaped)
                .ok()?,
        ),
    };
    Some(Gate {
        fold: FoldFind::new(&escaped),
        search,
        ascii: pats.iter().all(|p| p.is_ascii()),
    })
}

/// Whether `text` (whose ASCII-ness the view may know) may hold a keyword literal.
fn gate_hit(gate: &Gate, text: &str, ascii: Option<bool>, buf: &mut Vec<u8>) -> bool {
    buf.clear();
    let ascii = ascii.unwrap_or_else(|| text.is_ascii());
    // lower-case ASCII while copying (one pass); every non-ASCII character lower-cases to
    // non-ASCII text except these three, so with ASCII literals that is the folded line
    if ascii || (gate.ascii && !FOLD_TO_ASCII.iter().any(|c| text.contains(*c))) {
        if let Some(f) = &gate.fold {
            return f.is_match(text.as_bytes());
        }
        buf.resize(text.len(), 0);
        for (d, s) in buf.iter_mut().zip(text.as_bytes()) {
            *d = s.to_ascii_lowercase();
        }
    } else if text.contains('\u{3a3}') {
        // capital sigma lower-cases by its context, which differs between the line and the
        // value: let the values decide
        return true;
    } else {
        // as `look` folds a value: every other character lower-cases on its own, so the
        // folded value lies in the folded line
        buf.extend_from_slice(fold(text).as_bytes());
    }
    match &gate.search {
        GateSearch::Teddy(g) => g.find(buf.as_slice()).is_some(),
        GateSearch::Ac(ac) => ac.is_match(buf.as_slice()),
    }
}

/// The non-ASCII characters whose folded form (as `look` folds) holds ASCII: the Kelvin sign
/// (`k`), capital I with dot above (`i` and a combining dot) and the long s (`s`).
const FOLD_TO_ASCII: [char; 3] = ['\u{212a}', '\u{130}', '\u{17f}'];

/// The text as the automata see it: as is when ASCII, else folded as values are compared.
fn folded(t: &str) -> Cow<'_, str> {
    if t.is_ascii() {
        Cow::Borrowed(t)
    } else {
        Cow::Owned(fold(t))
    }
}

/// Marks the clauses of pattern `p` whose anchor holds for a match that is at the start of
/// the text or not, at its end or not.
fn mark(owners: &[Vec<Owner>], p: usize, at_start: bool, at_end: bool, marks: &mut Marks) {
    for o in &owners[p] {
        let ok = match o.anchor {
            Anchor::Exact => at_start && at_end,
            Anchor::Prefix => at_start,
            Anchor::Suffix => at_end,
            Anchor::Contains => true,
        };
        if ok {
            marks.hit(o.rule, o.bit, o.full);
        }
    }
}

/// Runs one field automaton over one text and marks the clauses whose literal lies where its
/// anchor says.
fn look(ac: &AhoCorasick, owners: &[Vec<Owner>], t: &str, marks: &mut Marks) {
    let t = folded(t);
    let n = t.len();
    for m in ac.find_overlapping_iter(t.as_ref()) {
        mark(
            owners,
            m.pattern().as_usize(),
            m.start() == 0,
            m.end() == n,
            marks,
        );
    }
}

/// [`look`] over a long text whose automaton has no literal with a line break, one line at a
/// time through line cache `c`: a match lies within one line, at the text's start when it
/// is at the start of the first line, at its end when at the end of the last.
fn look_lines(ac: &AhoCorasick, owners: &[Vec<Owner>], t: &str, marks: &mut Marks, c: usize) {
    let t = folded(t);
    let t = t.as_ref();
    if marks.lines.len() <= c {
        marks.lines.resize_with(c + 1, LineCache::default);
    }
    let n = t.len();
    let mut start = 0;
    loop {
        let end = memchr::memchr(b'\n', &t.as_bytes()[start..]).map_or(n, |i| start + i);
        let line = &t[start..end];
        let (first, last) = (start == 0, end == n);
        let mut found = std::mem::take(&mut marks.found);
        found.clear();
        match marks.lines[c].get(line.as_bytes()) {
            Ok(at) => found.extend_from_slice(marks.lines[c].items(at)),
            Err(keep) => {
                let l = line.len();
                found.extend(
                    ac.find_overlapping_iter(line)
                        .map(|m| (m.pattern().as_u32(), m.start() == 0, m.end() == l)),
                );
                if keep {
                    marks.spend(line.len());
                    marks.lines[c].put(line.as_bytes(), &found);
                }
            }
        }
        for &(p, at_start, at_end) in &found {
            mark(owners, p as usize, at_start && first, at_end && last, marks);
        }
        marks.found = found;
        if end == n {
            break;
        }
        start = end + 1;
    }
}

fn scan(v: &FieldValue<'_>, f: &mut dyn FnMut(&str)) {
    match v {
        FieldValue::List(items) => items.iter().for_each(|i| scan(i, f)),
        // the text of an integer without allocating (as `as_text` renders it)
        FieldValue::Int(n) => {
            let mut buf = [0u8; 20];
            let mut at = buf.len();
            let mut x = n.unsigned_abs();
            loop {
                at -= 1;
                buf[at] = b'0' + (x % 10) as u8;
                x /= 10;
                if x == 0 {
                    break;
                }
            }
            let digits = std::str::from_utf8(&buf[at..]).unwrap_or_default();
            if *n < 0 {
                f(&format!("-{digits}"));
            } else {
                f(digits);
            }
        }
        other => {
            if let Some(t) = other.as_text() {
                f(&t)
            }
        }
    }
}

/// The necessary literal formula of a detection, if one can be named.
pub(crate) fn rule_need(d: &CompiledDetection) -> Option<Cnf> {
    any_of(d.conditions.iter().map(|c| cond_need(d, c)))
}

fn search_need(d: &CompiledDetection, i: usize) -> Option<Cnf> {
    let s = d.searches.get(i)?;
    any_of(
        s.alternatives
            .iter()
            .map(|alt| all_of(alt.iter().map(item_need))),
    )
}

fn cond_need(d: &CompiledDetection, c: &CCond) -> Option<Cnf> {
    match c {
        CCond::Search(i) => search_need(d, *i),
        CCond::And(v) => all_of(v.iter().map(|c| cond_need(d, c))),
        CCond::All(v) => all_of(v.iter().map(|i| search_need(d, *i))),
        CCond::Or(v) => any_of(v.iter().map(|c| cond_need(d, c))),
        CCond::AtLeast(n, v) if *n >= 1 => any_of(v.iter().map(|i| search_need(d, *i))),
        CCond::AtLeast(..) | CCond::Not(_) => None,
    }
}

/// How selective a clause is (higher is better): its weakest atom (literal length, capped,
/// plus a bonus for anchors), then fewer atoms.
fn score(c: &Clause) -> (usize, usize) {
    let weakest = c
        .iter()
        .map(|(_, l, a)| {
            l.len().min(8)
                + match a {
                    Anchor::Exact => 8,
                    Anchor::Prefix | Anchor::Suffix => 2,
                    Anchor::Contains => 0,
                }
        })
        .min()
        .unwrap_or(0);
    (weakest, usize::MAX - c.len())
}

/// Keeps the best clause and up to [`MAX_CLAUSES`] - 1 other selective ones, best first
/// (any subset of the clauses is still necessary).
fn trim(mut cnf: Cnf) -> Cnf {
    cnf.sort_by_key(|c| std::cmp::Reverse(score(c)));
    let mut first = true;
    cnf.retain(|c| std::mem::take(&mut first) || score(c).0 >= MIN_EXTRA_SCORE);
    cnf.truncate(MAX_CLAUSES);
    cnf
}

/// The conjunction of needs: every clause of every child that has one.
fn all_of(it: impl Iterator<Item = Option<Cnf>>) -> Option<Cnf> {
    let out: Cnf = it.flatten().flatten().collect();
    (!out.is_empty()).then(|| trim(out))
}

/// The disjunction of needs: every child must have one; clauses are the pairwise unions of
/// the children's clauses, or the union of their best clauses when that grows too large.
fn any_of(it: impl Iterator<Item = Option<Cnf>>) -> Option<Cnf> {
    let mut acc: Option<Cnf> = None;
    for n in it {
        let n = n?;
        acc = Some(match acc {
            None => n,
            Some(a) if a.len() * n.len() <= MAX_CLAUSES => {
                let mut out = Vec::with_capacity(a.len() * n.len());
                for x in &a {
                    for y in &n {
                        out.push(union(x, y));
                    }
                }
                trim(out)
            }
            Some(a) => vec![union(&a[0], &n[0])],
        });
    }
    acc.filter(|c| !c.is_empty())
}

fn union(a: &Clause, b: &Clause) -> Clause {
    let mut out = a.clone();
    for x in b {
        if !out.contains(x) {
            out.push(x.clone());
        }
    }
    out
}

/// The literal atoms of one value: an anchored literal when the pattern is ASCII, else its
/// longest ASCII run anywhere; a regex's required literals.
fn value_atoms(field: &str, m: &ValueMatcher) -> Option<Clause> {
    let ValueMatcher::Str(s) = m else { return None };
    let atom = |p: &str, anchor: Anchor| {
        // a value that lower-casing leaves as it is stands for itself, anchor and all (the
        // folded text ends with it when the text does): `'⠀⠀⠀⠀⠀⠀.exe'` is far rarer than
        // its ASCII run `.exe`
        if (p.is_ascii() && !p.is_empty()) || caseless(p) {
            return Some((field.to_string(), p.to_string(), anchor));
        }
        longest_ascii_run(p).map(|l| (field.to_string(), l, Anchor::Contains))
    };
    match &s.pat {
        StrPat::Exact(p) => Some(vec![atom(p, Anchor::Exact)?]),
        StrPat::Prefix(p) => Some(vec![atom(p, Anchor::Prefix)?]),
        StrPat::Suffix(p) => Some(vec![atom(p, Anchor::Suffix)?]),
        StrPat::Contains(p) => Some(vec![atom(p, Anchor::Contains)?]),
        // one of several literals: any found suffices
        StrPat::Regex(_) | StrPat::Wild { .. } if !s.required.is_empty() => s
            .required
            .iter()
            .map(|r| atom(r, Anchor::Contains))
            .collect(),
        StrPat::Regex(_) | StrPat::Wild { .. } | StrPat::Any => None,
    }
}

fn item_need(f: &FieldMatcher) -> Option<Cnf> {
    let field = f.field.as_deref().unwrap_or(KEYWORDS);
    if f.neq || f.matchers.is_empty() {
        return None;
    }
    if f.all {
        // every value must match: each one's atoms are a clause of their own
        let out: Cnf = f
            .matchers
            .iter()
            .filter_map(|m| value_atoms(field, m))
            .collect();
        return (!out.is_empty()).then(|| trim(out));
    }
    let mut clause = Vec::new();
    for m in &f.matchers {
        for a in value_atoms(field, m)? {
            if !clause.contains(&a) {
                clause.push(a);
            }
        }
    }
    Some(vec![clause])
}

/// True when lower-casing leaves every character of `p` as it is, and none is a long s
/// (which `look` folds to `s`): such a literal (emoji, lower-case Cyrillic) lies in the
/// lower-cased text wherever it lies in the text, so it can stand for itself in the
/// automaton (`look` lower-cases non-ASCII text), cased or not.
fn caseless(p: &str) -> bool {
    !p.is_empty()
        && p.chars().all(|c| {
            let mut l = c.to_lowercase();
            c != '\u{17f}' && l.next() == Some(c) && l.next().is_none()
        })
}

/// The longest run of ASCII characters of `p` (all of it when ASCII), if not empty.
fn longest_ascii_run(p: &str) -> Option<String> {
    if p.is_ascii() {
        return (!p.is_empty()).then(|| p.to_string());
    }
    p.split(|c: char| !c.is_ascii())
        .max_by_key(|s| s.len())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::compile_detection;
    use crate::rule::{Document, parse_yaml};

    fn need(yaml: &str) -> Option<Cnf> {
        let docs = parse_yaml(yaml, "t.yml").expect("parses");
        let Some(Document::Rule(r)) = docs.into_iter().next() else {
            panic!("not a rule")
        };
        rule_need(&compile_detection(&r, &Default::default()).expect("compiles"))
    }

    fn atom(f: &str, l: &str, a: Anchor) -> Atom {
        (f.into(), l.into(), a)
    }

    #[test]
    fn and_keeps_every_clause_or_distributes() {
        let n = need(
            "title: t\nlogsource: {product: windows}\ndetection:\n  a:\n    EventID: 1\n    \
             Image|endswith: ['\\cmd.exe', '\\pwsh.exe']\n  b:\n    CommandLine|contains: xxxxx\n  \
             condition: a or b\n",
        )
        .expect("need");
        let img = vec![
            atom("Image", "\\cmd.exe", Anchor::Suffix),
            atom("Image", "\\pwsh.exe", Anchor::Suffix),
        ];
        let cl = atom("CommandLine", "xxxxx", Anchor::Contains);
        let mut a = img.clone();
        a.push(cl.clone());
        // equally weak (the `xxxxx`), the smaller clause first
        assert_eq!(n, vec![vec![atom("EventID", "1", Anchor::Exact), cl], a]);
    }

    /// Values without an ASCII run (emoji) are literals of their own when lower-casing keeps
    /// them; an upper-case non-ASCII letter is not.
    #[test]
    fn caseless_non_ascii_values_are_literals() {
        let n = need(
            "title: t\nlogsource: {product: windows}\ndetection:\n  a:\n    \
             CommandLine|contains: ['\u{1f600}', '\u{263a}\u{fe0f}', '\u{430}']\n  condition: a\n",
        )
        .expect("need");
        let lits: Vec<&str> = n[0].iter().map(|a| a.1.as_str()).collect();
        assert_eq!(lits, ["\u{1f600}", "\u{263a}\u{fe0f}", "\u{430}"]);
        assert!(n[0].iter().all(|a| a.2 == Anchor::Contains));
        for p in ["\u{410}", "\u{17f}", "\u{130}", ""] {
            assert!(!caseless(p), "{p}");
        }
        // an upper-case pattern is lower-cased at compile time, unless `|cased`
        let n = need(
            "title: t\nlogsource: {product: windows}\ndetection:\n  a:\n    \
             CommandLine|contains: '\u{410}'\n  condition: a\n",
        )
        .expect("need");
        assert_eq!(n[0][0].1, "\u{430}");
        assert!(
            need(
                "title: t\nlogsource: {product: windows}\ndetection:\n  a:\n    \
                 CommandLine|contains|cased: ['\u{1f600}', '\u{410}']\n  condition: a\n"
            )
            .is_none()
        );
    }

    #[test]
    fn regexes_all_and_not() {
        assert!(
            need(
                "title: t\nlogsource: {product: windows}\ndetection:\n  a:\n    \
                 Image|re: '[a-z]+'\n  condition: a\n"
            )
            .is_none()
        );
        let n = need(
            "title: t\nlogsource: {product: windows}\ndetection:\n  a:\n    \
             Image|re: '(?i)(foo|bar)\\d'\n  condition: a\n",
        )
        .expect("need");
        assert_eq!(n.len(), 1);
        let mut l: Vec<String> = n[0].iter().map(|x| x.1.to_ascii_lowercase()).collect();
        l.sort();
        l.dedup();
        assert_eq!(l, vec!["bar".to_string(), "foo".to_string()]);
        assert!(n[0].iter().all(|x| x.2 == Anchor::Contains));
        let all = need(
            "title: t\nlogsource: {product: windows}\ndetection:\n  a:\n    \
             CommandLine|contains|all: [' -abc ', ' -bbbb ', 'ab']\n  condition: a\n",
        )
        .expect("need");
        assert_eq!(all.len(), 2, "one clause per long value of |all");
        assert!(
            need(
                "title: t\nlogsource: {product: windows}\ndetection:\n  a:\n    \
                 Image: x\n  condition: not a\n"
            )
            .is_none()
        );
    }

    /// A field with more literals than an up-front DFA takes runs its NFA until it has scanned
    /// enough text, then a DFA built from the same literals: the candidates stay the same.
    #[test]
    fn lazy_dfa_keeps_the_candidates() {
        let mut yaml = String::new();
        for i in 0..400 {
            yaml += &format!(
                "title: r{i}\nlogsource: {{product: windows}}\ndetection:\n  sel:\n    \
                 TargetObject|contains: '\\\\key{i}\\\\'\n  condition: sel\n---\n"
            );
        }
        let set = crate::RuleSet::from_yaml(&yaml).expect("rules");
        let idx: Vec<usize> = (0..set.rules.len()).collect();
        let mut lazy = BucketFilter::new(&set.rules, &idx, &|_| None, &mut 0);
        let mut eager = BucketFilter::new(&set.rules, &idx, &|_| None, &mut 0);
        eager.fields.iter_mut().for_each(|f| f.lazy = None);
        let wait = lazy.fields[0]
            .lazy
            .as_mut()
            .expect("400 literals wait for a DFA");
        assert_eq!(wait.after, 400 * LAZY_DFA_BYTES_PER_LITERAL);
        // sooner than that, for a short test
        wait.after = 256 << 10;
        let (mut m1, mut m2) = (Marks::new(set.rules.len()), Marks::new(set.rules.len()));
        let mut found = 0;
        for n in 0..3_000 {
            let key = format!("HKLM\\Software\\KEY{}\\x{n}\\{}", n % 450, "pad".repeat(30));
            let ev = serde_json::json!({ "TargetObject": key });
            m1.start();
            m2.start();
            lazy.candidates(&ev, &mut m1);
            eager.candidates(&ev, &mut m2);
            m1.cand.sort_unstable();
            m2.cand.sort_unstable();
            assert_eq!(m1.cand, m2.cand, "{key}");
            found += m1.cand.len();
        }
        assert!(found > 2_000, "{found}");
        let dfa = lazy.fields[0].lazy.as_ref().and_then(|l| l.dfa.get());
        assert!(dfa.is_some_and(|d| d.as_ref().is_some_and(|d| d.kind() == AhoCorasickKind::DFA)));
    }

    /// Past the thread's budget every cache forgets what it holds, and answers stay right.
    #[test]
    fn caches_of_a_thread_stay_within_their_budget() {
        let set = crate::RuleSet::from_yaml(
            "title: r\nlogsource: {product: windows}\ndetection:\n  a:\n    A|contains: 'xyz'\n  \
             b:\n    B|contains: 'uvw'\n  condition: a or b\n",
        )
        .expect("rule");
        let filter = BucketFilter::new(&set.rules, &[0], &|_| None, &mut 0);
        let mut marks = Marks::new(1);
        marks.cache_budget = 4096;
        let mut peak = 0;
        for n in 0..2_000 {
            let a = format!("{n:0>100}{}", if n % 3 == 0 { "xyz" } else { "" });
            let b = format!("{:0>100}uvw", n % 7);
            // the caches see raw bytes through a flat view; stand in for one
            for (f, text) in filter.fields.iter().zip([&a, &b]) {
                marks.start();
                if let Replay::Scan(record) = marks.replay(f.cache, text.as_bytes()) {
                    if record {
                        marks.record();
                    }
                    look(f.automaton(), &f.owners, text, &mut marks);
                    if record {
                        marks.store(f.cache, text.as_bytes());
                    }
                }
                let hit = !marks.cand.is_empty();
                let want = text.contains("xyz") || text.contains("uvw");
                assert_eq!(hit, want, "{text}");
            }
            let held: usize = marks.caches.iter().map(|c| c.bytes).sum();
            peak = peak.max(held);
            assert!(
                marks.cache_bytes <= marks.cache_budget,
                "{}",
                marks.cache_bytes
            );
        }
        assert!(peak > 2_000 && peak <= 4096, "{peak}");
    }
}
