//! The egress policy: which URLs fedgate may fetch (OpenID discovery and JWKS, later metadata
//! URLs) and which it may send a browser to (identity providers' sign-in endpoints). Pure: it
//! judges URL text and addresses; resolving names and connecting belong to `upstream`, whose
//! resolver asks this module about every address before a connection is made to it.
//!
//! Every URL: `https`, or `http` only for the literal loopback hosts `127.0.0.1`, `[::1]` and
//! `localhost` (not `127.0.0.2`, not a name that resolves to loopback); no credentials; the host
//! written as a URL parser writes it back, so `2130706433`, `0x7f.1`, `0177.0.0.1` or
//! `[::ffff:169.254.169.254]` cannot pass for something else.
//!
//! URLs fedgate fetches, in addition: no address in a refused range (private, carrier-grade NAT,
//! loopback, link-local with the cloud metadata services, unique-local, documentation,
//! benchmarking, deprecated transition ranges; IPv4 embedded in IPv6 is judged as IPv4) unless
//! the operator's allow-list (`[egress] allow`) names the range or the host; loopback included,
//! so a tenant admin cannot aim fedgate at services on its own host. Unspecified,
//! multicast and broadcast addresses are refused even then: no server lives there. Browser
//! targets are not judged by address: a person's browser may well reach an intranet IdP.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::Url;

/// Why a URL or an address is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EgressError {
    #[error("must be an absolute http(s) URL with a host")]
    NotAUrl,
    #[error("must not carry credentials (user@host)")]
    Credentials,
    #[error("writes its host as {written:?}, which means {means}: write the host plainly")]
    Spelling { written: String, means: String },
    #[error("must use https (http only for 127.0.0.1, [::1] or localhost)")]
    Scheme,
    #[error("{host} is {addr}, a {range} address fedgate does not fetch from unless [egress] allow lists it")]
    Address {
        host: String,
        addr: IpAddr,
        range: &'static str,
    },
    #[error("{host} resolves only to addresses fedgate does not fetch from: {refused:?}")]
    NoPermittedAddress { host: String, refused: Vec<IpAddr> },
    #[error("{host} is loopback, which a document fetched from elsewhere may not point at")]
    LoopbackFromRemote { host: String },
}

/// A URL that passed the rules, as the HTTP client will read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedUrl {
    url: Url,
    literal_loopback: bool,
}

impl CheckedUrl {
    pub fn url(&self) -> &Url {
        &self.url
    }

    pub fn host(&self) -> &str {
        self.url.host_str().unwrap_or_default()
    }

    /// Whether the host is `127.0.0.1`, `[::1]` or `localhost`, as written.
    pub fn is_literal_loopback(&self) -> bool {
        self.literal_loopback
    }
}

/// A refused range: its name, and whether even the allow-list cannot open it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub name: &'static str,
    pub never: bool,
}

const fn range(name: &'static str) -> Range {
    Range { name, never: false }
}

const fn never(name: &'static str) -> Range {
    Range { name, never: true }
}

/// IPv4 ranges refused (RFC 6890 special-purpose registry, the parts that are not the public
/// internet), with their prefix lengths.
const V4_REFUSED: &[([u8; 4], u8, Range)] = &[
    ([0, 0, 0, 0], 8, never("unspecified")),
    ([10, 0, 0, 0], 8, range("private (RFC 1918)")),
    ([100, 64, 0, 0], 10, range("carrier-grade NAT")),
    ([127, 0, 0, 0], 8, range("loopback")),
    ([169, 254, 0, 0], 16, range("link-local (cloud metadata)")),
    ([172, 16, 0, 0], 12, range("private (RFC 1918)")),
    ([192, 0, 0, 0], 24, range("IETF protocol assignment")),
    ([192, 0, 2, 0], 24, range("documentation")),
    ([192, 88, 99, 0], 24, range("6to4 relay")),
    ([192, 168, 0, 0], 16, range("private (RFC 1918)")),
    ([198, 18, 0, 0], 15, range("benchmarking")),
    ([198, 51, 100, 0], 24, range("documentation")),
    ([203, 0, 113, 0], 24, range("documentation")),
    ([224, 0, 0, 0], 4, never("multicast")),
    ([240, 0, 0, 0], 4, never("reserved or broadcast")),
];

