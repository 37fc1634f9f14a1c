//! Whether a text holds one of a few dozen ASCII literals, ignoring ASCII case, without
//! lower-casing the text first.
//!
//! The keyword gate of the prefilter asks this of every raw line (2.4 KB on average in the
//! OTRF Windows events): "can any keyword literal of this bucket occur in the line?" It nearly
//! always says no. Lower-casing the line into a buffer and running a case-sensitive Teddy
//! searcher over it cost about 130 + 320 ns a line, and most of the searcher's time went to
//! verifying false candidates: Teddy fingerprints the first bytes of each literal, and the
//! first bytes of `event::clear`, `\\mimilib.dll` or `servicebus` (`even`, `\\mi`, `serv`)
//! are everywhere in Windows events (`EventID`, `\\Microsoft`, `ServiceName`).
//!
//! [`FoldFind`] does the same job in one pass over the raw text, with the idea of Teddy
//! (Hyperscan's literal matcher) written for this case:
//! - Each literal is found by a window of three of its bytes, at the offset where its bytes
//!   are least common in event text (`t::` for `event::clear`, `mim` rather than `\\m` for
//!   `\\mimilib.dll`), not always at its start.
//! - The literals go into eight buckets. For each window byte, two tables of 16 bytes give
//!   the buckets whose window has that low nibble and that high nibble there. A position where
//!   every window byte's two entries share a bucket is a candidate.
//! - Bytes are folded with `| 0x20` before the lookup, which maps each upper-case letter onto
//!   its lower-case one (and a few punctuation pairs onto each other, which only adds
//!   candidates). So one search covers every case of the text.
//! - A candidate is verified by comparing the whole literal, ASCII case-insensitively, at the
//!   window's offset.
//! - With AVX2, 32 positions are looked at per step: three overlapping loads, a fold and two
//!   nibble lookups (byte shuffles) per window byte. With AVX-512 VBMI (AMD Zen 4, Intel Ice
//!   Lake and later), 64 positions per step and one lookup per window byte in a table of all
//!   128 ASCII bytes, with both cases of a letter entered (no fold). Elsewhere, a plain loop.

/// Bytes per window.
const WINDOW: usize = 3;

/// Buckets of literals: one bit each in a table byte.
const BUCKETS: usize = 8;

/// A case-insensitive searcher for ASCII literals of at least [`WINDOW`] bytes.
#[derive(Debug, Clone)]
pub(crate) struct FoldFind {
    /// The literals, lower-cased.
    lits: Vec<Box<[u8]>>,
    /// Per literal: where its window starts in it.
    offs: Vec<usize>,
    /// The literals of each bucket.
    buckets: [Vec<u32>; BUCKETS],
    /// Per window byte: the buckets whose window byte (folded) has this low nibble.
    lo: [[u8; 16]; WINDOW],
    /// Per window byte: the buckets whose window byte (folded) has this high nibble.
    hi: [[u8; 16]; WINDOW],
    /// Per window byte: the buckets whose window byte is this ASCII byte, in either case.
    byte: [[u8; 128]; WINDOW],
    tier: Tier,
}

/// The widest SIMD this CPU has for [`FoldFind::is_match`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tier {
    Scalar,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Vbmi,
}

impl Tier {
    fn best() -> Tier {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512vbmi")
            {
                return Tier::Vbmi;
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                return Tier::Avx2;
            }
        }
        Tier::Scalar
    }
}

/// The byte as the tables see it: upper-case letters on lower-case ones.
fn fold(b: u8) -> u8 {
    b | 0x20
}

/// How common a byte is in event text, for picking windows (higher is rarer): lower-case
/// letters by their frequency in English and in Windows events, digits and the punctuation
/// of paths and JSON common.
fn rarity(b: u8) -> u32 {
    match b.to_ascii_lowercase() {
        // `v`, `w` and `y` as in service, server, driver, windows, system
        b'e' | b't' | b'a' | b'o' | b'i' | b'n' | b's' | b'r' | b'h' | b'l' | b'd' | b'c'
        | b'u' | b'v' | b'w' | b'y' => 1,
        b'm' | b'f' | b'p' | b'g' | b'b' | b'k' => 2,
        b'x' | b'j' | b'q' | b'z' => 4,
        b'0'..=b'9' | b'\\' | b'.' | b' ' | b'"' | b',' | b'-' | b'_' | b'/' => 1,
        b':' | b'=' => 2,
        _ => 4,
    }
}

