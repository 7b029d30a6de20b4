//! Sign-up: a new business and its owner, signed in straight away.

use super::login::continue_login;
use super::response::{failed, non_empty, show, Shown};
use crate::model::{SignupRequest, INDUSTRIES};
use crate::service::Identity;
use axum::extract::State;
use axum::response::Response;
use axum::Form;
use frontdesk_web::pages::Page;
use frontdesk_web::ClientIp;
use serde::{Deserialize, Serialize};

const SIGNUP: &str = "identity/signup.html";

/// The form's values; the password is read but never shown again.
#[derive(Deserialize, Serialize)]
pub struct SignupForm {
    #[serde(default)]
    tenant_name: String,
    #[serde(default)]
    slug: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default, skip_serializing)]
    password: String,
    #[serde(default)]
    time_zone: String,
    #[serde(default)]
    locale: String,
    #[serde(default)]
    industry: String,
}

#[derive(Serialize)]
struct SignupView {
    form: SignupForm,
    industries: &'static [&'static str],
    open: bool,
}

fn view(identity: &Identity, form: SignupForm) -> SignupView {
    SignupView { form, industries: INDUSTRIES, open: identity.config().open_signup }
}

/// `GET /signup`
pub async fn signup_form(State(identity): State<Identity>, page: Page) -> Response {
    let form = SignupForm {
        tenant_name: String::new(),
        slug: String::new(),
        name: String::new(),
        email: String::new(),
        password: String::new(),
        time_zone: "Europe/Berlin".into(),
        locale: page.locale.as_str().into(),
        industry: "other".into(),
    };
    show(&page, SIGNUP, Shown::ok(), view(&identity, form))
}

/// `POST /signup`: creates the business, then signs the owner in.
pub async fn signup(
    State(identity): State<Identity>,
    page: Page,
    ClientIp(ip): ClientIp,
    Form(form): Form<SignupForm>,
) -> Response {
    let req = SignupRequest {
        tenant_name: form.tenant_name.clone(),
        slug: non_empty(&form.slug),
        name: form.name.clone(),
        email: form.email.clone(),
        password: form.password.clone(),
        time_zone: non_empty(&form.time_zone),
        locale: non_empty(&form.locale),
        industry: non_empty(&form.industry),
    };
    // The API's tokens are not needed: the dashboard signs in with a session.
    if let Err(e) = identity.signup(req, &ip).await {
        return failed(&page, SIGNUP, e, view(&identity, form));
    }
    match identity.login_password(&form.email, &form.password, &ip).await {
        Ok(step) => continue_login(&identity, &page, step, &ip, "/app?notice=welcome").await,
        Err(e) => page.error(e),
    }
}
