use crate::fixture;
use ctem_intel::epss::parse_epss;
use std::io::Write;

#[test]
fn vunnel_sample_parses_with_model_version() {
    let f = parse_epss(&fixture("epss/example-1.csv")).expect("parses");
    assert_eq!(f.model_version.as_deref(), Some("v2023.03.01"));
    assert_eq!(
        f.score_date.map(|d| d.to_string()).as_deref(),
        Some("2025-02-20")
    );
    assert_eq!(f.scores[0].cve_id, "CVE-1999-0001");
    assert!((f.scores[0].percentile - 0.73075).abs() < 1e-9);
    assert!(f.issues.is_empty());
}

#[test]
fn gzipped_mirror_excerpt_parses_like_plain() {
    let plain = fixture("epss/epss_scores-current.head60.csv");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&plain).expect("gzip");
    let gz = gz.finish().expect("gzip");
    let a = parse_epss(&plain).expect("plain");
    let b = parse_epss(&gz).expect("gz");
    assert_eq!(a, b);
    assert!(a.scores.len() >= 50, "{}", a.scores.len());
}

#[test]
fn three_hundred_thousand_rows_parse_well_under_a_second() {
    let mut csv = String::from(
        "#model_version:v2025.03.14,score_date:2025-06-01T00:00:00+0000\ncve,epss,percentile\n",
    );
    for i in 0..300_000u32 {
        csv.push_str(&format!(
            "CVE-2020-{:05},0.{:05},0.{:05}\n",
            i,
            i % 99_999,
            (i * 7) % 99_999
        ));
    }
    let t = std::time::Instant::now();
    let f = parse_epss(csv.as_bytes()).expect("parses");
    let took = t.elapsed();
    assert_eq!(f.scores.len(), 300_000);
    // Debug build; the release figure is in the bench. Generous bound, still catches O(n^2).
    assert!(took.as_secs_f64() < 3.0, "took {took:?}");
}
