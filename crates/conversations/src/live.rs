//! Live updates for the dashboard and the web chat: events published on a topic reach every
//! subscriber of that topic, on this replica and — when `REDIS_URL` is set — on every replica,
//! through Redis pub/sub. Best effort by design: the database is the record, and every live
//! stream can replay what it missed from there (messages carry time-ordered ids).

use crate::model::{ConversationId, PublicMessage, Status};
use frontdesk_kernel::TenantId;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;

/// Events a subscriber may miss before it is told to catch up from the database.
const CHANNEL_CAPACITY: usize = 512;
const REDIS_PREFIX: &str = "fdlive:";

/// Something that happened in a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LiveEvent {
    /// A stored message (the customer-visible form; staff views fetch the rest).
    Message {
        conversation_id: ConversationId,
        message: PublicMessage,
        /// The customer message an agent reply answers.
        reply_to: Option<String>,
    },
    /// A fragment of the agent's answer to `reply_to`, before it is stored.
    Delta { conversation_id: ConversationId, reply_to: String, text: String },
    /// Someone is writing (`agent` or `staff`).
    Typing { conversation_id: ConversationId, author: String },
    /// The conversation's status changed; `notice` is what the customer is told.
    Status { conversation_id: ConversationId, status: Status, notice: Option<String> },
    /// Anything the inbox lists changed (new message, assignment, labels, status).
    Changed { conversation_id: ConversationId },
}

impl LiveEvent {
    pub fn conversation_id(&self) -> &ConversationId {
        match self {
            LiveEvent::Message { conversation_id, .. }
            | LiveEvent::Delta { conversation_id, .. }
            | LiveEvent::Typing { conversation_id, .. }
            | LiveEvent::Status { conversation_id, .. }
            | LiveEvent::Changed { conversation_id } => conversation_id,
        }
    }
}

/// A topic: one conversation, or the whole inbox of a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Topic {
    Conversation(TenantId, ConversationId),
    Inbox(TenantId),
}

impl Topic {
    fn key(&self) -> String {
        match self {
            Topic::Conversation(t, c) => format!("c:{t}:{c}"),
            Topic::Inbox(t) => format!("i:{t}"),
        }
    }
}

type Sender = broadcast::Sender<Arc<LiveEvent>>;

/// The fan-out. Cheap to clone.
#[derive(Clone)]
pub struct LiveHub {
    topics: Arc<Mutex<HashMap<String, Sender>>>,
    redis: Option<redis::aio::ConnectionManager>,
}

impl LiveHub {
    /// Fan-out inside this process only (one replica, or tests).
    pub fn in_process() -> Self {
        Self { topics: Arc::default(), redis: None }
    }

    /// Fan-out through Redis: every replica subscribes and delivers to its own clients.
    pub async fn redis(url: &str) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let manager = redis::aio::ConnectionManager::new(client.clone()).await?;
        let hub = Self { topics: Arc::default(), redis: Some(manager) };
        let local = hub.clone();
        tokio::spawn(async move { local.relay(client).await });
        Ok(hub)
    }

    pub fn backend_name(&self) -> &'static str {
        if self.redis.is_some() {
            "redis"
        } else {
            "memory"
        }
    }

    /// Receives the topic's events from now on.
    pub fn subscribe(&self, topic: &Topic) -> broadcast::Receiver<Arc<LiveEvent>> {
        let mut topics = self.topics.lock().unwrap_or_else(|p| p.into_inner());
        topics.entry(topic.key()).or_insert_with(|| broadcast::channel(CHANNEL_CAPACITY).0).subscribe()
    }

    /// Publishes to every subscriber of `topic` on every replica.
    pub async fn publish(&self, topic: &Topic, event: LiveEvent) {
        match &self.redis {
            None => self.deliver(&topic.key(), Arc::new(event)),
            Some(manager) => {
                let Ok(payload) = serde_json::to_string(&event) else { return };
                let mut conn = manager.clone();
                let sent: Result<(), _> = redis::cmd("PUBLISH")
                    .arg(format!("{REDIS_PREFIX}{}", topic.key()))
                    .arg(payload)
                    .query_async(&mut conn)
                    .await;
                if let Err(e) = sent {
                    // Clients of this replica still get it; the others catch up from the database.
                    tracing::warn!(error = %e, "live update not published to redis");
                    self.deliver(&topic.key(), Arc::new(event));
                }
            }
        }
    }

    fn deliver(&self, key: &str, event: Arc<LiveEvent>) {
        let mut topics = self.topics.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(sender) = topics.get(key) {
            if sender.send(event).is_err() {
                // Nobody listens any more: forget the topic (it is made again on the next subscribe).
                topics.remove(key);
            }
        }
    }

    /// Subscribes to every live topic in Redis and delivers locally; reconnects forever.
    async fn relay(self, client: redis::Client) {
        loop {
            match client.get_async_pubsub().await {
                Ok(mut pubsub) => {
                    if let Err(e) = pubsub.psubscribe(format!("{REDIS_PREFIX}*")).await {
                        tracing::warn!(error = %e, "live relay could not subscribe");
                    } else {
                        let mut messages = pubsub.on_message();
                        while let Some(msg) = messages.next().await {
                            let channel = msg.get_channel_name().to_owned();
                            let Some(key) = channel.strip_prefix(REDIS_PREFIX) else { continue };
                            let Ok(payload) = msg.get_payload::<String>() else { continue };
                            match serde_json::from_str::<LiveEvent>(&payload) {
                                Ok(event) => self.deliver(key, Arc::new(event)),
                                Err(e) => tracing::warn!(error = %e, "unreadable live event from redis"),
                            }
                        }
                    }
                    tracing::warn!("live relay lost its redis subscription; reconnecting");
                }
                Err(e) => tracing::warn!(error = %e, "live relay cannot reach redis; retrying"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn events_reach_subscribers_of_their_topic_only() {
        let hub = LiveHub::in_process();
        let tenant = TenantId::new();
        let a = ConversationId::new();
        let b = ConversationId::new();
        let mut on_a = hub.subscribe(&Topic::Conversation(tenant.clone(), a.clone()));
        let mut on_b = hub.subscribe(&Topic::Conversation(tenant.clone(), b.clone()));
        hub.publish(&Topic::Conversation(tenant.clone(), a.clone()), LiveEvent::Changed { conversation_id: a.clone() })
            .await;
        assert_eq!(on_a.recv().await.map(|e| e.conversation_id().clone()).ok(), Some(a));
        assert!(matches!(on_b.try_recv(), Err(broadcast::error::TryRecvError::Empty)));
    }

    #[tokio::test]
    async fn topics_without_listeners_are_forgotten() {
        let hub = LiveHub::in_process();
        let topic = Topic::Inbox(TenantId::new());
        let rx = hub.subscribe(&topic);
        drop(rx);
        hub.publish(&topic, LiveEvent::Changed { conversation_id: ConversationId::new() }).await;
        assert!(hub.topics.lock().map(|t| t.is_empty()).unwrap_or(false));
    }
}
