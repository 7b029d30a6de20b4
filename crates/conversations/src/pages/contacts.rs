//! The contact profile (`/app/contacts/{id}`): who the contact is, how they are reached, their
//! consent, tags and notes (editable), their open follow-up tasks, and all their conversations.

use super::inbox::{member_options, Row};
use super::{comma_list, local_time, zone_of, PagesState, Shown};
use crate::model::*;
use crate::store::ContactUpdate;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use frontdesk_kernel::time::now_ms;
use frontdesk_kernel::{Error, Result};
use frontdesk_web::pages::Page;
use frontdesk_web::{AuditActor, Permission, Principal};
use serde::{Deserialize, Serialize};

/// The edit form's fields, as posted (an unchecked checkbox is simply absent).
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub(crate) struct ContactForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    language: String,
    #[serde(default)]
    consent_marketing: Option<String>,
    /// Comma-separated.
    #[serde(default)]
    tags: String,
    #[serde(default)]
    notes: String,
}

impl ContactForm {
    fn of(c: &Contact) -> ContactForm {
        ContactForm {
            name: c.name.clone().unwrap_or_default(),
            email: c.email.clone().unwrap_or_default(),
            phone: c.phone.clone().unwrap_or_default(),
            language: c.language.clone().unwrap_or_default(),
            consent_marketing: c.consent_marketing.then(|| "1".to_owned()),
            tags: c.tags.join(", "),
            notes: c.notes.clone(),
        }
    }

    fn update(&self) -> ContactUpdate {
        let optional = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        ContactUpdate {
            name: optional(&self.name),
            email: optional(&self.email),
            phone: optional(&self.phone),
            language: optional(&self.language),
            consent_marketing: self.consent_marketing.is_some(),
            tags: comma_list(&self.tags),
            notes: self.notes.trim().to_owned(),
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct ContactView {
    pub contact: Contact,
    pub display_name: String,
    pub form: ContactForm,
    pub conversations: Vec<Row>,
    pub tasks: Vec<super::tasks::TaskRow>,
    pub created_at: String,
    pub consent_updated_at: Option<String>,
    pub can_edit: bool,
    #[serde(flatten)]
    pub shown: Shown,
}

async fn render(
    s: &PagesState,
    page: &Page,
    p: &Principal,
    id: &ContactId,
    shown: Shown,
    typed: Option<ContactForm>,
) -> Response {
    let result = async {
        let tenant = p.tenant()?;
        let (contact, conversations) = s.conversations.contact(tenant, id).await?;
        let zone = zone_of(&s.conversations, tenant).await?;
        let members = member_options(&s.identity.members(p, None, 200).await?);
        let now = now_ms();
        let rows = conversations.into_iter().map(|c| Row::new(c, contact.name.clone(), &members, &zone, now)).collect();
        let tasks = s.conversations.open_tasks_of(tenant, id).await?;
        let tasks = tasks.into_iter().map(|t| super::tasks::TaskRow::new(t, &members, &zone, now)).collect();
        Ok::<_, Error>(ContactView {
            display_name: contact.name.clone().unwrap_or_else(|| page.t("conv.visitor")),
            form: typed.unwrap_or_else(|| ContactForm::of(&contact)),
            conversations: rows,
            tasks,
            created_at: local_time(contact.created_at, &zone),
            consent_updated_at: contact.consent_updated_at.map(|t| local_time(t, &zone)),
            can_edit: p.can(Permission::ConversationsReply),
            contact,
            shown,
        })
    };
    match result.await {
        Ok(view) => page.render_status(view.shown.status, "conversations/contact.html", view),
        Err(e) => page.error(e),
    }
}

fn parse_id(raw: &str) -> Result<ContactId> {
    ContactId::parse(raw).ok_or(Error::NotFound)
}

pub(super) async fn show(State(s): State<PagesState>, page: Page, p: Principal, Path(raw): Path<String>) -> Response {
    match parse_id(&raw) {
        Ok(id) => render(&s, &page, &p, &id, Shown::default(), None).await,
        Err(e) => page.error(e),
    }
}

pub(super) async fn update(
    State(s): State<PagesState>,
    page: Page,
    p: Principal,
    AuditActor(actor): AuditActor,
    Path(raw): Path<String>,
    Form(f): Form<ContactForm>,
) -> Response {
    let id = match parse_id(&raw) {
        Ok(id) => id,
        Err(e) => return page.error(e),
    };
    let result = async { s.conversations.update_contact(p.tenant()?, &id, f.update(), &actor).await }.await;
    match result {
        Ok(_) => Redirect::to(&format!("/app/contacts/{id}?notice=saved")).into_response(),
        Err(e) => match Shown::from_error(&page, e) {
            Ok(shown) => render(&s, &page, &p, &id, shown, Some(f)).await,
            Err(e) => page.error(e),
        },
    }
}
