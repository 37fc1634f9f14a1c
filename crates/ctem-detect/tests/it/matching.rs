//! Value sets against value-by-value tests: an item's plain values may be tested together
//! (automata over the folded or lower-cased text, anchored automata for `startswith` and
//! `endswith`, one finder per `|all` value); every answer must equal the one of testing each
//! value alone as the matcher always did.

use ctem_detect::RuleSet;
use ctem_detect::compile::{CompileOptions, FieldMatcher, compile_item};
use ctem_detect::rule::{FieldItem, Modifier, Scalar};
use ctem_detect::value::{StrPat, ValueMatcher, lowercase};
use serde_json::{Value, json};

fn item(mods: &[Modifier], values: &[&str]) -> FieldMatcher {
    let it = FieldItem {
        field: Some("F".into()),
        modifiers: mods.to_vec(),
        values: values.iter().map(|v| Scalar::Str((*v).into())).collect(),
    };
    compile_item(&it, &CompileOptions::default(), "test").expect("compiles")
}

/// One value tested alone, as before value sets: ASCII `contains` values ignore ASCII case
/// only, other case-insensitive values compare with the Unicode lower case.
fn one_value(m: &ValueMatcher, raw: &str) -> bool {
    let ValueMatcher::Str(s) = m else {
        panic!("only string values here: {m:?}")
    };
    let ci = |a: &[u8], b: &[u8]| a.eq_ignore_ascii_case(b);
    let h = raw.as_bytes();
    match &s.pat {
        StrPat::Any => true,
        StrPat::Regex(r) => r.is_match(raw),
        StrPat::Exact(p) if s.cased => raw == p,
        StrPat::Prefix(p) if s.cased => raw.starts_with(p.as_str()),
        StrPat::Suffix(p) if s.cased => raw.ends_with(p.as_str()),
        StrPat::Contains(p) if s.cased => raw.contains(p.as_str()),
        StrPat::Contains(p) if p.is_ascii() => raw.to_ascii_lowercase().contains(p.as_str()),
        StrPat::Exact(p) if p.is_ascii() => ci(h, p.as_bytes()),
        StrPat::Prefix(p) if p.is_ascii() => h.len() >= p.len() && ci(&h[..p.len()], p.as_bytes()),
        StrPat::Suffix(p) if p.is_ascii() => {
            h.len() >= p.len() && ci(&h[h.len() - p.len()..], p.as_bytes())
        }
        StrPat::Exact(p) => lowercase(raw) == *p,
        StrPat::Prefix(p) => lowercase(raw).starts_with(p.as_str()),
        StrPat::Suffix(p) => lowercase(raw).ends_with(p.as_str()),
        StrPat::Contains(p) => lowercase(raw).contains(p.as_str()),
        StrPat::Wild { parts, lead, trail } => {
            let glob: Vec<String> = parts.iter().map(|p| regex::escape(p)).collect();
            let re = format!(
                "(?s)^{}{}{}$",
                if *lead { ".*" } else { "" },
                glob.join(".*"),
                if *trail { ".*" } else { "" }
            );
            let text = if s.cased {
                raw.to_string()
            } else {
                lowercase(raw)
            };
            regex::Regex::new(&re).expect("glob").is_match(&text)
        }
    }
}

/// The item on `{"F": v}` value by value (a list matches a value when an element does).
fn value_by_value(fm: &FieldMatcher, v: &Value) -> bool {
    let texts: Vec<&str> = match v {
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        other => other.as_str().into_iter().collect(),
    };
    let hit = |m: &ValueMatcher| texts.iter().any(|t| one_value(m, t));
    let r = if fm.all {
        fm.matchers.iter().all(hit)
    } else {
        fm.matchers.iter().any(hit)
    };
    r != fm.neq
}

fn check(fm: &FieldMatcher, v: &Value) -> bool {
    let want = value_by_value(fm, v);
    assert_eq!(
        fm.matches(&json!({ "F": v })),
        want,
        "{v:?} with {:?}",
        fm.matchers
    );
    want
}

const C: Modifier = Modifier::Contains;
const S: Modifier = Modifier::StartsWith;
const E: Modifier = Modifier::EndsWith;
const ALL: Modifier = Modifier::All;

