//! Assets, their identifiers and the services they expose.

use serde::{Deserialize, Serialize};

/// What an asset is. The kind decides which identifiers make sense for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssetKind {
    Host,
    ContainerImage,
    CloudResource,
    Repository,
    Application,
    Identity,
}

impl AssetKind {
    pub const ALL: [AssetKind; 6] = [
        AssetKind::Host,
        AssetKind::ContainerImage,
        AssetKind::CloudResource,
        AssetKind::Repository,
        AssetKind::Application,
        AssetKind::Identity,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AssetKind::Host => "host",
            AssetKind::ContainerImage => "container_image",
            AssetKind::CloudResource => "cloud_resource",
            AssetKind::Repository => "repository",
            AssetKind::Application => "application",
            AssetKind::Identity => "identity",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// The kind of an asset identifier, ordered by how strongly it names one asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentifierKind {
    /// A cloud provider's resource id (ARN, Azure resource id, GCP self link, k8s uid path).
    CloudId,
    /// A content digest of a container image (`sha256:...`).
    ImageDigest,
    /// The URL of a source repository.
    RepoUrl,
    /// A hardware address.
    Mac,
    /// A fully qualified domain name.
    Fqdn,
    /// A container image reference (`registry/name:tag`).
    ImageRef,
    /// An IPv4 address.
    Ipv4,
    /// An IPv6 address.
    Ipv6,
    /// A short host name (NetBIOS or unqualified).
    Hostname,
    /// A path or name a scanner used for a target it gives no better name (filesystem scan
    /// root, SARIF run), kept so re-imports find the same asset.
    Name,
}

impl IdentifierKind {
    pub const ALL: [IdentifierKind; 10] = [
        IdentifierKind::CloudId,
        IdentifierKind::ImageDigest,
        IdentifierKind::RepoUrl,
        IdentifierKind::Mac,
        IdentifierKind::Fqdn,
        IdentifierKind::ImageRef,
        IdentifierKind::Ipv4,
        IdentifierKind::Ipv6,
        IdentifierKind::Hostname,
        IdentifierKind::Name,
    ];

    /// Higher is stronger. Asset resolution tries identifiers from the strongest down and the
    /// first one that names a stored asset decides (see docs/data-model.md).
    pub fn strength(self) -> u8 {
        match self {
            IdentifierKind::CloudId => 100,
            IdentifierKind::ImageDigest => 95,
            IdentifierKind::RepoUrl => 90,
            IdentifierKind::Mac => 80,
            IdentifierKind::Fqdn => 70,
            IdentifierKind::ImageRef => 60,
            IdentifierKind::Ipv4 | IdentifierKind::Ipv6 => 50,
            IdentifierKind::Hostname => 40,
            IdentifierKind::Name => 10,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            IdentifierKind::CloudId => "cloud_id",
            IdentifierKind::ImageDigest => "image_digest",
            IdentifierKind::RepoUrl => "repo_url",
            IdentifierKind::Mac => "mac",
            IdentifierKind::Fqdn => "fqdn",
            IdentifierKind::ImageRef => "image_ref",
            IdentifierKind::Ipv4 => "ipv4",
            IdentifierKind::Ipv6 => "ipv6",
            IdentifierKind::Hostname => "hostname",
            IdentifierKind::Name => "name",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One identifier of an asset. Values are normalised by [`Identifier::new`] so that the same
/// host reported by two tools compares equal (lower case names and MACs, no trailing dot).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Identifier {
    pub kind: IdentifierKind,
    pub value: String,
}

impl Identifier {
    pub fn new(kind: IdentifierKind, value: &str) -> Self {
        let v = value.trim();
        let value = match kind {
            IdentifierKind::Fqdn | IdentifierKind::Hostname => {
                v.trim_end_matches('.').to_ascii_lowercase()
            }
            IdentifierKind::Mac => v.to_ascii_lowercase().replace('-', ":"),
            IdentifierKind::Ipv6 | IdentifierKind::ImageDigest => v.to_ascii_lowercase(),
            IdentifierKind::RepoUrl => v.trim_end_matches('/').trim_end_matches(".git").to_string(),
            _ => v.to_string(),
        };
        Identifier { kind, value }
    }

    /// A host name: an FQDN when it has a dot, else a short host name; an IP literal becomes
    /// an address identifier.
    pub fn host_name(value: &str) -> Self {
        let v = value.trim();
        if v.parse::<std::net::Ipv4Addr>().is_ok() {
            Identifier::new(IdentifierKind::Ipv4, v)
        } else if v.parse::<std::net::Ipv6Addr>().is_ok() {
            Identifier::new(IdentifierKind::Ipv6, v)
        } else if v.trim_end_matches('.').contains('.') {
            Identifier::new(IdentifierKind::Fqdn, v)
        } else {
            Identifier::new(IdentifierKind::Hostname, v)
        }
    }

    /// Whether this identifier names no one host across networks: a loopback, link-local
    /// or unspecified address (`127.0.0.1`, `::1`, `169.254.x.x`, `fe80::`, `0.0.0.0`), or the
    /// host name `localhost`. Every machine has one, so the store never merges assets of
    /// different sources on it.
    pub fn is_local(&self) -> bool {
        match self.kind {
            IdentifierKind::Ipv4 => self
                .value
                .parse::<std::net::Ipv4Addr>()
                .is_ok_and(|a| a.is_loopback() || a.is_link_local() || a.is_unspecified()),
            IdentifierKind::Ipv6 => self.value.parse::<std::net::Ipv6Addr>().is_ok_and(|a| {
                a.is_loopback() || a.is_unspecified() || (a.segments()[0] & 0xffc0) == 0xfe80
            }),
            IdentifierKind::Hostname | IdentifierKind::Fqdn => {
                self.value == "localhost" || self.value.starts_with("localhost.")
            }
            _ => false,
        }
    }

    /// An IP address of either family; `None` when `value` is not an address.
    pub fn ip(value: &str) -> Option<Self> {
        let v = value.trim();
        if v.parse::<std::net::Ipv4Addr>().is_ok() {
            Some(Identifier::new(IdentifierKind::Ipv4, v))
        } else if v.parse::<std::net::Ipv6Addr>().is_ok() {
            Some(Identifier::new(IdentifierKind::Ipv6, v))
        } else {
            None
        }
    }
}

/// Something that can be attacked and that somebody owns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Asset {
    /// Store id; `None` until stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    pub kind: AssetKind,
    /// Display name: the best identifier a human recognises.
    pub name: String,
    pub identifiers: Vec<Identifier>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_team: Option<String>,
    /// Business criticality, 1 (lowest) to 5 (crown jewel).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub criticality: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internet_facing: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// Operating system or base image as a scanner reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    /// Deployment environment (`production`, `staging`...) as an inventory states it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
}

impl Asset {
    pub fn new(kind: AssetKind, name: impl Into<String>) -> Self {
        Asset {
            id: None,
            kind,
            name: name.into(),
            identifiers: Vec::new(),
            tags: Vec::new(),
            owner_team: None,
            criticality: None,
            internet_facing: None,
            zone: None,
            os: None,
            environment: None,
        }
    }