/// Fills the padding of a last, short step: a byte whose folded high nibble no ASCII window
/// byte has, so padding starts no candidate.
const PAD: u8 = 0xFF;

/// The bytes a SIMD step at `q` reads (`pad.len()` of them: the step's windows and the bytes
/// after them): the text itself, or for the last step a copy padded with [`PAD`]; `None`
/// when no window starts at `q` or later.
fn step_bytes<'a, const N: usize>(
    hay: &'a [u8],
    q: usize,
    pad: &'a mut [u8; N],
) -> Option<&'a [u8]> {
    if q + N <= hay.len() {
        return Some(&hay[q..q + N]);
    }
    let rest = hay.get(q..).filter(|r| r.len() >= WINDOW)?;
    pad[..rest.len()].copy_from_slice(rest);
    pad[rest.len()..].fill(PAD);
    Some(pad)
}

/// How rare a window is: its bytes' rarities, plus a bonus for two punctuation bytes in a
/// row (`::`, `://`), which event text seldom has outside its JSON syntax and escapes.
fn window_score(w: &[u8]) -> u32 {
    let mut s: u32 = w.iter().map(|&b| rarity(b)).sum();
    for p in w.windows(2) {
        let (a, b) = (p[0], p[1]);
        let common_pair = matches!(
            (a, b),
            (b'\\', b'\\' | b'"') | (b'"', b':' | b',') | (b':' | b',', b'"')
        );
        if !a.is_ascii_alphanumeric() && !b.is_ascii_alphanumeric() && !common_pair {
            s += 3;
        }
    }
    s
}

impl FoldFind {
    /// A searcher for `lits`, or `None` when one of them is not ASCII or is shorter than a
    /// window (the caller keeps its general searcher for those).
    pub(crate) fn new(lits: &[String]) -> Option<FoldFind> {
        if lits.is_empty()
            || lits
                .iter()
                .any(|l| !l.is_ascii() || l.len() < WINDOW || l.len() > u32::MAX as usize)
        {
            return None;
        }
        let lits: Vec<Box<[u8]>> = lits
            .iter()
            .map(|l| l.to_ascii_lowercase().into_bytes().into_boxed_slice())
            .collect();
        // the rarest window of each literal (the first of equals)
        let offs: Vec<usize> = lits
            .iter()
            .map(|l| {
                (0..=l.len() - WINDOW)
                    .rev()
                    .max_by_key(|&o| window_score(&l[o..o + WINDOW]))
                    .unwrap_or(0)
            })
            .collect();
        // literals with like windows share a bucket, so its nibble sets stay small
        let mut order: Vec<usize> = (0..lits.len()).collect();
        order.sort_by_key(|&i| {
            let w = &lits[i][offs[i]..offs[i] + WINDOW];
            (fold(w[0]), fold(w[1]), fold(w[2]))
        });
        let mut buckets: [Vec<u32>; BUCKETS] = Default::default();
        let per = lits.len().div_ceil(BUCKETS);
        for (k, &i) in order.iter().enumerate() {
            buckets[k / per].push(i as u32);
        }
        let mut lo = [[0u8; 16]; WINDOW];
        let mut hi = [[0u8; 16]; WINDOW];
        let mut byte = [[0u8; 128]; WINDOW];
        for (b, members) in buckets.iter().enumerate() {
            for &i in members {
                let i = i as usize;
                for k in 0..WINDOW {
                    let w = lits[i][offs[i] + k];
                    let c = fold(w);
                    lo[k][usize::from(c & 15)] |= 1 << b;
                    hi[k][usize::from(c >> 4)] |= 1 << b;
                    byte[k][usize::from(w)] |= 1 << b;
                    byte[k][usize::from(w.to_ascii_uppercase())] |= 1 << b;
                }
            }
        }
        Some(FoldFind {
            lits,
            offs,
            buckets,
            lo,
            hi,
            byte,
            tier: Tier::best(),
        })
    }

