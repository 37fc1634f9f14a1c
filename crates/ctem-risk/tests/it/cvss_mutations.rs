//! Deterministic mutations of real vectors: the parser returns an error or in-range
//! scores, never panics (the fuzz target `risk_cvss` does the same at scale).

use ctem_risk::{Cvss, score};

const SEEDS: [&str; 4] = [
    "AV:N/AC:L/Au:S/C:C/I:C/A:C/E:F/RL:U/RC:C/CDP:LM/TD:M/CR:M/IR:L/AR:L",
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:H/I:H/A:N/E:H/RL:O/RC:C/CR:H/MAV:N/MS:C/MC:H",
    "CVSS:3.0/AV:L/AC:H/PR:L/UI:N/S:C/C:H/I:H/A:L/E:U/RL:U/RC:R/CR:M/MPR:L/MUI:R",
    "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:P/CR:L/MSI:S/U:Red",
];
const ALPHABET: &[u8] = b"/:.ABCDEFHILMNOPRSTUVWXYZ0134~ ";

#[test]
fn mutated_vectors_never_panic_and_stay_in_range() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut ok = 0;
    for round in 0..20_000 {
        let mut v = SEEDS[round % SEEDS.len()].as_bytes().to_vec();
        for _ in 0..=(next() % 3) {
            let at = (next() as usize) % v.len();
            match next() % 3 {
                0 => v[at] = ALPHABET[(next() as usize) % ALPHABET.len()],
                1 => {
                    v.remove(at);
                }
                _ => v.insert(at, ALPHABET[(next() as usize) % ALPHABET.len()]),
            }
            if v.is_empty() {
                break;
            }
        }
        let text = String::from_utf8_lossy(&v);
        if let Ok(c) = Cvss::parse(&text) {
            ok += 1;
            let s = c.overall_score();
            assert!((0.0..=10.0).contains(&s), "{text}: {s}");
            let j = score(&text).unwrap();
            assert!((0.0..=10.0).contains(&j.base_score), "{text}");
        }
    }
    assert!(
        ok > 50,
        "mutations should still often be valid vectors: {ok}"
    );
}
