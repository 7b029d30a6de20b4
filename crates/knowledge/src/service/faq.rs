//! FAQ entries: written by the tenant (or accepted from gaps), indexed at once — each entry is
//! one document with one passage (the question as its section, the answer as its text) in the
//! tenant's FAQ source — so a new answer is searchable as soon as it is saved.

use super::ingest::Doc;
use super::{sha256_hex, Knowledge};
use crate::extract::Block;
use crate::model::*;
use crate::store::{self, ChunkRow, DocumentRow, NewSource};
use crate::text::detect;
use frontdesk_kernel::time::now_ms;
use frontdesk_kernel::{Result, TenantId};
use frontdesk_store::audit::{self, Actor, Change};
use frontdesk_store::TenantTx;

const FAQ_ORIGIN: &str = "faq";
const FAQ_TITLE: &str = "FAQ";

/// An entry's document id: derived from the entry's, so changes find it.
fn document_id(id: &FaqId) -> DocumentId {
    DocumentId::from_db(format!("{}_{}", DocumentId::PREFIX, &id.as_str()[FaqId::PREFIX.len() + 1..]))
}

/// An entry as a document (for a full re-read of the FAQ source).
pub(crate) fn faq_doc(f: &FaqEntry) -> Doc {
    Doc {
        id: Some(document_id(&f.id)),
        locator: format!("faq:{}", f.id),
        title: FAQ_TITLE.into(),
        blocks: vec![Block::Heading { level: 1, text: f.question.clone() }, Block::Paragraph(f.answer.clone())],
    }
}

fn validate(req: &FaqRequest) -> Result<(String, String)> {
    let question = crate::text::squash(&req.question);
    let answer = crate::text::clean(&req.answer);
    let mut v = frontdesk_kernel::error::Validator::new();
    if question.is_empty() {
        v.push("question", "required", "Write the question.");
    } else if question.chars().count() > 500 {
        v.push("question", "too_long", "A question has up to 500 characters.");
    }
    if answer.is_empty() {
        v.push("answer", "required", "Write the answer.");
    } else if answer.chars().count() > 10_000 {
        v.push("answer", "too_long", "An answer has up to 10,000 characters.");
    }
    v.finish()?;
    Ok((question, answer))
}

impl Knowledge {
    /// The tenant's FAQ source, created on first use.
    async fn faq_source(&self, tx: &mut TenantTx) -> Result<SourceId> {
        if let Some(rec) = store::source_by_origin(tx, SourceKind::Faq, FAQ_ORIGIN).await? {
            return Ok(rec.source.id);
        }
        let id = SourceId::new();
        let new = NewSource {
            id: &id,
            kind: SourceKind::Faq,
            title: FAQ_TITLE,
            origin: FAQ_ORIGIN,
            content_type: None,
            options: &SourceOptions::default(),
            tags: &["faq".to_owned()],
            refresh_every_secs: None,
        };
        store::insert_source(tx, &new).await?;
        store::set_status(tx, &id, SourceStatus::Ready, None, Progress { done: 0, total: 0 }).await?;
        Ok(id)
    }

    /// (Re)indexes one entry in the caller's transaction and moves the generation.
    async fn index_faq(&self, tx: &mut TenantTx, entry: &FaqEntry, replace: bool) -> Result<()> {
        let source = self.faq_source(tx).await?;
        let doc = document_id(&entry.id);
        if replace {
            store::delete_document(tx, &doc).await?;
        }
        let language = detect(&format!("{}\n{}", entry.question, entry.answer));
        store::insert_document(
            tx,
            &DocumentRow {
                id: &doc,
                source_id: &source,
                locator: &format!("faq:{}", entry.id),
                title: FAQ_TITLE,
                language: language.code(),
                chunks: 1,
            },
        )
        .await?;
        let row = ChunkRow {
            id: ChunkId::new(),
            document_id: doc,
            ordinal: 0,
            text_hash: sha256_hex(&[FAQ_TITLE, &entry.question, &entry.answer]),
            section: entry.question.clone(),
            body: entry.answer.clone(),
            language: language.code().to_owned(),
            embedding: None,
        };
        store::insert_chunks(tx, &source, &[row]).await?;
        self.faq_changed(tx, &source).await
    }