    /// True when `hay` holds one of the literals, ASCII case ignored (other bytes compare
    /// as they are): what searching the ASCII-lower-cased `hay` for the lower-cased literals
    /// finds.
    pub(crate) fn is_match(&self, hay: &[u8]) -> bool {
        match self.tier {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Tier::best` picked this tier only when the CPU has AVX-512BW and VBMI
            Tier::Vbmi => unsafe { self.is_match_vbmi(hay) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Tier::best` picked this tier only when the CPU has AVX2
            Tier::Avx2 => unsafe { self.is_match_avx2(hay) },
            Tier::Scalar => self.is_match_from(hay, 0),
        }
    }

    /// The buckets whose window may start at `q` (`q + WINDOW <= hay.len()`).
    fn buckets_at(&self, hay: &[u8], q: usize) -> u8 {
        let mut m = 0xFF;
        for k in 0..WINDOW {
            let c = fold(hay[q + k]);
            m &= self.lo[k][usize::from(c & 15)] & self.hi[k][usize::from(c >> 4)];
        }
        m
    }

    /// [`FoldFind::is_match`] for the windows starting at `from` or later, one at a time.
    fn is_match_from(&self, hay: &[u8], from: usize) -> bool {
        (from..(hay.len() + 1).saturating_sub(WINDOW)).any(|q| {
            let m = self.buckets_at(hay, q);
            m != 0 && self.verify(hay, q, m)
        })
    }

    /// Whether a literal has its window at one of the candidates of a SIMD step at `q`:
    /// bit `j` of `cand` set for a window at `q + j`, whose buckets are `buckets[j]`.
    fn verify_step(&self, hay: &[u8], q: usize, mut cand: u64, buckets: &[u8]) -> bool {
        while cand != 0 {
            let j = cand.trailing_zeros() as usize;
            cand &= cand - 1;
            if self.verify(hay, q + j, buckets[j]) {
                return true;
            }
        }
        false
    }

    /// Whether a literal of the buckets `m` has its window at `q`.
    fn verify(&self, hay: &[u8], q: usize, mut m: u8) -> bool {
        while m != 0 {
            let b = m.trailing_zeros() as usize;
            m &= m - 1;
            for &i in &self.buckets[b] {
                let i = i as usize;
                let lit = &self.lits[i];
                let Some(s) = q.checked_sub(self.offs[i]) else {
                    continue;
                };
                if hay
                    .get(s..s + lit.len())
                    .is_some_and(|t| t.eq_ignore_ascii_case(lit))
                {
                    return true;
                }
            }
        }
        false
    }

