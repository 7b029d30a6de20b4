//! Channels' rules: connecting the tenant's accounts (secrets sealed, never shown again), and
//! the outbox: a message is stored and its send job queued in the caller's transaction, so a
//! workflow step or an API call that commits has a message that will be tried until it is sent
//! or fails for good — a crash or a provider outage loses nothing.

use crate::model::*;
use crate::providers::{self, ProviderUrls, SendError};
use crate::store::{self, Attempt};
use frontdesk_kernel::crypto::{secret_hint, Keyring};
use frontdesk_kernel::domain::PhoneNumber;
use frontdesk_kernel::error::{FieldErrorKind, Validator};
use frontdesk_kernel::time::now_ms;
use frontdesk_kernel::{Error, Result, TenantId};
use frontdesk_store::audit::{self, Actor, Change};
use frontdesk_store::jobs::{self, Job, JobError, JobRegistry, NewJob};
use frontdesk_store::{Db, StoreError, TenantTx};
use frontdesk_web::outbound::{self, OutboundError, OutboundPolicy};
use frontdesk_web::Principal;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// The job that makes one attempt at sending an outbound message.
pub const SEND_JOB: &str = "channels.send";
/// Keyring purpose of sealed channel secrets.
pub const SECRET_PURPOSE: &str = "channel-secret";

#[derive(Clone, Debug)]
pub struct ChannelsConfig {
    pub urls: ProviderUrls,
    /// How provider APIs are reached (timeout, body limit; `allow_private` only for test doubles).
    pub outbound: OutboundPolicy,
    /// Attempts per message; the job queue backs off exponentially between them (2 s doubling:
    /// ten attempts span about 17 minutes).
    pub max_attempts: u32,
}

impl Default for ChannelsConfig {
    fn default() -> Self {
        Self {
            urls: ProviderUrls::default(),
            outbound: OutboundPolicy {
                allow_private: false,
                max_redirects: 0,
                timeout: Duration::from_secs(15),
                max_body_bytes: 64 * 1024,
                allow_hosts: Vec::new(),
            },
            max_attempts: 10,
        }
    }
}

/// The channels capability's service. Cheap to clone.
#[derive(Clone)]
pub struct Channels {
    db: Db,
    keys: Keyring,
    config: Arc<ChannelsConfig>,
    client: reqwest::Client,
}

