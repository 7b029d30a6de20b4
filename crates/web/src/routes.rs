//! The route table: every route's [`Requirement`], read from one declaration per route.
//!
//! API routes declare theirs in `#[utoipa::path(security(...))]`, so the OpenAPI document and
//! the enforcement cannot disagree: `security(())` is public, `("bearer" = [])` any signed-in
//! caller, `("bearer" = ["members:manage"])` a tenant permission, `("bearer" = ["platform:operate"])`
//! the operator. Other routes (pages, health, assets) are registered through [`Routes`] with an
//! explicit requirement. A route with no declaration fails start-up: nothing is open by accident.

use crate::access::{Permission, Requirement, PLATFORM_SCOPE};
use axum::http::Method;
use axum::routing::MethodRouter;
use axum::Router;
use std::collections::HashMap;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi, PathItem};

/// (method, route template) → requirement.
#[derive(Clone, Debug, Default)]
pub struct RouteTable {
    entries: HashMap<(Method, String), Requirement>,
}

#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error("{method} {path} declares no security requirement (public routes say `security(())`)")]
    Undeclared { method: Method, path: String },
    #[error("{method} {path} requires unknown permission {scope:?}")]
    UnknownScope { method: Method, path: String, scope: String },
    #[error("{method} {path} is declared twice")]
    Duplicate { method: Method, path: String },
}

impl RouteTable {
    pub fn get(&self, method: &Method, path: &str) -> Option<Requirement> {
        self.entries.get(&(method.clone(), path.to_owned())).copied()
    }

    /// True when some method of this path is declared (so a miss is a 405, not a hole).
    pub fn has_path(&self, path: &str) -> bool {
        self.entries.keys().any(|(_, p)| p == path)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Method, &str, Requirement)> {
        self.entries.iter().map(|((m, p), r)| (m, p.as_str(), *r))
    }

    fn insert(&mut self, method: Method, path: String, req: Requirement) -> Result<(), RouteError> {
        if self.entries.insert((method.clone(), path.clone()), req).is_some() {
            return Err(RouteError::Duplicate { method, path });
        }
        Ok(())
    }

    /// Adds every operation of an OpenAPI document, normalising its security declarations:
    /// a public route becomes `security: []`, and each bearer requirement also allows the
    /// dashboard session with the same scopes.
    pub fn add_openapi(&mut self, doc: &mut OpenApi) -> Result<(), RouteError> {
        for (path, item) in doc.paths.paths.iter_mut() {
            for (method, op) in operations_mut(item) {
                let declared = op
                    .security
                    .as_ref()
                    .map(|reqs| reqs.iter().filter_map(|r| serde_json::to_value(r).ok()).collect::<Vec<_>>());
                let Some(reqs) = declared else {
                    return Err(RouteError::Undeclared { method, path: path.clone() });
                };
                // utoipa writes `security(())` as `[{}]`.
                let scopes: Option<Vec<String>> = reqs.iter().find_map(|r| {
                    r.get("bearer")
                        .and_then(|s| s.as_array())
                        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
                });
                let req = match scopes {
                    None => {
                        op.security = Some(Vec::new());
                        Requirement::Public
                    }
                    Some(scopes) => {
                        let req = match scopes.first().map(String::as_str) {
                            None => Requirement::Authenticated,
                            Some(PLATFORM_SCOPE) => Requirement::Platform,
                            Some(s) => {
                                Requirement::Tenant(Permission::parse(s).ok_or_else(|| RouteError::UnknownScope {
                                    method: method.clone(),
                                    path: path.clone(),
                                    scope: s.to_owned(),
                                })?)
                            }
                        };
                        op.security = Some(vec![
                            utoipa::openapi::security::SecurityRequirement::new("bearer", scopes.clone()),
                            utoipa::openapi::security::SecurityRequirement::new("session", scopes),
                        ]);
                        req
                    }
                };
                self.insert(method, path.clone(), req)?;
            }
        }
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A JWT access token from POST /api/v1/auth/token, or an API key (fdk_…). \
                         Scopes name the permission the route needs.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "fd_session",
                "The dashboard session; unsafe methods also need the X-CSRF-Token header.",
            ))),
        );
        Ok(())
    }

    pub fn merge(&mut self, other: RouteTable) -> Result<(), RouteError> {
        for ((m, p), r) in other.entries {
            self.insert(m, p, r)?;
        }
        Ok(())
    }
}

fn operations_mut(item: &mut PathItem) -> Vec<(Method, &mut utoipa::openapi::path::Operation)> {
    let mut ops = Vec::new();
    let PathItem { get, put, post, delete, patch, head, options, .. } = item;
    for (m, op) in [
        (Method::GET, get),
        (Method::PUT, put),
        (Method::POST, post),
        (Method::DELETE, delete),
        (Method::PATCH, patch),
        (Method::HEAD, head),
        (Method::OPTIONS, options),
    ] {
        if let Some(op) = op.as_mut() {
            ops.push((m, op));
        }
    }
    ops
}

/// Routes outside the OpenAPI document (pages, health, assets), each with its requirement.
pub struct Routes<S = ()> {
    router: Router<S>,
    table: RouteTable,
    errors: Vec<RouteError>,
}

impl<S: Clone + Send + Sync + 'static> Default for Routes<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Clone + Send + Sync + 'static> Routes<S> {
    pub fn new() -> Self {
        Self { router: Router::new(), table: RouteTable::default(), errors: Vec::new() }
    }

    /// Adds `path` for the methods of `handler`, all with requirement `req`.
    pub fn route(mut self, path: &str, methods: &[Method], req: Requirement, handler: MethodRouter<S>) -> Self {
        for m in methods {
            if let Err(e) = self.table.insert(m.clone(), path.to_owned(), req) {
                self.errors.push(e);
            }
        }
        self.router = self.router.route(path, handler);
        self
    }

    pub fn get(self, path: &str, req: Requirement, handler: MethodRouter<S>) -> Self {
        self.route(path, &[Method::GET, Method::HEAD], req, handler)
    }

    pub fn post(self, path: &str, req: Requirement, handler: MethodRouter<S>) -> Self {
        self.route(path, &[Method::POST], req, handler)
    }

    pub fn with_state<S2>(self, state: S) -> Routes<S2> {
        Routes { router: self.router.with_state(state), table: self.table, errors: self.errors }
    }

    pub fn merge(mut self, other: Routes<S>) -> Self {
        self.router = self.router.merge(other.router);
        if let Err(e) = self.table.merge(other.table) {
            self.errors.push(e);
        }
        self.errors.extend(other.errors);
        self
    }

    pub fn into_parts(self) -> Result<(Router<S>, RouteTable), RouteError> {
        match self.errors.into_iter().next() {
            Some(e) => Err(e),
            None => Ok((self.router, self.table)),
        }
    }
}
