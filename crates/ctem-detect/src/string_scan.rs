//! Where the strings of a JSON line end, found 64 bytes at a time.
//!
//! Finding the end of each key and string value is the inner loop of the line scanner
//! ([`crate::flat`]). Searching for the next quote or backslash (memchr) stops at every
//! backslash, and Windows events are full of them (`C:\\Windows\\`): each stop is a
//! mispredicted branch and a new search, and each search of a short key has a fixed cost.
//! [`StringIndex`] instead passes over the whole line once, before the scan, as simdjson's
//! first stage does: each block of 64 bytes is compared with `"` and `\` at once into one bit
//! per byte (SSE2 on x86_64, which every x86_64 CPU has; a plain loop elsewhere). Which bytes
//! the backslashes escape follows from the lengths of the backslash runs with a few word
//! operations (the byte after a run of odd length is escaped), so a path with a dozen
//! escapes costs no more than one without. The scanner then finds the end of a string as the
//! next set bit of the block's unescaped quotes. The same pass gives the escapes' kinds (the
//! letters of short escapes, `n`, `r`, `t`, `b`, `f`, are compared only in blocks where a
//! backslash escapes something other than a quote or a backslash) and whether the line is
//! ASCII.

use crate::flat::ScanError;

/// The escapes of a JSON string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Esc {
    None,
    /// Only `\\`, `\"` and control-character escapes (`\n`, `\r`, `\t`, `\b`, `\f`): they
    /// always decode.
    Short,
    /// Others too (`\u`, `\/`, invalid ones).
    Other,
}

/// Bytes per block: one bit each in a `u64`.
const BLOCK: usize = 64;

/// The bits of the even bytes of a block.
const EVEN: u64 = 0x5555_5555_5555_5555;

/// One bit per byte of a block: where its quotes and backslashes are, and its non-ASCII
/// bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Masks {
    quote: u64,
    backslash: u64,
    high: u64,
}

/// The strings of one line, found once for the whole line: per block of 64 bytes, the
/// quotes that are not escaped (each opens or closes a string), the backslashes and the
/// escapes that are not short ones. Reused across lines.
#[derive(Debug, Default)]
pub(crate) struct StringIndex {
    blocks: Vec<Block>,
    ascii: bool,
}

/// One bit per byte of a block of the line.
#[derive(Debug, Clone, Copy)]
struct Block {
    /// Quotes not escaped.
    quotes: u64,
    /// Backslashes: a string has escapes exactly when it holds one.
    backslash: u64,
    /// Bytes escaped by a backslash that make an escape other than `\\`, `\"`, `\n`, `\r`,
    /// `\t`, `\b` and `\f`.
    other: u64,
}

impl StringIndex {
    /// Indexes `line`.
    ///
    /// Whether a byte is escaped depends only on the run of backslashes right before it, so
    /// escapes found from the start of the line are those found from the opening quote of
    /// any string: a string's first byte follows a quote, never a backslash.
    pub(crate) fn build(&mut self, line: &[u8]) {
        self.blocks.clear();
        self.blocks.reserve(line.len().div_ceil(BLOCK));
        let mut carry = 0;
        let mut high = 0;
        let (whole, rest) = line.as_chunks::<BLOCK>();
        for block in whole {
            self.blocks.push(index_block(block, &mut carry, &mut high));
        }
        if !rest.is_empty() {
            // zero padding adds no quote, backslash or non-ASCII byte
            let mut pad = [0; BLOCK];
            pad[..rest.len()].copy_from_slice(rest);
            self.blocks.push(index_block(&pad, &mut carry, &mut high));
        }
        self.ascii = high == 0;
    }

    /// True when the line is ASCII.
    pub(crate) fn ascii(&self) -> bool {
        self.ascii
    }

    /// For a string of the indexed line starting at the quote `i`: (content start, content
    /// end, its escapes). Clears `plain` on an escape that changes the text beyond `\\`,
    /// `\"` and control characters (see [`crate::Event::verbatim`]).
    pub(crate) fn string_end(
        &self,
        i: usize,
        plain: &mut bool,
    ) -> Result<(usize, usize, Esc), ScanError> {
        let start = i + 1;
        let mut k = start / BLOCK;
        let mut from = !0 << (start % BLOCK);
        let mut backslash = 0;
        let mut other = 0;
        while let Some(block) = self.blocks.get(k) {
            let quotes = block.quotes & from;
            // the bytes of the string in this block: from its start, before its closing quote
            let inside = from & !quotes & quotes.wrapping_sub(1);
            backslash |= block.backslash & inside;
            other |= block.other & inside;
            if quotes != 0 {
                let esc = if other != 0 {
                    *plain = false;
                    Esc::Other
                } else if backslash != 0 {
                    Esc::Short
                } else {
                    Esc::None
                };
                return Ok((start, k * BLOCK + quotes.trailing_zeros() as usize, esc));
            }
            k += 1;
            from = !0;
        }
        Err(ScanError { at: i })
    }
}

/// The [`Block`] of 64 bytes of the line, given `carry`, 1 when its first byte is escaped
/// (updated for the next block); ORs its non-ASCII bytes into `high`. Always inlined: a
/// returned block read back from the stack stalled on store forwarding.
#[inline(always)]
fn index_block(block: &[u8; BLOCK], carry: &mut u64, high: &mut u64) -> Block {
    let m = masks(block);
    let escaped = escaped(m.backslash, carry);
    let letters_maybe = escaped & !(m.quote | m.backslash);
    let other = if letters_maybe == 0 {
        0
    } else {
        letters_maybe & !letters(block)
    };
    *high |= m.high;
    Block {
        quotes: m.quote & !escaped,
        backslash: m.backslash,
        other,
    }
}

