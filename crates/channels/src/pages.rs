//! The dashboard's Channels page: connect WhatsApp, SMS and Telegram accounts (secrets shown
//! only by their last four characters), send a message, and the outbox with each message's
//! state, provider id and error, where a held or failed message can be sent again.

use crate::model::*;
use crate::service::Channels;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Form;
use frontdesk_kernel::domain::Locale;
use frontdesk_kernel::Error;
use frontdesk_web::pages::{NavItem, Page, TemplatesBuilder};
use frontdesk_web::{ApiPath, AuditActor, Permission, Principal, Requirement, Routes};
use serde::Deserialize;
use serde_json::json;

pub fn templates(b: &mut TemplatesBuilder) {
    b.template("channels/channels.html", include_str!("../templates/channels.html"))
        .translations(Locale::En, include_str!("../i18n/en.json"))
        .translations(Locale::De, include_str!("../i18n/de.json"))
        .nav(NavItem {
            href: "/app/channels",
            label: "nav.channels",
            requirement: Requirement::Tenant(Permission::ChannelsRead),
            order: 48,
        });
}

pub fn routes(channels: Channels) -> Routes {
    let manage = Requirement::Tenant(Permission::ChannelsManage);
    Routes::new()
        .get("/app/channels", Requirement::Tenant(Permission::ChannelsRead), get(show))
        .post("/app/channels/connect", manage, post(connect))
        .post("/app/channels/{channel}/disconnect", manage, post(disconnect))
        .post("/app/channels/send", manage, post(send))
        .post("/app/channels/messages/{message_id}/resend", manage, post(resend))
        .with_state(channels)
}

#[derive(Deserialize)]
pub struct ConnectForm {
    #[serde(default)]
    channel: String,
    #[serde(default)]
    provider: String,
    #[serde(default)]
    account_id: String,
    #[serde(default)]
    sender: String,
    #[serde(default)]
    secret: String,
}

#[derive(Deserialize)]
pub struct SendForm {
    #[serde(default)]
    channel: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    text: String,
}

/// The page, with the errors and entries of a form that did not go through.
async fn render(c: &Channels, page: &Page, p: &Principal, status: StatusCode, extra: serde_json::Value) -> Response {
    let data = async {
        let accounts = c.accounts(p).await?;
        let messages = c.messages(p, None, 100).await?;
        let channels: Vec<_> = ChannelKind::ALL
            .into_iter()
            .map(|kind| {
                json!({
                    "channel": kind,
                    "label": kind.label(),
                    "providers": kind.providers(),
                    "account": accounts.iter().find(|a| a.channel == kind),
                })
            })
            .collect();
        Ok::<_, Error>(json!({
            "channels": channels,
            "messages": messages,
            "can_manage": p.can(Permission::ChannelsManage),
            "connect_errors": extra.get("connect_errors").cloned().unwrap_or(json!([])),
            "send_errors": extra.get("send_errors").cloned().unwrap_or(json!([])),
            "connect_form": extra.get("connect_form").cloned()
                .unwrap_or(json!({"channel": "", "provider": "", "account_id": "", "sender": ""})),
            "send_form": extra.get("send_form").cloned().unwrap_or(json!({"channel": "", "to": "", "text": ""})),
        }))
    };
    match data.await {
        Ok(data) => page.render_status(status, "channels/channels.html", data),
        Err(e) => page.error(e),
    }
}

async fn show(State(c): State<Channels>, page: Page, p: Principal) -> Response {
    render(&c, &page, &p, StatusCode::OK, json!({})).await
}

/// A form's select that names no known value: a field error like the API's.
fn unknown(field: &str, what: &str) -> Error {
    Error::field(field, "invalid_choice", format!("Choose a {what}."))
}

async fn connect(
    State(c): State<Channels>,
    page: Page,
    p: Principal,
    AuditActor(actor): AuditActor,
    Form(f): Form<ConnectForm>,
) -> Response {
    let result = async {
        let channel = ChannelKind::parse(&f.channel).ok_or_else(|| unknown("channel", "channel"))?;
        let provider = Provider::parse(&f.provider).ok_or_else(|| unknown("provider", "provider"))?;
        let some = |s: &str| Some(s.to_owned()).filter(|s| !s.trim().is_empty());
        let req = ConnectChannelRequest {
            provider,
            account_id: some(&f.account_id),
            sender: some(&f.sender),
            secret: some(&f.secret),
        };
        c.connect(&p, channel, req, &actor).await
    };
    match result.await {
        Ok(_) => Redirect::to("/app/channels?notice=channel_connected").into_response(),
        Err(Error::Validation(errors)) => {
            // The secret is never echoed back into the page.
            let form =
                json!({"channel": f.channel, "provider": f.provider, "account_id": f.account_id, "sender": f.sender});
            let extra = json!({"connect_errors": errors, "connect_form": form});
            render(&c, &page, &p, StatusCode::UNPROCESSABLE_ENTITY, extra).await
        }
        Err(e) => page.error(e),
    }
}

async fn disconnect(
    State(c): State<Channels>,
    page: Page,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(channel): ApiPath<ChannelKind>,
) -> Response {
    page.after(c.disconnect(&p, channel, &actor).await, "/app/channels?notice=channel_disconnected")
}

async fn send(State(c): State<Channels>, page: Page, p: Principal, Form(f): Form<SendForm>) -> Response {
    let result = async {
        let channel = ChannelKind::parse(&f.channel).ok_or_else(|| unknown("channel", "channel"))?;
        c.send(&p, SendMessageRequest { channel, to: f.to.clone(), text: f.text.clone(), template: None }, "dashboard")
            .await
    };
    match result.await {
        Ok(_) => Redirect::to("/app/channels?notice=message_queued").into_response(),
        Err(Error::Validation(errors)) => {
            let extra = json!({"send_errors": errors, "send_form": {"channel": f.channel, "to": f.to, "text": f.text}});
            render(&c, &page, &p, StatusCode::UNPROCESSABLE_ENTITY, extra).await
        }
        Err(e) => page.error(e),
    }
}

async fn resend(
    State(c): State<Channels>,
    page: Page,
    p: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(id): ApiPath<OutboundMessageId>,
) -> Response {
    page.after(c.resend(&p, &id, &actor).await, "/app/channels?notice=message_queued")
}

#[cfg(test)]
mod tests {
    #[test]
    fn both_languages_translate_every_key_the_page_names() {
        let (en, named) = frontdesk_web::pages::check_translations(
            include_str!("../templates/channels.html"),
            "channels.",
            include_str!("../i18n/en.json"),
            include_str!("../i18n/de.json"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(named > 20, "the scan found only {named} keys");
        for state in ["queued", "sent", "held", "failed"] {
            assert!(en.contains(&format!("channels.state.{state}")));
        }
        for provider in ["twilio", "whatsapp_cloud", "telegram"] {
            assert!(en.contains(&format!("channels.provider.{provider}")));
        }
    }
}
