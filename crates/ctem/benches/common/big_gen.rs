//! Large synthetic reports for the streaming benchmarks (bench/import.sh): a Grype JSON
//! report and a Nessus v2 XML file of a given size, with realistic fields. Findings are drawn
//! from a pool of 20,000 (CVE, package) pairs, as in a fleet built on shared images.

use std::io::Write;

const POOL: usize = 20_000;

/// A Grype report of about `bytes` bytes (one image, many matches).
pub fn grype(w: &mut impl Write, bytes: u64) -> std::io::Result<u64> {
    let mut written = 0u64;
    let mut n = 0u64;
    w.write_all(br#"{"matches":["#)?;
    while written < bytes {
        let p = (n as usize * 7919) % POOL;
        let sep = if n > 0 { "," } else { "" };
        let s = format!(
            r#"{sep}{{"vulnerability":{{"id":"CVE-{y}-{c}","dataSource":"https://nvd.nist.gov/vuln/detail/CVE-{y}-{c}","namespace":"debian:distro:debian:12","severity":"{sev}","urls":["https://security-tracker.debian.org/tracker/CVE-{y}-{c}"],"description":"A heap-based buffer overflow in lib{l} before 2.{m}.9 allows remote attackers to cause a denial of service via a crafted file.","cvss":[{{"source":"nvd@nist.gov","type":"Primary","version":"3.1","vector":"CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H","metrics":{{"baseScore":{score:.1},"exploitabilityScore":2.8,"impactScore":5.9}}}}],"fix":{{"versions":["2.{m}.9-1"],"state":"fixed"}}}},"relatedVulnerabilities":[],"matchDetails":[{{"type":"exact-indirect-match","matcher":"dpkg-matcher","searchedBy":{{"distro":{{"type":"debian","version":"12"}},"package":{{"name":"lib{l}","version":"2.{m}.1-1"}},"namespace":"debian:distro:debian:12"}},"found":{{"versionConstraint":"< 2.{m}.9-1 (deb)","vulnerabilityID":"CVE-{y}-{c}"}}}}],"artifact":{{"id":"{n:016x}","name":"lib{l}{k}","version":"2.{m}.1-1","type":"deb","locations":[{{"path":"/var/lib/dpkg/status.d/lib{l}{k}"}}],"language":"","licenses":["GPL-2.0"],"cpes":["cpe:2.3:a:lib{l}:lib{l}:2.{m}.1-1:*:*:*:*:*:*:*"],"purl":"pkg:deb/debian/lib{l}{k}@2.{m}.1-1?distro=debian-12"}}}}"#,
            y = 2015 + p % 10,
            c = 10000 + p,
            sev = ["Low", "Medium", "High", "Critical"][p % 4],
            l = p % 2000,
            m = p % 17,
            // distinct packages so every match is its own exposure
            k = n / POOL as u64,
            score = 3.1 + (p % 68) as f64 / 10.0,
        );
        w.write_all(s.as_bytes())?;
        written += s.len() as u64;
        n += 1;
    }
    w.write_all(br#"],"source":{"type":"image","target":{"userInput":"registry.example/big:1.0","imageID":"sha256:1111111111111111111111111111111111111111111111111111111111111111","manifestDigest":"sha256:2222222222222222222222222222222222222222222222222222222222222222"}},"distro":{"name":"debian","version":"12"},"descriptor":{"name":"grype","version":"0.80.0"}}"#)?;
    w.flush()?;
    Ok(n)
}

/// A Nessus v2 report of about `bytes` bytes over `hosts` hosts.
pub fn nessus(w: &mut impl Write, bytes: u64, hosts: u64) -> std::io::Result<u64> {
    let per_host = bytes / hosts.max(1);
    let mut n = 0u64;
    w.write_all(b"<?xml version=\"1.0\" ?>\n<NessusClientData_v2>\n<Policy><policyName>Basic Network Scan</policyName></Policy>\n<Report name=\"bench\">\n")?;
    for h in 0..hosts {
        let mut written = 0u64;
        writeln!(
            w,
            "<ReportHost name=\"10.{}.{}.{}\"><HostProperties><tag name=\"host-ip\">10.{}.{}.{}</tag><tag name=\"host-fqdn\">host{h}.corp.example</tag><tag name=\"operating-system\">Linux Kernel 5.10</tag><tag name=\"HOST_START_TIMESTAMP\">1700000000</tag></HostProperties>",
            h / 65536,
            (h / 256) % 256,
            h % 256,
            h / 65536,
            (h / 256) % 256,
            h % 256
        )?;
        let mut j = 0u64;
        while written < per_host {
            let p = ((h * 131 + j) as usize) % POOL;
            let s = format!(
                "<ReportItem port=\"{port}\" svc_name=\"www\" protocol=\"tcp\" severity=\"{sev}\" pluginID=\"{pid}\" pluginName=\"lib{l} &lt; 2.{m}.9 Multiple Vulnerabilities\" pluginFamily=\"General\">\n<cvss3_base_score>{score:.1}</cvss3_base_score>\n<cvss3_vector>CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H</cvss3_vector>\n<cve>CVE-{y}-{c}</cve>\n<description>According to its self-reported version number, the version of lib{l} running on the remote host is prior to 2.{m}.9. It is therefore affected by multiple vulnerabilities.</description>\n<plugin_output>Installed version : 2.{m}.1\nFixed version : 2.{m}.9</plugin_output>\n<risk_factor>High</risk_factor>\n<solution>Upgrade to lib{l} version 2.{m}.9 or later.</solution>\n<synopsis>The remote host is affected by multiple vulnerabilities.</synopsis>\n<see_also>https://nvd.nist.gov/vuln/detail/CVE-{y}-{c}</see_also>\n</ReportItem>\n",
                port = [80, 443, 22, 8080][(j % 4) as usize],
                sev = 1 + p % 4,
                pid = 100000 + p,
                l = p % 2000,
                m = p % 17,
                y = 2015 + p % 10,
                c = 10000 + p,
                score = 3.1 + (p % 68) as f64 / 10.0,
            );
            w.write_all(s.as_bytes())?;
            written += s.len() as u64;
            j += 1;
            n += 1;
        }
        w.write_all(b"</ReportHost>\n")?;
    }
    w.write_all(b"</Report>\n</NessusClientData_v2>\n")?;
    w.flush()?;
    Ok(n)
}
