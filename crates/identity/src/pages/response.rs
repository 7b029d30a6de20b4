//! What every identity page shares: showing a failed action on its own page, redirects with a
//! notice, the session and language cookies, and the check that keeps `next` on this site.

use crate::service::Identity;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{AppendHeaders, IntoResponse, Response};
use frontdesk_kernel::{Error, FieldError};
use frontdesk_web::auth::SESSION_COOKIE;
use frontdesk_web::pages::{Page, LANG_COOKIE};
use serde::Serialize;

/// Where a signed-in user lands when nothing else is asked for.
pub const HOME: &str = "/app";

/// The outcome of a form shown on its page: field errors next to the fields, or one message on
/// top, and the status of the answer.
#[derive(Debug, Default, Serialize)]
pub struct Shown {
    #[serde(skip)]
    pub status: StatusCode,
    pub errors: Vec<FieldError>,
    pub alert: Option<String>,
}

impl Shown {
    /// Nothing went wrong (a plain GET).
    pub fn ok() -> Self {
        Self::default()
    }

    pub fn alert(status: StatusCode, message: String) -> Self {
        Self { status, errors: Vec::new(), alert: Some(message) }
    }

    /// Problems the user can act on (invalid fields, wrong credentials, throttling, conflicts,
    /// refusals) are shown on the page they came from; anything else goes to the error page.
    pub fn from_error(page: &Page, error: Error) -> Result<Self, Error> {
        let status = error.status();
        match error {
            Error::Validation(errors) => {
                Ok(Self { status, errors: errors.into_iter().map(|e| translate_field(page, e)).collect(), alert: None })
            }
            Error::Unauthenticated { .. }
            | Error::RateLimited { .. }
            | Error::Conflict { .. }
            | Error::Forbidden { .. }
            | Error::BadRequest { .. } => Ok(Self::alert(status, message(page, &error))),
            other => Err(other),
        }
    }
}

/// A page's own data plus what a failed action shows (`page.errors`, `page.alert`).
#[derive(Serialize)]
struct View<T> {
    #[serde(flatten)]
    data: T,
    #[serde(flatten)]
    shown: Shown,
}

/// Renders `template` with `data` and the outcome `shown`.
pub fn show<T: Serialize>(page: &Page, template: &str, shown: Shown, data: T) -> Response {
    page.render_status(shown.status, template, View { data, shown })
}

/// Renders `template` again after `error`, or the error page for faults the form cannot show.
pub fn failed<T: Serialize>(page: &Page, template: &str, error: Error, data: T) -> Response {
    match Shown::from_error(page, error) {
        Ok(shown) => show(page, template, shown, data),
        Err(e) => page.error(e),
    }
}

/// The user's language's text for an error: `err.<code>` when translated, else the service's own
/// words.
pub fn message(page: &Page, error: &Error) -> String {
    translated_or(page, &format!("err.{}", error.code()), || error.problem().detail.unwrap_or_default())
}

fn translate_field(page: &Page, e: FieldError) -> FieldError {
    let message = translated_or(page, &format!("err.{}.{}", e.field, e.code), || {
        translated_or(page, &format!("err.{}", e.code), || e.message.clone())
    });
    FieldError { message, ..e }
}

/// `key`'s translation, or `fallback` when no catalog has it (translation echoes unknown keys).
pub fn translated_or(page: &Page, key: &str, fallback: impl FnOnce() -> String) -> String {
    let text = page.t(key);
    if text == key {
        fallback()
    } else {
        text
    }
}

/// 303 See Other to `to` (a path we built or checked with [`local_path`]).
pub fn see_other(to: &str) -> Response {
    let location = HeaderValue::try_from(to).unwrap_or(HeaderValue::from_static(HOME));
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

/// 303 to `path`, where the layout shows the translation of `notice.<key>`.
pub fn with_notice(path: &str, key: &str) -> Response {
    see_other(&format!("{path}?notice={key}"))
}

/// `next` when it is a path on this site, else [`HOME`]. Refuses `//host` and `/\host` (other
/// sites to a browser) and anything that is not plain visible ASCII (it goes into a header).
pub fn local_path(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && n.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            n.to_owned()
        }
        _ => HOME.to_owned(),
    }
}

/// A query parameter of the page's URL.
pub fn query_param(page: &Page, name: &str) -> Option<String> {
    url::form_urlencoded::parse(page.query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// `Some(trimmed)` unless the field was left empty.
pub fn non_empty(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

fn secure(identity: &Identity) -> &'static str {
    if identity.config().public_url.starts_with("https") {
        "; Secure"
    } else {
        ""
    }
}

/// The `Set-Cookie` value of a new dashboard session.
pub fn session_cookie(identity: &Identity, value: &str, max_age_secs: u64) -> String {
    format!("{SESSION_COOKIE}={value}; HttpOnly; SameSite=Lax; Path=/; Max-Age={max_age_secs}{}", secure(identity))
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_session_cookie(identity: &Identity) -> String {
    session_cookie(identity, "", 0)
}

/// The `Set-Cookie` value of the chosen language (one year).
pub fn language_cookie(identity: &Identity, locale: &str) -> String {
    format!("{LANG_COOKIE}={locale}; SameSite=Lax; Path=/; Max-Age=31536000{}", secure(identity))
}

/// `response` with one more `Set-Cookie`.
pub fn with_cookie(cookie: String, response: Response) -> Response {
    (AppendHeaders([(header::SET_COOKIE, cookie)]), response).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(local_path(Some("/app/team")), "/app/team");
        assert_eq!(local_path(Some("/app?notice=joined")), "/app?notice=joined");
        assert_eq!(local_path(Some("/")), "/");
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example/app",
            "app",
            "",
            "/a b",
            "/ä",
            "/x\r\nSet-Cookie:1",
        ] {
            assert_eq!(local_path(Some(bad)), HOME, "{bad:?} must not be followed");
        }
        assert_eq!(local_path(None), HOME);
    }

    #[test]
    fn non_empty_trims() {
        assert_eq!(non_empty("  "), None);
        assert_eq!(non_empty(" de "), Some("de".to_owned()));
    }
}
