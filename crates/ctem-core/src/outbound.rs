//! The rules of every outbound HTTP call (feeds, ticket integrations): which URLs are
//! accepted when ctem.toml is loaded, and which addresses a request may connect to.
//!
//! - **Schemes.** Only `http` and `https` are fetched; a `file://`, `ftp://` or other URL is
//!   refused when the settings are loaded, naming the key ([`check_scheme`]).
//! - **Credentials only over TLS.** An integration (Jira, GitHub, webhooks, Slack) sends a
//!   token or is itself a secret URL, so it needs `https`; `http` is accepted only with
//!   `allow_insecure_http = true` and then only to a loopback host ([`check_credential_url`]).
//! - **No special-purpose addresses.** A feed (and every redirect it follows) may not reach
//!   loopback, link-local (169.254.0.0/16, fe80::/10), unspecified, multicast or cloud
//!   metadata addresses (169.254.169.254, fd00:ec2::254, metadata.google.internal) unless
//!   the feed lists the address in `allow_addresses` ([`AddressPolicy`]). Private ranges
//!   (10/8, 172.16/12, 192.168/16, fc00::/7 other than the metadata address) are allowed:
//!   internal mirrors of feeds are common.
//!
//! The check runs twice: on the URL's host before the request (its literal address, its
//! name, and every address it resolves to), and inside the HTTP client's resolver
//! ([`GuardResolver`]), whose addresses are the ones the client then connects to; a name
//! that resolves to a public address for the first check and to 169.254.169.254 for the
//! second (DNS rebinding) is refused by the second. Through an HTTP proxy (`HTTPS_PROXY`)
//! the client resolves the proxy, not the target: then only the first check applies, and a
//! target's DNS can change between the check and the proxy's own lookup.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// A URL or an address refused by the rules above, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

pub type Result<T, E = Refused> = std::result::Result<T, E>;

macro_rules! bail {
    ($($t:tt)*) => { return Err(Refused(format!($($t)*))) };
}

/// Host names of cloud metadata services, refused whatever they resolve to.
const METADATA_NAMES: &[&str] = &[
    "metadata.google.internal",
    "metadata.goog",
    "metadata",
    "instance-data",
    "instance-data.ec2.internal",
];

/// The scheme of `url`, lower case, when it has one.
pub fn scheme(url: &str) -> Option<String> {
    url.split_once("://").map(|(s, _)| s.to_ascii_lowercase())
}

/// `key` (a setting's name, e.g. `[[feeds]] kev: url`) holds an http(s) URL with a host.
pub fn check_scheme(url: &str, key: &str) -> Result<()> {
    let shown = ctem_model::redact::url(url);
    match scheme(url).as_deref() {
        Some("http" | "https") => {}
        Some(other) => {
            bail!("{key}: {shown}: the {other} scheme is not supported, use an https:// URL")
        }
        None => bail!("{key}: {shown}: not a URL, use an https:// URL"),
    }
    if host(url).is_none_or(str::is_empty) {
        bail!("{key}: {shown}: the URL has no host");
    }
    Ok(())
}

/// `key` holds a URL that a credential is sent to (or that is one): https, or http to a
/// loopback host when `allow_insecure_http` is set.
pub fn check_credential_url(url: &str, key: &str, allow_insecure_http: bool) -> Result<()> {
    check_scheme(url, key)?;
    if scheme(url).as_deref() == Some("https") {
        return Ok(());
    }
    let shown = ctem_model::redact::url(url);
    if !allow_insecure_http {
        bail!(
            "{key}: {shown}: credentials are sent only over https \
             (allow_insecure_http = true permits http to a loopback host)"
        );
    }
    if !host(url).is_some_and(is_loopback_host) {
        bail!(
            "{key}: {shown}: allow_insecure_http permits http only to a loopback host \
             (127.0.0.1, ::1, localhost)"
        );
    }
    Ok(())
}

/// The host of a URL (no user info, port or brackets), lower case.
pub fn host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = hostport.strip_prefix('[') {
        return v6.split_once(']').map(|(h, _)| h);
    }
    Some(hostport.split_once(':').map_or(hostport, |(h, _)| h))
}

fn is_loopback_host(h: &str) -> bool {
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<IpAddr>()
            .is_ok_and(|ip| canonical(ip).is_loopback())
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// An address or a CIDR block of `allow_addresses`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    pub fn parse(s: &str) -> Result<Net> {
        let (a, p) = s.split_once('/').map_or((s, None), |(a, p)| (a, Some(p)));
        let addr: IpAddr = a
            .trim()
            .parse()
            .map_err(|_| Refused(format!("{s:?} is not an IP address or CIDR block")))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| Refused(format!("{s:?}: prefix length must be 0-{max}")))?,
        };
        Ok(Net {
            addr: canonical(addr),
            prefix,
        })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let bits = |ip: IpAddr| -> u128 {
            match ip {
                IpAddr::V4(v4) => u128::from(u32::from(v4)) << 96,
                IpAddr::V6(v6) => u128::from(v6),
            }
        };
        if self.addr.is_ipv4() != ip.is_ipv4() {
            return false;
        }
        // an IPv4 address sits in the top 32 bits, so both families mask from the top
        let shift = 128 - u32::from(self.prefix);
        let mask = if shift >= 128 { 0 } else { u128::MAX << shift };
        bits(self.addr) & mask == bits(ip) & mask
    }
}