impl Channels {
    pub fn new(db: Db, keys: Keyring, config: ChannelsConfig) -> std::result::Result<Self, OutboundError> {
        let client = outbound::safe_client(&config.outbound)?;
        Ok(Self { db, keys, config: Arc::new(config), client })
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    // ---------------- accounts ----------------

    pub async fn accounts(&self, p: &Principal) -> Result<Vec<ChannelAccount>> {
        let mut tx = self.db.tenant_read(p.tenant()?).await?;
        Ok(store::list_accounts(&mut tx).await?)
    }

    /// Connects `channel` to an account, or changes it. The secret may be left out to keep the
    /// stored one, unless the provider changes.
    pub async fn connect(
        &self,
        p: &Principal,
        channel: ChannelKind,
        req: ConnectChannelRequest,
        actor: &Actor,
    ) -> Result<ChannelAccount> {
        let mut tx = self.db.tenant(p.tenant()?).await?;
        let existing = match store::account(&mut tx, channel).await {
            Ok(rec) => Some(rec),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        };
        let keep_secret = existing.as_ref().filter(|e| e.account.provider == req.provider);
        let checked = check_account(channel, &req, keep_secret.is_some())?;
        let now = now_ms();
        let (sealed, hint) = match (&checked.secret, keep_secret) {
            (Some(secret), _) => (self.keys.seal(SECRET_PURPOSE, secret.as_bytes()), secret_hint(secret)),
            (None, Some(kept)) => (kept.secret.clone(), kept.account.secret_hint.clone()),
            (None, None) => return Err(Error::internal("a checked account has no secret")),
        };
        let account = ChannelAccount {
            channel,
            provider: req.provider,
            account_id: checked.account_id,
            sender: checked.sender,
            secret_hint: hint,
            created_at: existing.as_ref().map_or(now, |e| e.account.created_at),
            updated_at: now,
        };
        store::upsert_account(&mut tx, &account, &sealed).await?;
        let change = Change::new("channel.connected", "channel", Some(channel.as_str())).details(json!({
            "provider": account.provider,
            "account_id": account.account_id,
            "sender": account.sender,
            "secret_changed": checked.secret.is_some(),
        }));
        audit::record(&mut tx, actor, change).await?;
        tx.commit().await?;
        Ok(account)
    }

    pub async fn disconnect(&self, p: &Principal, channel: ChannelKind, actor: &Actor) -> Result<()> {
        let mut tx = self.db.tenant(p.tenant()?).await?;
        store::delete_account(&mut tx, channel).await?;
        audit::record(&mut tx, actor, Change::new("channel.disconnected", "channel", Some(channel.as_str()))).await?;
        tx.commit().await?;
        Ok(())
    }

    // ---------------- the outbox ----------------

    /// Sends a message on behalf of `p` (the API, the dashboard).
    pub async fn send(&self, p: &Principal, req: SendMessageRequest, origin: &str) -> Result<OutboundMessage> {
        let mut tx = self.db.tenant(p.tenant()?).await?;
        let message = self.queue(&mut tx, req.channel, &req.to, &req.text, req.template.as_ref(), origin).await?;
        tx.commit().await?;
        Ok(message)
    }

    /// Stores a message (free `text`, or on WhatsApp a `template`) and queues its sending in the
    /// caller's transaction: nothing is sent unless the transaction commits, and nothing
    /// committed is lost. Bad input is a validation error on `to`, `text` or `template`.
    pub async fn queue(
        &self,
        tx: &mut TenantTx,
        channel: ChannelKind,
        to: &str,
        text: &str,
        template: Option<&MessageTemplate>,
        origin: &str,
    ) -> Result<OutboundMessage> {
        let mut v = Validator::new();
        let to = v.check("to", check_recipient(channel, to));
        let template = template.and_then(|t| check_template(&mut v, "template", channel, t));
        let text = match &template {
            Some(t) if text.trim().is_empty() => Some(describe_template(t)),
            _ => v.check("text", check_text(channel, text)),
        };
        v.finish()?;
        let (Some(to), Some(text)) = (to, text) else { return Err(Error::internal("checked message incomplete")) };
        let now = now_ms();
        let message = OutboundMessage {
            id: OutboundMessageId::new(),
            channel,
            to,
            text,
            template,
            state: MessageState::Queued,
            provider: None,
            provider_message_id: None,
            attempts: 0,
            error: None,
            origin: origin.chars().take(200).collect(),
            created_at: now,
            updated_at: now,
            sent_at: None,
        };
        store::insert_message(tx, &message).await?;
        self.enqueue_send(tx, &message.id).await?;
        Ok(message)
    }

    async fn enqueue_send(&self, tx: &mut TenantTx, id: &OutboundMessageId) -> Result<()> {
        let job = NewJob::new(SEND_JOB, &json!({"message_id": id}))?.max_attempts(self.config.max_attempts);
        jobs::enqueue(tx, job).await?;
        Ok(())
    }

    pub async fn messages(&self, p: &Principal, after: Option<&str>, limit: u32) -> Result<Vec<OutboundMessage>> {
        let mut tx = self.db.tenant_read(p.tenant()?).await?;
        Ok(store::list_messages(&mut tx, after, limit).await?)
    }

    pub async fn message(&self, p: &Principal, id: &OutboundMessageId) -> Result<OutboundMessage> {
        let mut tx = self.db.tenant_read(p.tenant()?).await?;
        Ok(store::message(&mut tx, id).await?)
    }

    /// Tries a held or failed message again (after connecting its channel, or fixing the
    /// account), with a fresh set of attempts.
    pub async fn resend(&self, p: &Principal, id: &OutboundMessageId, actor: &Actor) -> Result<OutboundMessage> {
        let mut tx = self.db.tenant(p.tenant()?).await?;
        if !store::requeue(&mut tx, id, now_ms()).await? {
            store::message(&mut tx, id).await?; // 404 when it does not exist
            return Err(Error::conflict("not_resendable", "Only a held or failed message can be sent again."));
        }
        self.enqueue_send(&mut tx, id).await?;
        audit::record(&mut tx, actor, Change::new("outbound_message.resent", "outbound_message", Some(id.as_str())))
            .await?;
        let message = store::message(&mut tx, id).await?;
        tx.commit().await?;
        Ok(message)
    }

    // ---------------- sending ----------------

    /// One attempt at a queued message (the send job).
    async fn attempt(&self, job: &Job) -> std::result::Result<(), JobError> {
        #[derive(Deserialize)]
        struct Payload {
            message_id: OutboundMessageId,
        }
        let payload: Payload = job.payload()?;
        let tenant = job.tenant()?.clone();
        let id = payload.message_id;

        let mut tx = self.db.tenant_read(&tenant).await?;
        let message = match store::message(&mut tx, &id).await {
            Ok(m) => m,
            Err(StoreError::NotFound) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        if message.state != MessageState::Queued {
            return Ok(()); // finished by an earlier run: idempotent
        }
        let account = match store::account(&mut tx, message.channel).await {
            Ok(rec) => Some(rec),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        };
        drop(tx); // no connection held while the provider answers

        let Some(account) = account else {
            let why =
                format!("No {} account is connected: the message is kept in the outbox.", message.channel.label());
            self.record(&tenant, &id, MessageState::Held, None, None, Some(&why)).await?;
            tracing::info!(tenant_id = %tenant, message_id = %id, channel = message.channel.as_str(),
                "channel not connected: message held in the outbox");
            return Ok(());
        };
        let secret = match self.keys.open(SECRET_PURPOSE, &account.secret).map(String::from_utf8) {
            Ok(Ok(secret)) => secret,
            _ => {
                let why = "Cannot open the channel's secret (was the master key changed?): connect it again.";
                self.record(&tenant, &id, MessageState::Failed, None, None, Some(why)).await?;
                return Ok(());
            }
        };
        let provider = account.account.provider;
        let creds = providers::Account {
            provider,
            account_id: account.account.account_id.as_deref(),
            sender: account.account.sender.as_deref(),
            secret: &secret,
        };
        let sent = providers::send(
            &self.client,
            &self.config.outbound,
            &self.config.urls,
            &creds,
            message.channel,
            &message.to,
            &providers::Content::of(&message),
        )
        .await;
        match sent {
            Ok(provider_id) => {
                self.record(&tenant, &id, MessageState::Sent, Some(provider), Some(&provider_id), None).await?;
                tracing::info!(tenant_id = %tenant, message_id = %id, provider = provider.as_str(), "message sent");
                Ok(())
            }
            Err(SendError::Refused(why)) => {
                self.record(&tenant, &id, MessageState::Failed, Some(provider), None, Some(&why)).await?;
                tracing::warn!(tenant_id = %tenant, message_id = %id, provider = provider.as_str(), error = %why,
                    "provider refused the message");
                Ok(())
            }
            Err(SendError::Retry(why)) => {
                let last = job.attempt >= job.max_attempts;
                let state = if last { MessageState::Failed } else { MessageState::Queued };
                self.record(&tenant, &id, state, Some(provider), None, Some(&why)).await?;
                if last {
                    tracing::warn!(tenant_id = %tenant, message_id = %id, error = %why, "message failed after its last attempt");
                    Ok(())
                } else {
                    Err(JobError::Transient(why))
                }
            }
        }
    }

    async fn record(
        &self,
        tenant: &TenantId,
        id: &OutboundMessageId,
        state: MessageState,
        provider: Option<Provider>,
        provider_message_id: Option<&str>,
        error: Option<&str>,
    ) -> std::result::Result<(), JobError> {
        let mut tx = self.db.tenant(tenant).await?;
        let attempt = Attempt { state, provider, provider_message_id, error, at: now_ms() };
        if store::record_attempt(&mut tx, id, &attempt).await? {
            tx.commit().await?;
        }
        Ok(())
    }
}

/// Registers the send job.
pub fn register_jobs(registry: &mut JobRegistry, channels: Channels) {
    registry.register(SEND_JOB, move |job: Job| {
        let channels = channels.clone();
        async move { channels.attempt(&job).await }
    });
}

// ---------------- validation ----------------

struct CheckedAccount {
    account_id: Option<String>,
    sender: Option<String>,
    secret: Option<String>,
}

fn trimmed(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// `prefix` followed by 32 lower-case hex digits (Twilio SIDs: `AC…`, `MG…`).
fn is_twilio_sid(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix).is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn check_account(channel: ChannelKind, req: &ConnectChannelRequest, may_keep_secret: bool) -> Result<CheckedAccount> {
    let mut v = Validator::new();
    if !channel.providers().contains(&req.provider) {
        let allowed: Vec<&str> = channel.providers().iter().map(|p| p.as_str()).collect();
        v.push(
            "provider",
            "unsupported_provider",
            format!("{} is carried by {}.", channel.label(), allowed.join(" or ")),
        );
    }
    let account_id = trimmed(&req.account_id).map(str::to_owned);
    let sender = trimmed(&req.sender).map(str::to_owned);
    let secret = trimmed(&req.secret).map(str::to_owned);
    let (account_id, sender) = match req.provider {
        Provider::Twilio => {
            match account_id.as_deref() {
                None => v.push("account_id", "required", "Enter the Twilio Account SID (AC…)."),
                Some(sid) if !is_twilio_sid(sid, "AC") => {
                    v.push("account_id", "invalid_account_sid", "An Account SID is AC followed by 32 hex digits.")
                }
                Some(_) => {}
            }
            let sender = match sender.as_deref() {
                None => {
                    v.push("sender", "required", "Enter the sending number (+…) or Messaging Service SID (MG…).");
                    None
                }
                Some(s) if is_twilio_sid(s, "MG") => Some(s.to_owned()),
                Some(s) => v.check("sender", PhoneNumber::parse(s)).map(PhoneNumber::into_inner),
            };
            (account_id, sender)
        }
        Provider::WhatsappCloud => {
            match account_id.as_deref() {
                None => v.push("account_id", "required", "Enter the WhatsApp phone number ID."),
                Some(id) if !(5..=20).contains(&id.len()) || !id.bytes().all(|b| b.is_ascii_digit()) => {
                    v.push("account_id", "invalid_phone_number_id", "A phone number ID is 5 to 20 digits.")
                }
                Some(_) => {}
            }
            (account_id, None)
        }
        Provider::Telegram => (None, None),
    };
    match secret.as_deref() {
        None if !may_keep_secret => v.push("secret", "required", "Enter the token."),
        None => {}
        Some(s) if s.len() < 8 || s.len() > 1024 || s.chars().any(|c| c.is_whitespace() || c.is_control()) => {
            v.push("secret", "invalid_secret", "A token has 8 to 1,024 characters and no spaces.")
        }
        Some(s) if req.provider == Provider::Telegram && !is_bot_token(s) => {
            v.push("secret", "invalid_bot_token", "A bot token looks like 123456789:AA… (from @BotFather).")
        }
        Some(_) => {}
    }
    v.finish()?;
    Ok(CheckedAccount { account_id, sender, secret })
}

/// `<bot id>:<secret>` as @BotFather hands it out.
fn is_bot_token(s: &str) -> bool {
    s.split_once(':').is_some_and(|(id, secret)| {
        !id.is_empty()
            && id.bytes().all(|b| b.is_ascii_digit())
            && secret.len() >= 30
            && secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    })
}

/// The last four characters, for recognising a token without revealing it.
/// E.164 for WhatsApp and SMS; a chat id (`123456789`, `-1001234567890`) or a public
/// `@channelname` for Telegram.
pub fn check_recipient(channel: ChannelKind, to: &str) -> std::result::Result<String, FieldErrorKind> {
    match channel {
        ChannelKind::Whatsapp | ChannelKind::Sms => PhoneNumber::parse(to).map(PhoneNumber::into_inner),
        ChannelKind::Telegram => {
            let to = to.trim();
            let digits = to.strip_prefix('-').unwrap_or(to);
            let chat_id = !digits.is_empty() && digits.len() <= 20 && digits.bytes().all(|b| b.is_ascii_digit());
            let username = to.strip_prefix('@').is_some_and(|name| {
                (5..=32).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            });
            if to.is_empty() {
                Err(FieldErrorKind::new("required", "Name the Telegram chat."))
            } else if chat_id || username {
                Ok(to.to_owned())
            } else {
                Err(FieldErrorKind::new(
                    "invalid_chat",
                    "A Telegram chat is a numeric chat id or a public @channelname.",
                ))
            }
        }
    }
}

/// Most placeholders a WhatsApp template body has, and the longest value of one.
const MAX_TEMPLATE_PARAMETERS: usize = 20;
const MAX_TEMPLATE_PARAMETER_CHARS: usize = 1024;

/// A template's name (Meta's rule: lower-case letters, digits and `_`; or a Twilio Content SID),
/// language and values, with errors named under `field` (`template`, `actions[0].template`);
/// WhatsApp only. The template trimmed, unless it is for another channel.
pub fn check_template(
    v: &mut Validator,
    field: &str,
    channel: ChannelKind,
    t: &MessageTemplate,
) -> Option<MessageTemplate> {
    if channel != ChannelKind::Whatsapp {
        v.push(field, "unsupported", format!("{} has no message templates: send text.", channel.label()));
        return None;
    }
    let name = t.name.trim();
    let meta_name = !name.is_empty()
        && name.len() <= 512
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !meta_name && !is_twilio_sid(name, "HX") {
        v.push(
            &format!("{field}.name"),
            "invalid_template",
            "A template is named in lower case with digits and _ (WhatsApp Cloud API), or by its Content SID HX… (Twilio).",
        );
    }
    let language = t.language.trim();
    if !(2..=15).contains(&language.len()) || !language.bytes().all(|b| b.is_ascii_alphabetic() || b == b'_') {
        v.push(&format!("{field}.language"), "invalid_language", "A language code like en, de or en_US.");
    }
    if t.parameters.len() > MAX_TEMPLATE_PARAMETERS {
        v.push(&format!("{field}.parameters"), "too_many", format!("At most {MAX_TEMPLATE_PARAMETERS} values."));
    }
    for (i, p) in t.parameters.iter().enumerate() {
        if p.trim().is_empty() || p.chars().count() > MAX_TEMPLATE_PARAMETER_CHARS {
            v.push(
                &format!("{field}.parameters[{i}]"),
                "invalid",
                format!("1 to {MAX_TEMPLATE_PARAMETER_CHARS} characters."),
            );
        }
    }
    Some(MessageTemplate {
        name: name.to_owned(),
        language: language.to_owned(),
        parameters: t.parameters.iter().map(|p| p.trim().to_owned()).collect(),
    })
}

/// The outbox's line for a template sent without text of its own.
fn describe_template(t: &MessageTemplate) -> String {
    if t.parameters.is_empty() {
        format!("template {} ({})", t.name, t.language)
    } else {
        format!("template {} ({}): {}", t.name, t.language, t.parameters.join(" | "))
    }
}

fn check_text(channel: ChannelKind, text: &str) -> std::result::Result<String, FieldErrorKind> {
    let text = text.trim();
    let max = channel.max_text_chars();
    if text.is_empty() {
        Err(FieldErrorKind::new("required", "Write the message."))
    } else if text.chars().count() > max {
        Err(FieldErrorKind::new("too_long", format!("{} takes at most {max} characters.", channel.label())))
    } else {
        Ok(text.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(
        provider: Provider,
        account_id: Option<&str>,
        sender: Option<&str>,
        secret: Option<&str>,
    ) -> ConnectChannelRequest {
        ConnectChannelRequest {
            provider,
            account_id: account_id.map(str::to_owned),
            sender: sender.map(str::to_owned),
            secret: secret.map(str::to_owned),
        }
    }

    fn fields(r: Result<CheckedAccount>) -> Vec<String> {
        match r {
            Err(Error::Validation(errors)) => errors.into_iter().map(|e| format!("{}:{}", e.field, e.code)).collect(),
            Err(e) => vec![e.to_string()],
            Ok(_) => vec![],
        }
    }

    const SID: &str = "AC0123456789abcdef0123456789abcdef";

    #[test]
    fn accounts_are_checked_per_provider() {
        let twilio = req(Provider::Twilio, Some(SID), Some("+4930123456"), Some("f00dfeedf00dfeedf00dfeedf00dfeed"));
        assert_eq!(fields(check_account(ChannelKind::Sms, &twilio, false)), Vec::<String>::new());
        assert_eq!(fields(check_account(ChannelKind::Telegram, &twilio, false)), ["provider:unsupported_provider"]);
        let bad = req(Provider::Twilio, Some("AC12"), Some("030123"), None);
        assert_eq!(
            fields(check_account(ChannelKind::Sms, &bad, false)),
            ["account_id:invalid_account_sid", "sender:invalid_phone", "secret:required"]
        );
        // Keeping the stored secret is fine when there is one.
        let keep = req(Provider::Twilio, Some(SID), Some("MG0123456789abcdef0123456789abcdef"), None);
        assert_eq!(fields(check_account(ChannelKind::Whatsapp, &keep, true)), Vec::<String>::new());

        let cloud = req(Provider::WhatsappCloud, Some("106540352242922"), None, Some("EAAGm0PX4ZCpsBA"));
        assert!(check_account(ChannelKind::Whatsapp, &cloud, false).is_ok());
        let cloud_bad = req(Provider::WhatsappCloud, Some("+4930"), None, Some("EAAGm0PX4ZCpsBA"));
        assert_eq!(
            fields(check_account(ChannelKind::Whatsapp, &cloud_bad, false)),
            ["account_id:invalid_phone_number_id"]
        );

        let bot = req(Provider::Telegram, None, None, Some("123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"));
        assert!(check_account(ChannelKind::Telegram, &bot, false).is_ok());
        let not_bot = req(Provider::Telegram, None, None, Some("not-a-bot-token"));
        assert_eq!(fields(check_account(ChannelKind::Telegram, &not_bot, false)), ["secret:invalid_bot_token"]);
    }

    #[test]
    fn recipients_and_texts_are_checked_per_channel() {
        assert_eq!(check_recipient(ChannelKind::Sms, "+49 30 123456"), Ok("+4930123456".into()));
        assert!(check_recipient(ChannelKind::Whatsapp, "@studio").is_err());
        for ok in ["123456789", "-1001234567890", "@studio_news"] {
            assert_eq!(check_recipient(ChannelKind::Telegram, ok), Ok(ok.into()));
        }
        for bad in ["", "@abc", "12a", "@with space", "+4930123456"] {
            assert!(check_recipient(ChannelKind::Telegram, bad).is_err(), "{bad:?}");
        }
        assert!(check_text(ChannelKind::Sms, "  ").is_err());
        assert!(check_text(ChannelKind::Sms, &"x".repeat(1601)).is_err());
        assert!(check_text(ChannelKind::Whatsapp, &"x".repeat(1601)).is_ok());
        assert_eq!(secret_hint("123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"), "…Dsaw");
    }
}
