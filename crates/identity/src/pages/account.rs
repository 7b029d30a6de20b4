//! The signed-in user's account: profile, password, two-factor authentication, signing out
//! everywhere.

use super::response::{
    clear_session_cookie, language_cookie, non_empty, see_other, show, with_cookie, with_notice, Shown,
};
use crate::model::{ChangePasswordRequest, DisableTotpRequest, Me, UpdateMeRequest};
use crate::service::Identity;
use crate::totp;
use axum::extract::State;
use axum::response::Response;
use axum::Form;
use frontdesk_kernel::Error;
use frontdesk_web::pages::Page;
use frontdesk_web::{AuditActor, Principal};
use serde::{Deserialize, Serialize};

const ACCOUNT: &str = "/app/account";
const TOTP_SETUP: &str = "identity/totp_setup.html";

#[derive(Deserialize, Serialize)]
pub struct ProfileForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    locale: String,
}

#[derive(Serialize)]
struct AccountView {
    me: Me,
    profile: ProfileForm,
}

async fn account_page(
    identity: &Identity,
    page: &Page,
    principal: &Principal,
    shown: Shown,
    profile: Option<ProfileForm>,
) -> Response {
    let me = match identity.me(principal).await {
        Ok(me) => me,
        Err(e) => return page.error(e),
    };
    let profile = profile.unwrap_or_else(|| ProfileForm {
        name: me.name.clone(),
        locale: me.locale.clone().unwrap_or_else(|| page.locale.as_str().into()),
    });
    show(page, "identity/account.html", shown, AccountView { me, profile })
}

/// Shows `error` on the account page (or the error page when it is a fault).
async fn refused(
    identity: &Identity,
    page: &Page,
    principal: &Principal,
    error: Error,
    profile: Option<ProfileForm>,
) -> Response {
    match Shown::from_error(page, error) {
        Ok(shown) => account_page(identity, page, principal, shown, profile).await,
        Err(e) => page.error(e),
    }
}

/// `GET /app/account`
pub async fn account(State(identity): State<Identity>, page: Page, principal: Principal) -> Response {
    account_page(&identity, &page, &principal, Shown::ok(), None).await
}

/// `POST /app/account/profile`: name and language (the language also becomes the page language).
pub async fn save_profile(
    State(identity): State<Identity>,
    page: Page,
    principal: Principal,
    AuditActor(actor): AuditActor,
    Form(form): Form<ProfileForm>,
) -> Response {
    let req = UpdateMeRequest { name: Some(form.name.clone()), locale: non_empty(&form.locale) };
    match identity.update_me(&principal, req, &actor).await {
        Ok(me) => {
            let done = with_notice(ACCOUNT, "profile_saved");
            match me.locale {
                Some(locale) => with_cookie(language_cookie(&identity, &locale), done),
                None => done,
            }
        }
        Err(e) => refused(&identity, &page, &principal, e, Some(form)).await,
    }
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

/// `POST /app/account/password`: every session ends, this one too.
pub async fn change_password(
    State(identity): State<Identity>,
    page: Page,
    principal: Principal,
    AuditActor(actor): AuditActor,
    Form(form): Form<PasswordForm>,
) -> Response {
    let req = ChangePasswordRequest { current_password: form.current_password, new_password: form.new_password };
    match identity.change_password(&principal, req, &actor).await {
        Ok(()) => with_cookie(clear_session_cookie(&identity), see_other("/login?notice=password_changed")),
        Err(e) => refused(&identity, &page, &principal, e, None).await,
    }
}

#[derive(Serialize)]
struct TotpSetupView {
    secret: String,
    otpauth_uri: String,
}

/// `POST /app/account/2fa/setup`: a new secret to put into an authenticator app.
pub async fn totp_setup(State(identity): State<Identity>, page: Page, principal: Principal) -> Response {
    match identity.totp_setup(&principal).await {
        Ok(setup) => {
            show(&page, TOTP_SETUP, Shown::ok(), TotpSetupView { secret: setup.secret, otpauth_uri: setup.otpauth_uri })
        }
        Err(e) => refused(&identity, &page, &principal, e, None).await,
    }
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    code: String,
    /// The secret shown on the set-up page, posted back so a wrong code can show it again.
    #[serde(default)]
    secret: String,
}

#[derive(Serialize)]
struct RecoveryView {
    codes: Vec<String>,
}

/// `POST /app/account/2fa/confirm`: turns two-factor on and shows the recovery codes, once.
pub async fn totp_confirm(
    State(identity): State<Identity>,
    page: Page,
    principal: Principal,
    AuditActor(actor): AuditActor,
    Form(form): Form<ConfirmForm>,
) -> Response {
    match identity.totp_confirm(&principal, &form.code, &actor).await {
        Ok(codes) => {
            show(&page, "identity/recovery_codes.html", Shown::ok(), RecoveryView { codes: codes.recovery_codes })
        }
        Err(e) => match Shown::from_error(&page, e) {
            Ok(shown) => {
                let otpauth_uri = totp::otpauth_uri("Frontdesk", &principal.label, &form.secret);
                show(&page, TOTP_SETUP, shown, TotpSetupView { secret: form.secret, otpauth_uri })
            }
            Err(e) => page.error(e),
        },
    }
}

#[derive(Deserialize)]
pub struct DisableForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
}

/// `POST /app/account/2fa/disable`
pub async fn totp_disable(
    State(identity): State<Identity>,
    page: Page,
    principal: Principal,
    AuditActor(actor): AuditActor,
    Form(form): Form<DisableForm>,
) -> Response {
    let req = DisableTotpRequest { password: form.password, code: form.code };
    match identity.totp_disable(&principal, req, &actor).await {
        Ok(()) => with_notice(ACCOUNT, "two_factor_disabled"),
        Err(e) => refused(&identity, &page, &principal, e, None).await,
    }
}

/// `POST /app/account/revoke-all`: ends every session and token of the account.
pub async fn revoke_all(
    State(identity): State<Identity>,
    page: Page,
    principal: Principal,
    AuditActor(actor): AuditActor,
) -> Response {
    match identity.revoke_all(&principal, &actor).await {
        Ok(()) => with_cookie(clear_session_cookie(&identity), see_other("/login?notice=signed_out_everywhere")),
        Err(e) => page.error(e),
    }
}
