//! Where the strings of a JSON line end, found 64 bytes at a time.
//!
//! Finding the end of each key and string value is the inner loop of the line scanner
//! ([`crate::flat`]). Searching for the next quote or backslash (memchr) stops at every
//! backslash, and Windows events are full of them (`C:\\Windows\\`): each stop is a
//! mispredicted branch and a new search, and each search of a short key has a fixed cost.
//! [`StringIndex`] instead passes over the whole line once, before the scan, as simdjson's
//! first stage does: each block of 64 bytes is compared with `"` and `\` at once into one bit
//! per byte. Which bytes the backslashes escape follows from the lengths of the backslash
//! runs with a few word operations (the byte after a run of odd length is escaped), so a path
//! with a dozen escapes costs no more than one without. The scanner then finds the end of a
//! string as the next set bit of the block's unescaped quotes. The same pass gives the
//! escapes' kinds (the letters of short escapes, `n`, `r`, `t`, `b`, `f`, are compared only in
//! blocks where a backslash escapes something other than a quote or a backslash) and whether
//! the line is ASCII.
//!
//! The comparisons use the widest instructions the CPU has ([`Tier`]), chosen at run time
//! since the build targets any x86_64: AVX-512BW compares a whole block into a bit mask in
//! one instruction (and loads the last, short block with a masked load instead of copying
//! it), AVX2 in two, SSE2 (which every x86_64 CPU has) in four; elsewhere a plain loop does.
//! The loop over a line's blocks is compiled once per tier, inside a function enabling its
//! instructions, so that they inline: a call per block would cost more than they save.

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

/// The instructions a [`StringIndex`] compares bytes with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tier {
    /// AVX-512BW: a block per compare, into a mask register.
    #[cfg(target_arch = "x86_64")]
    Avx512,
    /// AVX2: half a block per compare.
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// SSE2 on x86_64 (a quarter block per compare), a byte at a time elsewhere.
    Base,
}

impl Tier {
    /// Every tier, widest first.
    const ALL: &[Tier] = &[
        #[cfg(target_arch = "x86_64")]
        Tier::Avx512,
        #[cfg(target_arch = "x86_64")]
        Tier::Avx2,
        Tier::Base,
    ];

    /// True when this CPU runs the tier's instructions.
    fn available(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Tier::Avx512 => std::arch::is_x86_feature_detected!("avx512bw"),
            #[cfg(target_arch = "x86_64")]
            Tier::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            Tier::Base => true,
        }
    }

    /// The widest tier this CPU runs.
    fn best() -> Tier {
        Tier::ALL
            .iter()
            .copied()
            .find(|t| t.available())
            .unwrap_or(Tier::Base)
    }
}

/// The strings of one line, found once for the whole line: per block of 64 bytes, the
/// quotes that are not escaped (each opens or closes a string), the backslashes and the
/// escapes that are not short ones. Reused across lines.
#[derive(Debug)]
pub(crate) struct StringIndex {
    blocks: Vec<Block>,
    ascii: bool,
    /// Chosen once, when the index is made; [`Tier::available`] on this CPU.
    tier: Tier,
}

impl Default for StringIndex {
    fn default() -> Self {
        StringIndex {
            blocks: Vec::new(),
            ascii: false,
            tier: Tier::best(),
        }
    }
}

