use ctem_detect::rule::{Document, parse_yaml};
use ctem_detect::{CompileOptions, Engine, Mappings, RuleSet};
use std::time::Instant;
fn main() {
    let dir = std::env::args().nth(1).unwrap();
    let mut files = Vec::new();
    fn walk(p: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(p).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out)
            } else if p.extension().is_some_and(|e| e == "yml") {
                out.push(p)
            }
        }
    }
    walk(std::path::Path::new(&dir), &mut files);
    let t = Instant::now();
    let texts: Vec<String> = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    let t_read = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut vals = Vec::new();
    for (i, x) in texts.iter().enumerate() {
        let opts = serde_saphyr::options! { strict_booleans: true, leading_zero_numbers_as_strings: true, underscored_numbers_as_strings: true, };
        let d: Vec<serde_json::Value> =
            serde_saphyr::from_multiple_with_options(x, opts).unwrap_or_default();
        vals.push((i, d));
    }
    let t_yaml = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let js = serde_json::to_vec(&vals.iter().map(|(_, d)| d).collect::<Vec<_>>()).unwrap();
    let _back: Vec<Vec<serde_json::Value>> = serde_json::from_slice(&js).unwrap();
    let t_json = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut docs = Vec::new();
    for (i, x) in texts.iter().enumerate() {
        if let Ok(d) = parse_yaml(x, &files[i].display().to_string()) {
            docs.extend(d)
        }
    }
    let t_parse = t.elapsed().as_secs_f64() - t_yaml;
    let t = Instant::now();
    let mut set = RuleSet::default();
    let o = CompileOptions::default();
    for d in &docs {
        if let Document::Rule(r) = d {
            let _ = set.add_rule(r, "x", &o);
        }
    }
    let t_comp = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let n = set.rules.len();
    let e = Engine::new(set, Mappings::builtin().unwrap());
    let t_eng = t.elapsed().as_secs_f64();
    println!(
        "files {} rules {n} read {t_read:.3} yaml {t_yaml:.3} json-roundtrip {t_json:.3} ({} bytes) parse_document {t_parse:.3} compile {t_comp:.3} engine {t_eng:.3}",
        files.len(),
        js.len()
    );
    drop(e);
}
