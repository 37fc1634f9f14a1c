//! A synthetic Trivy Kubernetes report for benchmarks: every resource (asset) gets
//! VULNS/ASSETS vulnerabilities with realistic fields (titles, descriptions, CVSS,
//! references), drawn from a pool of 20,000 (CVE, package) pairs, as a fleet built on shared
//! base images is: the same CVE in the same package shows up on many workloads. Shared by the
//! `gen_trivy` example and the import benchmark.

use std::io::Write;

const POOL: usize = 20_000;

/// Writes a report with `vulns` vulnerabilities spread over `assets` Kubernetes resources.
pub fn write_report(w: &mut impl Write, vulns: usize, assets: usize) -> std::io::Result<()> {
    let per = vulns / assets.max(1);
    let sev = ["LOW", "MEDIUM", "HIGH", "CRITICAL", "MEDIUM", "LOW"];
    write!(w, r#"{{"ClusterName":"bench-cluster","Resources":["#)?;
    for a in 0..assets {
        if a > 0 {
            w.write_all(b",")?;
        }
        write!(
            w,
            r#"{{"Namespace":"ns-{ns}","Kind":"Deployment","Name":"app-{a}","Results":[{{"Target":"registry.example/app-{a}:1.{a} (debian 12.5)","Class":"os-pkgs","Type":"debian","Vulnerabilities":["#,
            ns = a % 40
        )?;
        for j in 0..per {
            if j > 0 {
                w.write_all(b",")?;
            }
            // pair p of the pool: a window per asset, distinct within the asset
            let p = (a * 7919 + j) % POOL;
            let cve = 10000 + p;
            let year = 2015 + (p % 10);
            let s = sev[p % sev.len()];
            let score = 3.1 + (p % 68) as f64 / 10.0;
            let lib = p % 2000;
            write!(
                w,
                r#"{{"VulnerabilityID":"CVE-{year}-{cve}","PkgID":"lib{lib}@2.{a}.1","PkgName":"lib{lib}","InstalledVersion":"2.{m}.1-1","FixedVersion":"2.{m}.9-1","Status":"fixed","Severity":"{s}","SeveritySource":"nvd","PrimaryURL":"https://avd.aquasec.com/nvd/cve-{year}-{cve}","Title":"lib{lib}: buffer overflow in parser component allows remote attackers","Description":"A heap-based buffer overflow in lib{lib} before 2.{m}.9 allows remote attackers to cause a denial of service or possibly execute arbitrary code via a crafted input file.","CweIDs":["CWE-{cwe}"],"CVSS":{{"nvd":{{"V3Vector":"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H","V3Score":{score:.1}}}}},"References":["https://security-tracker.debian.org/tracker/CVE-{year}-{cve}","https://nvd.nist.gov/vuln/detail/CVE-{year}-{cve}"]}}"#,
                m = p % 17,
                cwe = 100 + p % 700,
            )?;
        }
        w.write_all(b"]}]}")?;
    }
    w.write_all(b"]}\n")?;
    w.flush()
}