/// IPv6 ranges refused outright. IPv4-mapped, IPv4-compatible, SIIT and NAT64 well-known
/// prefix addresses are judged by the IPv4 address they carry (`embedded_v4`) instead.
const V6_REFUSED: &[(u128, u8, Range)] = &[
    (0, 128, never("unspecified")),
    (1, 128, range("loopback")),
    (0x0064_ff9b_0001 << 80, 48, range("local-use NAT64")),
    (0x0100 << 112, 64, range("discard-only")),
    // Teredo, benchmarking, ORCHID and other protocol assignments.
    (0x2001 << 112, 23, range("IETF protocol assignment")),
    (0x2001_0db8 << 96, 32, range("documentation")),
    (0x2002 << 112, 16, range("6to4")),
    (0x3fff << 112, 20, range("documentation")),
    (0x5f00 << 112, 16, range("segment routing")),
    // fd00:ec2::254 (AWS metadata) is in here.
    (0xfc00 << 112, 7, range("unique-local")),
    (0xfe80 << 112, 10, range("link-local")),
    (0xfec0 << 112, 10, range("site-local")),
    (0xff00 << 112, 8, never("multicast")),
];

fn v4_in(ip: Ipv4Addr, net: u32, len: u8) -> bool {
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len)) };
    u32::from(ip) & mask == net & mask
}

fn v6_in(ip: Ipv6Addr, net: u128, len: u8) -> bool {
    let mask = if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len))
    };
    u128::from(ip) & mask == net & mask
}

/// The IPv4 address an IPv6 address stands for: IPv4-mapped (`::ffff:a.b.c.d`),
/// IPv4-compatible (`::a.b.c.d`, deprecated), SIIT (`::ffff:0:a.b.c.d`) and the NAT64
/// well-known prefix (`64:ff9b::a.b.c.d`).
pub fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = u128::from(ip);
    let low = Ipv4Addr::from((bits & 0xffff_ffff) as u32);
    let carrying = v6_in(ip, 0xffff << 32, 96)
        || (v6_in(ip, 0, 96) && bits > 1)
        || v6_in(ip, 0xffff << 48, 96)
        || v6_in(ip, 0x0064_ff9b << 96, 96);
    carrying.then_some(low)
}

/// Why fedgate does not fetch from `ip`, or `None` for a public unicast address.
pub fn refused_range(ip: IpAddr) -> Option<Range> {
    match ip {
        IpAddr::V4(v4) => V4_REFUSED
            .iter()
            .find(|(net, len, _)| v4_in(v4, u32::from_be_bytes(*net), *len))
            .map(|(_, _, r)| *r),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => refused_range(IpAddr::V4(v4)),
            None => V6_REFUSED
                .iter()
                .find(|(net, len, _)| v6_in(v6, *net, *len))
                .map(|(_, _, r)| *r),
        },
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Net {
    V4(u32, u8),
    V6(u128, u8),
}

impl Net {
    fn contains(&self, ip: IpAddr) -> bool {
        match (self, ip) {
            (Net::V4(net, len), IpAddr::V4(v4)) => v4_in(v4, *net, *len),
            (Net::V6(net, len), IpAddr::V6(v6)) => v6_in(v6, *net, *len),
            (Net::V4(..), IpAddr::V6(v6)) => embedded_v4(v6).is_some_and(|v4| self.contains(IpAddr::V4(v4))),
            (Net::V6(..), IpAddr::V4(_)) => false,
        }
    }
}

/// The operator's exceptions to the refused ranges: CIDR ranges (or single addresses) and exact
/// host names. Empty by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EgressPolicy {
    nets: Vec<Net>,
    hosts: Vec<String>,
}

/// `127.0.0.1`, `[::1]` or `localhost`: the hosts that may be spoken to over http (once the
/// allow-list opens loopback).
fn literal_loopback_host(host: &str) -> bool {
    matches!(host, "127.0.0.1" | "[::1]" | "localhost")
}

