//! The one message pipeline of every channel.
//!
//! 1. [`Conversations::receive`] stores the customer's message first (with its contact and
//!    conversation) and, in the same transaction, the turn job that will answer it — ordered by
//!    conversation, so the turns of one conversation run one at a time, oldest first, while
//!    different conversations run in parallel. When nothing older is pending, the caller may claim
//!    the turn and run it in place (no worker round trip); the claim is a lease, so if the process
//!    dies mid-turn a worker answers it after the lease, once.
//! 2. [`Conversations::run_turn`] hands the turn to the [`crate::agent::Agent`], streams its
//!    fragments to whoever waits, then stores the reply (at most one per customer message, by a
//!    unique index) with the model's token usage, and finishes the job, in one transaction.
//!
//! A turn's cost beyond the model is mostly database work, so the path is kept to two
//! write transactions (message + claim, reply + usage + completion) and one two-query read.
//! 3. A model that fails is retried with backoff; the customer is told once that the answer is
//!    delayed, and after the last attempt the conversation goes to staff. Nothing is dropped.

use super::{Conversations, SUMMARY_JOB, TURN_JOB};
use crate::agent::{AgentError, AgentReply, Business, TurnContext};
use crate::hours;
use crate::live::LiveEvent;
use crate::memory;
use crate::model::*;
use crate::store::{self, NewContact};
use crate::text;
use frontdesk_agent::UsageRecord;
use frontdesk_identity::model::Tenant;
use frontdesk_kernel::time::now_ms;
use frontdesk_kernel::{Error, Result, TenantId};
use frontdesk_store::jobs::{self, InlineClaim, JobError, NewJob};
use frontdesk_store::TenantTx;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::mpsc;

/// Longest customer message kept (characters); longer ones are refused with a field error.
pub const MAX_MESSAGE_CHARS: usize = 4_000;

/// A customer message as a channel delivers it.
#[derive(Debug, Clone)]
pub struct Inbound {
    pub channel: Channel,
    /// The customer's address on the channel (web visitor id, phone number, chat id).
    pub address: String,
    /// What the channel knows about the customer (used when the contact is new).
    pub contact: NewContact,
    pub text: String,
    pub attachments: Vec<Attachment>,
    /// The sender's own id of the message: a re-send is stored once.
    pub client_message_id: Option<String>,
    pub provider_message_id: Option<String>,
}

/// What happens to the turn a message started.
#[derive(Debug)]
pub enum TurnPlan {
    /// Claimed for the caller: run it now with [`Conversations::run_turn`].
    Inline(InlineClaim),
    /// Queued behind an older turn of the conversation; a worker runs it.
    Queued,
    /// The agent does not answer (handed off, or the message was a re-send).
    NoTurn,
}

/// The stored message and what comes next.
#[derive(Debug)]
pub struct Received {
    pub tenant: Tenant,
    pub contact_id: ContactId,
    pub conversation: Conversation,
    pub message: Message,
    /// The message was a re-send of one already stored.
    pub duplicate: bool,
    pub plan: TurnPlan,
    /// Messages the pipeline added at once (a handoff notice).
    pub notices: Vec<Message>,
}

