//! The CVSS v4.0 MacroVector lookup table of the FIRST specification (data transcribed from
//! the specification's reference calculator, BSD-2-Clause, FIRST and Red Hat).
//!
//! Scores are stored in tenths; 0 marks a MacroVector that does not exist (EQ3 = 2 with
//! EQ6 = 0: without a high impact, no requirement can combine with one).

/// Rows are EQ1 EQ2 EQ3 in order 000, 001, 002, 010, ..., 212; within a row the columns are
/// EQ4 EQ5 EQ6 in order 000, 001, 010, 011, 020, 021, 100, ..., 221.
#[rustfmt::skip]
const TABLE: [[u8; 18]; 18] = [
    [100, 99, 98, 95, 95, 92, 100, 96, 93, 87, 91, 81, 93, 90, 89, 80, 81, 68], // 000
    [98, 95, 95, 92, 90, 84, 93, 92, 89, 81, 81, 65, 88, 80, 78, 70, 69, 48],   // 001
    [0, 92, 0, 82, 0, 72, 0, 79, 0, 69, 0, 50, 0, 69, 0, 55, 0, 27],            // 002
    [99, 97, 95, 92, 92, 85, 95, 91, 90, 83, 84, 71, 92, 81, 82, 71, 72, 53],   // 010
    [95, 93, 92, 85, 85, 73, 92, 82, 80, 72, 70, 59, 84, 70, 71, 52, 50, 30],   // 011
    [0, 86, 0, 75, 0, 52, 0, 71, 0, 52, 0, 29, 0, 63, 0, 29, 0, 17],            // 012
    [98, 95, 94, 87, 91, 81, 94, 89, 86, 74, 77, 64, 87, 75, 74, 63, 63, 49],   // 100
    [94, 89, 88, 77, 76, 67, 86, 76, 74, 58, 59, 50, 72, 57, 57, 52, 52, 25],   // 101
    [0, 83, 0, 70, 0, 54, 0, 65, 0, 58, 0, 26, 0, 53, 0, 21, 0, 13],            // 102
    [95, 90, 88, 76, 76, 70, 90, 77, 75, 62, 61, 53, 77, 66, 68, 59, 52, 30],   // 110
    [89, 78, 76, 67, 62, 58, 74, 59, 57, 57, 47, 23, 61, 52, 57, 29, 24, 16],   // 111
    [0, 71, 0, 59, 0, 30, 0, 58, 0, 26, 0, 15, 0, 23, 0, 13, 0, 6],             // 112
    [93, 87, 86, 72, 75, 58, 86, 74, 74, 61, 56, 34, 70, 54, 52, 40, 40, 22],   // 200
    [85, 75, 74, 55, 62, 51, 72, 57, 55, 41, 46, 19, 53, 36, 34, 19, 19, 8],    // 201
    [0, 64, 0, 51, 0, 20, 0, 47, 0, 21, 0, 11, 0, 24, 0, 9, 0, 4],             // 202
    [88, 75, 73, 53, 60, 50, 73, 55, 59, 40, 41, 20, 54, 43, 45, 22, 20, 11],   // 210
    [75, 55, 58, 45, 40, 21, 61, 51, 48, 18, 20, 9, 46, 18, 17, 7, 8, 2],       // 211
    [0, 53, 0, 24, 0, 14, 0, 24, 0, 12, 0, 5, 0, 10, 0, 3, 0, 1],               // 212
];

/// The score of MacroVector `eq` (EQ1..EQ6), or `None` when it does not exist (including
/// out-of-range levels, which is how the "next lower MacroVector" of the lowest one is
/// represented).
pub(crate) fn lookup(eq: [u8; 6]) -> Option<f64> {
    let [e1, e2, e3, e4, e5, e6] = eq.map(usize::from);
    if e1 > 2 || e2 > 1 || e3 > 2 || e4 > 2 || e5 > 2 || e6 > 1 {
        return None;
    }
    let row = (e1 * 2 + e2) * 3 + e3;
    let col = (e4 * 3 + e5) * 2 + e6;
    match TABLE[row][col] {
        0 => None,
        tenths => Some(f64::from(tenths) / 10.0),
    }
}

/// Maximal severity depth (in steps of 0.1) of each EQ's MacroVectors: EQ1, EQ2, EQ4.
pub(crate) const MAX_SEVERITY_EQ1: [f64; 3] = [1.0, 4.0, 5.0];
pub(crate) const MAX_SEVERITY_EQ2: [f64; 2] = [1.0, 2.0];
pub(crate) const MAX_SEVERITY_EQ4: [f64; 3] = [6.0, 5.0, 4.0];
/// Joint EQ3+EQ6 depth, indexed `[eq3][eq6]` (`[2][0]` does not exist).
pub(crate) const MAX_SEVERITY_EQ3EQ6: [[f64; 2]; 3] = [[7.0, 6.0], [8.0, 8.0], [10.0, 10.0]];

// Highest-severity vectors of each MacroVector, in the effective value indices used by
// `v4.rs` (AV N A L P = 0..3; PR N L H; UI N P A; AC L H; AT N P; VC/VI/VA H L N;
// CR/IR/AR H M L; SC H L N; SI/SA S H L N).

/// (AV, PR, UI) per EQ1 level.
pub(crate) const MAX_EQ1: [&[[u8; 3]]; 3] = [
    &[[0, 0, 0]],
    &[[1, 0, 0], [0, 1, 0], [0, 0, 1]],
    &[[3, 0, 0], [1, 1, 1]],
];
/// (AC, AT) per EQ2 level.
pub(crate) const MAX_EQ2: [&[[u8; 2]]; 2] = [&[[0, 0]], &[[1, 0], [0, 1]]];
/// (VC, VI, VA, CR, IR, AR) per `[eq3][eq6]`.
pub(crate) const MAX_EQ3EQ6: [[&[[u8; 6]]; 2]; 3] = [
    [
        &[[0, 0, 0, 0, 0, 0]],
        &[[0, 0, 1, 1, 1, 0], [0, 0, 0, 1, 1, 1]],
    ],
    [
        &[[1, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0]],
        &[
            [1, 0, 1, 0, 1, 0],
            [1, 0, 0, 0, 1, 1],
            [0, 1, 0, 1, 0, 1],
            [0, 1, 1, 1, 0, 0],
            [1, 1, 0, 0, 0, 1],
        ],
    ],
    [&[], &[[1, 1, 1, 0, 0, 0]]],
];
/// (SC, SI, SA) per EQ4 level.
pub(crate) const MAX_EQ4: [[u8; 3]; 3] = [[0, 0, 0], [0, 1, 1], [1, 2, 2]];