impl EgressPolicy {
    /// Parses allow-list entries: `10.20.0.0/16`, `fd12::/48`, `192.0.2.7` or a host name.
    pub fn new(entries: &[String]) -> Result<EgressPolicy, String> {
        let mut policy = EgressPolicy::default();
        for entry in entries {
            let entry = entry.trim();
            let (addr, len) = match entry.split_once('/') {
                Some((a, l)) => (a, Some(l)),
                None => (entry, None),
            };
            if let Ok(ip) = addr.parse::<IpAddr>() {
                let max = if ip.is_ipv4() { 32 } else { 128 };
                let len = match len {
                    None => max,
                    Some(l) => l
                        .parse::<u8>()
                        .ok()
                        .filter(|l| *l <= max)
                        .ok_or_else(|| format!("{entry:?}: the prefix length must be 0-{max}"))?,
                };
                policy.nets.push(match ip {
                    IpAddr::V4(v4) => Net::V4(u32::from(v4), len),
                    IpAddr::V6(v6) => Net::V6(u128::from(v6), len),
                });
                continue;
            }
            let name = entry.to_ascii_lowercase();
            let valid_name = len.is_none()
                && !name.is_empty()
                && name.len() <= 253
                && name.split('.').all(|l| {
                    !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                });
            if !valid_name {
                return Err(format!("{entry:?} is neither an address range nor a host name"));
            }
            policy.hosts.push(name);
        }
        Ok(policy)
    }

