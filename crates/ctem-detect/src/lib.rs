//! # ctem-detect: the Sigma detection engine of ctem
//!
//! This crate turns Sigma rules into compiled matchers and runs them over events of any
//! shape. It is the `detect` stage of the ctem pipeline.
//!
//! ## The pipeline inside the crate
//!
//! 1. **YAML -> typed AST** ([`rule`], [`condition`], [`correlation`]): a rule file (one or
//!    several `---` documents) is read with `serde-saphyr` into a generic value once and
//!    immediately converted into [`Rule`] / [`CorrelationRule`]. Modifiers become the
//!    [`Modifier`] enum, conditions a [`condition::Cond`] tree with `1 of` / `all of`
//!    patterns already expanded. Nothing after this step sees YAML.
//! 2. **AST -> matchers** ([`compile`], [`value`]): each value with its modifiers becomes
//!    [`value::ValueMatcher`]s. Wildcards and escapes are resolved once; plain patterns
//!    become exact / prefix / suffix / substring tests on lower-cased text (memchr), literals
//!    joined by `*` a search for each part after the one before, only patterns with `?` a
//!    regex. A `|re` regex names for the prefilter its most selective required literals:
//!    prefix, suffix or a run of literal pieces inside it (`werfaultsecure.exe`, not the
//!    `.exe` every command line holds). Encodings (`base64`, `base64offset`,
//!    `utf16*`), `windash` and `expand` produce their variants at compile time.
//! 3. **Events through a trait** ([`Event`]): the matcher reads fields by name through
//!    [`Event::field`] and keyword searches through [`Event::keywords`]; it never sees a
//!    concrete record type. `serde_json::Value` implements it with dotted paths.
//! 4. **Mappings as data** ([`mapping`], `mappings/*.yml`): event shapes (Windows nested
//!    `Event.System`/`Event.EventData`, Winlogbeat ECS, flat) and the logsource table
//!    (product/category/service -> Channel/EventID) are YAML files embedded with
//!    `include_str!`, so one rule runs unchanged on every shape and new shapes need no code.
//! 5. **Engine** ([`Engine`]): rules are bucketed by logsource; an event tests the logsource
//!    conditions once (cached per thread by the values of the fields they read, `Channel` and
//!    `EventID`), then only the buckets it belongs to. **Routing** ([`source`],
//!    `mappings/sources.yml`): every event is first given the logsource of its source
//!    (product, services, categories: Zeek by log type, Suricata by event type, syslog by app
//!    name, CloudTrail, CEF vendor, ECS module, OCSF class, Windows by `Channel`), and a
//!    bucket runs only where its rules' logsource applies; an unknown source gets only rules
//!    that name no product or service. The classification reads a few fields, in table order
//!    up to the first entry that decides, and is part of the same per-thread cache key, so it
//!    costs nothing per rule (a Windows event adds the presence of `Channel` to the key). Matching is pure and runs on several
//!    threads ([`Engine::run`], [`Engine::run_lines`]); correlation state is fed in input
//!    order afterwards so results do not depend on the thread count.
//! 6. **Prefilter** (`prefilter`): for each rule a necessary literal formula is derived from
//!    its condition tree, in conjunctive normal form: a few clauses of (field, literal,
//!    anchor) atoms such that a match implies every clause has an atom whose literal lies in
//!    its field where the anchor says (whole value, start, end, anywhere). `and` keeps the
//!    clauses of all children, `or` their pairwise unions, `|all` one clause per value; only
//!    the best clause and other selective ones (no short literals such as `iex`, which occur
//!    everywhere and cost matches) are kept, at most eight. Per bucket and field all literals
//!    form one Aho-Corasick automaton run once (overlapping) per field (a DFA up to 300
//!    literals: twice as fast per byte as the contiguous NFA on `ContextInfo`, about 2.5 MiB
//!    in all; sets up to 1,500 literals start as NFAs and become DFAs once they have scanned
//!    8 KiB of text per literal, about where a build of 25 µs a literal pays for itself, so
//!    only sets the events use at length pay for one; DFAs of every set cost 100 MiB and
//!    the rule load would pass a second); a rule is evaluated
//!    only when all its clause bits are set, about 0.3 of 2,400 rules per OTRF event
//!    (anchors and clauses took that down from 2.1: `Provider_Name: Security` no longer
//!    picks every `Microsoft-Windows-Security-Auditing` event). Keyword literals are first
//!    looked for in the raw JSON line by the `fold_find` searcher, Teddy's idea written for
//!    this case: ASCII case ignored without a lower-cased copy of the line, each literal
//!    found by its rarest three bytes (`t::` of `event::clear`, not `eve`, which every
//!    `EventID` key holds), one 128-entry table lookup per byte with AVX-512 VBMI (nibble
//!    shuffles with AVX2): 185 ns a line against 450 for a lower-cased copy and a Teddy.
//!    A non-ASCII value without an ASCII run is its own literal when lower-casing keeps
//!    each of its characters (emoji,
//!    lower-case Cyrillic): the four emoji rules, a thousand values each, cost 50 µs a
//!    process-creation event when always evaluated. Field names are numbered once per
//!    engine so the flat view answers the prefilter without hashing them
//!    (`Event::field_numbered`, hidden, defaulting to `field`). Rules without a formula
//!    (negations, `|re` without literals, `contains: '*'`) are always evaluated. The
//!    prefilter only skips rules that cannot match; a test compares it rule by rule with the
//!    unfiltered path on real events.
//!
//!    **Value caches.** Real event streams repeat most values: in 100,000 OTRF events a
//!    process-access `CallTrace` (530 bytes, escaped) takes 1,336 distinct values in 42,726,
//!    `TargetImage` 353, `Hashes` 2,161 in 13,591. Each thread keeps, per bucket and field,
//!    the marks the automaton made on recent values, keyed by the raw bytes of the value in
//!    the line (`Event::raw_numbered`, hidden: equal raw bytes mean equal text, escapes and
//!    all, so a hit needs no decoding); a hit replays the marks. Keys are compared whole, a
//!    cache forgets everything past 16,384 values or 4 MiB (all caches of a thread past
//!    64 MiB), and a window of 1,024 lookups with fewer than one hit in eight turns it off
//!    for fifteen windows (`ContextInfo` carries sequence numbers and never repeats). The same view says when a field is
//!    absent, so absent fields (twenty of the thirty a Windows event is asked for) cost one
//!    slot read. The keyword gate runs on lines with non-ASCII text too: an ASCII literal
//!    lies in the ASCII-lower-cased line unless the line holds one of the three characters
//!    that fold to ASCII (Kelvin sign, long s, dotted capital I); other lines are folded as
//!    values are, and a capital sigma (which folds by its neighbours) lets the values decide.
//!    Before, the 13% of OTRF lines with any non-ASCII byte visited every value.
//!    **Overlapping logsources.** A Sysmon event 13 is `registry_set` and `registry_event`
//!    (event 12: `registry_add`, `registry_delete` and `registry_event`): each bucket's filter
//!    looked `TargetObject` up in its own cache and, for a new value, ran its own automaton
//!    (2.7 lookups per registry event). At load the engine reads the plain
//!    (`Channel`, `EventID`) values of the logsource table, finds the buckets that hold on the
//!    same events and builds one more filter over all their rules, used in their place:
//!    registry events 1.17-1.23x faster.
//!    Texts of 1 KiB or more whose automaton has no literal with a line break are looked at
//!    line by line, through a cache of each line's matches (`LineCache`): PowerShell
//!    `ContextInfo` never repeats whole but most of its twenty lines do. A match at the
//!    start of the first line is at the text's start, one at the end of the last line at
//!    its end, so anchors keep their meaning.
//! 7. **Fast JSON lines** ([`flat`], [`Engine::run_lines`]): building a `serde_json::Value`
//!    per event costs more than matching it. [`flat::FlatEvent`] scans a line once (one pass
//!    indexes its quotes, backslashes and escapes 64 bytes at a time, simdjson-style, with
//!    AVX-512BW, AVX2 or SSE2 as the CPU has them, and tells whether the line is ASCII;
//!    string ends are then bit lookups),
//!    keeps the offsets of its top-level members and decodes a string with escapes only when
//!    a rule first reads it (kept per line in a `OnceCell`): `Message`, about 950 bytes and
//!    escaped in nine OTRF events of ten, is read by few rules (application-log ones). The
//!    escapes of a value the rules name are still checked during the scan (only when it has
//!    `\u` or odd ones), so a bad one fails the line as before. Keys are looked up in an
//!    open-addressing table hashed on length and first/last eight bytes, which also decide
//!    equality for names up to 16 bytes (no `memcmp`); a line clears only the slots it set.
//!    A line becomes a `Value` only when it raises an alert. Rule fields are resolved to
//!    scanner slots once per engine (`flat_view`), so a lookup is one hash, not three. With
//!    one thread, lines are matched where the reader's buffer holds them; with more, the
//!    reader thread copies about 1 MiB of whole lines per batch into recycled buffers and
//!    workers split, scan and match, and batches come back in order. Only lines with a
//!    non-ASCII byte are checked for UTF-8 (the scan's index says which). Short integers
//!    are summed as their digits are passed. Nested shapes fall back to the `Value` path.
//!
//!    Where the time goes (OTRF, 2,400 rules, about 2.4 KB a line, one core, about 3.0 µs
//!    a line in all, from 4.3 µs at the start of the last session and 7.5 µs before the
//!    value and line caches; cycle counters around each part, 2.6 GHz): the scan about
//!    0.85 µs (2,150 cycles); the prefilter about 1.7 µs (4,350 cycles), led by
//!    `TargetObject` values not in a cache (18,000 in 100,000 events, 3,500 cycles each: the
//!    648-literal NFA at 19 cycles a byte, storing the entry, decoding), `CallTrace` hits
//!    (a 570-byte key hashed and compared whole: about 1,000 cycles) and the keyword gate;
//!    full evaluation about 0.45 µs (1,150 cycles; the PowerShell `ContextInfo` rules lead:
//!    3,700 module events cost 10 µs each, 13% of the run). On a stream of process
//!    creations with unique command lines the caches help least: about 60,000 lines a
//!    second, as the 7,165-literal `CommandLine` automaton stays an NFA (about 100 ns a
//!    byte) and ten candidate rules a line are evaluated. Tried and dropped: an
//!    open-addressing cache table with short keys inline and an arena for long ones (no
//!    gain: the time is the memory reads of the stored key), prefetching cache slots,
//!    anchored searches for `endswith` literals apart from the `contains` automaton (the
//!    NFA of `TargetObject` keeps 430 `contains` literals; no gain), and DFAs for sets of
//!    650 literals (7 MB tables: a cache miss a byte).
//! 8. **EVTX at the speed of lines** ([`Engine::run_evtx`], `evtx_flat`): the reader copies
//!    64 KiB chunks out of the file; workers parse a chunk with the `evtx` crate, render each
//!    record as JSON bytes (its compiled templates) and rewrite them, without a `Value`, into
//!    the flat line the lazy scanner reads: `System` members first (attribute-only elements
//!    as `Provider_Name`, `TimeCreated_SystemTime`, an element with text as its text), then
//!    `UserData` and `EventData` members, then the `System` members the nested shape maps
//!    explicitly again, so every field resolves as through `windows_nested` (the corpus test
//!    compares both paths rule by rule and record by record on all 317 EVTX files). Only a
//!    record with a hit is parsed into its nested `Value`, which its alert carries. Chunks
//!    come back in file order; a damaged chunk or record is an issue, the rest is read.
//!    About half the time of an EVTX record is the `evtx` crate's parse and render, half
//!    the matching.
//! 9. **Rule cache** ([`RuleSet::load_dirs_cached`], `cache`): the parsed AST of every rule
//!    file, in one file named by a SHA-256 of the format, the version and every rule file's
//!    path and bytes; a damaged or stale entry is parsed again (see the module). It saves the
//!    YAML parse, about a third of a rule load; compiling matchers and building the engine's
//!    automata stay per run (regex and Aho-Corasick automata do not serialise).
//! 10. **IOC matching** ([`ioc::IocMatcher`]): a [`Detector`] over active indicators (set and
//!     automaton lookups per string value; see the module).
//!
//! ## Public API (what the CLI wires)
//!
//! ```no_run
//! use ctem_detect::{Engine, Mappings, Record, RuleSet, rules_check};
//! # fn main() -> Result<(), ctem_detect::Error> {
//! let report = rules_check(&["rules/"])?;              // `ctem rules check --json`
//! println!("{}", serde_json::to_string(&report).unwrap_or_default());
//! let rules = RuleSet::load_dirs(&["rules/"])?;          // compile once
//! let engine = Engine::new(rules, Mappings::builtin()?);
//! let records = ctem_detect::decode::open("events.jsonl.gz", ctem_detect::decode::Format::Auto)?;
//! engine.run(records.filter_map(Result::ok), 2, |alert| {
//!     println!("{}", serde_json::to_string(&alert).unwrap_or_default());
//! });
//! # Ok(()) }
//! ```
//!
//! * [`RuleSet::load_dirs`] / [`RuleSet::load_dirs_with`] (placeholder values for `expand`)
//! * [`rules_check`] -> [`RulesReport`] (`{"rules", "compiled", "unsupported": [{path, reason}]}`)
//! * [`Engine::new`], [`Engine::process`] (one JSON event), [`Engine::process_record`],
//!   [`Engine::run`] (stream, `threads`), [`Engine::matching_rules`] (any [`Event`])
//! * [`Alert`]: serialises to exactly the `ctem detect --json` alert line
//! * [`Engine::run_lines`] (JSON lines from any `BufRead`, the fast path) -> [`LineStats`]
//! * [`Engine::run_evtx`] (the bytes of an EVTX file, as fast) and
//!   [`decode::evtx_flat_lines`] (an EVTX file as the flat JSON lines it matches)
//! * [`RuleSet::load_dirs_cached`] (through the rule cache) -> ([`RuleSet`], [`CacheUse`]),
//!   [`default_cache_dir`]
//! * [`decode`]: JSON lines / arrays, EVTX, Suricata EVE, Zeek JSON, syslog (3164, 5424, CEF),
//!   gzip detected by magic bytes; [`decode::stream`] (any reader, line by line, flat
//!   memory; [`decode::open`] uses it, `-` is stdin) and [`decode::follow`] (a growing file)
//! * [`pilot::Pilot`]: trial of a new source (`ctem pilot`): fill rates, logsource, blind
//!   rules (rules of its logsource reading fields it never fills), time span and skew
//! * [`IocMatcher`]: `IocMatcher::new(&indicators, now)`, plugged in with
//!   [`Engine::add_detector`]
//! * [`Detector`]: the role trait of anything that raises alerts from records. The Sigma
//!   [`Engine`] is one; [`decode::SourceAlerts`] (Suricata `alert`, Wazuh alerts) another; an
//!   IOC matcher plugs in with [`Engine::add_detector`].
//!
//! ## Design choices
//!
//! * Case-insensitive matching lower-cases the pattern at compile time and each field value
//!   at most once per rule evaluation (the copy is handed from item to item by field name),
//!   not once per pattern; `|all` on ASCII text tests its values one by one on that copy and
//!   stops at the first miss. An item's plain values are tested together where that is
//!   cheaper (`value::ValueSets`): several ASCII `contains` values are one case-sensitive
//!   automaton (Teddy where it fits) over the ASCII-lower-cased copy, four or more
//!   `startswith` / `endswith` values one anchored automaton (suffixes over the reversed
//!   end), four or more non-ASCII `contains` values (the emoji rules) one automaton that
//!   all-ASCII text skips. The answers are those of testing each value alone (tests compare
//!   both).
//! * Unsupported features are not errors of the whole set: a rule that does not compile is
//!   named in [`RulesReport::unsupported`] with a reason and the others run.
//! * Correlation rules referenced with `generate: false` (the default) silence their base
//!   rules, as the spec says; windows are per group-by key and clear after firing.
//! * `neq` is "present and different from every value"; an absent field never matches `neq`.
//! * Keywords (values without a field) are a full-text search: a plain keyword matches when
//!   it occurs anywhere in any value of the event (as `|contains`), case-insensitively.
//! * Field paths of every field the rules name are resolved per shape in [`Engine::new`], so
//!   matching takes no locks and allocates nothing for lookups; threads share the engine.
//! * All case-insensitive ASCII `contains` values of one field form one Aho-Corasick
//!   automaton (one pass over the value); ASCII exact / prefix / suffix tests compare in place
//!   without lower-casing.
//! * Keys with spaces (`Threat Name` in Defender events) match their Sigma spelling
//!   (`ThreatName`) inside the objects a shape lists as `loose`.
//!
//! ## Known limits
//!
//! * Legacy Sigma 1 aggregations in conditions (`| count() by X > N`) are reported as
//!   unsupported; use correlation rules.
//! * `%placeholder%` values for `expand` come from [`CompileOptions::placeholders`]; rules
//!   whose placeholders have no value are reported as unsupported.
//! * Security 4688 events satisfy the `process_creation` logsource and their `NewProcessName`
//!   / `ParentProcessName` answer to Sysmon's `Image` / `ParentImage` (data in
//!   `mappings/windows.yml`); 4688's hex process ids and SID integrity labels are not mapped.

mod cache;
pub mod compile;
pub mod condition;
mod config;
pub mod correlation;
pub mod decode;
mod engine;
mod entities;
mod error;
pub mod event;
mod evtx_flat;
mod evtx_run;
pub mod flat;
mod flat_view;
mod fold_find;
pub mod ioc;
mod lines;
pub mod mapping;
pub mod pilot;
mod prefilter;
pub mod rule;
mod ruleset;
pub mod seen;
pub mod source;
mod string_scan;
#[cfg(test)]
mod test_rng;
pub mod value;

pub use cache::{CacheUse, default_cache_dir};
pub use compile::CompileOptions;
pub use config::DetectConfig;
pub use correlation::CorrelationRule;
pub use engine::{Alert, Detector, Engine, Record, RunStats, epoch_secs};
pub use entities::EntityPaths;
pub use error::{Error, Result};
pub use event::{Event, FieldValue};
pub use ioc::IocMatcher;
pub use lines::LineStats;
pub use mapping::Mappings;
pub use rule::{Modifier, Rule};
pub use ruleset::{
    CompiledRule, LogsourceReport, RuleMeta, RuleSet, RulesReport, Unsupported, rules_check,
    rules_check_with,
};