/// One bit per byte of a block of the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
        let blocks = &mut self.blocks;
        self.ascii = match self.tier {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `tier` is only ever set to a tier that is `available`, so this CPU has
            // AVX-512BW
            Tier::Avx512 => unsafe { avx512::index_line(blocks, line) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above, this CPU has AVX2
            Tier::Avx2 => unsafe { avx2::index_line(blocks, line) },
            Tier::Base => base::index_line(blocks, line),
        };
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

/// How one tier reads a block: loaded into registers `V`, from 64 bytes or from the shorter
/// last block of a line (as if padded with zeros, which add no quote, backslash or non-ASCII
/// byte), and compared into [`Masks`] and into the letters of short escapes (`n`, `r`, `t`,
/// `b`, `f`: the bytes that end one after a backslash besides quotes and backslashes).
struct Ops<L, T, M, N> {
    load: L,
    load_tail: T,
    masks: M,
    letters: N,
}

/// Sets `blocks` to the [`Block`]s of `line`; true when the line is ASCII. Always inlined,
/// into each tier's function enabling its instructions, so that `ops` inline into the loop.
#[inline(always)]
fn index_line<V: Copy, L, T, M, N>(
    blocks: &mut Vec<Block>,
    line: &[u8],
    ops: Ops<L, T, M, N>,
) -> bool
where
    L: Fn(&[u8; BLOCK]) -> V,
    T: Fn(&[u8]) -> V,
    M: Fn(V) -> Masks,
    N: Fn(V) -> u64,
{
    let n = line.len().div_ceil(BLOCK);
    blocks.clear();
    blocks.reserve(n);
    let mut carry = 0;
    let mut high = 0;
    let (whole, rest) = line.as_chunks::<BLOCK>();
    // written in place, with no length update and capacity check per block as `push` has;
    // a plain loop: `extend` would run it in a function of its own, without the tier's
    // instructions
    let (slots, last) = blocks.spare_capacity_mut()[..n].split_at_mut(whole.len());
    for (slot, block) in slots.iter_mut().zip(whole) {
        slot.write(index_block((ops.load)(block), &ops, &mut carry, &mut high));
    }
    if let Some(slot) = last.first_mut() {
        let v = (ops.load_tail)(rest);
        slot.write(index_block(v, &ops, &mut carry, &mut high));
    }
    // SAFETY: `blocks` was empty and its first `n` slots were just written: one per whole
    // block of the line and, when the line ends in a short one (then `n` is one more), one
    // for it
    unsafe { blocks.set_len(n) };
    high == 0
}

/// The [`Block`] of the 64 bytes in `v`, given `carry`, 1 when its first byte is escaped
/// (updated for the next block); ORs its non-ASCII bytes into `high`. Always inlined: a
/// returned block read back from the stack stalled on store forwarding.
#[inline(always)]
fn index_block<V: Copy, L, T, M, N>(
    v: V,
    ops: &Ops<L, T, M, N>,
    carry: &mut u64,
    high: &mut u64,
) -> Block
where
    M: Fn(V) -> Masks,
    N: Fn(V) -> u64,
{
    let m = (ops.masks)(v);
    let escaped = escaped(m.backslash, carry);
    let letters_maybe = escaped & !(m.quote | m.backslash);
    let other = if letters_maybe == 0 {
        0
    } else {
        letters_maybe & !(ops.letters)(v)
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

/// The last, short block of a line, padded with zeros.
fn padded(rest: &[u8]) -> [u8; BLOCK] {
    let mut pad = [0; BLOCK];
    pad[..rest.len()].copy_from_slice(rest);
    pad
}

/// [`Masks`] a byte at a time: other architectures, and the reference of the tests.
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

/// The letters of short escapes a byte at a time.
#[cfg(any(test, not(all(target_arch = "x86_64", target_feature = "sse2"))))]
fn letters_scalar(block: &[u8; BLOCK]) -> u64 {
    block.iter().enumerate().fold(0, |acc, (k, c)| {
        acc | u64::from(matches!(c, b'n' | b'r' | b't' | b'b' | b'f')) << k
    })
}

/// A byte at a time, without SSE2.
#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
mod base {
    use super::{BLOCK, Block, Ops, letters_scalar, masks_scalar, padded};

    pub(super) fn index_line(blocks: &mut Vec<Block>, line: &[u8]) -> bool {
        let ops = Ops {
            load: |block: &[u8; BLOCK]| *block,
            load_tail: padded,
            masks: |block: [u8; BLOCK]| masks_scalar(&block),
            letters: |block: [u8; BLOCK]| letters_scalar(&block),
        };
        super::index_line(blocks, line, ops)
    }
}

/// SSE2, 16 bytes per instruction: every x86_64 CPU has it, so it needs no check.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod base {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };

    use super::{BLOCK, Block, Masks, Ops, padded};

    pub(super) fn index_line(blocks: &mut Vec<Block>, line: &[u8]) -> bool {
        // SAFETY: this is compiled only when SSE2 is enabled for the whole build
        unsafe { index_line_sse2(blocks, line) }
    }

    #[target_feature(enable = "sse2")]
    fn index_line_sse2(blocks: &mut Vec<Block>, line: &[u8]) -> bool {
        let ops = Ops {
            load: |block: &[u8; BLOCK]| lanes(block),
            load_tail: |rest: &[u8]| lanes(&padded(rest)),
            masks: |v| masks(v),
            letters: |v| letters(v),
        };
        super::index_line(blocks, line, ops)
    }

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
    fn masks(v: [__m128i; 4]) -> Masks {
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
    fn letters(v: [__m128i; 4]) -> u64 {
        let is = |x: __m128i, c: u8| _mm_cmpeq_epi8(x, _mm_set1_epi8(c as i8));
        bits(v.map(|x| {
            _mm_or_si128(
                _mm_or_si128(_mm_or_si128(is(x, b'n'), is(x, b'r')), is(x, b't')),
                _mm_or_si128(is(x, b'b'), is(x, b'f')),
            )
        }))
    }
}

/// AVX2, 32 bytes per instruction.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_or_si256,
        _mm256_set1_epi8,
    };

    use super::{BLOCK, Block, Masks, Ops, padded};

    /// [`super::index_line`] with AVX2, which the caller checked the CPU has.
    #[target_feature(enable = "avx2")]
    pub(super) fn index_line(blocks: &mut Vec<Block>, line: &[u8]) -> bool {
        let ops = Ops {
            load: |block: &[u8; BLOCK]| lanes(block),
            load_tail: |rest: &[u8]| lanes(&padded(rest)),
            masks: |v| masks(v),
            letters: |v| letters(v),
        };
        super::index_line(blocks, line, ops)
    }

    /// The two 32-byte lanes of a block.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn lanes(block: &[u8; BLOCK]) -> [__m256i; 2] {
        let p = block.as_ptr();
        // SAFETY: `block` holds 64 readable bytes, so the 32-byte loads from `p` and
        // `p + 32` stay inside it; `_mm256_loadu_si256` has no alignment requirement.
        unsafe { [0, 32].map(|k| _mm256_loadu_si256(p.add(k).cast::<__m256i>())) }
    }

    /// One bit per byte of the two lanes.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn bits(lanes: [__m256i; 2]) -> u64 {
        let [lo, hi] = lanes.map(|v| u64::from(_mm256_movemask_epi8(v) as u32));
        lo | hi << 32
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn masks(v: [__m256i; 2]) -> Masks {
        let quote = _mm256_set1_epi8(b'"' as i8);
        let backslash = _mm256_set1_epi8(b'\\' as i8);
        Masks {
            quote: bits(v.map(|x| _mm256_cmpeq_epi8(x, quote))),
            backslash: bits(v.map(|x| _mm256_cmpeq_epi8(x, backslash))),
            high: bits(v),
        }
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn letters(v: [__m256i; 2]) -> u64 {
        let is = |x: __m256i, c: u8| _mm256_cmpeq_epi8(x, _mm256_set1_epi8(c as i8));
        bits(v.map(|x| {
            _mm256_or_si256(
                _mm256_or_si256(_mm256_or_si256(is(x, b'n'), is(x, b'r')), is(x, b't')),
                _mm256_or_si256(is(x, b'b'), is(x, b'f')),
            )
        }))
    }
}

/// AVX-512BW, a whole block per instruction, straight into a mask.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::{
        __m512i, _mm512_cmpeq_epi8_mask, _mm512_loadu_si512, _mm512_maskz_loadu_epi8,
        _mm512_movepi8_mask, _mm512_set1_epi8,
    };

    use super::{BLOCK, Block, Masks, Ops};

    /// [`super::index_line`] with AVX-512BW, which the caller checked the CPU has.
    #[target_feature(enable = "avx512bw")]
    pub(super) fn index_line(blocks: &mut Vec<Block>, line: &[u8]) -> bool {
        let ops = Ops {
            // SAFETY: `block` holds 64 readable bytes; `_mm512_loadu_si512` has no
            // alignment requirement
            load: |block: &[u8; BLOCK]| unsafe { _mm512_loadu_si512(block.as_ptr().cast()) },
            load_tail: |rest: &[u8]| {
                // the first `rest.len()` (1 to 63) bytes, zeros after them
                let first = u64::MAX >> (BLOCK - rest.len());
                // SAFETY: the mask selects only the bytes of `rest`, which are readable; a
                // masked load does not read (nor fault on) the bytes it leaves out
                unsafe { _mm512_maskz_loadu_epi8(first, rest.as_ptr().cast()) }
            },
            masks: |v| Masks {
                quote: is(v, b'"'),
                backslash: is(v, b'\\'),
                high: _mm512_movepi8_mask(v),
            },
            letters: |v| is(v, b'n') | is(v, b'r') | is(v, b't') | is(v, b'b') | is(v, b'f'),
        };
        super::index_line(blocks, line, ops)
    }

    /// The bytes of `v` equal to `c`.
    #[inline]
    #[target_feature(enable = "avx512bw")]
    fn is(v: __m512i, c: u8) -> u64 {
        _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(c as i8))
    }
}

#[cfg(test)]
mod tests;
