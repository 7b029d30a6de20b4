//! Contacts, conversations and messages, and the tenant's assistant settings.

use frontdesk_kernel::define_id;
use frontdesk_kernel::time::rfc3339;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

define_id!(
    /// A person who writes to the tenant.
    ContactId,
    "ct"
);
define_id!(
    /// One thread between a contact and the tenant on one channel.
    ConversationId,
    "cv"
);
define_id!(
    /// One message of a conversation.
    MessageId,
    "msg"
);

/// Where a conversation happens. The web chat is built in; the others arrive with the channels
/// capability and use the same pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Web,
    Whatsapp,
    Telegram,
    Sms,
    Voice,
    Messenger,
    Instagram,
    Email,
}

impl Channel {
    pub const ALL: [Channel; 8] = [
        Channel::Web,
        Channel::Whatsapp,
        Channel::Telegram,
        Channel::Sms,
        Channel::Voice,
        Channel::Messenger,
        Channel::Instagram,
        Channel::Email,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Web => "web",
            Channel::Whatsapp => "whatsapp",
            Channel::Telegram => "telegram",
            Channel::Sms => "sms",
            Channel::Voice => "voice",
            Channel::Messenger => "messenger",
            Channel::Instagram => "instagram",
            Channel::Email => "email",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// Where a conversation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The assistant answers.
    Open,
    /// The assistant asked the customer something and waits for the answer.
    Waiting,
    /// Staff answer; the assistant is silent.
    HandedOff,
    /// Done; a new customer message reopens it.
    Resolved,
}

impl Status {
    pub const ALL: [Status; 4] = [Status::Open, Status::Waiting, Status::HandedOff, Status::Resolved];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Waiting => "waiting",
            Status::HandedOff => "handed_off",
            Status::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Whether the assistant answers new customer messages.
    pub fn agent_answers(self) -> bool {
        !matches!(self, Status::HandedOff)
    }
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Author {
    Customer,
    /// The answering brain.
    Agent,
    /// A team member of the tenant.
    Staff,
    /// Notices of the platform itself (handoff, delays).
    System,
}

impl Author {
    pub fn as_str(self) -> &'static str {
        match self {
            Author::Customer => "customer",
            Author::Agent => "agent",
            Author::Staff => "staff",
            Author::System => "system",
        }
    }

