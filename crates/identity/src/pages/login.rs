//! Signing in and out: the log-in form, its second-factor step, log-out, and the language switch.

use super::pending::{self, PendingLogin};
use super::response::{
    clear_session_cookie, failed, language_cookie, local_path, query_param, see_other, session_cookie, show,
    with_cookie, Shown,
};
use crate::service::{Identity, LoginStep};
use crate::store::UserRecord;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use frontdesk_kernel::domain::Locale;
use frontdesk_kernel::time::now_ms;
use frontdesk_web::pages::Page;
use frontdesk_web::{ApiPath, ClientIp, Principal};
use serde::{Deserialize, Serialize};

const LOGIN: &str = "identity/login.html";
const SECOND_FACTOR: &str = "identity/login_2fa.html";

/// `GET /`
pub async fn root() -> Response {
    see_other(super::response::HOME)
}

/// `GET /lang/{locale}?next=/path`: remembers the language in a cookie and goes back.
pub async fn language(State(identity): State<Identity>, ApiPath(locale): ApiPath<String>, page: Page) -> Response {
    let next = local_path(query_param(&page, "next").as_deref());
    match Locale::parse(&locale) {
        Ok(locale) => with_cookie(language_cookie(&identity, locale.as_str()), see_other(&next)),
        Err(_) => see_other(&next),
    }
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

#[derive(Serialize)]
struct LoginView {
    email: String,
    next: String,
    signup: bool,
}

impl LoginView {
    fn new(identity: &Identity, email: String, next: String) -> Self {
        Self { email, next, signup: identity.config().open_signup }
    }
}

/// `GET /login`
pub async fn login_form(State(identity): State<Identity>, page: Page) -> Response {
    let next = local_path(query_param(&page, "next").as_deref());
    if page.principal.is_some() {
        return see_other(&next);
    }
    show(&page, LOGIN, Shown::ok(), LoginView::new(&identity, String::new(), next))
}

/// `POST /login`
pub async fn login(
    State(identity): State<Identity>,
    page: Page,
    ClientIp(ip): ClientIp,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = local_path(form.next.as_deref());
    match identity.login_password(&form.email, &form.password, &ip).await {
        Ok(step) => continue_login(&identity, &page, step, &ip, &next).await,
        Err(e) => failed(&page, LOGIN, e, LoginView::new(&identity, form.email, next)),
    }
}

#[derive(Serialize)]
struct SecondFactorView {
    token: String,
}

/// After the password: the session, or the second-factor step when the account has one.
pub async fn continue_login(identity: &Identity, page: &Page, step: LoginStep, ip: &str, next: &str) -> Response {
    match step {
        LoginStep::Done(user) => start_session(identity, page, &user, ip, next).await,
        LoginStep::NeedsSecondFactor(user) => {
            let token = PendingLogin::new(user.id.as_str(), &user.email, next, now_ms())
                .sign(&identity.keys.derive(pending::PURPOSE));
            show(page, SECOND_FACTOR, Shown::ok(), SecondFactorView { token })
        }
    }
}

/// Creates the dashboard session, sets its cookie and goes to `next`.
pub(super) async fn start_session(
    identity: &Identity,
    page: &Page,
    user: &UserRecord,
    ip: &str,
    next: &str,
) -> Response {
    match identity.create_session(user, ip).await {
        Ok(session) => with_cookie(
            session_cookie(identity, &session.cookie, session.max_age.as_secs()),
            see_other(&local_path(Some(next))),
        ),
        Err(e) => page.error(e),
    }
}

#[derive(Deserialize)]
pub struct SecondFactorForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    code: String,
}

/// `POST /login/2fa`: the 6-digit code, or a recovery code, in the same field.
pub async fn second_factor(
    State(identity): State<Identity>,
    page: Page,
    ClientIp(ip): ClientIp,
    Form(form): Form<SecondFactorForm>,
) -> Response {
    let expired = || {
        let shown = Shown::alert(StatusCode::UNAUTHORIZED, page.t("err.login_expired"));
        show(&page, LOGIN, shown, LoginView::new(&identity, String::new(), super::response::HOME.to_owned()))
    };
    let Some(pending) = PendingLogin::verify(&identity.keys.derive(pending::PURPOSE), &form.token, now_ms()) else {
        return expired();
    };
    let user = match identity.find_user(&pending.email).await {
        Ok(Some(user)) if user.id.as_str() == pending.user_id => user,
        Ok(_) => return expired(),
        Err(e) => return page.error(e),
    };
    let code: String = form.code.chars().filter(|c| !c.is_whitespace()).collect();
    let is_totp = code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit());
    let (totp, recovery) = if is_totp { (Some(code.as_str()), None) } else { (None, Some(code.as_str())) };
    match identity.verify_second_factor(&user, totp, recovery).await {
        Ok(()) => start_session(&identity, &page, &user, &ip, &pending.next).await,
        Err(e) => failed(&page, SECOND_FACTOR, e, SecondFactorView { token: form.token }),
    }
}

/// `POST /logout`
pub async fn logout(State(identity): State<Identity>, page: Page, principal: Principal) -> Response {
    match identity.logout(&principal).await {
        Ok(()) => with_cookie(clear_session_cookie(&identity), see_other("/login")),
        Err(e) => page.error(e),
    }
}
