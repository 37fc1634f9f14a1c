//! Walks every file of the shared scanner corpus (`shared/fixtures/scanners`, found as
//! `../../../shared/fixtures` from this crate or through `CTEM_SHARED_FIXTURES`): each file is
//! detected by content and parsed by the detected format, and must land on the format its
//! folder says; a file that is not a findings report at all (HTML, JUnit, an empty body, a
//! format no parser reads) is refused with a clear one-line error and is listed in
//! [`REFUSED`] with the reason. No input may panic. Absent corpus: prints SKIPPED and passes.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use ctem_ingest::{Record, detect, parse_bytes};

/// Folder (or file) prefix under `scanners/` and the format that must read it; the longest
/// matching prefix wins.
const EXPECT: &[(&str, &str)] = &[
    ("anchore/", "anchore"),
    ("aws-inspector2/", "aws_inspector2"),
    ("burp/defectdojo-burp/", "burp"),
    ("burp/defectdojo-burp_dastardly/", "burp"),
    ("burp/defectdojo-burp_api/", "burp"),
    ("checkov/", "checkov"),
    ("cyclonedx/", "cyclonedx"),
    ("dependency-check/", "dependency_check"),
    ("extras/defectdojo-csaf/", "csaf"),
    ("extras/defectdojo-masscan/", "masscan"),
    ("extras/defectdojo-naabu/", "naabu"),
    ("extras/defectdojo-openvex/", "openvex"),
    ("extras/defectdojo-spdx/", "spdx"),
    ("github-vulnerability/", "github_vulnerability"),
    ("grype/", "grype"),
    ("grype/grype-repo-presenter-goldens/cyclonedx/", "cyclonedx"),
    ("grype/grype-repo-presenter-goldens/sarif/", "sarif"),
    ("kics/", "kics"),
    ("nessus-tenable/", "tenable_csv"),
    (
        "nessus-tenable/defectdojo-tenable/nessus/issue_6992.nessus",
        "nessus",
    ),
    (
        "nessus-tenable/defectdojo-tenable/nessus/nessus_with_cwe-.nessus",
        "nessus",
    ),
    (
        "nessus-tenable/defectdojo-tenable/nessus/nessus_many_vuln.xml",
        "nessus",
    ),
    (
        "nessus-tenable/defectdojo-tenable/nessus_was/nessus_was_many_vuln.xml",
        "nessus",
    ),
    (
        "nessus-tenable/defectdojo-tenable/nessus_was/nessus_was_no_vuln.xml",
        "nessus",
    ),
    (
        "nessus-tenable/defectdojo-tenable/nessus_was/nessus_was_one_vuln.xml",
        "nessus",
    ),
    ("nexpose-rapid7/", "nexpose"),
    ("nmap/", "nmap"),
    ("nuclei/", "nuclei"),
    ("openvas/", "openvas"),
    ("osv-scanner/", "osv_scanner"),
    ("prowler/", "prowler"),
    ("qualys/", "qualys"),
    ("sarif/", "sarif"),
    ("secrets/defectdojo-gitleaks/", "gitleaks"),
    ("secrets/defectdojo-trufflehog", "trufflehog"),
    ("semgrep/", "semgrep"),
    ("snyk/", "snyk"),
    ("snyk/defectdojo-snyk/snykcode_issue_9270.json", "sarif"),
    ("snyk/defectdojo-snyk_code/", "sarif"),
    ("trivy/", "trivy"),
    ("trivy/defectdojo-trivy_operator/", "trivy_operator"),
    (
        "trivy/trivy-repo-integration-goldens/alpine-310.sarif.golden",
        "sarif",
    ),
    (
        "trivy/trivy-repo-integration-goldens/fluentd-multiple-lockfiles-short.cdx.json.golden",
        "cyclonedx",
    ),
    (
        "trivy/trivy-repo-integration-goldens/fluentd-multiple-lockfiles.cdx.json.golden",
        "cyclonedx",
    ),
    (
        "trivy/trivy-repo-integration-goldens/conda-cyclonedx.json.golden",
        "cyclonedx",
    ),
    (
        "trivy/trivy-repo-integration-goldens/conda-environment-cyclonedx.json.golden",
        "cyclonedx",
    ),
    (
        "trivy/trivy-repo-integration-goldens/npm-cyclonedx.json.golden",
        "cyclonedx",
    ),
    (
        "trivy/trivy-repo-integration-goldens/conda-spdx.json.golden",
        "spdx",
    ),
    (
        "trivy/trivy-repo-integration-goldens/julia-spdx.json.golden",
        "spdx",
    ),
    ("vex/grype-repo-integration-vex/csaf/", "csaf"),
    ("vex/grype-repo-integration-vex/openvex/", "openvex"),
    ("vex/grype-repo-vex-docs/csaf", "csaf"),
    ("vex/grype-repo-vex-docs/openvex", "openvex"),
    ("zap/", "zap"),
];