    /// [`FoldFind::is_match`] 32 windows a step.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn is_match_avx2(&self, hay: &[u8]) -> bool {
        use std::arch::x86_64::{
            __m256i, _mm256_and_si256, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8,
            _mm256_or_si256, _mm256_set1_epi8, _mm256_setzero_si256, _mm256_shuffle_epi8,
            _mm256_srli_epi16, _mm256_storeu_si256,
        };
        const STEP: usize = 32;
        let table = |t: &[u8; 16]| {
            let mut both = [0u8; 32];
            both[..16].copy_from_slice(t);
            both[16..].copy_from_slice(t);
            // SAFETY: `both` holds 32 bytes; unaligned loads are allowed
            unsafe { _mm256_loadu_si256(both.as_ptr().cast::<__m256i>()) }
        };
        let lo = self.lo.each_ref().map(table);
        let hi = self.hi.each_ref().map(table);
        let case = _mm256_set1_epi8(0x20);
        let nib = _mm256_set1_epi8(0x0F);
        let zero = _mm256_setzero_si256();
        let mut q = 0;
        let mut pad = [PAD; STEP + WINDOW - 1];
        // each step reads bytes q .. q + STEP + WINDOW - 1, the last one from a padded copy
        while let Some(p) = step_bytes(hay, q, &mut pad) {
            let mut m = _mm256_set1_epi8(-1);
            for k in 0..WINDOW {
                // SAFETY: `p` has STEP + WINDOW - 1 readable bytes (`step_bytes`), k < WINDOW
                let v = unsafe { _mm256_loadu_si256(p.as_ptr().add(k).cast::<__m256i>()) };
                let v = _mm256_or_si256(v, case);
                let l = _mm256_shuffle_epi8(lo[k], _mm256_and_si256(v, nib));
                let h = _mm256_shuffle_epi8(hi[k], _mm256_and_si256(_mm256_srli_epi16(v, 4), nib));
                m = _mm256_and_si256(m, _mm256_and_si256(l, h));
            }
            let cand = !(_mm256_movemask_epi8(_mm256_cmpeq_epi8(m, zero)) as u32);
            if cand != 0 {
                let mut bytes = [0u8; STEP];
                // SAFETY: `bytes` holds 32 bytes; unaligned stores are allowed
                unsafe { _mm256_storeu_si256(bytes.as_mut_ptr().cast::<__m256i>(), m) };
                if self.verify_step(hay, q, u64::from(cand), &bytes) {
                    return true;
                }
            }
            q += STEP;
        }
        false
    }

    /// [`FoldFind::is_match`] 64 windows a step, with one 128-byte table lookup (VBMI's
    /// two-register byte permute) per window byte: the table has a byte's buckets under both
    /// its cases, so nothing is folded. Bytes of 128 and above look up their low seven bits,
    /// which only adds candidates (literals are ASCII).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512bw,avx512vbmi")]
    fn is_match_vbmi(&self, hay: &[u8]) -> bool {
        use std::arch::x86_64::{
            __m512i, _mm512_and_si512, _mm512_loadu_si512, _mm512_permutex2var_epi8,
            _mm512_set1_epi8, _mm512_storeu_si512, _mm512_test_epi8_mask,
        };
        const STEP: usize = 64;
        let half = |t: &[u8; 128], k: usize| {
            // SAFETY: `t[64 * k..]` holds 64 bytes (k < 2); unaligned loads are allowed
            unsafe { _mm512_loadu_si512(t[64 * k..].as_ptr().cast::<__m512i>()) }
        };
        let low = self.byte.each_ref().map(|t| half(t, 0));
        let high = self.byte.each_ref().map(|t| half(t, 1));
        let mut q = 0;
        let mut pad = [PAD; STEP + WINDOW - 1];
        while let Some(p) = step_bytes(hay, q, &mut pad) {
            let mut m = _mm512_set1_epi8(-1);
            for k in 0..WINDOW {
                // SAFETY: `p` has STEP + WINDOW - 1 readable bytes (`step_bytes`), k < WINDOW
                let v = unsafe { _mm512_loadu_si512(p.as_ptr().add(k).cast::<__m512i>()) };
                m = _mm512_and_si512(m, _mm512_permutex2var_epi8(low[k], v, high[k]));
            }
            let cand = _mm512_test_epi8_mask(m, m);
            if cand != 0 {
                let mut bytes = [0u8; STEP];
                // SAFETY: `bytes` holds 64 bytes; unaligned stores are allowed
                unsafe { _mm512_storeu_si512(bytes.as_mut_ptr().cast::<__m512i>(), m) };
                if self.verify_step(hay, q, cand, &bytes) {
                    return true;
                }
            }
            q += STEP;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Rng;

    /// The reference: the lower-cased text holds a lower-cased literal.
    fn naive(lits: &[String], hay: &[u8]) -> bool {
        let low = hay.to_ascii_lowercase();
        lits.iter().any(|l| {
            let l = l.to_ascii_lowercase();
            low.windows(l.len()).any(|w| w == l.as_bytes())
        })
    }

    /// Every tier this CPU has, on the same literals.
    fn tiers(f: &FoldFind) -> Vec<FoldFind> {
        let mut out = vec![FoldFind {
            tier: Tier::Scalar,
            ..f.clone()
        }];
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                out.push(FoldFind {
                    tier: Tier::Avx2,
                    ..f.clone()
                });
            } else {
                eprintln!("no AVX2 on this CPU: its tier is not tested");
            }
            if std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512vbmi")
            {
                out.push(FoldFind {
                    tier: Tier::Vbmi,
                    ..f.clone()
                });
            } else {
                eprintln!("no AVX-512 VBMI on this CPU: its tier is not tested");
            }
        }
        out
    }

    fn lits(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn finds_literals_in_any_case_at_every_offset() {
        let l = lits(&[
            "sekurlsa::",
            "event::clear",
            "\\\\mimilib.dll",
            "sb://",
            "abc",
        ]);
        let f = FoldFind::new(&l).expect("ascii literals");
        for f in tiers(&f) {
            for lit in [
                "SeKurLSA::",
                "EVENT::clear",
                "\\\\MimiLib.DLL",
                "SB://",
                "aBc",
            ] {
                for pad in 0..140 {
                    for tail in [0, 1, 2, 3, 63, 64, 65] {
                        let mut hay = "x".repeat(pad).into_bytes();
                        hay.extend_from_slice(lit.as_bytes());
                        hay.extend(std::iter::repeat_n(b'y', tail));
                        assert!(f.is_match(&hay), "{:?} {lit} at {pad}+{tail}", f.tier);
                    }
                }
            }
            // near misses: every literal with one byte changed, at every offset
            for lit in &l {
                for k in 0..lit.len() {
                    let mut bad = lit.clone().into_bytes();
                    bad[k] = b'#';
                    for pad in [0, 1, 30, 31, 32, 33, 62, 63, 64, 65, 100] {
                        let mut hay = "z".repeat(pad).into_bytes();
                        hay.extend_from_slice(&bad);
                        assert!(!f.is_match(&hay), "{:?} {:?}", f.tier, hay);
                    }
                }
            }
        }
    }

    /// Random texts over an alphabet close to the literals (case flips, folded punctuation
    /// pairs such as `@`/`` ` `` and `[`/`{`, non-ASCII bytes) agree with the reference.
    #[test]
    fn random_texts_match_the_reference() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let l = lits(&[
            "kerberos::ptt",
            "privilege::debug",
            "mimidrv.sys",
            "a@b",
            "x[y",
            "eo.oe.kiwi",
            "hybridconnection",
            "servicebus.windows.net",
            "lsadump::",
            "kiwi legit printer",
        ]);
        let f = FoldFind::new(&l).expect("ascii literals");
        let alphabet = b"kerbos:ptiviledugmdrv.syA@B`X[Y{EOKIWHNLSDUMP \xc3\xa9\\\"";
        let all = tiers(&f);
        let mut found = 0;
        for round in 0..30_000 {
            let n = rng.below(300);
            let mut hay: Vec<u8> = (0..n)
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect();
            if round % 3 == 0 && n > 0 {
                // plant a literal in a random case
                let lit = &l[rng.below(l.len())];
                let at = rng.below(n);
                let planted: Vec<u8> = lit
                    .bytes()
                    .map(|b| {
                        if rng.next() & 1 == 0 {
                            b.to_ascii_uppercase()
                        } else {
                            b
                        }
                    })
                    .collect();
                hay.splice(at..at, planted);
            }
            let want = naive(&l, &hay);
            found += usize::from(want);
            for f in &all {
                assert_eq!(
                    f.is_match(&hay),
                    want,
                    "{:?} {:?}",
                    f.tier,
                    String::from_utf8_lossy(&hay)
                );
            }
        }
        assert!(found > 5_000, "{found}");
    }

    #[test]
    fn windows_avoid_common_starts() {
        let l = lits(&["event::clear", "\\\\mimilib.dll"]);
        let f = FoldFind::new(&l).expect("ascii literals");
        let win = |i: usize| &f.lits[i][f.offs[i]..f.offs[i] + WINDOW];
        assert!(
            win(0).contains(&b':'),
            "{:?}",
            String::from_utf8_lossy(win(0))
        );
        assert!(
            !win(1).starts_with(b"\\"),
            "{:?}",
            String::from_utf8_lossy(win(1))
        );
    }

    #[test]
    fn short_or_non_ascii_literals_are_refused() {
        assert!(FoldFind::new(&lits(&["ab", "abcdef"])).is_none());
        assert!(FoldFind::new(&lits(&["abcé"])).is_none());
        assert!(FoldFind::new(&[]).is_none());
    }
}
