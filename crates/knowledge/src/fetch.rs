//! Fetching tenants' URLs safely, through `frontdesk_web::outbound`: private, loopback,
//! link-local and metadata addresses are refused after DNS resolution and after every redirect
//! (unless the operator allows them), with limits on size, time and redirects. Plus the rules of
//! a crawl: which links belong to the site section being read.

use crate::extract::{charset_of, detect_format, ExtractError, Format};
use frontdesk_web::outbound::{self, OutboundError, OutboundPolicy, OutboundRequest};
use reqwest::header::{HeaderValue, ACCEPT, CONTENT_TYPE};
use url::Url;

/// A fetched document.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The URL that answered (after redirects).
    pub url: Url,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

impl Fetched {
    pub fn format(&self) -> Result<Format, ExtractError> {
        detect_format(Some(self.url.path()), self.content_type.as_deref(), &self.body)
    }

    pub fn charset(&self) -> Option<String> {
        self.content_type.as_deref().and_then(charset_of)
    }
}

#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    policy: OutboundPolicy,
}

impl Fetcher {
    pub fn new(policy: OutboundPolicy) -> Result<Self, OutboundError> {
        Ok(Self { client: outbound::safe_client(&policy)?, policy })
    }

    pub fn policy(&self) -> &OutboundPolicy {
        &self.policy
    }

    /// GET with every check of the policy; a non-2xx answer is an error.
    pub async fn get(&self, url: &Url, accept: &'static str) -> Result<Fetched, OutboundError> {
        let mut request = OutboundRequest::get(url.clone());
        request.headers.insert(ACCEPT, HeaderValue::from_static(accept));
        let response = outbound::send(&self.client, &self.policy, request).await?.error_for_status()?;
        let content_type = response.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
        Ok(Fetched { url: response.url, content_type, body: response.body })
    }
}

/// The accept header for pages.
pub const ACCEPT_PAGES: &str = "text/html, text/markdown;q=0.9, text/plain;q=0.8, application/pdf;q=0.7";
pub const ACCEPT_JSON: &str = "application/json";

/// A site section: links are followed when they stay on the same origin under this path.
#[derive(Debug, Clone)]
pub struct Scope {
    origin: url::Origin,
    prefix: String,
}

impl Scope {
    /// The section of a start URL: its directory (`/docs/intro.html` → `/docs/`), or the path
    /// itself when it names no file (`/help` → `/help`).
    pub fn of(start: &Url) -> Scope {
        let path = start.path();
        let last = path.rsplit('/').next().unwrap_or("");
        let prefix = if last.contains('.') { path[..path.len() - last.len()].to_owned() } else { path.to_owned() };
        Scope { origin: start.origin(), prefix }
    }

    pub fn contains(&self, url: &Url) -> bool {
        url.origin() == self.origin && url.path().starts_with(&self.prefix)
    }
}

/// Links of a page as absolute URLs in scope (no fragment), in order, without duplicates.
pub fn links_in_scope(base: &Url, hrefs: &[String], scope: &Scope) -> Vec<Url> {
    let mut out: Vec<Url> = Vec::new();
    for href in hrefs {
        let href = href.trim();
        if href.is_empty() || href.starts_with('#') {
            continue;
        }
        let Ok(mut url) = base.join(href) else { continue };
        url.set_fragment(None);
        if matches!(url.scheme(), "http" | "https") && scope.contains(&url) && !out.contains(&url) {
            out.push(url);
        }
    }
    out
}

/// A short, operator-readable reason for a failed fetch.
pub fn describe(e: &OutboundError) -> String {
    match e {
        OutboundError::Forbidden { host, reason } => {
            format!("refused: {host} is not a public address ({reason})")
        }
        OutboundError::TooLarge(n) => format!("the response is larger than {} KB", n / 1024),
        OutboundError::Timeout => "the server did not answer in time".into(),
        OutboundError::TooManyRedirects(n) => format!("more than {n} redirects"),
        OutboundError::Http(status) => format!("the server answered {status}"),
        OutboundError::InvalidUrl(m) => format!("invalid URL: {m}"),
        OutboundError::Network(m) => format!("network error: {m}"),
    }
}

/// Errors that another try may cure.
pub fn is_transient(e: &OutboundError) -> bool {
    match e {
        OutboundError::Timeout | OutboundError::Network(_) => true,
        OutboundError::Http(s) => s.is_server_error() || s.as_u16() == 429,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_is_the_section_of_the_start_url() {
        let start = Url::parse("https://studio.example/help/start.html").unwrap();
        let scope = Scope::of(&start);
        let links = links_in_scope(
            &start,
            &[
                "prices.html#top".into(),
                "/help/sub/faq".into(),
                "/blog/post".into(),
                "https://other.example/help/x".into(),
                "mailto:a@b.c".into(),
                "prices.html".into(),
                "#anchor".into(),
            ],
            &scope,
        );
        let got: Vec<&str> = links.iter().map(Url::as_str).collect();
        assert_eq!(got, vec!["https://studio.example/help/prices.html", "https://studio.example/help/sub/faq"]);
        assert!(Scope::of(&Url::parse("https://s.example/help").unwrap())
            .contains(&Url::parse("https://s.example/help/a").unwrap()));
    }
}
