//! Sending one text message through a provider's HTTP API, as each documents it:
//!
//! - **Twilio** Programmable Messaging: `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`,
//!   form-encoded `To`, `From` (or `MessagingServiceSid`) and `Body`, HTTP Basic auth with the
//!   Account SID and auth token; `201` with the message `sid`. WhatsApp through Twilio prefixes
//!   both addresses with `whatsapp:`.
//! - **WhatsApp Cloud API** (Meta Graph): `POST /{phone-number-id}/messages` with a bearer
//!   token and `{"messaging_product": "whatsapp", "to": …, "type": "text", "text": {"body": …}}`
//!   (or `"type": "template"` with the template's name, language and body parameters);
//!   `200` with `messages[0].id` (`wamid.…`). Twilio sends a WhatsApp template by its Content
//!   SID (`ContentSid`, `ContentVariables` `{"1": …}`).
//! - **Telegram** Bot API: `POST /bot{token}/sendMessage` with `{"chat_id": …, "text": …}`;
//!   `{"ok": true, "result": {"message_id": …}}`.
//!
//! Errors are read from each provider's error body and sorted into worth retrying (network,
//! timeouts, 5xx, rate limits) and refused (bad number, bad credentials, blocked bot): the
//! outbox shows the provider's own words. A secret never appears in an error: the Telegram
//! token is part of the URL, which network errors quote, so every error text is scrubbed.

use crate::model::{ChannelKind, MessageTemplate, OutboundMessage, Provider};
use data_encoding::BASE64;
use frontdesk_web::outbound::{self, OutboundError, OutboundPolicy, OutboundRequest};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use serde_json::{json, Value};
use url::Url;

/// The providers' API roots. Operators point them elsewhere only for a proxy or a test double.
#[derive(Clone, Debug)]
pub struct ProviderUrls {
    pub twilio: Url,
    /// The Graph API root with its version.
    pub whatsapp_cloud: Url,
    pub telegram: Url,
}

impl Default for ProviderUrls {
    fn default() -> Self {
        let parse = |s: &str| Url::parse(s).unwrap_or_else(|_| unreachable!("constant URL {s}"));
        Self {
            twilio: parse("https://api.twilio.com/"),
            whatsapp_cloud: parse("https://graph.facebook.com/v21.0/"),
            telegram: parse("https://api.telegram.org/"),
        }
    }
}

/// What a provider needs to send: the account's identifiers and its secret in clear.
pub(crate) struct Account<'a> {
    pub provider: Provider,
    pub account_id: Option<&'a str>,
    pub sender: Option<&'a str>,
    pub secret: &'a str,
}

/// What a message carries.
pub(crate) enum Content<'a> {
    Text(&'a str),
    /// A WhatsApp template (the message's text is then only the outbox's description).
    Template(&'a MessageTemplate),
}

impl<'a> Content<'a> {
    pub fn of(m: &'a OutboundMessage) -> Self {
        match &m.template {
            Some(t) => Content::Template(t),
            None => Content::Text(&m.text),
        }
    }
}

/// Why a send did not go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// Might work later: network, timeout, 5xx, rate limited.
    Retry(String),
    /// Will not work as it is: the provider refused the message or the credentials.
    Refused(String),
}

impl SendError {
    /// The same error with `secret` replaced wherever its text quotes it.
    fn scrubbed(self, secret: &str) -> Self {
        let scrub = |text: String| if secret.len() < 4 { text } else { text.replace(secret, "[secret]") };
        match self {
            SendError::Retry(m) => SendError::Retry(scrub(m)),
            SendError::Refused(m) => SendError::Refused(scrub(m)),
        }
    }
}

/// Sends `text` to `to` on `channel`; the provider's message id on success.
pub(crate) async fn send(
    client: &reqwest::Client,
    policy: &OutboundPolicy,
    urls: &ProviderUrls,
    account: &Account<'_>,
    channel: ChannelKind,
    to: &str,
    content: &Content<'_>,
) -> Result<String, SendError> {
    let exchange = async {
        let request = match (account.provider, content) {
            (Provider::Twilio, _) => twilio_request(urls, account, channel, to, content),
            (Provider::WhatsappCloud, _) => whatsapp_cloud_request(urls, account, to, content),
            (Provider::Telegram, Content::Text(text)) => telegram_request(urls, account, to, text),
            (Provider::Telegram, Content::Template(_)) => Err("Telegram has no message templates".to_owned()),
        }
        .map_err(SendError::Refused)?;
        let response = outbound::send(client, policy, request).await.map_err(|e| match e {
            OutboundError::Forbidden { .. } | OutboundError::InvalidUrl(_) => SendError::Refused(e.to_string()),
            _ => SendError::Retry(e.to_string()),
        })?;
        let status = response.status.as_u16();
        let body: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        match account.provider {
            Provider::Twilio => twilio_outcome(status, &body),
            Provider::WhatsappCloud => whatsapp_cloud_outcome(status, &body),
            Provider::Telegram => telegram_outcome(status, &body),
        }
    };
    // One place where every error text is cleaned of the secret.
    exchange.await.map_err(|e| e.scrubbed(account.secret))
}

