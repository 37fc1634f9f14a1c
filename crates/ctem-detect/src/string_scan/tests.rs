//! Tests of the string index: every tier against a byte-at-a-time reference and memchr.

use super::*;
use crate::test_rng::Rng;

/// The scanner before the index: memchr from the opening quote to the next quote or
/// backslash, one escape at a time. The reference the index must agree with.
fn string_end_memchr(
    b: &[u8],
    i: usize,
    plain: &mut bool,
) -> Result<(usize, usize, Esc), ScanError> {
    let start = i + 1;
    let mut j = start;
    let mut esc = Esc::None;
    loop {
        let Some(off) = b.get(j..).and_then(|r| memchr::memchr2(b'"', b'\\', r)) else {
            return Err(ScanError { at: i });
        };
        j += off;
        if b[j] == b'"' {
            return Ok((start, j, esc));
        }
        if matches!(
            b.get(j + 1),
            Some(b'"' | b'\\' | b'n' | b'r' | b't' | b'b' | b'f')
        ) {
            if esc == Esc::None {
                esc = Esc::Short;
            }
        } else {
            esc = Esc::Other;
            *plain = false;
        }
        j += 2;
        if j > b.len() {
            return Err(ScanError { at: i });
        }
    }
}

/// Every string of `line` (from each quote) ends where the memchr scanner says, with the
/// same escapes; the line is ASCII when it says.
fn check(line: &[u8]) {
    check_tiers(line);
    let mut index = StringIndex::default();
    index.build(line);
    assert_eq!(index.ascii(), line.is_ascii());
    for i in (0..line.len()).filter(|&i| line[i] == b'"') {
        let (mut p1, mut p2) = (true, true);
        let got = index.string_end(i, &mut p1);
        let want = string_end_memchr(line, i, &mut p2);
        assert_eq!(got, want, "{:?} from {i}", String::from_utf8_lossy(line));
        if want.is_ok() {
            assert_eq!(p1, p2, "plain of {:?}", String::from_utf8_lossy(line));
        }
    }
}

/// The tiers this CPU runs, widest first; says once which it lacks and skips.
fn tiers() -> &'static [Tier] {
    static TIERS: std::sync::OnceLock<Vec<Tier>> = std::sync::OnceLock::new();
    TIERS.get_or_init(|| {
        let (run, lacks): (Vec<Tier>, _) = Tier::ALL.iter().partition(|t| t.available());
        for t in lacks {
            eprintln!("string_scan tests skip the {t:?} tier: this CPU lacks it");
        }
        run
    })
}

/// The blocks of `line` and whether it is ASCII, a byte at a time.
fn index_scalar(line: &[u8]) -> (Vec<Block>, bool) {
    let ops = Ops {
        load: |block: &[u8; BLOCK]| *block,
        load_tail: padded,
        masks: |block: [u8; BLOCK]| masks_scalar(&block),
        letters: |block: [u8; BLOCK]| letters_scalar(&block),
    };
    let mut blocks = Vec::new();
    let ascii = index_line(&mut blocks, line, ops);
    (blocks, ascii)
}

/// Every tier this CPU runs indexes `line` as [`index_scalar`] does.
fn check_tiers(line: &[u8]) {
    let (blocks, ascii) = index_scalar(line);
    for &tier in tiers() {
        let mut index = StringIndex {
            tier,
            ..StringIndex::default()
        };
        index.build(line);
        let text = String::from_utf8_lossy(line);
        assert_eq!(index.blocks, blocks, "{tier:?} blocks of {text:?}");
        assert_eq!(index.ascii, ascii, "{tier:?} ascii of {text:?}");
    }
}

#[test]
fn the_widest_tier_is_chosen() {
    assert_eq!(StringIndex::default().tier, tiers()[0]);
    assert!(tiers().contains(&Tier::Base));
}