    async fn faq_changed(&self, tx: &mut TenantTx, source: &SourceId) -> Result<()> {
        store::recount(tx, source, self.embedder_info().map(|i| i.model).as_deref()).await?;
        store::bump_index_version(tx, source.as_str()).await?;
        store::bump_generation(tx).await?;
        store::set_vectors_model(tx, None).await?;
        self.enqueue_embedding(tx).await
    }

    /// Creates an entry inside the caller's transaction (also used when accepting a gap).
    pub(crate) async fn insert_faq_in(&self, tx: &mut TenantTx, req: &FaqRequest, actor: &Actor) -> Result<FaqEntry> {
        let (question, answer) = validate(req)?;
        let now = now_ms();
        let entry = FaqEntry { id: FaqId::new(), question, answer, created_at: now, updated_at: now };
        store::insert_faq(tx, &entry).await?;
        self.index_faq(tx, &entry, false).await?;
        audit::record(tx, actor, Change::new("knowledge.faq_added", "faq", Some(entry.id.as_str()))).await?;
        Ok(entry)
    }

    pub async fn create_faq(&self, tenant: &TenantId, req: FaqRequest, actor: &Actor) -> Result<FaqEntry> {
        let mut tx = self.write(tenant).await?;
        let entry = self.insert_faq_in(&mut tx, &req, actor).await?;
        tx.commit().await?;
        Ok(entry)
    }

    pub async fn update_faq(&self, tenant: &TenantId, id: &FaqId, req: FaqRequest, actor: &Actor) -> Result<FaqEntry> {
        let (question, answer) = validate(&req)?;
        let mut tx = self.write(tenant).await?;
        let mut entry = store::faq(&mut tx, id).await?;
        if entry.question == question && entry.answer == answer {
            return Ok(entry);
        }
        entry.question = question;
        entry.answer = answer;
        entry.updated_at = now_ms();
        store::update_faq(&mut tx, &entry).await?;
        self.index_faq(&mut tx, &entry, true).await?;
        audit::record(&mut tx, actor, Change::new("knowledge.faq_changed", "faq", Some(id.as_str()))).await?;
        tx.commit().await?;
        Ok(entry)
    }

    pub async fn delete_faq(&self, tenant: &TenantId, id: &FaqId, actor: &Actor) -> Result<()> {
        let mut tx = self.write(tenant).await?;
        store::delete_faq(&mut tx, id).await?;
        store::delete_document(&mut tx, &document_id(id)).await?;
        let source = self.faq_source(&mut tx).await?;
        store::recount(&mut tx, &source, self.embedder_info().map(|i| i.model).as_deref()).await?;
        store::bump_index_version(&mut tx, source.as_str()).await?;
        store::bump_generation(&mut tx).await?;
        audit::record(&mut tx, actor, Change::new("knowledge.faq_deleted", "faq", Some(id.as_str()))).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn faq(&self, tenant: &TenantId, id: &FaqId) -> Result<FaqEntry> {
        let mut tx = self.read(tenant).await?;
        Ok(store::faq(&mut tx, id).await?)
    }

    pub async fn faq_entries(&self, tenant: &TenantId, after: Option<&str>, limit: u32) -> Result<Vec<FaqEntry>> {
        let mut tx = self.read(tenant).await?;
        Ok(store::list_faq(&mut tx, after, limit).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use frontdesk_kernel::Error;

    #[test]
    fn document_ids_follow_entry_ids() {
        let id = FaqId::new();
        let doc = document_id(&id);
        assert!(DocumentId::parse(doc.as_str()).is_some(), "{doc}");
        assert_eq!(&doc.as_str()[5..], &id.as_str()[4..]);
    }

    #[test]
    fn entries_are_validated() {
        let bad = FaqRequest { question: "  ".into(), answer: String::new() };
        match validate(&bad) {
            Err(Error::Validation(errors)) => assert_eq!(errors.len(), 2),
            other => panic!("{other:?}"),
        }
    }
}