/// The bytes of a block escaped by a backslash before them, given its backslashes and
/// `carry`, 1 when the first byte is escaped by a run of backslashes that ended the block
/// before (updated for the next block). A run of backslashes escapes every second byte
/// from its second on, and the byte after it when its length is odd; only the latter, and
/// an escaped first byte, are set: escaped backslashes are never quotes nor need a letter.
fn escaped(backslash: u64, carry: &mut u64) -> u64 {
    // an escaped backslash starts no escape
    let bs = backslash & !*carry;
    let starts = bs & !(bs << 1);
    // adding its first bit to a run clears it and sets the bit after it; that bit is on the
    // other parity than the start exactly when the length is odd
    let even_runs = bs.wrapping_add(starts & EVEN);
    let (odd_runs, over) = bs.overflowing_add(starts & !EVEN);
    let after_odd = ((even_runs & !EVEN) | (odd_runs & EVEN)) & !bs;
    let first = *carry;
    // an odd run reaching the last byte started on an odd one and carried out of the word
    *carry = u64::from(over);
    after_odd | first
}

/// The bytes of a block that end a short escape after a backslash: `n`, `r`, `t`, `b`, `f`
/// (quotes and backslashes are in [`Masks`]).
fn letters(block: &[u8; BLOCK]) -> u64 {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    // SAFETY: this is compiled only when SSE2 is enabled for the whole build
    unsafe {
        sse2::letters(block)
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    {
        letters_scalar(block)
    }
}

/// The [`Masks`] of a block.
fn masks(block: &[u8; BLOCK]) -> Masks {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    // SAFETY: this is compiled only when SSE2 is enabled for the whole build
    unsafe {
        sse2::masks(block)
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    {
        masks_scalar(block)
    }
}

/// [`masks`] a byte at a time: other architectures, and the reference of the tests.
#[cfg(any(test, not(all(target_arch = "x86_64", target_feature = "sse2"))))]
fn masks_scalar(block: &[u8; BLOCK]) -> Masks {
    let mut m = Masks {
        quote: 0,
        backslash: 0,
        high: 0,
    };
    for (k, &c) in block.iter().enumerate() {
        m.quote |= u64::from(c == b'"') << k;
        m.backslash |= u64::from(c == b'\\') << k;
        m.high |= u64::from(c >= 0x80) << k;
    }
    m
}

/// [`letters`] a byte at a time.
#[cfg(any(test, not(all(target_arch = "x86_64", target_feature = "sse2"))))]
fn letters_scalar(block: &[u8; BLOCK]) -> u64 {
    block.iter().enumerate().fold(0, |acc, (k, c)| {
        acc | u64::from(matches!(c, b'n' | b'r' | b't' | b'b' | b'f')) << k
    })
}

/// The masks with SSE2, 16 bytes per instruction.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod sse2 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };

    use super::{BLOCK, Masks};

    /// The four 16-byte lanes of a block.
    #[inline]
    #[target_feature(enable = "sse2")]
    fn lanes(block: &[u8; BLOCK]) -> [__m128i; 4] {
        let p = block.as_ptr();
        // SAFETY: `block` holds 64 readable bytes, so each 16-byte load from `p + k`
        // (k < 64, a multiple of 16) stays inside it; `_mm_loadu_si128` has no alignment
        // requirement.
        unsafe { [0, 16, 32, 48].map(|k| _mm_loadu_si128(p.add(k).cast::<__m128i>())) }
    }

    /// One bit per byte of the four lanes.
    #[inline]
    #[target_feature(enable = "sse2")]
    fn bits(lanes: [__m128i; 4]) -> u64 {
        lanes.iter().enumerate().fold(0, |acc, (k, v)| {
            acc | u64::from(_mm_movemask_epi8(*v) as u16) << (16 * k)
        })
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    pub(super) fn masks(block: &[u8; BLOCK]) -> Masks {
        let v = lanes(block);
        let quote = _mm_set1_epi8(b'"' as i8);
        let backslash = _mm_set1_epi8(b'\\' as i8);
        Masks {
            quote: bits(v.map(|x| _mm_cmpeq_epi8(x, quote))),
            backslash: bits(v.map(|x| _mm_cmpeq_epi8(x, backslash))),
            high: bits(v),
        }
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    pub(super) fn letters(block: &[u8; BLOCK]) -> u64 {
        let is = |x: __m128i, c: u8| _mm_cmpeq_epi8(x, _mm_set1_epi8(c as i8));
        bits(lanes(block).map(|x| {
            _mm_or_si128(
                _mm_or_si128(_mm_or_si128(is(x, b'n'), is(x, b'r')), is(x, b't')),
                _mm_or_si128(is(x, b'b'), is(x, b'f')),
            )
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// A small deterministic generator (xorshift), so failures repeat.
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

    #[test]
    fn masks_match_the_scalar_ones() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let alphabet = b"\"\\nrtbfu/a \x00\x7f\x80\xc3\xa9\xff";
        for _ in 0..2000 {
            let block: [u8; BLOCK] = std::array::from_fn(|_| alphabet[rng.below(alphabet.len())]);
            assert_eq!(masks(&block), masks_scalar(&block), "{block:?}");
            assert_eq!(letters(&block), letters_scalar(&block), "{block:?}");
        }
        let every: Vec<u8> = (0..=255).collect();
        for chunk in every.chunks(BLOCK) {
            let block: &[u8; BLOCK] = chunk.try_into().expect("256 is four blocks");
            assert_eq!(masks(block), masks_scalar(block));
            assert_eq!(letters(block), letters_scalar(block));
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
}