/// Which addresses a request may connect to.
#[derive(Debug, Clone, Default)]
pub struct AddressPolicy {
    /// Special-purpose addresses allowed anyway (`allow_addresses`).
    pub allow: Vec<Net>,
}

impl AddressPolicy {
    /// Why `ip` is refused, or `None` when it may be reached.
    pub fn refusal(&self, ip: IpAddr) -> Option<&'static str> {
        let ip = canonical(ip);
        let why = special(ip)?;
        if self.allow.iter().any(|n| n.contains(ip)) {
            return None;
        }
        Some(why)
    }

    /// Checks a URL's host before any request: a metadata name, or any address the name
    /// resolves to, refuses the whole URL.
    pub fn check_url(&self, url: &str) -> Result<()> {
        let shown = ctem_model::redact::url(url);
        let Some(h) = host(url).filter(|h| !h.is_empty()) else {
            bail!("{shown}: the URL has no host");
        };
        let name = h.trim_end_matches('.').to_ascii_lowercase();
        if METADATA_NAMES.contains(&name.as_str()) {
            bail!("{shown}: refused: {name} is a cloud metadata service");
        }
        let ips: Vec<IpAddr> = match name.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            // unresolvable: the request itself will say so
            Err(_) => (name.as_str(), 0)
                .to_socket_addrs()
                .map(|a| a.map(|s| s.ip()).collect())
                .unwrap_or_default(),
        };
        for ip in ips {
            if let Some(why) = self.refusal(ip) {
                bail!("{shown}: refused: {h} is {ip}, {why} (allow it with allow_addresses)");
            }
        }
        Ok(())
    }
}

/// The kind of special-purpose address `ip` is, if it is one.
fn special(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => {
            if v4 == Ipv4Addr::new(169, 254, 169, 254) {
                Some("a cloud metadata address")
            } else if v4.is_loopback() {
                Some("a loopback address")
            } else if v4.is_link_local() {
                Some("a link-local address")
            } else if v4.is_unspecified() || v4.octets()[0] == 0 {
                Some("an unspecified address")
            } else if v4.is_multicast() || v4.is_broadcast() {
                Some("a multicast or broadcast address")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            let seg = v6.segments();
            if v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
                Some("a cloud metadata address")
            } else if v6.is_loopback() {
                Some("a loopback address")
            } else if seg[0] & 0xffc0 == 0xfe80 {
                Some("a link-local address")
            } else if v6.is_unspecified() {
                Some("an unspecified address")
            } else if v6.is_multicast() {
                Some("a multicast or broadcast address")
            } else {
                None
            }
        }
    }
}

/// ureq's resolver, refusing special-purpose addresses: the addresses it returns are the
/// ones the client connects to, so the check holds even when DNS answers change.
#[derive(Debug)]
pub struct GuardResolver {
    pub policy: Arc<AddressPolicy>,
}

impl Resolver for GuardResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let addrs = DefaultResolver::default().resolve(uri, config, timeout)?;
        // the configured proxy (often on loopback) is the operator's choice, not a target
        if config
            .proxy()
            .is_some_and(|p| uri.host().is_some_and(|h| h.eq_ignore_ascii_case(p.host())))
        {
            return Ok(addrs);
        }
        for a in addrs.iter() {
            let a: &SocketAddr = a;
            if let Some(why) = self.policy.refusal(a.ip()) {
                return Err(ureq::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    format!("refused to connect to {}: {why}", a.ip()),
                )));
            }
        }
        Ok(addrs)
    }
}