/// `path` under `base`. Relative with `./`, so a segment with a colon (a Telegram token) is
/// not taken for a URL scheme.
fn join(base: &Url, path: &str) -> Result<Url, String> {
    base.join(&format!("./{path}")).map_err(|e| format!("cannot build the provider URL: {e}"))
}

fn retry_status(status: u16) -> bool {
    status >= 500 || status == 408 || status == 429
}

fn twilio_request(
    urls: &ProviderUrls,
    account: &Account<'_>,
    channel: ChannelKind,
    to: &str,
    content: &Content<'_>,
) -> Result<OutboundRequest, String> {
    let sid = account.account_id.ok_or("the Twilio account has no Account SID")?;
    let sender = account.sender.ok_or("the Twilio account has no sender")?;
    let url = join(&urls.twilio, &format!("2010-04-01/Accounts/{sid}/Messages.json"))?;
    let address = |a: &str| if channel == ChannelKind::Whatsapp { format!("whatsapp:{a}") } else { a.to_owned() };
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("To", &address(to));
    if sender.starts_with("MG") {
        form.append_pair("MessagingServiceSid", sender);
    } else {
        form.append_pair("From", &address(sender));
    }
    match content {
        Content::Text(text) => {
            form.append_pair("Body", text);
        }
        Content::Template(t) if t.name.starts_with("HX") => {
            // Content variables are numbered from 1, like the template's placeholders.
            let variables: serde_json::Map<String, Value> =
                t.parameters.iter().enumerate().map(|(i, p)| ((i + 1).to_string(), Value::from(p.as_str()))).collect();
            form.append_pair("ContentSid", &t.name);
            if !variables.is_empty() {
                form.append_pair("ContentVariables", &Value::Object(variables).to_string());
            }
        }
        Content::Template(t) => {
            return Err(format!("Twilio sends WhatsApp templates by Content SID (HX…), not by name ({})", t.name))
        }
    }
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
    let basic = format!("Basic {}", BASE64.encode(format!("{sid}:{}", account.secret).as_bytes()));
    headers.insert(AUTHORIZATION, HeaderValue::from_str(&basic).map_err(|_| "the auth token is not valid text")?);
    Ok(OutboundRequest::post(url, headers, form.finish().into_bytes()))
}

/// Twilio answers `201` with the message resource, or an error resource
/// `{"code": 21211, "message": "…", "more_info": "…", "status": 400}`.
fn twilio_outcome(status: u16, body: &Value) -> Result<String, SendError> {
    if (200..300).contains(&status) {
        return body["sid"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| SendError::Retry(format!("Twilio answered HTTP {status} without a message sid")));
    }
    let detail = match (body["code"].as_i64(), body["message"].as_str()) {
        (Some(code), Some(message)) => format!("Twilio error {code}: {message}"),
        _ => format!("Twilio answered HTTP {status}"),
    };
    Err(if retry_status(status) { SendError::Retry(detail) } else { SendError::Refused(detail) })
}

fn whatsapp_cloud_request(
    urls: &ProviderUrls,
    account: &Account<'_>,
    to: &str,
    content: &Content<'_>,
) -> Result<OutboundRequest, String> {
    let phone_number_id = account.account_id.ok_or("the WhatsApp account has no phone number ID")?;
    let url = join(&urls.whatsapp_cloud, &format!("{phone_number_id}/messages"))?;
    let mut body = json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to.trim_start_matches('+'),
    });
    match content {
        Content::Text(text) => {
            body["type"] = json!("text");
            body["text"] = json!({"preview_url": false, "body": text});
        }
        Content::Template(t) => {
            let mut template = json!({"name": t.name, "language": {"code": t.language}});
            if !t.parameters.is_empty() {
                let parameters: Vec<Value> = t.parameters.iter().map(|p| json!({"type": "text", "text": p})).collect();
                template["components"] = json!([{"type": "body", "parameters": parameters}]);
            }
            body["type"] = json!("template");
            body["template"] = template;
        }
    }
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let bearer = format!("Bearer {}", account.secret);
    headers.insert(AUTHORIZATION, HeaderValue::from_str(&bearer).map_err(|_| "the access token is not valid text")?);
    Ok(OutboundRequest::post(url, headers, body.to_string().into_bytes()))
}

/// Graph error codes that mean "later": throttling (4, 80007, 130429, 131056) and Meta's
/// temporary errors (1, 2, 131000, 131016).
const GRAPH_RETRY_CODES: &[i64] = &[1, 2, 4, 80007, 130429, 131000, 131016, 131056];

