//! What workflow steps do to contacts — add tags, create a follow-up task — through
//! [`ContactActions`], which the conversations capability implements and the binary wires in.
//! Both run inside the run's transaction, so the change and the step's record commit together.

use super::runner::Outcome;
use super::Workflows;
use crate::model::Action;
use crate::template::{lookup, plain, render, scalar_text};
use frontdesk_store::audit::Actor;
use frontdesk_store::TenantTx;
use std::future::Future;
use std::pin::Pin;

/// The contact of the event when an action names none.
pub const DEFAULT_CONTACT: &str = "{{data.contact_id}}";

/// How a contact step failed.
#[derive(Debug, thiserror::Error)]
pub enum ContactStepError {
    /// Retrying cannot help (no such contact, an assignee who is not a member).
    #[error("{0}")]
    Permanent(String),
    /// Worth another attempt (the database).
    #[error("{0}")]
    Transient(String),
}

/// What a step's contact work answers: a line for the run history.
pub type ContactFuture<'a> = Pin<Box<dyn Future<Output = Result<String, ContactStepError>> + Send + 'a>>;

/// A follow-up task, its templates rendered.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FollowUpRequest {
    pub title: String,
    pub notes: Option<String>,
    pub due_in_hours: Option<u32>,
    pub assignee_email: Option<String>,
    pub contact_id: Option<String>,
    pub conversation_id: Option<String>,
}

/// Contacts as workflows change them.
pub trait ContactActions: Send + Sync + 'static {
    /// Adds `tags` to the contact.
    fn tag_contact<'a>(
        &'a self,
        tx: &'a mut TenantTx,
        contact_id: &'a str,
        tags: &'a [String],
        actor: &'a Actor,
    ) -> ContactFuture<'a>;

    /// Creates the task.
    fn create_follow_up<'a>(
        &'a self,
        tx: &'a mut TenantTx,
        task: FollowUpRequest,
        actor: &'a Actor,
    ) -> ContactFuture<'a>;
}

impl Workflows {
    /// A contact step, in the run's transaction. A failure tells whether to retry.
    pub(crate) async fn contact_step(&self, tx: &mut TenantTx, action: &Action, ctx: &serde_json::Value) -> Outcome {
        let Some(contacts) = &self.contacts else {
            return Outcome::Failed { error: "contact actions are not available here".into(), retry: false };
        };
        let name = lookup(ctx, "workflow.name").map(scalar_text).unwrap_or_default();
        let actor = Actor::system(&format!("workflow {name}"));
        let contact_of = |template: &Option<String>| {
            let id = render(template.as_deref().unwrap_or(DEFAULT_CONTACT), ctx, plain).trim().to_owned();
            Some(id).filter(|id| !id.is_empty())
        };
        let result = match action {
            Action::TagContact { contact_id, tags } => {
                let tags: Vec<String> = tags.iter().map(|t| render(t, ctx, plain)).collect();
                match contact_of(contact_id) {
                    Some(id) => contacts.tag_contact(tx, &id, &tags, &actor).await,
                    None => Err(ContactStepError::Permanent(format!(
                        "the event names no contact ({} is empty)",
                        contact_id.as_deref().unwrap_or(DEFAULT_CONTACT)
                    ))),
                }
            }
            Action::FollowUpTask { title, notes, due_in_hours, assignee_email, contact_id } => {
                let task = FollowUpRequest {
                    title: render(title, ctx, plain),
                    notes: notes.as_deref().map(|n| render(n, ctx, plain)),
                    due_in_hours: *due_in_hours,
                    assignee_email: assignee_email.clone(),
                    contact_id: contact_of(contact_id),
                    conversation_id: lookup(ctx, "data.conversation_id").map(scalar_text).filter(|c| !c.is_empty()),
                };
                contacts.create_follow_up(tx, task, &actor).await
            }
            Action::Slack { .. }
            | Action::Webhook { .. }
            | Action::Email { .. }
            | Action::Message { .. }
            | Action::StripeDunning { .. } => {
                Err(ContactStepError::Permanent(format!("{} is not a contact action", action.kind())))
            }
        };
        match result {
            Ok(detail) => Outcome::Done(detail),
            Err(ContactStepError::Permanent(error)) => Outcome::Failed { error, retry: false },
            Err(ContactStepError::Transient(error)) => Outcome::Failed { error, retry: true },
        }
    }
}