    /// Whether fedgate may connect to `ip` for `host` (a name, or an address as a URL writes
    /// it).
    pub fn permits(&self, host: &str, ip: IpAddr) -> Result<(), EgressError> {
        let Some(range) = refused_range(ip) else {
            return Ok(());
        };
        // Loopback too needs the operator's word: any tenant admin can write an issuer URL,
        // and fedgate's own host runs services that were never meant to be reachable.
        let allowed = !range.never
            && (self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) || self.nets.iter().any(|n| n.contains(ip)));
        if allowed {
            Ok(())
        } else {
            Err(EgressError::Address {
                host: host.to_string(),
                addr: ip,
                range: range.name,
            })
        }
    }

    /// A URL fedgate may fetch: the URL rules, and an address written in it must be permitted
    /// (a name is judged by its addresses when the connection is made).
    pub fn check_fetch(&self, text: &str) -> Result<CheckedUrl, EgressError> {
        let checked = check_url(text)?;
        let ip = match checked.url.host() {
            Some(url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
            Some(url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
            _ => None,
        };
        if let Some(ip) = ip {
            self.permits(checked.host(), ip)?;
        }
        Ok(checked)
    }

    /// A URL named by a document fetched from `from` (a discovery document's `jwks_uri`): as
    /// [`check_fetch`](Self::check_fetch), and it may point at loopback only if `from` is
    /// loopback itself, so a remote provider cannot aim fedgate at its own host.
    pub fn check_fetch_named_by(&self, text: &str, from: &CheckedUrl) -> Result<CheckedUrl, EgressError> {
        let checked = self.check_fetch(text)?;
        if checked.literal_loopback && !from.literal_loopback {
            return Err(EgressError::LoopbackFromRemote {
                host: checked.host().to_string(),
            });
        }
        Ok(checked)
    }
}

/// The rules every URL follows, whether fedgate fetches it or sends a browser to it (an IdP's
/// sign-in endpoint): absolute http(s), no credentials, the host written plainly, https unless
/// the host is a literal loopback one.
pub fn check_url(text: &str) -> Result<CheckedUrl, EgressError> {
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(EgressError::NotAUrl);
    }
    let after_scheme = ["https://", "http://"]
        .iter()
        .find(|p| text.len() >= p.len() && text[..p.len()].eq_ignore_ascii_case(p))
        .map(|p| &text[p.len()..])
        .ok_or(EgressError::NotAUrl)?;
    // The authority as written; a WHATWG parser also ends it at a backslash.
    let authority = after_scheme.split(['/', '\\', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(EgressError::Credentials);
    }
    let url = Url::parse(text).map_err(|_| EgressError::NotAUrl)?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(EgressError::Credentials);
    }
    let host = url.host_str().filter(|h| !h.is_empty()).ok_or(EgressError::NotAUrl)?;
    let written = if authority.starts_with('[') {
        authority.find(']').map(|end| &authority[..=end]).unwrap_or(authority)
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    if !written.eq_ignore_ascii_case(host) {
        return Err(EgressError::Spelling {
            written: written.to_string(),
            means: host.to_string(),
        });
    }
    let literal_loopback = literal_loopback_host(host);
    match url.scheme() {
        "https" => {}
        "http" if literal_loopback => {}
        _ => return Err(EgressError::Scheme),
    }
    Ok(CheckedUrl { url, literal_loopback })
}

/// Whether a resolver should answer `host` itself: `localhost` is loopback by definition
/// (RFC 6761), whatever a DNS server says.
pub fn is_localhost(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn address_ranges() {
        let cases: &[(&str, Option<&str>)] = &[
            ("8.8.8.8", None),
            ("1.1.1.1", None),
            ("2606:4700:4700::1111", None),
            ("64:ff9b::808:808", None),
            ("0.0.0.0", Some("unspecified")),
            ("10.1.2.3", Some("private (RFC 1918)")),
            ("172.16.0.1", Some("private (RFC 1918)")),
            ("172.31.255.255", Some("private (RFC 1918)")),
            ("172.32.0.1", None),
            ("192.168.1.1", Some("private (RFC 1918)")),
            ("100.64.0.1", Some("carrier-grade NAT")),
            ("100.127.255.255", Some("carrier-grade NAT")),
            ("100.128.0.1", None),
            ("127.0.0.1", Some("loopback")),
            ("127.255.255.254", Some("loopback")),
            ("169.254.169.254", Some("link-local (cloud metadata)")),
            ("192.0.0.192", Some("IETF protocol assignment")),
            ("192.0.2.1", Some("documentation")),
            ("198.51.100.1", Some("documentation")),
            ("203.0.113.1", Some("documentation")),
            ("198.18.0.1", Some("benchmarking")),
            ("198.19.255.255", Some("benchmarking")),
            ("224.0.0.1", Some("multicast")),
            ("255.255.255.255", Some("reserved or broadcast")),
            ("::", Some("unspecified")),
            ("::1", Some("loopback")),
            ("::ffff:169.254.169.254", Some("link-local (cloud metadata)")),
            ("::ffff:127.0.0.1", Some("loopback")),
            ("::ffff:10.0.0.1", Some("private (RFC 1918)")),
            ("::ffff:8.8.8.8", None),
            ("::10.0.0.1", Some("private (RFC 1918)")),
            ("::ffff:0:a9fe:a9fe", Some("link-local (cloud metadata)")),
            ("64:ff9b::a9fe:a9fe", Some("link-local (cloud metadata)")),
            ("64:ff9b::7f00:1", Some("loopback")),
            ("64:ff9b:1::1", Some("local-use NAT64")),
            ("100::1", Some("discard-only")),
            ("2001::1", Some("IETF protocol assignment")),
            ("2001:db8::1", Some("documentation")),
            ("2002:a9fe:a9fe::1", Some("6to4")),
            ("3fff::1", Some("documentation")),
            ("fd00:ec2::254", Some("unique-local")),
            ("fc00::1", Some("unique-local")),
            ("fe80::1", Some("link-local")),
            ("fec0::1", Some("site-local")),
            ("ff02::1", Some("multicast")),
        ];
        for (text, want) in cases {
            assert_eq!(refused_range(ip(text)).map(|r| r.name), *want, "{text}");
        }
    }

    #[test]
    fn allow_list_opens_ranges_but_never_the_unroutable() {
        let policy = EgressPolicy::new(&[
            "10.20.0.0/16".into(),
            "fd12:3456::/32".into(),
            "192.0.2.7".into(),
            "IdP.Corp.Example".into(),
            "0.0.0.0/0".into(),
        ])
        .unwrap();
        let cases: &[(&str, &str, bool)] = &[
            ("a.example", "10.20.3.4", true),
            ("a.example", "::ffff:10.20.3.4", true),
            ("a.example", "fd12:3456::1", true),
            ("a.example", "fd00:ec2::254", false),
            ("a.example", "192.0.2.7", true),
            ("a.example", "169.254.169.254", true),
            ("idp.corp.example", "fd00:ec2::254", true),
            ("a.example", "0.0.0.0", false),
            ("idp.corp.example", "0.0.0.0", false),
            ("idp.corp.example", "255.255.255.255", false),
            ("idp.corp.example", "ff02::1", false),
        ];
        for (host, addr, want) in cases {
            assert_eq!(policy.permits(host, ip(addr)).is_ok(), *want, "{host} {addr}");
        }
        // Loopback is closed until the operator opens it (a tenant could otherwise aim fetches
        // at services on fedgate's host), by address or by the name `localhost`.
        let default = EgressPolicy::default();
        assert!(default.permits("127.0.0.1", ip("127.0.0.1")).is_err());
        assert!(default.permits("localhost", ip("::1")).is_err());
        let loopback = EgressPolicy::new(&["127.0.0.1".into(), "::1".into()]).unwrap();
        assert!(loopback.permits("127.0.0.1", ip("127.0.0.1")).is_ok());
        assert!(loopback.permits("localhost", ip("::1")).is_ok());
        assert!(loopback.permits("localhost", ip("127.0.0.2")).is_err());
        let by_name = EgressPolicy::new(&["localhost".into()]).unwrap();
        assert!(by_name.permits("localhost", ip("127.0.0.1")).is_ok());
        assert!(by_name.permits("evil.example", ip("127.0.0.1")).is_err());
        for bad in [
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/x",
            "https://idp.example",
            "a..b",
            "a b",
            "",
        ] {
            assert!(EgressPolicy::new(&[bad.to_string()]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn url_rules() {
        use EgressError::*;
        let spelling = |w: &str, m: &str| {
            Err(Spelling {
                written: w.into(),
                means: m.into(),
            })
        };
        let address = |h: &str, a: &str, r: &'static str| {
            Err(Address {
                host: h.into(),
                addr: ip(a),
                range: r,
            })
        };
        let cases: Vec<(&str, Result<(), EgressError>)> = vec![
            ("https://accounts.example.com", Ok(())),
            ("https://accounts.example.com:8443/realms/x?a=b", Ok(())),
            ("HTTPS://Accounts.Example.com/", Ok(())),
            (
                "http://127.0.0.1:9000/op",
                address("127.0.0.1", "127.0.0.1", "loopback"),
            ),
            ("http://localhost:9000", Ok(())),
            ("http://[::1]:9000", address("[::1]", "::1", "loopback")),
            ("https://8.8.8.8/", Ok(())),
            ("http://accounts.example.com", Err(Scheme)),
            ("ftp://accounts.example.com", Err(NotAUrl)),
            ("file:///etc/passwd", Err(NotAUrl)),
            ("https:accounts.example.com", Err(NotAUrl)),
            ("//accounts.example.com", Err(NotAUrl)),
            ("https://", Err(NotAUrl)),
            ("https://exa mple.com", Err(NotAUrl)),
            ("https://good.example@evil.example", Err(Credentials)),
            ("https://user:pw@evil.example", Err(Credentials)),
            ("https://@evil.example", Err(Credentials)),
            // A backslash ends the authority (WHATWG): the host judged is the one fetched.
            ("https://evil.example\\@good.example", Ok(())),
            ("https:///evil.example", spelling("", "evil.example")),
            ("https://\\evil.example", spelling("", "evil.example")),
            ("http://127.0.0.2", Err(Scheme)),
            ("https://127.0.0.2", address("127.0.0.2", "127.0.0.2", "loopback")),
            ("http://127.1", spelling("127.1", "127.0.0.1")),
            ("http://2130706433", spelling("2130706433", "127.0.0.1")),
            ("http://0x7f000001", spelling("0x7f000001", "127.0.0.1")),
            ("http://0177.0.0.1", spelling("0177.0.0.1", "127.0.0.1")),
            (
                "https://0xa9.0xfe.0xa9.0xfe",
                spelling("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"),
            ),
            ("https://2852039166/latest", spelling("2852039166", "169.254.169.254")),
            ("http://127.0.0.1.", spelling("127.0.0.1.", "127.0.0.1")),
            ("http://%31%32%37.0.0.1", spelling("%31%32%37.0.0.1", "127.0.0.1")),
            (
                "https://[::ffff:169.254.169.254]",
                spelling("[::ffff:169.254.169.254]", "[::ffff:a9fe:a9fe]"),
            ),
            (
                "https://[::ffff:a9fe:a9fe]",
                address(
                    "[::ffff:a9fe:a9fe]",
                    "::ffff:169.254.169.254",
                    "link-local (cloud metadata)",
                ),
            ),
            ("http://[0:0:0:0:0:0:0:1]", spelling("[0:0:0:0:0:0:0:1]", "[::1]")),
            (
                "http://[::ffff:127.0.0.1]",
                spelling("[::ffff:127.0.0.1]", "[::ffff:7f00:1]"),
            ),
            ("http://[::ffff:7f00:1]", Err(Scheme)),
            (
                "https://169.254.169.254/latest/meta-data",
                address("169.254.169.254", "169.254.169.254", "link-local (cloud metadata)"),
            ),
            (
                "https://[fd00:ec2::254]",
                address("[fd00:ec2::254]", "fd00:ec2::254", "unique-local"),
            ),
            (
                "https://10.0.0.1",
                address("10.0.0.1", "10.0.0.1", "private (RFC 1918)"),
            ),
            ("https://0.0.0.0", address("0.0.0.0", "0.0.0.0", "unspecified")),
            ("http://localhost.", Err(Scheme)),
            (
                "https://bücher.example",
                spelling("bücher.example", "xn--bcher-kva.example"),
            ),
        ];
        let policy = EgressPolicy::default();
        for (text, want) in cases {
            let got = policy.check_fetch(text).map(|_| ());
            assert_eq!(got, want, "{text}");
        }
        // A name is judged by its addresses when connecting; an opened loopback passes here.
        let loopback = EgressPolicy::new(&["127.0.0.1".into(), "::1".into()]).unwrap();
        for text in ["http://127.0.0.1:9000/op", "http://[::1]:9000"] {
            assert!(loopback.check_fetch(text).is_ok(), "{text}");
        }
        // Browser targets follow the URL rules but are not judged by address.
        assert!(check_url("https://10.0.0.1/adfs/ls").is_ok());
        assert_eq!(check_url("http://10.0.0.1/adfs/ls").map(|_| ()), Err(Scheme));
        // An allow-listed range opens a literal address too.
        let open = EgressPolicy::new(&["10.0.0.0/8".into()]).unwrap();
        assert!(open.check_fetch("https://10.0.0.1/").is_ok());
        assert_eq!(open.check_fetch("http://10.0.0.1/"), Err(Scheme));
    }

    #[test]
    fn a_remote_document_cannot_point_at_loopback() {
        let policy = EgressPolicy::new(&["127.0.0.1".into()]).unwrap();
        let remote = policy.check_fetch("https://op.example").unwrap();
        let local = policy.check_fetch("http://127.0.0.1:9000").unwrap();
        assert_eq!(
            policy.check_fetch_named_by("http://127.0.0.1:8080/jwks", &remote),
            Err(EgressError::LoopbackFromRemote {
                host: "127.0.0.1".into()
            })
        );
        assert_eq!(
            policy.check_fetch_named_by("http://localhost/jwks", &remote),
            Err(EgressError::LoopbackFromRemote {
                host: "localhost".into()
            })
        );
        assert!(
            policy
                .check_fetch_named_by("http://127.0.0.1:9000/jwks", &local)
                .is_ok()
        );
        assert!(
            policy
                .check_fetch_named_by("https://keys.example/jwks", &remote)
                .is_ok()
        );
    }
}
