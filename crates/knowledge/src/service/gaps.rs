//! Gaps: questions the assistant could not answer from the knowledge base, collected per tenant
//! (the same question asked again counts up), shown as suggested FAQ entries to accept or dismiss.

use super::Knowledge;
use crate::model::*;
use crate::store;
use frontdesk_kernel::{Error, Result, TenantId};
use frontdesk_store::audit::{self, Actor, Change};

/// Longest question kept.
const MAX_QUESTION: usize = 1000;

/// What makes two questions the same: their words, lower-cased, without punctuation.
pub fn fingerprint(question: &str) -> String {
    crate::text::tokens(question).collect::<Vec<_>>().join(" ")
}

impl Knowledge {
    /// Records a question the assistant could not answer (the conversation pipeline calls this).
    /// Asked again, in any case or punctuation, it counts up instead of repeating.
    pub async fn record_gap(&self, tenant: &TenantId, question: &str, conversation_ref: Option<String>) -> Result<Gap> {
        let question: String = crate::text::squash(question).chars().take(MAX_QUESTION).collect();
        let fp = fingerprint(&question);
        if fp.is_empty() {
            return Err(Error::field("question", "required", "The question has no words."));
        }
        let conversation_ref = conversation_ref.map(|c| c.chars().take(200).collect::<String>());
        let mut tx = self.write(tenant).await?;
        let gap = store::upsert_gap(&mut tx, &question, &fp, conversation_ref.as_deref()).await?;
        tx.commit().await?;
        Ok(gap)
    }

    pub async fn gaps(&self, tenant: &TenantId, status: GapStatus, limit: u32) -> Result<Vec<Gap>> {
        let mut tx = self.read(tenant).await?;
        Ok(store::list_gaps(&mut tx, status, limit).await?)
    }

    /// Turns a gap into an FAQ entry (searchable at once).
    pub async fn accept_gap(
        &self,
        tenant: &TenantId,
        id: &GapId,
        req: AcceptGapRequest,
        actor: &Actor,
    ) -> Result<FaqEntry> {
        let mut tx = self.write(tenant).await?;
        let gap = store::gap(&mut tx, id).await?;
        if gap.status == GapStatus::Accepted {
            return Err(Error::conflict("gap_accepted", "This question is already in the FAQ."));
        }
        let faq = FaqRequest { question: req.question.unwrap_or(gap.question), answer: req.answer };
        let entry = self.insert_faq_in(&mut tx, &faq, actor).await?;
        store::set_gap_status(&mut tx, id, GapStatus::Accepted, Some(&entry.id)).await?;
        audit::record(
            &mut tx,
            actor,
            Change::new("knowledge.gap_accepted", "knowledge_gap", Some(id.as_str()))
                .details(serde_json::json!({"faq_id": entry.id})),
        )
        .await?;
        tx.commit().await?;
        Ok(entry)
    }

    pub async fn dismiss_gap(&self, tenant: &TenantId, id: &GapId, actor: &Actor) -> Result<Gap> {
        let mut tx = self.write(tenant).await?;
        let gap = store::gap(&mut tx, id).await?;
        if gap.status == GapStatus::Accepted {
            return Err(Error::conflict("gap_accepted", "This question is already in the FAQ."));
        }
        store::set_gap_status(&mut tx, id, GapStatus::Dismissed, None).await?;
        audit::record(&mut tx, actor, Change::new("knowledge.gap_dismissed", "knowledge_gap", Some(id.as_str())))
            .await?;
        let gap = store::gap(&mut tx, id).await?;
        tx.commit().await?;
        Ok(gap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_question_same_fingerprint() {
        assert_eq!(fingerprint("Do you have PARKING?"), fingerprint("do you have parking"));
        assert_ne!(fingerprint("Do you have parking?"), fingerprint("Do you have showers?"));
        assert_eq!(fingerprint("?!"), "");
    }
}