/// What a running turn reports to whoever streams it.
#[derive(Debug, Clone, PartialEq)]
pub enum TurnEvent {
    Delta(String),
    /// A stored message the turn produced (the reply, or a notice).
    Message(Box<Message>),
    Status {
        status: Status,
        notice: Option<String>,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TurnPayload {
    pub conversation_id: ConversationId,
    pub message_id: MessageId,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SummaryPayload {
    pub conversation_id: ConversationId,
    pub upto: MessageId,
}

/// Who holds the turn: the request that claimed it, or a worker (which finishes the job itself).
pub enum Holder {
    Inline(InlineClaim),
    Worker { attempt: u32, max_attempts: u32 },
}

fn system_message(conversation: &ConversationId, text: String, client_id: Option<String>) -> Message {
    Message {
        id: MessageId::new(),
        conversation_id: conversation.clone(),
        author: Author::System,
        author_id: None,
        author_name: None,
        text,
        content: Vec::new(),
        attachments: Vec::new(),
        client_message_id: client_id,
        reply_to: None,
        trace: None,
        provider_message_id: None,
        delivery: Delivery::Stored,
        created_at: now_ms(),
    }
}

/// What a turn produced, stored at its end in one transaction.
struct Answered<'a> {
    reply: AgentReply,
    /// The usage of the turn's model calls (see [`frontdesk_agent::usage::deferred`]).
    usage: &'a [UsageRecord],
    /// The turns up to this message fell out of the memory window: summarise them.
    summarise: Option<MessageId>,
}

/// The job that folds the turns up to `upto` into the conversation's summary, in the background
/// (once per point: a re-scheduled one is a no-op).
fn summary_job(conversation: &ConversationId, upto: &MessageId) -> Result<NewJob> {
    Ok(NewJob::new(SUMMARY_JOB, &SummaryPayload { conversation_id: conversation.clone(), upto: upto.clone() })?
        .ordered_by(format!("summary:{conversation}"))
        .dedupe(format!("summary:{conversation}:{upto}"))
        .max_attempts(5))
}

impl Conversations {
    /// Stores an inbound customer message and plans its turn (see the module docs). With
    /// `claim_inline`, the caller gets the turn to run when nothing older is pending.
    pub async fn receive(&self, tenant: &Tenant, inbound: Inbound, claim_inline: bool) -> Result<Received> {
        let text = inbound.text.trim().to_owned();
        if text.is_empty() && inbound.attachments.is_empty() {
            return Err(Error::field("message", "required", "Write a message."));
        }
        if text.chars().count() > MAX_MESSAGE_CHARS {
            return Err(Error::field("message", "too_long", format!("At most {MAX_MESSAGE_CHARS} characters.")));
        }
        if let Some(id) = &inbound.client_message_id {
            if id.is_empty() || id.len() > 100 {
                return Err(Error::field("client_message_id", "invalid", "1 to 100 characters."));
            }
        }
        let settings = self.settings(&tenant.id).await?;
        let now = now_ms();
        let mut tx = self.inner.db.tenant(&tenant.id).await?;
        // The conversation is locked: the messages of one conversation are checked for re-sends,
        // numbered and queued one at a time (two concurrent requests must not both store a
        // re-send, nor take ids in one order and turns in the other). Every message after a
        // contact's first finds it in one query.
        let (contact_id, latest) =
            match store::latest_conversation_at_address(&mut tx, inbound.channel, &inbound.address).await? {
                Some(c) => (c.contact_id.clone(), Some(c)),
                None => {
                    // A contact's first message (or first on this channel): creating them must
                    // not race another first message; reads after the lock see its commit.
                    store::lock_address(&mut tx, inbound.channel, &inbound.address).await?;
                    let contact_id =
                        match store::contact_by_identity(&mut tx, inbound.channel, &inbound.address).await? {
                            Some(id) => id,
                            None => {
                                let id = ContactId::new();
                                let mut c = inbound.contact.clone();
                                if c.language.is_none() {
                                    c.language =
                                        Some(if text::is_german(&text) { "de".into() } else { tenant.locale.clone() });
                                }
                                store::insert_contact(&mut tx, &id, &c, inbound.channel, &inbound.address).await?;
                                id
                            }
                        };
                    let latest = store::latest_conversation_locked(&mut tx, &contact_id, inbound.channel).await?;
                    (contact_id, latest)
                }
            };
        let mut conversation = match latest {
            Some(c) if c.status != Status::Resolved => c,
            _ => {
                let c = Conversation {
                    id: ConversationId::new(),
                    contact_id: contact_id.clone(),
                    contact_name: inbound.contact.name.clone(),
                    channel: inbound.channel,
                    status: Status::Open,
                    assignee_id: None,
                    labels: Vec::new(),
                    handoff_reason: None,
                    handed_off_at: None,
                    waiting_since: None,
                    human_wait_ms: 0,
                    human_waits: 0,
                    summary: None,
                    summary_upto: None,
                    last_preview: String::new(),
                    last_author: None,
                    message_count: 0,
                    last_message_at: now,
                    created_at: now,
                    resolved_at: None,
                };
                store::insert_conversation(&mut tx, &c).await?;
                frontdesk_store::events::emit(
                    &mut tx,
                    "conversation.started",
                    json!({"conversation_id": c.id, "contact_id": contact_id, "channel": c.channel}),
                )
                .await?;
                c
            }
        };
        if let Some(client_id) = &inbound.client_message_id {
            if let Some(existing) = store::message_by_client_id(&mut tx, &conversation.id, client_id).await? {
                drop(tx);
                return Ok(Received {
                    tenant: tenant.clone(),
                    contact_id,
                    conversation,
                    message: existing,
                    duplicate: true,
                    plan: TurnPlan::NoTurn,
                    notices: Vec::new(),
                });
            }
        }
        let message = Message {
            id: MessageId::new(),
            conversation_id: conversation.id.clone(),
            author: Author::Customer,
            author_id: None,
            author_name: inbound.contact.name.clone(),
            text: text.clone(),
            content: Vec::new(),
            attachments: inbound.attachments.clone(),
            client_message_id: inbound.client_message_id.clone(),
            reply_to: None,
            trace: None,
            provider_message_id: inbound.provider_message_id.clone(),
            delivery: Delivery::Stored,
            created_at: now,
        };
        store::insert_message(&mut tx, &message).await?;
        let mut notices = Vec::new();
        let plan = if conversation.status == Status::HandedOff {
            if conversation.waiting_since.is_none() {
                conversation.waiting_since = Some(now);
                store::save_conversation_state(&mut tx, &conversation).await?;
            }
            TurnPlan::NoTurn
        } else if settings.handoff_enabled && text::asks_for_human(&text) {
            let lang = if text::is_german(&text) { "de" } else { tenant.locale.as_str() };
            let notice =
                self.hand_off_in(&mut tx, tenant, &settings, &mut conversation, "customer_request", lang).await?;
            notices.push(notice);
            TurnPlan::NoTurn
        } else {
            if conversation.status == Status::Waiting {
                conversation.status = Status::Open;
                store::save_conversation_state(&mut tx, &conversation).await?;
            }
            let job = NewJob::new(
                TURN_JOB,
                &TurnPayload { conversation_id: conversation.id.clone(), message_id: message.id.clone() },
            )
            .map_err(Error::from)?
            .ordered_by(format!("conv:{}", conversation.id))
            .max_attempts(self.inner.config.turn_attempts);
            if claim_inline {
                let lease = self.inner.config.turn_lease.as_millis() as i64;
                match jobs::enqueue_claimed(&mut tx, job, lease).await? {
                    Some(claim) => TurnPlan::Inline(claim),
                    None => TurnPlan::Queued,
                }
            } else {
                jobs::enqueue(&mut tx, job).await?;
                TurnPlan::Queued
            }
        };
        tx.commit().await?;
        self.publish_message(&tenant.id, &message).await;
        for n in &notices {
            self.publish_message(&tenant.id, n).await;
        }
        if !notices.is_empty() {
            self.publish(
                &tenant.id,
                LiveEvent::Status {
                    conversation_id: conversation.id.clone(),
                    status: conversation.status,
                    notice: notices.last().map(|n| n.text.clone()),
                },
            )
            .await;
        }
        Ok(Received { tenant: tenant.clone(), contact_id, conversation, message, duplicate: false, plan, notices })
    }

    pub(crate) async fn publish_message(&self, tenant: &TenantId, m: &Message) {
        self.publish(
            tenant,
            LiveEvent::Message {
                conversation_id: m.conversation_id.clone(),
                message: PublicMessage::from(m),
                reply_to: m.reply_to.as_ref().map(|r| r.as_str().to_owned()),
            },
        )
        .await;
    }

    /// Hands the conversation to staff inside `tx`: status, wait clock, the notice to the
    /// customer (with the studio's hours when nobody is in), the domain event.
    pub(crate) async fn hand_off_in(
        &self,
        tx: &mut TenantTx,
        tenant: &Tenant,
        settings: &AssistantSettings,
        conversation: &mut Conversation,
        reason: &str,
        lang: &str,
    ) -> Result<Message> {
        let now = now_ms();
        conversation.status = Status::HandedOff;
        conversation.handoff_reason = Some(reason.to_owned());
        conversation.handed_off_at = Some(now);
        if conversation.waiting_since.is_none() {
            conversation.waiting_since = Some(now);
        }
        store::save_conversation_state(tx, conversation).await?;
        let availability = hours::availability(&settings.opening_hours, &tenant.time_zone, now);
        let notice = system_message(&conversation.id, hours::handoff_notice(&tenant.name, &availability, lang), None);
        store::insert_message(tx, &notice).await?;
        frontdesk_store::events::emit(
            tx,
            "conversation.handed_off",
            json!({"conversation_id": conversation.id, "contact_id": conversation.contact_id, "reason": reason,
                   "channel": conversation.channel}),
        )
        .await?;
        Ok(notice)
    }

    /// Runs one turn (see the module docs). `events` receives the streamed fragments and the
    /// stored messages. For a worker, an `Err` means "retry later" (the job queue's backoff);
    /// an inline holder's claim is always finished or handed back here.
    pub async fn run_turn(
        &self,
        tenant_id: &TenantId,
        conversation_id: &ConversationId,
        message_id: &MessageId,
        holder: Holder,
        events: Option<mpsc::UnboundedSender<TurnEvent>>,
    ) -> std::result::Result<(), JobError> {
        let transient = |e: Error| JobError::Transient(e.to_string());
        let Some(tenant) = self.tenant(tenant_id).await.map_err(transient)? else {
            return Err(JobError::Permanent("the tenant no longer exists".into()));
        };
        let settings = self.settings(tenant_id).await.map_err(transient)?;
        // Every turn reads here, so as few round trips as will do: the conversation with its
        // contact, and the recent messages, which end with the one to answer.
        let mut tx = self.inner.db.tenant_read(tenant_id).await.map_err(|e| transient(e.into()))?;
        let (found, recent) = store::turn_reads(&mut tx, conversation_id, message_id, memory::WINDOW_MESSAGES)
            .await
            .map_err(|e| transient(e.into()))?;
        // Only a turn that ran before (a worker's retry or takeover) can have been answered: an
        // inline claim is taken in the transaction that stored the message.
        let answered = match holder {
            Holder::Inline(_) => None,
            Holder::Worker { .. } => store::reply_to(&mut tx, message_id).await.map_err(|e| transient(e.into()))?,
        };
        drop(tx);
        let Some((conversation, contact)) = found else {
            self.finish_turn(tenant_id, &holder).await.map_err(transient)?;
            return Ok(()); // deleted meanwhile (GDPR erase): nothing to answer
        };
        if answered.is_some() || !conversation.status.agent_answers() {
            // Answered before a crash, or staff took over while the turn waited: done, once.
            self.finish_turn(tenant_id, &holder).await.map_err(transient)?;
            return Ok(());
        }
        let Some(message) = recent.last().filter(|m| m.id == *message_id).cloned() else {
            self.finish_turn(tenant_id, &holder).await.map_err(transient)?;
            return Ok(()); // the message was deleted meanwhile: nothing to answer
        };
        let (memory, dropped) = memory::window(
            &recent,
            conversation.summary.as_deref(),
            conversation.summary_upto.as_ref(),
            memory::TURN_BUDGET_TOKENS,
        );
        let turn = TurnContext {
            tenant: tenant_id.clone(),
            business: Business {
                name: tenant.name.clone(),
                locale: tenant.locale.clone(),
                time_zone: tenant.time_zone.clone(),
            },
            conversation_id: conversation_id.clone(),
            channel: conversation.channel,
            contact_name: contact.name,
            language: contact.language,
            settings: settings.clone(),
            memory,
            message_id: message_id.clone(),
            message: message.text.clone(),
            hours_notice: Self::hours_notice(&tenant, &settings),
        };
        self.publish(tenant_id, LiveEvent::Typing { conversation_id: conversation_id.clone(), author: "agent".into() })
            .await;

        // The agent streams into `deltas`; fragments go to the waiting client directly, or —
        // when a worker runs the turn — through the live hub to whichever replica holds it.
        let (deltas, mut fragments) = mpsc::unbounded_channel::<String>();
        let via_hub = matches!(holder, Holder::Worker { .. }) && events.is_none();
        let forward = {
            let events = events.clone();
            let this = self.clone();
            let tenant_id = tenant_id.clone();
            let conversation_id = conversation_id.clone();
            let reply_to = message_id.as_str().to_owned();
            async move {
                while let Some(text) = fragments.recv().await {
                    if let Some(events) = &events {
                        let _ = events.send(TurnEvent::Delta(text));
                    } else if via_hub {
                        let event = LiveEvent::Delta {
                            conversation_id: conversation_id.clone(),
                            reply_to: reply_to.clone(),
                            text,
                        };
                        this.inner
                            .hub
                            .publish(
                                &crate::live::Topic::Conversation(tenant_id.clone(), conversation_id.clone()),
                                event,
                            )
                            .await;
                    }
                }
            }
        };
        // The model calls' usage is stored with the turn's outcome, not one write per call.
        let ((answer, ()), usage) = frontdesk_agent::usage::deferred(tenant_id, async {
            tokio::join!(self.inner.agent.answer(&turn, deltas), forward)
        })
        .await;
        let lang = match &turn.language {
            _ if text::is_german(&message.text) => "de".to_owned(),
            Some(l) => l.clone(),
            None => tenant.locale.clone(),
        };
        match answer {
            Ok(reply) => {
                let answered = Answered { reply, usage: &usage, summarise: dropped };
                let stored =
                    self.store_reply(&tenant, &settings, &conversation, &message, answered, &lang, &holder).await;
                match stored {
                    Ok((messages, status)) => {
                        for m in &messages {
                            self.publish_message(tenant_id, m).await;
                            if let Some(events) = &events {
                                let _ = events.send(TurnEvent::Message(Box::new(m.clone())));
                            }
                        }
                        if let Some((status, notice)) = status {
                            self.publish(
                                tenant_id,
                                LiveEvent::Status {
                                    conversation_id: conversation_id.clone(),
                                    status,
                                    notice: notice.clone(),
                                },
                            )
                            .await;
                            if let Some(events) = &events {
                                let _ = events.send(TurnEvent::Status { status, notice });
                            }
                        }
                        Ok(())
                    }
                    Err(e) => {
                        self.turn_failed(
                            &tenant,
                            &settings,
                            &conversation,
                            &message,
                            &holder,
                            &usage,
                            &lang,
                            &e.to_string(),
                            false,
                            events,
                        )
                        .await
                    }
                }
            }
            Err(AgentError::Unavailable(why)) => {
                self.turn_failed(
                    &tenant,
                    &settings,
                    &conversation,
                    &message,
                    &holder,
                    &usage,
                    &lang,
                    &why,
                    false,
                    events,
                )
                .await
            }
            Err(AgentError::Failed(why)) => {
                self.turn_failed(
                    &tenant,
                    &settings,
                    &conversation,
                    &message,
                    &holder,
                    &usage,
                    &lang,
                    &why,
                    true,
                    events,
                )
                .await
            }
        }
    }

    /// Stores the reply (and a handoff the agent asked for) and the model's usage, schedules the
    /// summary of turns that fell out of the memory window, and finishes the turn, atomically.
    #[allow(clippy::too_many_arguments)]
    async fn store_reply(
        &self,
        tenant: &Tenant,
        settings: &AssistantSettings,
        conversation: &Conversation,
        message: &Message,
        answered: Answered<'_>,
        lang: &str,
        holder: &Holder,
    ) -> Result<(Vec<Message>, Option<(Status, Option<String>)>)> {
        let Answered { reply, usage, summarise } = answered;
        let mut tx = self.inner.db.tenant(&tenant.id).await?;
        frontdesk_agent::settings::store_usage(&mut tx, usage).await?;
        // Re-read: staff may have taken over while the model was thinking; then the reply is
        // dropped (staff answer now), which is what "the agent never answers" means.
        let Some(mut current) = store::conversation(&mut tx, &conversation.id).await? else {
            tx.commit().await?;
            return Ok((Vec::new(), None));
        };
        let mut out = Vec::new();
        let mut status = None;
        if current.status.agent_answers() {
            if !reply.text.is_empty() || !reply.content.is_empty() {
                let m = Message {
                    id: MessageId::new(),
                    conversation_id: conversation.id.clone(),
                    author: Author::Agent,
                    author_id: None,
                    author_name: None,
                    text: reply.text.clone(),
                    content: reply.content.clone(),
                    attachments: Vec::new(),
                    client_message_id: None,
                    reply_to: Some(message.id.clone()),
                    trace: Some(reply.trace.clone()),
                    provider_message_id: None,
                    delivery: Delivery::Stored,
                    created_at: now_ms(),
                };
                if store::insert_message(&mut tx, &m).await? {
                    out.push(m);
                }
            }
            if let Some(reason) = &reply.handoff {
                if settings.handoff_enabled {
                    let notice = self.hand_off_in(&mut tx, tenant, settings, &mut current, reason, lang).await?;
                    status = Some((current.status, Some(notice.text.clone())));
                    out.push(notice);
                }
            }
        }
        if let Some(upto) = &summarise {
            jobs::enqueue(&mut tx, summary_job(&conversation.id, upto)?).await?;
        }
        if let Holder::Inline(claim) = holder {
            jobs::complete_claimed(&mut tx, claim).await?;
        }
        tx.commit().await?;
        Ok((out, status))
    }

    /// A turn that could not be answered: retried with backoff while attempts remain (the
    /// customer is told once that the answer is delayed), then handed to staff with a notice.
    #[allow(clippy::too_many_arguments)]
    async fn turn_failed(
        &self,
        tenant: &Tenant,
        settings: &AssistantSettings,
        conversation: &Conversation,
        message: &Message,
        holder: &Holder,
        usage: &[UsageRecord],
        lang: &str,
        why: &str,
        permanent: bool,
        events: Option<mpsc::UnboundedSender<TurnEvent>>,
    ) -> std::result::Result<(), JobError> {
        let (attempt, max) = match holder {
            Holder::Inline(_) => (1, self.inner.config.turn_attempts),
            Holder::Worker { attempt, max_attempts } => (*attempt, *max_attempts),
        };
        tracing::warn!(tenant_id = %tenant.id, conversation_id = %conversation.id, attempt, error = %why, "turn failed");
        let last = permanent || attempt >= max;
        let de = lang.starts_with("de");
        let run = async {
            let mut tx = self.inner.db.tenant(&tenant.id).await?;
            frontdesk_agent::settings::store_usage(&mut tx, usage).await?;
            let mut out = Vec::new();
            let mut status = None;
            if last {
                let mut current =
                    store::conversation(&mut tx, &conversation.id).await?.unwrap_or_else(|| conversation.clone());
                if current.status.agent_answers() && store::reply_to(&mut tx, &message.id).await?.is_none() {
                    let notice =
                        self.hand_off_in(&mut tx, tenant, settings, &mut current, "agent_unavailable", lang).await?;
                    status = Some((current.status, Some(notice.text.clone())));
                    out.push(notice);
                }
                if let Holder::Inline(claim) = holder {
                    jobs::complete_claimed(&mut tx, claim).await?;
                }
            } else {
                // Told once per customer message (the client id makes the notice unique).
                let text = if de {
                    "Entschuldigung, ich brauche gerade etwas länger für die Antwort. Ich melde mich hier gleich."
                } else {
                    "Sorry, I'm taking a little longer to answer. I'll reply here shortly."
                };
                let notice = system_message(&conversation.id, text.into(), Some(format!("delay:{}", message.id)));
                if store::insert_message(&mut tx, &notice).await? {
                    out.push(notice);
                }
                if let Holder::Inline(claim) = holder {
                    let pause = self.inner.config.retry_base.as_millis() as i64;
                    jobs::release_claimed(&mut tx, claim, why, Some(now_ms() + pause)).await?;
                }
            }
            tx.commit().await?;
            Ok::<_, Error>((out, status))
        };
        let (out, status) = match run.await {
            Ok(done) => done,
            Err(e) => {
                // The turn runs again; the calls made this time are only in the log from here.
                for r in usage {
                    tracing::error!(
                        error = %e, tenant = %r.tenant_id, model = %r.model, purpose = %r.purpose,
                        prompt_tokens = r.prompt_tokens, completion_tokens = r.completion_tokens,
                        "model usage not recorded"
                    );
                }
                return Err(JobError::Transient(e.to_string()));
            }
        };
        for m in &out {
            self.publish_message(&tenant.id, m).await;
            if let Some(events) = &events {
                let _ = events.send(TurnEvent::Message(Box::new(m.clone())));
            }
        }
        if let Some((status, notice)) = status {
            self.publish(
                &tenant.id,
                LiveEvent::Status { conversation_id: conversation.id.clone(), status, notice: notice.clone() },
            )
            .await;
            if let Some(events) = &events {
                let _ = events.send(TurnEvent::Status { status, notice });
            }
        }
        match (holder, last) {
            // The worker's job queue schedules the retry.
            (Holder::Worker { .. }, false) => Err(JobError::Transient(why.to_owned())),
            _ => Ok(()),
        }
    }

    /// Ends a turn that had nothing to answer.
    async fn finish_turn(&self, tenant: &TenantId, holder: &Holder) -> Result<()> {
        if let Holder::Inline(claim) = holder {
            let mut tx = self.inner.db.tenant(tenant).await?;
            jobs::complete_claimed(&mut tx, claim).await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// Folds the turns up to `upto` into the conversation's summary.
    pub async fn summarise(&self, tenant: &TenantId, conversation_id: &ConversationId, upto: &MessageId) -> Result<()> {
        let mut tx = self.inner.db.tenant_read(tenant).await?;
        let Some(conversation) = store::conversation(&mut tx, conversation_id).await? else { return Ok(()) };
        if conversation.summary_upto.as_ref().is_some_and(|s| s >= upto) {
            return Ok(());
        }
        let older = store::messages_after(&mut tx, conversation_id, conversation.summary_upto.as_ref(), 500).await?;
        drop(tx);
        let older: Vec<Message> = older.into_iter().filter(|m| m.id <= *upto).collect();
        let summary = match self.model_summary(tenant, conversation.summary.as_deref(), &older).await {
            Some(s) => s,
            None => memory::digest(conversation.summary.as_deref(), &older),
        };
        let mut tx = self.inner.db.tenant(tenant).await?;
        let Some(mut current) = store::conversation(&mut tx, conversation_id).await? else { return Ok(()) };
        current.summary = Some(summary);
        current.summary_upto = Some(upto.clone());
        store::save_conversation_state(&mut tx, &current).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn model_summary(&self, tenant: &TenantId, previous: Option<&str>, older: &[Message]) -> Option<String> {
        let models = self.inner.models.as_ref()?;
        let model = models.provider(tenant).await.ok()??;
        let transcript = memory::digest(None, older);
        let prompt = format!(
            "Summarise this customer conversation for the assistant who continues it: the customer's name, needs, \
             facts given and promises made, in at most 80 words. Previous summary: {}\n\n{transcript}",
            previous.unwrap_or("(none)")
        );
        let mut req = frontdesk_agent::ChatRequest::new(vec![frontdesk_agent::ChatMessage::user(prompt)]);
        req.max_tokens = Some(200);
        match model.complete(tenant, "summary", req).await {
            Ok(r) if !r.content.trim().is_empty() => {
                Some(r.content.trim().chars().take(memory::SUMMARY_CHARS).collect())
            }
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(error = %e, "model summary failed; using the digest");
                None
            }
        }
    }
}