    pub fn parse(s: &str) -> Option<Author> {
        [Author::Customer, Author::Agent, Author::Staff, Author::System].into_iter().find(|a| a.as_str() == s)
    }
}

/// Structured content next to a message's text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Content {
    /// Quick replies: each sends its `value` as the customer's next message.
    Buttons { buttons: Vec<Button> },
    /// A product, class or offer.
    Card {
        title: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        subtitle: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        image_url: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        buttons: Vec<Button>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Button {
    pub label: String,
    pub value: String,
}

/// A file or image attached to a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Attachment {
    pub url: String,
    pub content_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A tool the agent used for a reply, as the dashboard shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ToolUse {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

/// Whether an outgoing message reached the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// Stored; the web chat reads it from here (and live).
    Stored,
    /// Handed to the channel's provider.
    Sent,
    Delivered,
    Read,
    Failed,
}

impl Delivery {
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Stored => "stored",
            Delivery::Sent => "sent",
            Delivery::Delivered => "delivered",
            Delivery::Read => "read",
            Delivery::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Delivery {
        match s {
            "sent" => Delivery::Sent,
            "delivered" => Delivery::Delivered,
            "read" => Delivery::Read,
            "failed" => Delivery::Failed,
            _ => Delivery::Stored,
        }
    }
}

/// The agent's bookkeeping on one of its replies (shown to staff, never to customers).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AgentTrace {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub specialist: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolUse>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_in: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_out: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<i64>,
}

/// A message as staff see it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Message {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub author: Author,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author_id: Option<String>,
    pub author_name: Option<String>,
    pub text: String,
    pub content: Vec<Content>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_message_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<MessageId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<AgentTrace>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_message_id: Option<String>,
    pub delivery: Delivery,
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

/// A message as the customer sees it (no trace, no staff ids).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PublicMessage {
    pub id: MessageId,
    pub author: Author,
    pub author_name: Option<String>,
    pub text: String,
    pub content: Vec<Content>,
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

impl From<&Message> for PublicMessage {
    fn from(m: &Message) -> Self {
        PublicMessage {
            id: m.id.clone(),
            author: m.author,
            author_name: m.author_name.clone(),
            text: m.text.clone(),
            content: m.content.clone(),
            created_at: m.created_at,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Conversation {
    pub id: ConversationId,
    pub contact_id: ContactId,
    /// The contact's name, in inbox lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_name: Option<String>,
    pub channel: Channel,
    pub status: Status,
    pub assignee_id: Option<String>,
    pub labels: Vec<String>,
    pub handoff_reason: Option<String>,
    #[serde(with = "rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub handed_off_at: Option<i64>,
    /// Since when the customer has been waiting for a human answer.
    #[serde(with = "rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub waiting_since: Option<i64>,
    /// Time customers spent waiting for a human in this conversation, over `human_waits` waits.
    pub human_wait_ms: i64,
    pub human_waits: i64,
    #[serde(skip)]
    pub summary: Option<String>,
    #[serde(skip)]
    pub summary_upto: Option<MessageId>,
    pub last_preview: String,
    pub last_author: Option<Author>,
    pub message_count: i64,
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub last_message_at: i64,
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    #[serde(with = "rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resolved_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Contact {
    pub id: ContactId,
    pub name: Option<String>,
    pub email: Option<String>,
    /// E.164, e.g. `+4930123456`.
    pub phone: Option<String>,
    pub language: Option<String>,
    pub consent_marketing: bool,
    #[serde(with = "rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub consent_updated_at: Option<i64>,
    pub tags: Vec<String>,
    pub notes: String,
    pub identities: Vec<ChannelIdentity>,
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

/// How a contact is reached on one channel.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ChannelIdentity {
    pub channel: Channel,
    pub address: String,
}

/// One FAQ entry of the assistant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FaqEntry {
    pub question: String,
    pub answer: String,
}

/// Opening hours of one weekday: `"09:00-18:00"` ranges in the tenant's time zone.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct OpeningHours {
    pub monday: Vec<String>,
    pub tuesday: Vec<String>,
    pub wednesday: Vec<String>,
    pub thursday: Vec<String>,
    pub friday: Vec<String>,
    pub saturday: Vec<String>,
    pub sunday: Vec<String>,
}

impl OpeningHours {
    /// Ranges of a weekday, Monday = 0.
    pub fn day(&self, weekday: usize) -> &[String] {
        match weekday {
            0 => &self.monday,
            1 => &self.tuesday,
            2 => &self.wednesday,
            3 => &self.thursday,
            4 => &self.friday,
            5 => &self.saturday,
            _ => &self.sunday,
        }
    }

    pub fn is_empty(&self) -> bool {
        (0..7).all(|d| self.day(d).is_empty())
    }
}

/// The tenant's assistant and web chat. Only [`WidgetLook`] and the greeting ever reach the public.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct AssistantSettings {
    /// Who the assistant is ("Mia, the front desk of Studio Nord").
    pub persona: String,
    /// `friendly`, `professional`, `concise` or free text.
    pub tone: String,
    /// What the assistant must and must not do.
    pub instructions: String,
    pub faq: Vec<FaqEntry>,
    /// First message of the web chat.
    pub greeting: String,
    pub widget: WidgetLook,
    pub opening_hours: OpeningHours,
    /// Origins allowed to embed the web chat (`https://studio.example`); empty = any.
    pub allowed_origins: Vec<String>,
    /// Whether customers may ask for a human (and the assistant may hand over).
    pub handoff_enabled: bool,
}

impl Default for AssistantSettings {
    fn default() -> Self {
        Self {
            persona: String::new(),
            tone: "friendly".into(),
            instructions: String::new(),
            faq: Vec::new(),
            greeting: String::new(),
            widget: WidgetLook::default(),
            opening_hours: OpeningHours::default(),
            allowed_origins: Vec::new(),
            handoff_enabled: true,
        }
    }
}

/// How the web chat looks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct WidgetLook {
    /// Header, launcher and customer bubbles, `#rrggbb`.
    pub color: String,
    /// Text on `color`, `#rrggbb`.
    pub text_color: String,
    pub logo_url: Option<String>,
    /// `right` or `left`.
    pub position: String,
    pub quick_replies: Vec<String>,
}

impl Default for WidgetLook {
    fn default() -> Self {
        Self {
            color: "#4f46e5".into(),
            text_color: "#ffffff".into(),
            logo_url: None,
            position: "right".into(),
            quick_replies: Vec::new(),
        }
    }
}
