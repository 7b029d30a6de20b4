//! Server-rendered dashboard pages: templates (minijinja, autoescaped), translations (English
//! and German), the navigation each capability contributes, the shared layout, static assets.

use crate::access::{Principal, Requirement};
use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use frontdesk_kernel::domain::Locale;
use frontdesk_kernel::Error;
use minijinja::{context, Environment, State as JinjaState};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Cookie holding the visitor's chosen language.
/// Errors of template registration and rendering.
pub use minijinja::Error as TemplateError;

pub const LANG_COOKIE: &str = "fd_lang";

/// A link in the dashboard's navigation.
#[derive(Clone, Debug)]
pub struct NavItem {
    pub href: &'static str,
    /// Translation key of the label.
    pub label: &'static str,
    /// Who sees it.
    pub requirement: Requirement,
    /// Position (lower first).
    pub order: u32,
}

/// Collects templates, translations and navigation from every capability.
#[derive(Default)]
pub struct TemplatesBuilder {
    templates: Vec<(&'static str, &'static str)>,
    catalogs: HashMap<Locale, BTreeMap<String, String>>,
    nav: Vec<NavItem>,
}

impl TemplatesBuilder {
    pub fn new() -> Self {
        let mut b = Self::default();
        b.template("layout.html", include_str!("../templates/layout.html"));
        b.template("macros.html", include_str!("../templates/macros.html"));
        b.template("error.html", include_str!("../templates/error.html"));
        b.translations(Locale::En, include_str!("../i18n/en.json"));
        b.translations(Locale::De, include_str!("../i18n/de.json"));
        b
    }

    pub fn template(&mut self, name: &'static str, source: &'static str) -> &mut Self {
        self.templates.push((name, source));
        self
    }

    /// Adds a flat JSON object of `key → text`. Malformed catalogs fail loudly at start-up.
    pub fn translations(&mut self, locale: Locale, json: &'static str) -> &mut Self {
        let entries: BTreeMap<String, String> = serde_json::from_str(json)
            .unwrap_or_else(|e| panic!("translation catalog for {locale:?} is not valid: {e}"));
        self.catalogs.entry(locale).or_default().extend(entries);
        self
    }

    pub fn nav(&mut self, item: NavItem) -> &mut Self {
        self.nav.push(item);
        self
    }

    pub fn build(self) -> Result<Templates, TemplateError> {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                minijinja::AutoEscape::Html
            } else {
                minijinja::AutoEscape::None
            }
        });
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        for (name, source) in self.templates {
            env.add_template(name, source)?;
        }
        let catalogs = Arc::new(self.catalogs);
        let for_t = catalogs.clone();
        env.add_function("t", move |state: &JinjaState, key: &str| -> String {
            translate(&for_t, locale_of(state), key)
        });
        env.add_filter("datetime", |ms: i64| {
            frontdesk_kernel::time::to_rfc3339(ms).replace('T', " ").chars().take(16).collect::<String>()
        });
        let mut nav = self.nav;
        nav.sort_by_key(|n| n.order);
        Ok(Templates { env, catalogs, nav })
    }
}

fn locale_of(state: &JinjaState) -> Locale {
    match state.lookup("locale").as_ref().and_then(|v| v.as_str()) {
        Some("de") => Locale::De,
        _ => Locale::En,
    }
}

fn translate(catalogs: &HashMap<Locale, BTreeMap<String, String>>, locale: Locale, key: &str) -> String {
    catalogs
        .get(&locale)
        .and_then(|c| c.get(key))
        .or_else(|| catalogs.get(&Locale::En).and_then(|c| c.get(key)))
        .cloned()
        .unwrap_or_else(|| key.to_owned())
}

/// The built templates, shared by every page handler.
pub struct Templates {
    env: Environment<'static>,
    catalogs: Arc<HashMap<Locale, BTreeMap<String, String>>>,
    nav: Vec<NavItem>,
}

impl Templates {
    pub fn t(&self, locale: Locale, key: &str) -> String {
        translate(&self.catalogs, locale, key)
    }

    /// Every translation key of a locale (tests check both languages have the same keys).
    pub fn keys(&self, locale: Locale) -> Vec<String> {
        self.catalogs.get(&locale).map(|c| c.keys().cloned().collect()).unwrap_or_default()
    }
}

#[derive(Serialize)]
struct NavLink {
    href: &'static str,
    label: &'static str,
    active: bool,
}

/// What a page handler gets: the templates, the language, the signed-in principal, if any.
pub struct Page {
    pub templates: Arc<Templates>,
    pub locale: Locale,
    pub principal: Option<Principal>,
    pub path: String,
    pub query: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Page {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let templates = parts
            .extensions
            .get::<Arc<Templates>>()
            .cloned()
            .ok_or_else(|| Error::internal("templates are not installed"))?;
        let principal = parts.extensions.get::<Principal>().cloned();
        let locale = crate::auth::cookie(&parts.headers, LANG_COOKIE)
            .and_then(|c| Locale::parse(&c).ok())
            .or_else(|| principal.as_ref().and_then(|p| p.locale))
            .or_else(|| {
                parts
                    .headers
                    .get(header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(Locale::from_accept_language)
            })
            .unwrap_or_default();
        Ok(Page {
            templates,
            locale,
            principal,
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().unwrap_or("").to_owned(),
        })
    }
}

impl Page {
    pub fn t(&self, key: &str) -> String {
        self.templates.t(self.locale, key)
    }

