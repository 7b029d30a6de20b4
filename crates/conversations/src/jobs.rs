//! Background work of conversations: turns that wait behind an older turn (or were handed back
//! by a failed attempt or a crash), and summaries of long conversations.

use crate::service::pipeline_payloads::{SummaryPayload, TurnPayload};
use crate::service::{Conversations, Holder, SUMMARY_JOB, TURN_JOB};
use frontdesk_store::jobs::{Job, JobError, JobRegistry};

pub fn register(registry: &mut JobRegistry, conversations: Conversations) {
    let for_turns = conversations.clone();
    registry.register(TURN_JOB, move |job: Job| {
        let svc = for_turns.clone();
        async move {
            let p: TurnPayload = job.payload()?;
            let holder = Holder::Worker { attempt: job.attempt, max_attempts: job.max_attempts };
            svc.run_turn(job.tenant()?, &p.conversation_id, &p.message_id, holder, None).await
        }
    });
    registry.register(SUMMARY_JOB, move |job: Job| {
        let svc = conversations.clone();
        async move {
            let p: SummaryPayload = job.payload()?;
            svc.summarise(job.tenant()?, &p.conversation_id, &p.upto)
                .await
                .map_err(|e| JobError::Transient(e.to_string()))
        }
    });
}
