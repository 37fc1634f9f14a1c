//! OSV-Scanner JSON (`osv-scanner --format json`). Each scanned source (lock file, SBOM,
//! container layer) is one application asset named by its path; each vulnerability of each
//! package is a package vulnerability with its OSV id and aliases (CVE, GHSA), CWEs from
//! `database_specific`, and severity from `database_specific.severity`, the group's
//! `max_severity` (a CVSS score), or `critical` for `MAL-` malicious-package advisories.
//!
//! A package pinned to a git commit (C/C++ sources vendored as submodules or found by
//! `--experimental-scan-git`: no package name, a `commit`, vulnerabilities whose ranges are of
//! type `GIT`) is a vulnerability of the source too: its package is the repository the `GIT`
//! range names (else `git`), at the commit, ecosystem `git`, fixed at the range's fixing
//! commit.

use std::io::BufRead;

use ctem_model::{AssetKind, Cvss, Exposure, ExposureKind, Severity};
use serde_json::Value;

use crate::common::{Out, arr, has, is_json, named_asset, num, package, read_json, s, severity};
use crate::{Emit, EmptyReport, Error, Format, FormatKind, Result};

pub static FORMAT: Format = Format {
    name: "osv_scanner",
    kind: FormatKind::Scanner,
    description: "OSV-Scanner JSON (results per source, packages with OSV vulnerabilities)",
    probe,
    parse,
    parse_slice: None,
    empty: EmptyReport {
        blank: true,
        null: false,
        empty_array: false,
        example: r#""#,
    },
};

fn probe(head: &[u8], _file_name: &str) -> u8 {
    if is_json(head)
        && has(head, "results")
        && has(head, "packages")
        && (has(head, "source") || has(head, "vulnerabilities"))
    {
        85
    } else {
        0
    }
}

fn parse(input: &mut dyn BufRead, emit: &mut Emit<'_>) -> Result<()> {
    let doc = read_json(input, "OSV-Scanner")?;
    let Some(results) = doc.get("results").and_then(Value::as_array) else {
        return Err(Error::Refused(
            "no `results` array: not an OSV-Scanner report".into(),
        ));
    };
    let mut out = Out::new(emit);
    out.scan(Some("osv-scanner"))?;
    for (ri, r) in results.iter().enumerate() {
        let path = s(r, &["source", "path"]).unwrap_or("osv-scanner source");
        let key = out.asset(named_asset(AssetKind::Application, path))?;
        for (pi, p) in arr(r, "packages").iter().enumerate() {
            let pkg = &p["package"];
            for (vi, v) in arr(p, "vulnerabilities").iter().enumerate() {
                let place = format!("results[{ri}].packages[{pi}].vulnerabilities[{vi}]");
                match one(v, pkg, p, path) {
                    Ok(e) => out.exposure(key, e)?,
                    Err(m) => out.issue(place, m)?,
                }
            }
        }
    }
    Ok(())
}

/// The repository of the vulnerability's first `GIT` range.
fn git_repo(v: &Value) -> Option<&str> {
    arr(v, "affected")
        .iter()
        .flat_map(|a| arr(a, "ranges"))
        .filter(|r| s(r, &["type"]) == Some("GIT"))
        .find_map(|r| s(r, &["repo"]))
}