/// Files that are refused, and a word the one-line error must contain. Bodies that are not a
/// report of their tool (`{}`, a list of words), HTML, JUnit, image tarballs, plugin text output, and report formats no
/// parser reads (GitLab SAST / code quality, GitHub SBOM snapshot, AWS ASFF, trivy
/// k8s summary) and document versions the parsers do not support.
const REFUSED: &[(&str, &str)] = &[
    (
        "anchore/defectdojo-anchore_enterprise/invalid_checks_format.json",
        "not an Anchore report",
    ),
    (
        "aws-inspector2/defectdojo-aws_inspector2/empty_with_error.json",
        "JSON of an unknown shape",
    ),
    (
        "burp/defectdojo-burp_suite_dast/many_vulns.html",
        "HTML page",
    ),
    (
        "extras/defectdojo-csaf/csaf_unsupported_version.json",
        "CSAF version 1.2 is not supported",
    ),
    (
        "extras/defectdojo-openvex/openvex_not_a_document.json",
        "JSON of an unknown shape",
    ),
    (
        "extras/defectdojo-spdx/spdx_3_unsupported.json",
        "SPDX-3.0 is not supported",
    ),
    (
        "grype/grype-repo-presenter-goldens/json/anchore-fixture-image-simple.golden",
        "text of an unknown shape",
    ),
    (
        "grype/grype-repo-presenter-goldens/json/stereoscope-fixture-image-simple.golden",
        "text of an unknown shape",
    ),
    (
        "sarif/microsoft-sarif-tutorials-samples/ExceptionalConditions/No runs.sarif",
        "no `runs` array",
    ),
    (
        "trivy/trivy-repo-integration-goldens/alpine-310.gitlab-codequality.golden",
        "JSON of an unknown shape",
    ),
    (
        "trivy/trivy-repo-integration-goldens/alpine-310.gitlab.golden",
        "JSON of an unknown shape",
    ),
    (
        "trivy/trivy-repo-integration-goldens/alpine-310.gsbom.golden",
        "JSON of an unknown shape",
    ),
    (
        "trivy/trivy-repo-integration-goldens/alpine-310.html.golden",
        "HTML page",
    ),
    (
        "trivy/trivy-repo-integration-goldens/alpine-310.junit.golden",
        "root element <testsuites>",
    ),
    (
        "trivy/trivy-repo-integration-goldens/count-0.1.0-plugin-with-before-flag.txt.golden",
        "text of an unknown shape",
    ),
    (
        "trivy/trivy-repo-integration-goldens/count-0.2.0-plugin.txt.golden",
        "text of an unknown shape",
    ),
    (
        "trivy/trivy-repo-integration-goldens/fixtures/k8s/summary-ids.json.golden",
        "JSON of an unknown shape",
    ),
    (
        "trivy/trivy-repo-integration-goldens/npm.gitlab.golden",
        "JSON of an unknown shape",
    ),
    (
        "trivy/trivy-repo-integration-goldens/secrets.asff.golden",
        "JSON of an unknown shape",
    ),
];

/// What names a report with no findings; every corpus file so named must read as one, of
/// the format its folder says.
const ZERO_FINDING_NAMES: &[&str] = &[
    "no_vuln",
    "no_finding",
    "zero_vul",
    "empty",
    "no_violation",
    "no_checks",
    "0-vuln",
];

/// Files so named that are something else, and why.
const NOT_ZERO_FINDING: &[(&str, &str)] = &[
    (
        "aws-inspector2/defectdojo-aws_inspector2/empty_with_error.json",
        "`{}`: an error, not a report (refused)",
    ),
    (
        "qualys/defectdojo-qualys_vmdr/one_vuln_no_metadata_cve.csv",
        "one finding",
    ),
    (
        "nexpose-rapid7/defectdojo-nexpose/no_vuln.xml",
        "a `vulnerable-exploited` test without its definition: DefectDojo drops it, ctem keeps it",
    ),
];

fn is_zero_finding_name(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel).to_ascii_lowercase();
    ZERO_FINDING_NAMES.iter().any(|p| name.contains(p))
        && !NOT_ZERO_FINDING.iter().any(|(p, _)| *p == rel)
}