#[test]
fn contains_set_finds_values_at_start_middle_and_end() {
    let fm = item(
        &[C],
        &["powershell", "-Enc", "FromBase64", "iex(", "rundll32"],
    );
    for (text, want) in [
        ("POWERSHELL -nop", true),
        ("x -eNC y", true),
        ("call frombase64string", true),
        ("ends with IEX(", true),
        ("RunDll32", true),
        ("powershel l", false),
        ("", false),
        ("Ünïcode then PowerShell", true),
        ("Ünïcode only", false),
    ] {
        assert_eq!(check(&fm, &json!(text)), want, "{text}");
    }
    let one = item(&[C], &["ConfigSyncRun.exe"]);
    assert!(check(&one, &json!("c:\\CONFIGSYNCRUN.EXE -x")));
    assert!(!check(&one, &json!("configsync.exe")));
}

#[test]
fn ascii_values_ignore_only_ascii_case() {
    // the Kelvin sign lower-cases to `k` but is not an ASCII `K`: as before, it matches no
    // ASCII value, whether tested alone or in a set
    let kelvin = "\u{212A}ernel32.dll";
    for mods in [&[C][..], &[S], &[E], &[C, ALL]] {
        let fm = item(
            mods,
            &["kernel32.dll", "ntdll.dll", "user32.dll", "gdi32.dll"],
        );
        assert!(!check(&fm, &json!(kelvin)), "{mods:?}");
        assert!(check(&fm, &json!("KERNEL32.DLL")) || mods == [C, ALL]);
    }
}

#[test]
fn endswith_and_startswith_sets() {
    let names = [
        "\\version.dll",
        "\\wldp.dll",
        "\\d3dx9_43.dll",
        "\\mswb7.dll",
        "\\cscui.dll",
        "\\dbghelp.dll",
    ];
    let ends = item(&[E], &names);
    for (text, want) in [
        ("C:\\Temp\\VERSION.dll", true),
        ("C:\\Temp\\Version.DLL.bak", false),
        ("version.dll", false),
        ("\\wldp.dll", true),
        ("wldp.dll", false),
        ("", false),
        ("C:\\Пользователи\\dbgHelp.dll", true),
        ("C:\\x\\mswb7.dlł", false),
    ] {
        assert_eq!(check(&ends, &json!(text)), want, "{text}");
    }
    let starts = item(
        &[S],
        &["C:\\Windows\\", "C:\\Program Files\\", "\\\\?\\", "D:\\"],
    );
    for (text, want) in [
        ("c:\\windows\\system32", true),
        ("C:\\PROGRAM FILES\\x", true),
        ("C:\\Program Files", false),
        ("x C:\\Windows\\", false),
        ("d:\\", true),
        ("d:", false),
    ] {
        assert_eq!(check(&starts, &json!(text)), want, "{text}");
    }
    // values longer than the stack buffer of the reversed tail
    let long = "\\a".repeat(100);
    let long_ends = item(&[E], &[long.as_str(), "\\b.dll", "\\c.dll", "\\d.dll"]);
    assert!(check(
        &long_ends,
        &json!(format!("X{}", long.to_uppercase()))
    ));
    assert!(!check(&long_ends, &json!(long[1..].to_string())));
}

#[test]
fn non_ascii_contains_set() {
    let fm = item(&[C], &["🦆", "🦅", "ПРИВЕТ", "straße", "Ä"]);
    for (text, want) in [
        ("echo 🦆 done", true),
        ("🦅", true),
        ("say ПрИвЕт", true),
        ("say привет", true),
        ("STRASSE", false),
        ("die Straße", true),
        ("ä", true),
        ("plain ascii text", false),
        ("🐺 only", false),
    ] {
        assert_eq!(check(&fm, &json!(text)), want, "{text}");
    }
}

#[test]
fn all_needs_every_value_once_overlapping_or_not() {
    let fm = item(&[C, ALL], &["abc", "bcd", "ABCD", "ünï"]);
    assert!(check(&fm, &json!("xxABCDxx ÜNÏ")));
    assert!(!check(&fm, &json!("xxABCxx ünï")));
    assert!(!check(&fm, &json!("abcd")));
    // a list holds the values in different elements
    assert!(check(&fm, &json!(["ABC", "bcd", "xabcd", "ünï"])));
    assert!(!check(&fm, &json!(["ABC", "bcd", "ünï"])));
    let ascii = item(&[C, ALL], &[" -w ", "hidden", "-nop"]);
    assert!(check(&ascii, &json!("powershell -NOP -W Hidden")));
    assert!(!check(&ascii, &json!("powershell -NOP -W")));
}