/// An agent whose every connection goes through [`GuardResolver`].
pub fn guarded_agent(config: ureq::config::Config, policy: Arc<AddressPolicy>) -> ureq::Agent {
    ureq::Agent::with_parts(
        config,
        ureq::unversioned::transport::DefaultConnector::new(),
        GuardResolver { policy },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn special_addresses_are_refused_unless_allowed() {
        let p = AddressPolicy::default();
        for a in [
            "169.254.169.254",
            "169.254.1.1",
            "127.0.0.1",
            "127.0.0.2",
            "0.0.0.0",
            "::1",
            "::",
            "fe80::1",
            "febf::1",
            "fd00:ec2::254",
            "::ffff:169.254.169.254",
            "::ffff:127.0.0.1",
            "224.0.0.1",
        ] {
            assert!(p.refusal(ip(a)).is_some(), "{a} must be refused");
        }
        for a in [
            "93.184.216.34",
            "10.1.2.3",
            "192.168.1.1",
            "fd00::1",
            "2606:4700::1",
        ] {
            assert_eq!(p.refusal(ip(a)), None, "{a} must be allowed");
        }
        let p = AddressPolicy {
            allow: vec![
                Net::parse("127.0.0.1").unwrap(),
                Net::parse("fe80::/64").unwrap(),
            ],
        };
        assert_eq!(p.refusal(ip("127.0.0.1")), None);
        assert_eq!(p.refusal(ip("::ffff:127.0.0.1")), None);
        assert!(
            p.refusal(ip("127.0.0.2")).is_some(),
            "only the listed address"
        );
        assert_eq!(p.refusal(ip("fe80::1")), None);
        assert!(p.refusal(ip("fe80:0:0:1::1")).is_some());
        assert!(p.refusal(ip("169.254.169.254")).is_some());
        assert!(Net::parse("10.0.0.0/33").is_err());
        assert!(Net::parse("localhost").is_err());
        assert!(
            Net::parse("169.254.0.0/16")
                .unwrap()
                .contains(ip("169.254.169.254"))
        );
        assert!(Net::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
    }

    #[test]
    fn metadata_names_and_literals_are_refused_before_any_request() {
        let p = AddressPolicy::default();
        for u in [
            "http://metadata.google.internal/computeMetadata/v1/",
            "http://METADATA.google.internal./x",
            "http://169.254.169.254/latest/meta-data/",
            "http://[fd00:ec2::254]/latest",
            "http://[::ffff:a9fe:a9fe]/",
            "http://0.0.0.0:8080/",
            "http://localhost:1/x",
        ] {
            let e = p.check_url(u).expect_err(u).to_string();
            assert!(e.contains("refused"), "{u}: {e}");
        }
        assert!(p.check_url("https://93.184.216.34/x").is_ok());
    }

    #[test]
    fn schemes_and_credentials() {
        for u in [
            "file:///etc/passwd",
            "ftp://h/x",
            "gopher://h/",
            "h/x",
            "https:///x",
        ] {
            let e = check_scheme(u, "[[feeds]] kev: url")
                .expect_err(u)
                .to_string();
            assert!(e.starts_with("[[feeds]] kev: url: "), "{e}");
        }
        assert!(check_scheme("HTTPS://h/x", "k").is_ok());
        let key = "[[risk.integrations]] jira: base_url";
        assert!(check_credential_url("https://x.atlassian.net", key, false).is_ok());
        let e = check_credential_url("http://jira.example", key, false).unwrap_err();
        assert!(e.to_string().contains("only over https"), "{e}");
        let e = check_credential_url("http://jira.example", key, true).unwrap_err();
        assert!(e.to_string().contains("loopback"), "{e}");
        for u in [
            "http://127.0.0.1:8080",
            "http://[::1]:1/x",
            "http://localhost/",
        ] {
            assert!(check_credential_url(u, key, true).is_ok(), "{u}");
        }
        // the message never repeats a secret of the URL
        let e = check_credential_url("http://hooks.slack.com/services/T0/B0/sekrit", key, false)
            .unwrap_err()
            .to_string();
        assert!(!e.contains("sekrit"), "{e}");
    }

    /// The resolver refuses on its own, without the URL check before it: what the client
    /// connects to is what was checked (a name whose DNS answer changes after the first
    /// check still meets this one).
    #[test]
    fn the_client_resolver_refuses_what_it_would_connect_to() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        let config = ureq::Agent::config_builder().proxy(None).build();
        let agent = guarded_agent(config.clone(), Arc::new(AddressPolicy::default()));
        let e = agent
            .get(&format!("http://localhost:{port}/"))
            .call()
            .expect_err("refused")
            .to_string();
        assert!(
            e.contains("refused to connect to") && e.contains("loopback"),
            "{e}"
        );
        // allowed: the request reaches the listener (which then hangs up)
        let allow = AddressPolicy {
            allow: vec![
                Net::parse("127.0.0.0/8").unwrap(),
                Net::parse("::1").unwrap(),
            ],
        };
        let agent = guarded_agent(config, Arc::new(allow));
        std::thread::spawn(move || {
            let _ = l.accept();
        });
        let e = agent
            .get(&format!("http://127.0.0.1:{port}/"))
            .call()
            .map(|_| String::new())
            .unwrap_or_else(|e| e.to_string());
        assert!(!e.contains("refused to connect to"), "{e}");
    }

    #[test]
    fn hosts() {
        assert_eq!(host("https://u:p@H.example:8443/x?y"), Some("H.example"));
        assert_eq!(host("http://[::1]:80/"), Some("::1"));
        assert_eq!(host("http://h"), Some("h"));
        assert_eq!(host("h"), None);
    }
}