fn corpus() -> Option<PathBuf> {
    let p = match std::env::var_os("CTEM_SHARED_FIXTURES") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures"),
    };
    let s = p.join("scanners");
    s.is_dir().then_some(s)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn expected(rel: &str) -> Option<&'static str> {
    EXPECT
        .iter()
        .filter(|(p, _)| rel.starts_with(p))
        .max_by_key(|(p, _)| p.len())
        .map(|(_, f)| *f)
}

#[test]
fn every_corpus_file_parses_or_is_refused_clearly() {
    let Some(root) = corpus() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "the shared fixture corpus is missing in CI (set CTEM_SHARED_FIXTURES)"
        );
        println!("SKIPPED: shared fixture corpus not found (set CTEM_SHARED_FIXTURES)");
        return;
    };
    let mut files = Vec::new();
    walk(&root, &mut files);
    files.sort();
    assert!(
        files.len() > 100,
        "corpus at {} looks incomplete",
        root.display()
    );
    let verbose = std::env::var_os("CORPUS_VERBOSE").is_some();
    let mut failures = Vec::new();
    let (mut parsed, mut refused, mut zero_findings) = (0, 0, 0);
    for f in &files {
        let rel = f
            .strip_prefix(&root)
            .expect("under root")
            .to_string_lossy()
            .replace('\\', "/");
        let bytes = std::fs::read(f).expect("read");
        // the path is the detection hint, as the CLI gives it: a body with no format of
        // its own (an empty file, `null`, `[]`) is known by the tool its folder names
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let fmt = detect(&bytes, &rel)?;
            parse_bytes(fmt, &bytes).map(|r| (fmt.name, r))
        }));
        let refusal = REFUSED.iter().find(|(p, _)| *p == rel);
        let zero = is_zero_finding_name(&rel);
        if zero {
            zero_findings += 1;
        }
        match outcome {
            Err(_) => failures.push(format!("{rel}: PANIC")),
            Ok(Ok((fmt, records))) => {
                parsed += 1;
                let n = |k: fn(&Record) -> bool| records.iter().filter(|r| k(r)).count();
                let exposures = n(|r| matches!(r, Record::Exposure { .. }));
                let assets = n(|r| matches!(r, Record::Asset { .. }));
                let issues = n(|r| matches!(r, Record::Issue(_)));
                if verbose {
                    println!(
                        "ok {rel}: {fmt} assets={assets} exposures={exposures} issues={issues}"
                    );
                }
                if zero && (exposures != 0 || Some(fmt) != expected(&rel)) {
                    failures.push(format!(
                        "{rel}: a report with no findings, read as {fmt} with {exposures} \
                         exposures (want {:?} with none)",
                        expected(&rel)
                    ));
                }
                if let Some((_, why)) = refusal {
                    failures.push(format!(
                        "{rel}: expected a refusal ({why}) but parsed as {fmt}"
                    ));
                } else if let Some(want) = expected(&rel)
                    && want != fmt
                    && !(assets == 0 && exposures == 0 && issues == 0)
                {
                    // an empty findings list (`{"findings": []}`) names no tool: any reader
                    // that reads it as empty is right
                    failures.push(format!("{rel}: detected as {fmt}, want {want}"));
                }
            }
            Ok(Err(e)) => {
                refused += 1;
                let msg = e.to_string();
                if zero {
                    failures.push(format!("{rel}: a report with no findings, refused: {msg}"));
                }
                if verbose {
                    println!("refused {rel}: {msg}");
                }
                if msg.contains('\n') || msg.is_empty() {
                    failures.push(format!("{rel}: error is not one line: {msg:?}"));
                }
                match refusal {
                    Some((_, why)) if msg.contains(why) => {}
                    Some((_, why)) => {
                        failures.push(format!("{rel}: refused with {msg:?}, want {why:?}"))
                    }
                    None => failures.push(format!("{rel}: refused: {msg}")),
                }
            }
        }
    }
    println!(
        "corpus: {} files, {parsed} parsed, {refused} refused, {zero_findings} reports with no \
         findings",
        files.len()
    );
    assert!(
        zero_findings >= 40,
        "{zero_findings} reports with no findings"
    );
    assert!(
        failures.is_empty(),
        "{} corpus failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_registered_format_has_a_row_in_docs_formats() {
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/formats.md");
    let text = std::fs::read_to_string(&doc).expect("docs/formats.md");
    for f in ctem_ingest::REGISTRY {
        assert!(
            text.contains(&format!("| `{}` |", f.name)),
            "{}: no row in {}",
            f.name,
            doc.display()
        );
    }
    assert!(
        ctem_ingest::REGISTRY.len() >= 25,
        "{} formats",
        ctem_ingest::REGISTRY.len()
    );
}