/// Every tier agrees with the scalar reference on lines of every length up to a few
/// blocks (so the last, short block has every length), dense in the bytes the masks
/// look for, and on every byte value.
#[test]
fn tiers_match_the_scalar_index() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let alphabet = b"\"\\nrtbfu/a \x00\x7f\x80\xc3\xa9\xff";
    for round in 0..4000 {
        let len = round % 200;
        let line: Vec<u8> = (0..len)
            .map(|_| alphabet[rng.below(alphabet.len())])
            .collect();
        check_tiers(&line);
        // one non-ASCII byte in an ASCII line, anywhere
        let mut line = vec![b'a'; len + 1];
        line[rng.below(len + 1)] = 0x80 | rng.next() as u8;
        check_tiers(&line);
    }
    let every: Vec<u8> = (0..=255).collect();
    for len in 0..=every.len() {
        check_tiers(&every[..len]);
        check_tiers(&every[every.len() - len..]);
    }
}

/// Backslash runs of every length up to 140, ending in a quote or a letter, placed at
/// every offset around the block edges (64 and 128 bytes into the string), with the
/// string closed right after, later or never.
#[test]
fn backslash_runs_across_block_edges() {
    for run in 0..140 {
        for lead in 0..140 {
            for tail in [
                &b"\"x\""[..],
                b"n\"",
                b"u\"",
                b"\"",
                b"",
                b"a\"",
                b"\xc3\xa9\"",
            ] {
                let mut line = vec![b'"'];
                line.extend(std::iter::repeat_n(b'a', lead));
                line.extend(std::iter::repeat_n(b'\\', run));
                line.extend_from_slice(tail);
                check(&line);
                line.extend_from_slice(b",\"k\":1}");
                check(&line);
            }
        }
    }
}

/// Random strings over an alphabet heavy in quotes, backslashes and escape letters, of
/// every length from empty to a few blocks, scanned from every quote.
#[test]
fn random_strings_match_memchr() {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let alphabets: [&[u8]; 4] = [
        b"\\\\\\\"anrtbfu/",
        b"\\aaaaaaaaaaaaaaaaaaaa\"",
        b"\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\a\"",
        "\\\"aé😀\u{7f}\u{0}".as_bytes(),
    ];
    for round in 0..20_000 {
        let alphabet = alphabets[round % alphabets.len()];
        let len = rng.below(200);
        let mut line = vec![b'"'];
        line.extend((0..len).map(|_| alphabet[rng.below(alphabet.len())]));
        check(&line);
    }
}

/// A generated JSON value: strings of escapes and text of every kind and length (so
/// escapes fall on every block offset), numbers, literals and nested ones.
fn gen_value(rng: &mut Rng, depth: usize, out: &mut String) {
    const PIECES: [&str; 16] = [
        "C:\\\\Windows\\\\",
        "\\\"",
        "\\n\\r",
        "\\t",
        "\\/",
        "\\u00e9",
        "\\ud83d\\ude00",
        "\\\\\\\\\\\\\\\\",
        "\\\\\\\"",
        "é",
        "😀",
        "x",
        "abcdefghijklmnop",
        " ",
        "\\b\\f",
        "\\u0041",
    ];
    match rng.below(if depth > 1 { 6 } else { 8 }) {
        0..=2 => {
            out.push('"');
            for _ in 0..rng.below(40) {
                out.push_str(PIECES[rng.below(PIECES.len())]);
            }
            out.push('"');
        }
        3 => {
            const NUMBERS: [&str; 6] = [
                "0",
                "-12",
                "9223372036854775807",
                "18446744073709551615",
                "1.5",
                "-2e3",
            ];
            out.push_str(NUMBERS[rng.below(NUMBERS.len())]);
        }
        4 => out.push_str(["true", "false", "null"][rng.below(3)]),
        5 => {
            let pad = " ".repeat(rng.below(70));
            out.push_str(&format!("{pad}\"s\\\\\"{pad}"));
        }
        6 => {
            out.push('[');
            for k in 0..rng.below(4) {
                if k > 0 {
                    out.push(',');
                }
                gen_value(rng, depth + 1, out);
            }
            out.push(']');
        }
        _ => {
            out.push('{');
            for k in 0..rng.below(4) {
                if k > 0 {
                    out.push(',');
                }
                out.push_str(&format!("\"n{k}\":"));
                gen_value(rng, depth + 1, out);
            }
            out.push('}');
        }
    }
}

