//! Outbound HTTP to addresses a tenant chose (webhook endpoints, knowledge-base URLs) without
//! letting them reach our own network (SSRF).
//!
//! - [`check_destination`] refuses anything but http(s), `localhost` names, and every address
//!   that is not public unicast: loopback, private, link-local (the cloud metadata service at
//!   169.254.169.254), unique-local, CGNAT, multicast, broadcast, unspecified, and IPv6 forms that
//!   embed such an IPv4 address (mapped, compatible, NAT64, 6to4).
//! - [`safe_client`] builds a client that never follows redirects itself and whose DNS resolver
//!   runs the same check at connect time: the connection can only go to addresses that passed,
//!   so a name that re-binds to a private address between check and connect is refused too.
//! - [`send`] follows redirects itself, checking every hop, with one deadline for the whole
//!   exchange and a cap on the body it reads.

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{HeaderMap, AUTHORIZATION, COOKIE, LOCATION};
use reqwest::{Method, StatusCode};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use url::{Host, Url};

/// Where outbound requests may go and how much they may cost.
#[derive(Clone, Debug)]
pub struct OutboundPolicy {
    /// Allow loopback, private and other non-public destinations (local development, tests).
    pub allow_private: bool,
    /// Redirects followed (each hop re-checked); `0` makes a redirect an error.
    pub max_redirects: u8,
    /// Deadline for the whole exchange: DNS, every hop, and reading the body.
    pub timeout: Duration,
    /// Largest response body read; a longer one fails with [`OutboundError::TooLarge`].
    pub max_body_bytes: usize,
    /// Host names or IP literals exempt from the private-address check (an operator's internal
    /// service, or a test's first hop). Compared case-insensitively with the URL's host.
    pub allow_hosts: Vec<String>,
}

impl Default for OutboundPolicy {
    fn default() -> Self {
        Self {
            allow_private: false,
            max_redirects: 5,
            timeout: Duration::from_secs(10),
            max_body_bytes: 1024 * 1024,
            allow_hosts: Vec::new(),
        }
    }
}

impl OutboundPolicy {
    fn exempt(&self, host: &str) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        self.allow_private || self.allow_hosts.iter().any(|h| h.trim_matches(['[', ']']).eq_ignore_ascii_case(host))
    }
}

#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum OutboundError {
    #[error("forbidden destination {host}: {reason}")]
    Forbidden { host: String, reason: String },
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    #[error("too many redirects (more than {0})")]
    TooManyRedirects(u8),
    #[error("response body larger than {0} bytes")]
    TooLarge(usize),
    #[error("timed out")]
    Timeout,
    #[error("HTTP {0}")]
    Http(StatusCode),
    #[error("network: {0}")]
    Network(String),
}

/// Why `ip` is not a public unicast address; `None` when it is.
pub fn forbidden_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => v6_reason(v6),
    }
}

fn v4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    Some(if o[0] == 0 {
        "unspecified address (0.0.0.0/8)"
    } else if ip.is_loopback() {
        "loopback address"
    } else if ip.is_private() {
        "private network address"
    } else if ip == Ipv4Addr::new(169, 254, 169, 254) {
        "cloud metadata address"
    } else if ip.is_link_local() {
        "link-local address"
    } else if o[0] == 100 && (o[1] & 0xc0) == 64 {
        "shared address space (CGNAT 100.64.0.0/10)"
    } else if ip.is_broadcast() {
        "broadcast address"
    } else if ip.is_multicast() {
        "multicast address"
    } else if o[0] >= 240 {
        "reserved address (240.0.0.0/4)"
    } else if o[0] == 192 && o[1] == 0 && o[2] == 0 {
        "IETF protocol assignment (192.0.0.0/24)"
    } else if o[0] == 198 && (o[1] & 0xfe) == 18 {
        "benchmarking network (198.18.0.0/15)"
    } else {
        return None;
    })
}

fn v6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_reason(v4);
    }
    Some(if ip.is_unspecified() {
        "unspecified address"
    } else if ip.is_loopback() {
        "loopback address"
    } else if (s[0] & 0xffc0) == 0xfe80 {
        "link-local address"
    } else if (s[0] & 0xffc0) == 0xfec0 {
        "site-local address"
    } else if (s[0] & 0xfe00) == 0xfc00 {
        "unique-local address"
    } else if (s[0] >> 8) == 0xff {
        "multicast address"
    } else if s[..6].iter().all(|&x| x == 0) {
        // IPv4-compatible (::a.b.c.d, deprecated): judge the embedded address; never public.
        return v4_reason(embedded(s[6], s[7])).or(Some("IPv4-compatible address"));
    } else if s[0] == 0x64 && s[1] == 0xff9b && s[2..6].iter().all(|&x| x == 0) {
        return v4_reason(embedded(s[6], s[7])); // NAT64
    } else if s[0] == 0x2002 {
        return v4_reason(embedded(s[1], s[2])); // 6to4
    } else {
        return None;
    })
}

/// `localhost`, `foo.localhost` and their fully qualified forms.
fn is_localhost_name(host: &str) -> bool {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    h == "localhost" || h.ends_with(".localhost")
}

