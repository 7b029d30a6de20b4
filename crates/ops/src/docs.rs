//! The OpenAPI document (`/api/openapi.json`) and a browsable reference (`/api/docs`) rendered
//! on the server from the same document, so it works offline and needs no JavaScript bundle.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use frontdesk_web::pages::Page;
use frontdesk_web::{Requirement, Routes};
use serde::Serialize;
use std::sync::Arc;

/// One operation as the reference page lists it.
#[derive(Serialize, Clone)]
struct Operation {
    method: String,
    path: String,
    summary: String,
    description: String,
    tag: String,
    /// `public`, `signed in`, a permission, or `operator`.
    access: String,
    request_schema: Option<String>,
    parameters: Vec<(String, String, bool)>,
    responses: Vec<(String, String)>,
}

pub struct ApiDocs {
    json: String,
    operations: Vec<Operation>,
}

impl ApiDocs {
    pub fn new(doc: &utoipa::openapi::OpenApi) -> Self {
        let json = doc.to_pretty_json().unwrap_or_else(|_| "{}".into());
        let value: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
        let mut operations = Vec::new();
        if let Some(paths) = value.get("paths").and_then(|p| p.as_object()) {
            for (path, item) in paths {
                let Some(item) = item.as_object() else { continue };
                for (method, op) in item {
                    operations.push(operation(method, path, op));
                }
            }
        }
        operations.sort_by(|a, b| {
            (a.tag.as_str(), a.path.as_str(), a.method.as_str()).cmp(&(
                b.tag.as_str(),
                b.path.as_str(),
                b.method.as_str(),
            ))
        });
        Self { json, operations }
    }
}

fn text(v: &serde_json::Value, key: &str) -> String {
    v.get(key).and_then(|s| s.as_str()).unwrap_or("").to_owned()
}

fn schema_name(v: &serde_json::Value) -> Option<String> {
    let schema = v.pointer("/content/application~1json/schema")?;
    schema
        .get("$ref")
        .and_then(|r| r.as_str())
        .map(|r| r.rsplit('/').next().unwrap_or(r).to_owned())
        .or_else(|| Some(schema.get("type").and_then(|t| t.as_str()).unwrap_or("object").to_owned()))
}

fn operation(method: &str, path: &str, op: &serde_json::Value) -> Operation {
    let access = match op.get("security").and_then(|s| s.as_array()) {
        Some(reqs) if reqs.is_empty() => "public".to_owned(),
        Some(reqs) => {
            let scopes: Vec<String> = reqs
                .first()
                .and_then(|r| r.as_object())
                .and_then(|o| o.values().next())
                .and_then(|s| s.as_array())
                .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
                .unwrap_or_default();
            match scopes.first().map(String::as_str) {
                None => "signed in".into(),
                Some("platform:operate") => "operator".into(),
                Some(s) => s.to_owned(),
            }
        }
        None => "undeclared".into(),
    };
    let parameters = op
        .get("parameters")
        .and_then(|p| p.as_array())
        .map(|ps| {
            ps.iter()
                .map(|p| (text(p, "name"), text(p, "in"), p.get("required").and_then(|r| r.as_bool()).unwrap_or(false)))
                .collect()
        })
        .unwrap_or_default();
    let responses = op
        .get("responses")
        .and_then(|r| r.as_object())
        .map(|rs| rs.iter().map(|(code, r)| (code.clone(), schema_name(r).unwrap_or_default())).collect())
        .unwrap_or_default();
    Operation {
        method: method.to_uppercase(),
        path: path.to_owned(),
        summary: text(op, "summary"),
        description: text(op, "description"),
        tag: op.pointer("/tags/0").and_then(|t| t.as_str()).unwrap_or("other").to_owned(),
        access,
        request_schema: op.get("requestBody").and_then(schema_name),
        parameters,
        responses,
    }
}

/// `/api/openapi.json` and `/api/docs`, both public.
pub fn routes(docs: Arc<ApiDocs>) -> Routes {
    let json_docs = docs.clone();
    Routes::new()
        .get(
            "/api/openapi.json",
            Requirement::Public,
            get(move || {
                let docs = json_docs.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], docs.json.clone()).into_response() }
            }),
        )
        .get(
            "/api/docs",
            Requirement::Public,
            get(move |page: Page| {
                let docs = docs.clone();
                async move { reference(page, &docs) }
            }),
        )
}

fn reference(page: Page, docs: &ApiDocs) -> Response {
    page.render("ops/api_docs.html", serde_json::json!({ "operations": docs.operations }))
}
