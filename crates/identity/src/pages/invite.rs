//! Accepting an invitation from its e-mail link, then signing in.

use super::login::start_session;
use super::response::{show, Shown};
use crate::model::AcceptInvitationRequest;
use crate::service::Identity;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use frontdesk_kernel::Error;
use frontdesk_web::pages::Page;
use frontdesk_web::{ApiPath, ClientIp, Role};
use serde::{Deserialize, Serialize};

const TEMPLATE: &str = "identity/invite.html";

#[derive(Serialize)]
struct InviteView {
    tenant_name: String,
    email: String,
    role: Role,
    /// An account with this e-mail exists: its password is enough.
    exists: bool,
    name: String,
}

/// The invitation behind `token`, or the friendly "no longer valid" page.
async fn invite_page(identity: &Identity, page: &Page, token: &str, shown: Shown, name: String) -> Response {
    match identity.lookup_invitation(token).await {
        Ok((tenant, inv, exists)) => show(
            page,
            TEMPLATE,
            shown,
            InviteView { tenant_name: tenant.name, email: inv.email, role: inv.role, exists, name },
        ),
        Err(Error::NotFound) => {
            show(page, "identity/invite_invalid.html", Shown { status: StatusCode::NOT_FOUND, ..Shown::ok() }, ())
        }
        Err(e) => page.error(e),
    }
}

/// `GET /invite/{token}`
pub async fn invitation(State(identity): State<Identity>, page: Page, ApiPath(token): ApiPath<String>) -> Response {
    invite_page(&identity, &page, &token, Shown::ok(), String::new()).await
}

#[derive(Deserialize)]
pub struct AcceptForm {
    name: Option<String>,
    #[serde(default)]
    password: String,
    /// Second factor of an existing account that has one.
    code: Option<String>,
}

/// `POST /invite/{token}`: joins (creating the account if needed) and signs in.
pub async fn accept(
    State(identity): State<Identity>,
    page: Page,
    ClientIp(ip): ClientIp,
    ApiPath(token): ApiPath<String>,
    Form(form): Form<AcceptForm>,
) -> Response {
    let name = form.name.clone().unwrap_or_default();
    let code = form.code.filter(|c| !c.trim().is_empty());
    let req = AcceptInvitationRequest { token: token.clone(), name: form.name, password: form.password.clone(), code };
    let user = match identity.accept_invitation(req, &ip).await {
        Ok((_, user)) => user,
        Err(e) => {
            return match Shown::from_error(&page, e) {
                Ok(shown) => invite_page(&identity, &page, &token, shown, name).await,
                Err(Error::NotFound) => invite_page(&identity, &page, &token, Shown::ok(), name).await,
                Err(e) => page.error(e),
            }
        }
    };
    // Accepting proved the password (and the second factor, where the account has one).
    start_session(&identity, &page, &user, &ip, "/app?notice=joined").await
}