fn forbidden(host: &str, reason: impl Into<String>) -> OutboundError {
    OutboundError::Forbidden { host: host.to_owned(), reason: reason.into() }
}

/// The checks that need no DNS: scheme, host present, `localhost` names, IP literals. Use it to
/// validate a URL when it is saved.
pub fn check_url(url: &Url, policy: &OutboundPolicy) -> Result<(), OutboundError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(OutboundError::InvalidUrl(format!("scheme {} is not http or https", url.scheme())));
    }
    let host = url.host_str().ok_or_else(|| OutboundError::InvalidUrl("the URL has no host".into()))?;
    if policy.exempt(host) {
        return Ok(());
    }
    let ip = match url.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
        _ if is_localhost_name(host) => return Err(forbidden(host, "localhost")),
        _ => return Ok(()),
    };
    match forbidden_reason(ip) {
        Some(reason) => Err(forbidden(host, reason)),
        None => Ok(()),
    }
}

/// Resolves `host` and fails if any of its addresses is not public (unless exempt).
async fn resolve_checked(host: &str, port: u16, policy: &OutboundPolicy) -> Result<Vec<SocketAddr>, OutboundError> {
    let exempt = policy.exempt(host);
    if !exempt && is_localhost_name(host) {
        return Err(forbidden(host, "localhost"));
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| OutboundError::Network(format!("cannot resolve {host}: {e}")))?
        .collect();
    if addrs.is_empty() {
        return Err(OutboundError::Network(format!("{host} has no address")));
    }
    if !exempt {
        // One bad address refuses the name: the connector might pick any of them.
        if let Some((addr, reason)) = addrs.iter().find_map(|a| forbidden_reason(a.ip()).map(|r| (a, r))) {
            return Err(forbidden(host, format!("resolves to {} ({reason})", addr.ip())));
        }
    }
    Ok(addrs)
}

/// Checks that `url` may be fetched under `policy`; returns the addresses it resolves to.
pub async fn check_destination(url: &Url, policy: &OutboundPolicy) -> Result<Vec<SocketAddr>, OutboundError> {
    check_url(url, policy)?;
    let port = url.port_or_known_default().ok_or_else(|| OutboundError::InvalidUrl("no port".into()))?;
    match url.host() {
        Some(Host::Ipv4(ip)) => Ok(vec![SocketAddr::new(IpAddr::V4(ip), port)]),
        Some(Host::Ipv6(ip)) => Ok(vec![SocketAddr::new(IpAddr::V6(ip), port)]),
        Some(Host::Domain(name)) => {
            match tokio::time::timeout(policy.timeout, resolve_checked(name, port, policy)).await {
                Ok(result) => result,
                Err(_) => Err(OutboundError::Timeout),
            }
        }
        None => Err(OutboundError::InvalidUrl("the URL has no host".into())),
    }
}

/// The client's resolver: the same check, at the moment of connecting.
struct CheckingResolver {
    policy: Arc<OutboundPolicy>,
}