    /// Renders `template` inside the layout with `data` available as `page`.
    pub fn render(&self, template: &str, data: impl Serialize) -> Response {
        self.render_status(StatusCode::OK, template, data)
    }

    pub fn render_status(&self, status: StatusCode, template: &str, data: impl Serialize) -> Response {
        let nav: Vec<NavLink> = match &self.principal {
            Some(p) => self
                .templates
                .nav
                .iter()
                .filter(|n| p.satisfies(n.requirement))
                .map(|n| NavLink { href: n.href, label: n.label, active: is_active(&self.path, n.href) })
                .collect(),
            None => Vec::new(),
        };
        let user = self.principal.as_ref().map(|p| {
            context! {
                label => p.label,
                tenant_name => p.tenant_name,
                tenant_id => p.tenant_id,
                role => p.role,
                platform_operator => p.platform_operator,
                memberships => p.memberships,
                csrf => match &p.credential { crate::Credential::Session { csrf_token, .. } => Some(csrf_token.clone()), _ => None },
            }
        });
        let notice = url::form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == "notice")
            .map(|(_, v)| v.into_owned());
        let ctx = context! {
            locale => self.locale.as_str(),
            path => self.path,
            nav => nav,
            user => user,
            notice => notice,
            page => minijinja::Value::from_serialize(&data),
        };
        match self.templates.env.get_template(template).and_then(|t| t.render(ctx)) {
            Ok(html) => (status, Html(html)).into_response(),
            Err(e) => Error::internal(format!("template {template}: {e:#}")).into_response(),
        }
    }

    /// After a form post: on success, 303 to `location` (post/redirect/get); else the error page.
    pub fn after<T>(&self, result: Result<T, Error>, location: &str) -> Response {
        match result {
            Ok(_) => axum::response::Redirect::to(location).into_response(),
            Err(e) => self.error(e),
        }
    }

    /// An error page in the layout (HTML clients) for a problem.
    pub fn error(&self, error: Error) -> Response {
        let problem = error.problem();
        if let Error::Internal { message, location } = &error {
            tracing::error!(error = %message, %location, "internal error on a page");
        }
        let status = error.status();
        self.render_status(status, "error.html", context! { status => problem.status, title => problem.title, detail => problem.detail, errors => problem.errors })
    }
}

/// A nav link is current on its own page and below it; the overview (`/app`) only on itself.
/// A capability's translation check, for its tests: the English and German catalogs have the same
/// keys, and every key under `prefix` that `template` names with `t("…")` is in them. Returns the
/// English keys (for checks of keys built at run time, such as states) and how many keys the
/// template names; `Err` says what is missing.
pub fn check_translations(
    template: &str,
    prefix: &str,
    en: &str,
    de: &str,
) -> Result<(std::collections::BTreeSet<String>, usize), String> {
    let keys = |json: &str| -> Result<std::collections::BTreeSet<String>, String> {
        let map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(json).map_err(|e| format!("catalog: {e}"))?;
        Ok(map.into_iter().map(|(k, _)| k).collect())
    };
    let (en, de) = (keys(en)?, keys(de)?);
    if en != de {
        let only: Vec<_> = en.symmetric_difference(&de).collect();
        return Err(format!("English and German differ in {only:?}"));
    }
    let named: Vec<&str> = template
        .split("t(\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|k| !k.ends_with('.') && k.starts_with(prefix))
        .collect();
    if let Some(missing) = named.iter().find(|k| !en.contains(**k)) {
        return Err(format!("{missing} is not translated"));
    }
    Ok((en, named.len()))
}

fn is_active(path: &str, href: &str) -> bool {
    path == href || (href != "/app" && path.starts_with(href) && path[href.len()..].starts_with('/'))
}

/// Static files of the dashboard, embedded in the binary.
pub struct Asset {
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static str,
}

pub const ASSETS: &[Asset] = &[
    Asset { path: "app.css", content_type: "text/css; charset=utf-8", body: include_str!("../assets/app.css") },
    Asset { path: "app.js", content_type: "text/javascript; charset=utf-8", body: include_str!("../assets/app.js") },
];

/// `GET /assets/{file}`: embedded assets with a strong ETag.
pub async fn serve_asset(
    axum::extract::Path(file): axum::extract::Path<String>,
    headers: axum::http::HeaderMap,
) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.path == file) else {
        return Error::NotFound.into_response();
    };
    let etag = format!("\"{}\"", &frontdesk_kernel::crypto::sha256_hex(asset.body.as_bytes())[..16]);
    if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let mut response = asset.body.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::check_translations;

    #[test]
    fn translation_check_finds_what_is_missing() {
        let page = r#"<h1>{{ t("x.title") }}</h1> {{ t("x.state." ~ s) }} {{ t("nav.home") }}"#;
        let en = r#"{"x.title": "Title", "x.state.on": "On"}"#;
        let de = r#"{"x.title": "Titel", "x.state.on": "An"}"#;
        let (keys, named) = check_translations(page, "x.", en, de).expect("translated");
        assert_eq!((keys.len(), named), (2, 1), "a built key (x.state.) is left to the caller");
        let missing = check_translations(r#"{{ t("x.other") }}"#, "x.", en, de);
        assert_eq!(missing, Err("x.other is not translated".into()));
        assert!(check_translations(page, "x.", en, r#"{"x.title": "Titel"}"#).is_err(), "catalogs differ");
    }
}