/// Graph answers `200` with `messages[0].id`, or
/// `{"error": {"message": "…", "type": "…", "code": 131047, "fbtrace_id": "…"}}`.
fn whatsapp_cloud_outcome(status: u16, body: &Value) -> Result<String, SendError> {
    if (200..300).contains(&status) {
        return body["messages"][0]["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| SendError::Retry(format!("WhatsApp answered HTTP {status} without a message id")));
    }
    let error = &body["error"];
    let code = error["code"].as_i64();
    let mut detail = match (code, error["message"].as_str()) {
        (Some(code), Some(message)) => format!("WhatsApp error {code}: {message}"),
        _ => format!("WhatsApp answered HTTP {status}"),
    };
    if code == Some(131047) {
        // Free-form text only reaches someone who wrote in the last 24 hours.
        detail.push_str(" (more than 24 hours since the customer's last message: only a template may be sent)");
    }
    let retry = retry_status(status) || code.is_some_and(|c| GRAPH_RETRY_CODES.contains(&c));
    Err(if retry { SendError::Retry(detail) } else { SendError::Refused(detail) })
}

fn telegram_request(
    urls: &ProviderUrls,
    account: &Account<'_>,
    to: &str,
    text: &str,
) -> Result<OutboundRequest, String> {
    let url = join(&urls.telegram, &format!("bot{}/sendMessage", account.secret))?;
    // A numeric chat id goes as a number, a public channel as its @name.
    let chat_id = to.parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::from(to));
    let body = json!({"chat_id": chat_id, "text": text});
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(OutboundRequest::post(url, headers, body.to_string().into_bytes()))
}

/// The Bot API answers `{"ok": true, "result": {"message_id": …}}`, or
/// `{"ok": false, "error_code": 403, "description": "…"}` (429 with `parameters.retry_after`).
fn telegram_outcome(status: u16, body: &Value) -> Result<String, SendError> {
    if body["ok"].as_bool() == Some(true) {
        return body["result"]["message_id"]
            .as_i64()
            .map(|id| id.to_string())
            .ok_or_else(|| SendError::Retry("Telegram answered without a message id".into()));
    }
    let code = body["error_code"].as_i64().and_then(|c| u16::try_from(c).ok()).unwrap_or(status);
    let detail = match body["description"].as_str() {
        Some(description) => format!("Telegram error {code}: {description}"),
        None => format!("Telegram answered HTTP {status}"),
    };
    Err(if retry_status(code) { SendError::Retry(detail) } else { SendError::Refused(detail) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_errors_are_sorted_into_retry_and_refused() {
        let twilio = json!({"code": 21211, "message": "The 'To' number is not a valid phone number.", "status": 400});
        assert_eq!(
            twilio_outcome(400, &twilio),
            Err(SendError::Refused("Twilio error 21211: The 'To' number is not a valid phone number.".into()))
        );
        assert!(matches!(twilio_outcome(503, &Value::Null), Err(SendError::Retry(_))));
        assert_eq!(twilio_outcome(201, &json!({"sid": "SM123"})), Ok("SM123".into()));

        let throttled = json!({"error": {"message": "Rate limit hit", "type": "OAuthException", "code": 130429}});
        assert!(matches!(whatsapp_cloud_outcome(400, &throttled), Err(SendError::Retry(_))));
        let window = json!({"error": {"message": "Re-engagement message", "code": 131047}});
        assert!(matches!(whatsapp_cloud_outcome(400, &window), Err(SendError::Refused(m)) if m.contains("24 hours")));
        let sent = json!({"messaging_product": "whatsapp", "messages": [{"id": "wamid.HBgL"}]});
        assert_eq!(whatsapp_cloud_outcome(200, &sent), Ok("wamid.HBgL".into()));

        let blocked = json!({"ok": false, "error_code": 403, "description": "Forbidden: bot was blocked by the user"});
        assert!(matches!(telegram_outcome(403, &blocked), Err(SendError::Refused(_))));
        let flood = json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 5",
                           "parameters": {"retry_after": 5}});
        assert!(matches!(telegram_outcome(429, &flood), Err(SendError::Retry(_))));
        assert_eq!(telegram_outcome(200, &json!({"ok": true, "result": {"message_id": 42}})), Ok("42".into()));
    }

    #[test]
    fn secrets_are_scrubbed_from_errors() {
        let token = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11";
        let text = format!("network: error sending request for url (https://api.telegram.org/bot{token}/sendMessage)");
        let SendError::Retry(scrubbed) = SendError::Retry(text).scrubbed(token) else { unreachable!() };
        assert!(!scrubbed.contains(token), "{scrubbed}");
    }
}