impl Resolve for CheckingResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = resolve_checked(&host, 0, &policy).await?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// A client for [`send`]: no automatic redirects, no proxy, and a resolver that only yields
/// addresses `policy` allows. Build one per policy and reuse it (it pools connections).
pub fn safe_client(policy: &OutboundPolicy) -> Result<reqwest::Client, OutboundError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(CheckingResolver { policy: Arc::new(policy.clone()) }))
        .connect_timeout(policy.timeout)
        .timeout(policy.timeout)
        .user_agent(concat!("Frontdesk/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| OutboundError::Network(chain(&e)))
}

/// One outbound request.
#[derive(Clone, Debug)]
pub struct OutboundRequest {
    pub method: Method,
    pub url: Url,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl OutboundRequest {
    pub fn get(url: Url) -> Self {
        Self { method: Method::GET, url, headers: HeaderMap::new(), body: Vec::new() }
    }

    pub fn post(url: Url, headers: HeaderMap, body: Vec<u8>) -> Self {
        Self { method: Method::POST, url, headers, body }
    }
}

/// The final response, after redirects, with its body read (at most `max_body_bytes`).
#[derive(Clone, Debug)]
pub struct OutboundResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// The URL that answered (differs from the request's after redirects).
    pub url: Url,
    pub redirects: u8,
}

impl OutboundResponse {
    /// [`OutboundError::Http`] unless the status is 2xx.
    pub fn error_for_status(self) -> Result<Self, OutboundError> {
        if self.status.is_success() {
            Ok(self)
        } else {
            Err(OutboundError::Http(self.status))
        }
    }
}

/// Sends `request` with a client from [`safe_client`] built for the same `policy`, following
/// at most `max_redirects` redirects, each checked before it is requested.
pub async fn send(
    client: &reqwest::Client,
    policy: &OutboundPolicy,
    request: OutboundRequest,
) -> Result<OutboundResponse, OutboundError> {
    match tokio::time::timeout(policy.timeout, exchange(client, policy, request)).await {
        Ok(result) => result,
        Err(_) => Err(OutboundError::Timeout),
    }
}

async fn exchange(
    client: &reqwest::Client,
    policy: &OutboundPolicy,
    mut req: OutboundRequest,
) -> Result<OutboundResponse, OutboundError> {
    let mut redirects = 0u8;
    loop {
        check_destination(&req.url, policy).await?;
        let mut builder = client.request(req.method.clone(), req.url.clone()).headers(req.headers.clone());
        if !req.body.is_empty() {
            builder = builder.body(req.body.clone());
        }
        let mut response = builder.send().await.map_err(|e| from_reqwest(&e))?;
        let status = response.status();
        let location = response.headers().get(LOCATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
        if let (true, Some(location)) = (is_redirect(status), location) {
            if redirects >= policy.max_redirects {
                return Err(OutboundError::TooManyRedirects(policy.max_redirects));
            }
            redirects += 1;
            let next = req.url.join(&location).map_err(|e| OutboundError::InvalidUrl(format!("redirect: {e}")))?;
            if next.origin() != req.url.origin() {
                req.headers.remove(AUTHORIZATION);
                req.headers.remove(COOKIE);
            }
            let to_get = status == StatusCode::SEE_OTHER
                || (req.method == Method::POST && matches!(status, StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND));
            if to_get {
                req.method = Method::GET;
                req.body.clear();
            }
            req.url = next;
            continue;
        }
        let max = policy.max_body_bytes;
        if response.content_length().is_some_and(|n| n > max as u64) {
            return Err(OutboundError::TooLarge(max));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| from_reqwest(&e))? {
            if body.len() + chunk.len() > max {
                return Err(OutboundError::TooLarge(max));
            }
            body.extend_from_slice(&chunk);
        }
        let headers = response.headers().clone();
        return Ok(OutboundResponse { status, headers, body, url: req.url, redirects });
    }
}

fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// Our own refusal from the resolver survives inside reqwest's error; everything else is
/// described with its causes.
fn from_reqwest(e: &reqwest::Error) -> OutboundError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(ours) = err.downcast_ref::<OutboundError>() {
            return ours.clone();
        }
        source = err.source();
    }
    if e.is_timeout() {
        OutboundError::Timeout
    } else {
        OutboundError::Network(chain(e))
    }
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(s: &str) -> bool {
        forbidden_reason(s.parse().unwrap()).is_some()
    }

    #[test]
    fn ipv4_classification() {
        let refused_v4 = "127.0.0.1 127.8.9.10 10.1.2.3 172.16.0.1 172.31.255.255 192.168.1.1 169.254.169.254 \
                          169.254.1.1 100.64.0.1 100.127.255.254 0.0.0.0 255.255.255.255 224.0.0.1 240.0.0.1";
        for ip in refused_v4.split_whitespace() {
            assert!(refused(ip), "{ip} should be refused");
        }
        for ip in "8.8.8.8 1.1.1.1 172.32.0.1 100.128.0.1 93.184.216.34 172.15.255.255".split_whitespace() {
            assert!(!refused(ip), "{ip} should be allowed");
        }
        assert_eq!(forbidden_reason("169.254.169.254".parse().unwrap()), Some("cloud metadata address"));
    }

    #[test]
    fn ipv6_classification_including_embedded_ipv4() {
        let refused_v6 = ":: ::1 fe80::1 febf::1 fc00::1 fd12:3456::1 ff02::1 ::ffff:127.0.0.1 ::ffff:10.0.0.1 \
                          ::ffff:169.254.169.254 ::127.0.0.1 64:ff9b::10.0.0.1 2002:c0a8:0101::1";
        for ip in refused_v6.split_whitespace() {
            assert!(refused(ip), "{ip} should be refused");
        }
        for ip in "2606:4700:4700::1111 2001:4860:4860::8888 ::ffff:8.8.8.8 64:ff9b::808:808".split_whitespace() {
            assert!(!refused(ip), "{ip} should be allowed");
        }
    }

    #[test]
    fn urls_are_checked_without_dns() {
        let strict = OutboundPolicy::default();
        let check = |u: &str, p: &OutboundPolicy| check_url(&Url::parse(u).unwrap(), p);
        assert!(matches!(check("ftp://example.com/", &strict), Err(OutboundError::InvalidUrl(_))));
        assert!(matches!(check("http://localhost:8080/", &strict), Err(OutboundError::Forbidden { .. })));
        assert!(matches!(check("http://api.LOCALHOST./", &strict), Err(OutboundError::Forbidden { .. })));
        assert!(matches!(check("http://[::1]/", &strict), Err(OutboundError::Forbidden { .. })));
        assert!(matches!(check("http://[::ffff:7f00:1]/", &strict), Err(OutboundError::Forbidden { .. })));
        assert!(check("https://example.com/hook", &strict).is_ok());
        let open = OutboundPolicy { allow_private: true, ..OutboundPolicy::default() };
        assert!(check("http://127.0.0.1:9/", &open).is_ok());
        let listed = OutboundPolicy { allow_hosts: vec!["[::1]".into(), "Intranet.local".into()], ..strict };
        assert!(check("http://[::1]:80/", &listed).is_ok());
        assert!(check("http://127.0.0.1/", &listed).is_err());
    }
}