#[test]
fn cased_neq_windash_and_wildcards_keep_their_meaning() {
    let cased = item(&[C, Modifier::Cased], &["Cmd", "Exe", "Dll", "Run"]);
    assert!(check(&cased, &json!("aCmdb")));
    assert!(!check(&cased, &json!("acmdb")));
    let neq = item(&[Modifier::Neq], &["a", "b"]);
    assert!(check(&neq, &json!("c")));
    assert!(!check(&neq, &json!("A")));
    let dash = item(&[C, Modifier::Windash], &[" -enc ", " -nop "]);
    assert!(check(&dash, &json!("x /ENC y")));
    assert!(check(&dash, &json!("x \u{2013}nop y")));
    let wild = item(&[C], &["a*b", "c?d", "plain", "also", "more"]);
    assert!(check(&wild, &json!("xAxxBx")));
    assert!(check(&wild, &json!("CxD")));
    assert!(!check(&wild, &json!("ba")));
}

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const ATOMS: [&str; 20] = [
    "a", "B", "c", "ab", "AB", "-", "\\", ".dll", "Cmd", " ", "K", "\u{212A}", "İ", "ß", "Σ", "ς",
    "🦆", "é", "É", "x",
];

fn random_text(rng: &mut Rng, max: usize) -> String {
    (0..rng.below(max + 1))
        .map(|_| ATOMS[rng.below(ATOMS.len())])
        .collect()
}

/// Flips the case of some characters (ASCII and not).
fn mix_case(rng: &mut Rng, s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let flip: Vec<char> = match rng.below(3) {
                0 => c.to_uppercase().collect(),
                1 => c.to_lowercase().collect(),
                _ => vec![c],
            };
            flip
        })
        .collect()
}

#[test]
fn random_items_agree_with_value_by_value_tests() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let kinds: [&[Modifier]; 9] = [
        &[C],
        &[S],
        &[E],
        &[],
        &[C, ALL],
        &[S, ALL],
        &[E, ALL],
        &[C, Modifier::Cased],
        &[E, Modifier::Neq],
    ];
    let mut hits = 0;
    for round in 0..400 {
        let mods = kinds[round % kinds.len()];
        let n = 1 + rng.below(8);
        let values: Vec<String> = (0..n)
            .map(|_| {
                let v = random_text(&mut rng, 3);
                if v.is_empty() { "a".into() } else { v }
            })
            .collect();
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        let fm = item(mods, &refs);
        for _ in 0..30 {
            // a random text, or one holding a value at the start, middle or end
            let v = &values[rng.below(values.len())];
            let text = match rng.below(4) {
                0 => random_text(&mut rng, 8),
                1 => format!("{}{}", mix_case(&mut rng, v), random_text(&mut rng, 4)),
                2 => format!(
                    "{}{}{}",
                    random_text(&mut rng, 4),
                    mix_case(&mut rng, v),
                    random_text(&mut rng, 4)
                ),
                _ => format!("{}{}", random_text(&mut rng, 4), mix_case(&mut rng, v)),
            };
            hits += usize::from(check(&fm, &json!(text)));
            let other = random_text(&mut rng, 6);
            check(&fm, &json!([other, text]));
        }
    }
    assert!(hits > 1000, "the texts should often match: {hits}");
}

#[test]
fn items_of_one_rule_share_lowered_texts_by_field() {
    // several items on two fields of the same length: each reads its own field's text
    let yaml = r#"
title: t
logsource: {category: test}
detection:
    a:
        A|contains: 'ALPHA'
    b:
        B|contains|all: ['beta', 'gamma']
    c:
        A|endswith: ['.exe', '.dll', '.sys', '.ps1']
    d:
        B|contains: ['zeta', 'kappa', 'theta', 'iota', 'ünï']
    condition: a and b and c and not d
"#;
    let set = RuleSet::from_yaml(yaml).expect("rule");
    let det = &set.rules[0].detection;
    let hit = |a: &str, b: &str| det.matches(&json!({"A": a, "B": b}));
    assert!(hit("x alpha y.EXE", "BETA GAMMA xx"));
    assert!(!hit("x alpha y.EXE", "BETA GAMMA KAPPA"), "d: `kappa` in B");
    assert!(!hit("BETA GAMMA xx", "x alpha y.EXE"));
    assert!(!hit("x alpha y.EXE", "BETA GAMMA ÜNÏ"));
    assert!(hit("x alphä ALPHA.sys", "BETA GAMMA"));
}