fn one(v: &Value, pkg: &Value, p: &Value, path: &str) -> std::result::Result<Exposure, String> {
    let id = s(v, &["id"]).ok_or("missing id")?;
    let (name, version, ecosystem) = match s(pkg, &["name"]) {
        Some(n) => (n, s(pkg, &["version"]), s(pkg, &["ecosystem"])),
        None => {
            let commit = s(pkg, &["commit"]);
            let repo = git_repo(v);
            if commit.is_none() && repo.is_none() {
                return Err("missing package.name, and no git commit or GIT range".into());
            }
            (repo.unwrap_or("git"), commit, Some("git"))
        }
    };
    let group_max = arr(p, "groups")
        .iter()
        .find(|g| arr(g, "ids").iter().any(|x| x.as_str() == Some(id)))
        .and_then(|g| num(g, "max_severity"));
    let word = s(v, &["database_specific", "severity"]);
    let sev = match (word, group_max) {
        (Some(w), _) => severity(Some(w))?,
        (None, Some(x)) => Severity::from_cvss(x),
        (None, None) if id.starts_with("MAL-") => Severity::Critical,
        _ => Severity::Unknown,
    };
    let title = s(v, &["summary"])
        .map(str::to_string)
        .unwrap_or_else(|| format!("{id} in {name}"));
    let mut e = Exposure::new(ExposureKind::Vulnerability, title, sev);
    // CVE aliases first so cross-tool dedup keys on the CVE
    for a in arr(v, "aliases").iter().filter_map(Value::as_str) {
        e.add_vuln_id(a);
    }
    e.add_vuln_id(id);
    e.rule_id = Some(id.to_string());
    let fixed = arr(v, "affected")
        .iter()
        .flat_map(|a| arr(a, "ranges"))
        .flat_map(|r| arr(r, "events"))
        .find_map(|ev| s(ev, &["fixed"]));
    e.package = Some(package(name, version, fixed, ecosystem, Some(path)));
    e.description = s(v, &["details"]).map(str::to_string);
    for c in arr(v, "affected")
        .iter()
        .flat_map(|a| arr(&a["database_specific"], "cwes"))
    {
        if let Some(id) = s(c, &["cweId"]) {
            e.add_cwe(id);
        }
    }
    for c in arr(&v["database_specific"], "cwe_ids")
        .iter()
        .filter_map(Value::as_str)
    {
        e.add_cwe(c);
    }
    for sv in arr(v, "severity") {
        if let Some(vec) = s(sv, &["score"]).filter(|x| x.starts_with("CVSS:")) {
            let version = if vec.starts_with("CVSS:4") {
                "4.0"
            } else if vec.starts_with("CVSS:3.0") {
                "3.0"
            } else {
                "3.1"
            };
            e.cvss.push(Cvss {
                version: version.into(),
                vector: Some(vec.into()),
                score: None,
                source: Some("osv".into()),
            });
        }
    }
    e.references.extend(
        arr(v, "references")
            .iter()
            .filter_map(|r| s(r, &["url"]))
            .map(str::to_string),
    );
    Ok(e)
}

#[cfg(test)]
mod tests {
    use crate::{Record, parse_bytes};

    /// A source scanned with its git submodules: the vendored zlib is pinned to a commit and
    /// has no package name (osv-scanner's `PackageInfo` with `commit` only).
    const GIT_PINNED: &[u8] = br#"{"results": [{
        "source": {"path": "/src/app", "type": "git"},
        "packages": [{
          "package": {"name": "", "version": "", "ecosystem": "",
                      "commit": "04f42ceca40f73e2978b50e93806c2a18c1281fc"},
          "vulnerabilities": [{
            "id": "OSV-2022-394", "aliases": ["CVE-2022-37434"],
            "summary": "Heap-buffer-overflow in inflateGetHeader",
            "affected": [{"ranges": [{"type": "GIT", "repo": "https://github.com/madler/zlib",
              "events": [{"introduced": "0"},
                         {"fixed": "eff308af425b67093bab25f80f1ae950166bece1"}]}]}]
          }]
        }, {
          "package": {"name": "", "version": ""},
          "vulnerabilities": [{"id": "OSV-2099-1", "affected": []}]
        }]
    }]}"#;

    #[test]
    fn a_package_pinned_to_a_git_commit_is_an_exposure_of_the_source() {
        let recs = parse_bytes(&super::FORMAT, GIT_PINNED).expect("parses");
        let exposures: Vec<_> = recs
            .iter()
            .filter_map(|r| match r {
                Record::Exposure { exposure, .. } => Some(exposure),
                _ => None,
            })
            .collect();
        assert_eq!(exposures.len(), 1, "{recs:?}");
        let e = exposures[0];
        assert_eq!(e.cves, ["CVE-2022-37434"]);
        let p = e.package.as_ref().expect("package");
        assert_eq!(p.name, "https://github.com/madler/zlib");
        assert_eq!(
            p.version.as_deref(),
            Some("04f42ceca40f73e2978b50e93806c2a18c1281fc")
        );
        assert_eq!(
            p.fixed_version.as_deref(),
            Some("eff308af425b67093bab25f80f1ae950166bece1")
        );
        assert_eq!(p.ecosystem.as_deref(), Some("git"));
        assert_eq!(p.path.as_deref(), Some("/src/app"));
        // neither a name nor a commit nor a GIT range: still an issue
        let issues: Vec<_> = recs
            .iter()
            .filter_map(|r| match r {
                Record::Issue(i) => Some(i),
                _ => None,
            })
            .collect();
        assert_eq!(issues.len(), 1);
        assert!(issues[0].message.contains("no git commit"), "{issues:?}");
    }
}