/// A generated object line.
fn gen_line(rng: &mut Rng) -> String {
    let mut line = String::from(if rng.below(4) == 0 { " {" } else { "{" });
    for k in 0..rng.below(30) {
        if k > 0 {
            line.push(',');
        }
        let key = ["Image", "C\\\\k", "k\\u00e9", "Message", "é", "\\\"q"][rng.below(6)];
        line.push_str(&format!("\"{key}{}\":", rng.below(8)));
        gen_value(rng, 0, &mut line);
    }
    line.push('}');
    line
}

/// Every leaf string's text of `v`.
fn leaves<'v>(v: &'v serde_json::Value, out: &mut Vec<&'v str>) {
    match v {
        serde_json::Value::String(s) => out.push(s),
        serde_json::Value::Array(a) => a.iter().for_each(|x| leaves(x, out)),
        serde_json::Value::Object(o) => o.values().for_each(|x| leaves(x, out)),
        _ => {}
    }
}

/// Generated lines, whole and with a byte cut, changed or added: whenever serde_json
/// reads one as an object the scanner does too and gives every field the same value,
/// and a line it calls verbatim holds every leaf's text (escaping only `\\`, `"` and
/// control characters).
#[test]
fn scanned_lines_match_serde_json() {
    use crate::Event;
    use crate::flat::{FieldIndex, FlatEvent};

    const EDITS: &[u8] = b"\"\\{}[],: a";
    let mut rng = Rng(0x8CB9_2BA7_2F3D_8DD7);
    let (mut objects, mut mutated, mut verbatim) = (0, 0, 0);
    for _ in 0..3000 {
        let line = gen_line(&mut rng);
        let mut variants = vec![line.clone()];
        for _ in 0..4 {
            let mut b = line.clone().into_bytes();
            let at = rng.below(b.len());
            match rng.below(3) {
                0 => b.truncate(at),
                1 => b[at] = EDITS[rng.below(EDITS.len())],
                _ => b.insert(at, EDITS[rng.below(EDITS.len())]),
            }
            variants.extend(String::from_utf8(b).ok());
        }
        for (n, v) in variants.iter().enumerate() {
            let Ok(serde_json::Value::Object(obj)) = serde_json::from_str(v) else {
                continue;
            };
            objects += 1;
            mutated += usize::from(n > 0);
            let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
            let index = FieldIndex::new(keys.iter().step_by(2).copied());
            let mut ev = FlatEvent::new(&index);
            assert!(ev.scan(v).is_ok(), "{v}");
            let value = serde_json::Value::Object(obj.clone());
            for k in &keys {
                assert_eq!(ev.field(k), value.field(k), "{k:?} of {v}");
            }
            if ev.verbatim().is_some() {
                verbatim += 1;
                let mut texts = Vec::new();
                leaves(&value, &mut texts);
                for t in texts {
                    // as written with the escapes a verbatim line may hold
                    let json = serde_json::to_string(t).expect("a string");
                    let raw = &json[1..json.len() - 1];
                    assert!(v.contains(raw), "{raw:?} verbatim in {v}");
                }
            }
        }
    }
    assert!(
        objects > 3000 && mutated > 100 && verbatim > 100,
        "{objects} objects, {mutated} mutated, {verbatim} verbatim"
    );
}

/// [`escaped`] over consecutive words equals walking the bits one by one.
#[test]
fn escaped_bits_match_a_bit_walk() {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    for round in 0..20_000 {
        // dense and sparse backslashes, and long runs
        let words: Vec<u64> = (0..4)
            .map(|_| match round % 3 {
                0 => rng.next(),
                1 => rng.next() & rng.next() & rng.next(),
                _ => rng.next() | rng.next() | rng.next(),
            })
            .collect();
        let mut carry = 0;
        let mut pending = false;
        for &w in &words {
            let got = escaped(w, &mut carry);
            let mut want = 0;
            for k in 0..64 {
                let is_bs = w >> k & 1 == 1;
                if pending {
                    if !is_bs || k == 0 {
                        want |= 1 << k;
                    }
                    pending = false;
                } else if is_bs {
                    pending = true;
                }
            }
            assert_eq!(got, want, "{words:x?}");
            assert_eq!(carry, u64::from(pending), "{words:x?}");
        }
    }
}
