//! Channel accounts and outbound messages.

use frontdesk_kernel::define_id;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

define_id!(
    /// A message sent (or to be sent) through one of the tenant's channels.
    OutboundMessageId,
    "out"
);

/// A messaging channel the tenant can send on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    Whatsapp,
    Sms,
    Telegram,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 3] = [ChannelKind::Whatsapp, ChannelKind::Sms, ChannelKind::Telegram];

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Whatsapp => "whatsapp",
            ChannelKind::Sms => "sms",
            ChannelKind::Telegram => "telegram",
        }
    }

    pub fn parse(s: &str) -> Option<ChannelKind> {
        ChannelKind::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// As people write it.
    pub fn label(self) -> &'static str {
        match self {
            ChannelKind::Whatsapp => "WhatsApp",
            ChannelKind::Sms => "SMS",
            ChannelKind::Telegram => "Telegram",
        }
    }

    /// The providers that carry this channel.
    pub fn providers(self) -> &'static [Provider] {
        match self {
            ChannelKind::Whatsapp => &[Provider::WhatsappCloud, Provider::Twilio],
            ChannelKind::Sms => &[Provider::Twilio],
            ChannelKind::Telegram => &[Provider::Telegram],
        }
    }

    /// Longest text one message may carry: Twilio concatenates SMS up to 1,600 characters;
    /// WhatsApp and Telegram take 4,096.
    pub fn max_text_chars(self) -> usize {
        match self {
            ChannelKind::Sms => 1600,
            ChannelKind::Whatsapp | ChannelKind::Telegram => 4096,
        }
    }
}

/// Who carries a channel's messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// Twilio's Programmable Messaging (SMS, and WhatsApp through Twilio).
    Twilio,
    /// Meta's WhatsApp Business Cloud API.
    WhatsappCloud,
    /// Telegram's Bot API.
    Telegram,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Twilio => "twilio",
            Provider::WhatsappCloud => "whatsapp_cloud",
            Provider::Telegram => "telegram",
        }
    }

    pub fn parse(s: &str) -> Option<Provider> {
        [Provider::Twilio, Provider::WhatsappCloud, Provider::Telegram].into_iter().find(|p| p.as_str() == s)
    }
}

/// A channel the tenant has connected, as the API shows it: never the secret, only its end.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct ChannelAccount {
    pub channel: ChannelKind,
    pub provider: Provider,
    /// Twilio: the Account SID (`AC…`); WhatsApp Cloud: the phone number ID; Telegram: absent.
    pub account_id: Option<String>,
    /// Twilio: the sending number (E.164) or Messaging Service SID (`MG…`); otherwise absent.
    pub sender: Option<String>,
    /// The last four characters of the secret (auth token, access token or bot token).
    pub secret_hint: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Connects a channel, or changes its account.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectChannelRequest {
    pub provider: Provider,
    /// Twilio: the Account SID (`AC` and 32 hex digits); WhatsApp Cloud: the phone number ID.
    #[serde(default)]
    pub account_id: Option<String>,
    /// Twilio only: the sending number (E.164) or Messaging Service SID (`MG…`).
    #[serde(default)]
    pub sender: Option<String>,
    /// Twilio: the auth token; WhatsApp Cloud: a (system user) access token; Telegram: the bot
    /// token from @BotFather. Required when connecting; omit it to keep the stored one.
    #[serde(default)]
    pub secret: Option<String>,
}

/// Where an outbound message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageState {
    /// Waiting for its (next) attempt.
    Queued,
    /// Accepted by the provider (its id is recorded).
    Sent,
    /// Kept in the outbox: the channel is not connected (the offline default).
    Held,
    /// The provider refused it, or every attempt failed.
    Failed,
}

impl MessageState {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageState::Queued => "queued",
            MessageState::Sent => "sent",
            MessageState::Held => "held",
            MessageState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> MessageState {
        match s {
            "sent" => MessageState::Sent,
            "held" => MessageState::Held,
            "failed" => MessageState::Failed,
            _ => MessageState::Queued,
        }
    }
}

/// A pre-approved WhatsApp message template: what a business may send to someone who has not
/// written in the last 24 hours (WhatsApp refuses free text then).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageTemplate {
    /// WhatsApp Cloud API: the template's name (`booking_reminder`); Twilio: the Content SID
    /// (`HX` and 32 hex digits).
    pub name: String,
    /// The template's language (`en`, `de`, `en_US`); Twilio ignores it (the Content SID
    /// names one language).
    #[serde(default = "default_template_language")]
    pub language: String,
    /// Values of the body's placeholders `{{1}}`, `{{2}}`, … in order.
    #[serde(default)]
    pub parameters: Vec<String>,
}

fn default_template_language() -> String {
    "en".into()
}

#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct OutboundMessage {
    pub id: OutboundMessageId,
    pub channel: ChannelKind,
    /// E.164 for WhatsApp and SMS; a chat id or `@channel` for Telegram.
    pub to: String,
    /// The text sent, or for a template a line naming it and its values.
    pub text: String,
    /// The WhatsApp template sent instead of free text.
    pub template: Option<MessageTemplate>,
    pub state: MessageState,
    /// The provider that took it, once sent.
    pub provider: Option<Provider>,
    /// The provider's id (Twilio `SM…`, WhatsApp `wamid.…`, Telegram message id).
    pub provider_message_id: Option<String>,
    pub attempts: i64,
    /// Why the last attempt failed, or why the message is held.
    pub error: Option<String>,
    /// What sent it: `api`, `dashboard`, `workflow wfr_…`.
    pub origin: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub sent_at: Option<i64>,
}

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMessageRequest {
    pub channel: ChannelKind,
    /// E.164 (`+4930123456`) for WhatsApp and SMS; a numeric chat id or `@channelname` for
    /// Telegram.
    pub to: String,
    /// The message; may be left out when a WhatsApp `template` is sent.
    #[serde(default)]
    pub text: String,
    /// WhatsApp only: a pre-approved template instead of free text (needed outside the 24 hours
    /// after the customer's last message).
    #[serde(default)]
    pub template: Option<MessageTemplate>,
}