    /// Adds an identifier unless it is already there.
    pub fn add_identifier(&mut self, id: Identifier) {
        if !id.value.is_empty() && !self.identifiers.contains(&id) {
            self.identifiers.push(id);
        }
    }

    pub fn with_identifier(mut self, id: Identifier) -> Self {
        self.add_identifier(id);
        self
    }

    /// Identifiers sorted strongest first.
    pub fn identifiers_by_strength(&self) -> Vec<&Identifier> {
        let mut v: Vec<&Identifier> = self.identifiers.iter().collect();
        v.sort_by(|a, b| b.kind.strength().cmp(&a.kind.strength()).then(a.cmp(b)));
        v
    }
}

/// A network service an asset exposes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    /// `tcp`, `udp` or `sctp`.
    pub protocol: String,
    pub port: u16,
    /// `open`, `filtered`, `closed` as the scanner said; only open services are exposures.
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cpe: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_normalise_case_and_separators() {
        assert_eq!(
            Identifier::new(IdentifierKind::Mac, "00-1A-2b-3C-4d-5E").value,
            "00:1a:2b:3c:4d:5e"
        );
        assert_eq!(
            Identifier::new(IdentifierKind::Fqdn, "Web01.Example.COM.").value,
            "web01.example.com"
        );
        assert_eq!(Identifier::host_name("10.0.0.1").kind, IdentifierKind::Ipv4);
        assert_eq!(Identifier::host_name("::1").kind, IdentifierKind::Ipv6);
        assert_eq!(
            Identifier::host_name("web01").kind,
            IdentifierKind::Hostname
        );
        assert_eq!(
            Identifier::host_name("web01.corp").kind,
            IdentifierKind::Fqdn
        );
    }

    #[test]
    fn local_addresses_and_localhost_are_local() {
        for (kind, v) in [
            (IdentifierKind::Ipv4, "127.0.0.1"),
            (IdentifierKind::Ipv4, "127.10.0.1"),
            (IdentifierKind::Ipv4, "169.254.169.254"),
            (IdentifierKind::Ipv4, "0.0.0.0"),
            (IdentifierKind::Ipv6, "::1"),
            (IdentifierKind::Ipv6, "fe80::1ff:fe23:4567:890a"),
            (IdentifierKind::Ipv6, "::"),
            (IdentifierKind::Hostname, "localhost"),
            (IdentifierKind::Fqdn, "localhost.localdomain"),
        ] {
            assert!(Identifier::new(kind, v).is_local(), "{v}");
        }
        for (kind, v) in [
            (IdentifierKind::Ipv4, "10.0.0.1"),
            (IdentifierKind::Ipv4, "44.228.249.3"),
            (IdentifierKind::Ipv6, "2001:db8::1"),
            (IdentifierKind::Hostname, "web01"),
            (IdentifierKind::Mac, "00:00:00:00:00:00"),
        ] {
            assert!(!Identifier::new(kind, v).is_local(), "{v}");
        }
    }

    #[test]
    fn strongest_identifier_comes_first() {
        let a = Asset::new(AssetKind::Host, "h")
            .with_identifier(Identifier::new(IdentifierKind::Ipv4, "10.0.0.1"))
            .with_identifier(Identifier::new(IdentifierKind::Mac, "aa:bb:cc:dd:ee:ff"))
            .with_identifier(Identifier::new(IdentifierKind::Fqdn, "h.example"));
        let kinds: Vec<_> = a.identifiers_by_strength().iter().map(|i| i.kind).collect();
        assert_eq!(
            kinds,
            vec![
                IdentifierKind::Mac,
                IdentifierKind::Fqdn,
                IdentifierKind::Ipv4
            ]
        );
    }

    #[test]
    fn kind_names_round_trip() {
        for k in AssetKind::ALL {
            assert_eq!(AssetKind::parse(k.as_str()), Some(k));
        }
        for k in IdentifierKind::ALL {
            assert_eq!(IdentifierKind::parse(k.as_str()), Some(k));
        }
    }
}
