//! The assistant's settings (`/app/assistant`): persona, tone, instructions, FAQ, greeting, the
//! web chat's look, opening hours, allowed origins and custom domains; the embed snippet; and the
//! tenant's model endpoint (the same settings as `/api/v1/assistant/model`).

use super::{lines, localized, PagesState, Shown};
use crate::hours;
use crate::model::*;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use frontdesk_agent::settings::{ModelSettingsView, UpdateModelSettings};
use frontdesk_kernel::{Error, FieldError};
use frontdesk_web::pages::Page;
use frontdesk_web::{AuditActor, Permission, Principal};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Weekdays as the opening hours name them, Monday first.
const WEEKDAYS: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
const TONES: [&str; 3] = ["friendly", "professional", "concise"];

#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct FaqRow {
    pub question: String,
    pub answer: String,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct DayHours {
    pub day: &'static str,
    /// `09:00-18:00, 19:00-21:00`
    pub value: String,
}

/// The settings form's fields as text (what was saved, or what was typed).
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct SettingsForm {
    pub persona: String,
    pub tone: String,
    pub instructions: String,
    pub greeting: String,
    pub faq: Vec<FaqRow>,
    pub color: String,
    pub text_color: String,
    pub logo_url: String,
    pub position: String,
    /// One per line.
    pub quick_replies: String,
    pub hours: Vec<DayHours>,
    /// One per line.
    pub allowed_origins: String,
    /// One per line.
    pub domains: String,
    pub handoff_enabled: bool,
}

impl SettingsForm {
    pub(super) fn of(s: &AssistantSettings, domains: &[String]) -> SettingsForm {
        SettingsForm {
            persona: s.persona.clone(),
            tone: s.tone.clone(),
            instructions: s.instructions.clone(),
            greeting: s.greeting.clone(),
            faq: s.faq.iter().map(|f| FaqRow { question: f.question.clone(), answer: f.answer.clone() }).collect(),
            color: s.widget.color.clone(),
            text_color: s.widget.text_color.clone(),
            logo_url: s.widget.logo_url.clone().unwrap_or_default(),
            position: s.widget.position.clone(),
            quick_replies: s.widget.quick_replies.join("\n"),
            hours: WEEKDAYS
                .iter()
                .enumerate()
                .map(|(i, day)| DayHours { day, value: s.opening_hours.day(i).join(", ") })
                .collect(),
            allowed_origins: s.allowed_origins.join("\n"),
            domains: domains.join("\n"),
            handoff_enabled: s.handoff_enabled,
        }
    }

    /// Reads the posted form. FAQ rows are `faq-<n>-question` / `faq-<n>-answer` (any numbers, in
    /// their order); a row marked `faq-<n>-remove`, or left empty, is dropped.
    pub(super) fn parse(pairs: &[(String, String)]) -> SettingsForm {
        let mut form = SettingsForm { hours: Vec::new(), ..SettingsForm::default() };
        let mut faq: BTreeMap<u32, (FaqRow, bool)> = BTreeMap::new();
        let mut hours: BTreeMap<&str, String> = BTreeMap::new();
        for (key, value) in pairs {
            match key.as_str() {
                "persona" => form.persona = value.clone(),
                "tone" => form.tone = value.clone(),
                "instructions" => form.instructions = value.clone(),
                "greeting" => form.greeting = value.clone(),
                "color" => form.color = value.clone(),
                "text_color" => form.text_color = value.clone(),
                "logo_url" => form.logo_url = value.clone(),
                "position" => form.position = value.clone(),
                "quick_replies" => form.quick_replies = value.clone(),
                "allowed_origins" => form.allowed_origins = value.clone(),
                "domains" => form.domains = value.clone(),
                "handoff_enabled" => form.handoff_enabled = true,
                other => {
                    if let Some(day) = other.strip_prefix("hours_").and_then(|d| WEEKDAYS.iter().find(|w| **w == d)) {
                        hours.insert(*day, value.clone());
                    } else if let Some((n, part)) = other
                        .strip_prefix("faq-")
                        .and_then(|rest| rest.split_once('-'))
                        .and_then(|(n, part)| Some((n.parse::<u32>().ok()?, part)))
                    {
                        let (row, removed) = faq.entry(n).or_default();
                        match part {
                            "question" => row.question = value.clone(),
                            "answer" => row.answer = value.clone(),
                            "remove" => *removed = true,
                            _ => {}
                        }
                    }
                }
            }
        }
        form.faq = faq
            .into_values()
            .filter(|(row, removed)| !(*removed || row.question.trim().is_empty() && row.answer.trim().is_empty()))
            .map(|(row, _)| row)
            .collect();
        form.hours =
            WEEKDAYS.iter().map(|day| DayHours { day, value: hours.get(day).cloned().unwrap_or_default() }).collect();
        form
    }

    pub(super) fn settings(&self) -> AssistantSettings {
        let day = |i: usize| self.hours.get(i).map(|h| super::comma_list(&h.value)).unwrap_or_default();
        AssistantSettings {
            persona: self.persona.clone(),
            tone: self.tone.clone(),
            instructions: self.instructions.clone(),
            faq: self.faq.iter().map(|f| FaqEntry { question: f.question.clone(), answer: f.answer.clone() }).collect(),
            greeting: self.greeting.clone(),
            widget: WidgetLook {
                color: self.color.trim().to_lowercase(),
                text_color: self.text_color.trim().to_lowercase(),
                logo_url: Some(self.logo_url.trim().to_owned()).filter(|u| !u.is_empty()),
                position: self.position.trim().to_owned(),
                quick_replies: lines(&self.quick_replies),
            },
            opening_hours: OpeningHours {
                monday: day(0),
                tuesday: day(1),
                wednesday: day(2),
                thursday: day(3),
                friday: day(4),
                saturday: day(5),
                sunday: day(6),
            },
            allowed_origins: lines(&self.allowed_origins),
            handoff_enabled: self.handoff_enabled,
        }
    }
}

/// The model form's fields (keys are never shown back).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ModelForm {
    #[serde(default)]
    base_url: String,
    #[serde(default)]
    model: String,
    #[serde(default, skip_serializing)]
    api_key: String,
    #[serde(default, skip_serializing)]
    remove_api_key: Option<String>,
    #[serde(default)]
    fallback_base_url: String,
    #[serde(default)]
    fallback_model: String,
    #[serde(default, skip_serializing)]
    fallback_api_key: String,
    #[serde(default, skip_serializing)]
    remove_fallback_api_key: Option<String>,
}

impl ModelForm {
    fn of(v: &ModelSettingsView) -> ModelForm {
        // The platform's endpoint is the operator's: a tenant starts its own from a blank form.
        if v.source != "tenant" {
            return ModelForm::default();
        }
        ModelForm {
            base_url: v.base_url.clone().unwrap_or_default(),
            model: v.model.clone().unwrap_or_default(),
            fallback_base_url: v.fallback_base_url.clone().unwrap_or_default(),
            fallback_model: v.fallback_model.clone().unwrap_or_default(),
            ..ModelForm::default()
        }
    }

    /// A blank key keeps the stored one; "remove" deletes it.
    fn request(&self) -> UpdateModelSettings {
        let key = |value: &str, remove: &Option<String>| match (remove, value.trim()) {
            (Some(_), _) => Some(String::new()),
            (None, "") => None,
            (None, k) => Some(k.to_owned()),
        };
        let optional = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        UpdateModelSettings {
            base_url: self.base_url.clone(),
            model: self.model.clone(),
            fallback_model: optional(&self.fallback_model),
            fallback_base_url: optional(&self.fallback_base_url),
            api_key: key(&self.api_key, &self.remove_api_key),
            fallback_api_key: key(&self.fallback_api_key, &self.remove_fallback_api_key),
        }
    }
}

/// What the page shows of the model settings (never a key, only whether one is stored).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ModelView {
    /// `tenant`, `platform` or `none`.
    pub source: String,
    pub base_url: Option<String>,
    pub model: Option<String>,
    pub has_api_key: bool,
    pub has_fallback_api_key: bool,
}

impl From<&ModelSettingsView> for ModelView {
    fn from(v: &ModelSettingsView) -> Self {
        ModelView {
            source: v.source.to_owned(),
            base_url: v.base_url.clone(),
            model: v.model.clone(),
            has_api_key: v.has_api_key,
            has_fallback_api_key: v.has_fallback_api_key,
        }
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct AssistantView {
    pub form: SettingsForm,
    pub tones: [&'static str; 3],
    pub snippet: String,
    pub model: ModelView,
    pub model_form: ModelForm,
    pub model_errors: Vec<FieldError>,
    pub can_manage_model: bool,
    #[serde(flatten)]
    pub shown: Shown,
}

/// What a failed post shows again.
#[derive(Default)]
struct Typed {
    settings: Option<SettingsForm>,
    model: Option<ModelForm>,
    model_errors: Vec<FieldError>,
}

/// The script tag a business pastes into its site.
pub(crate) fn embed_snippet(public_url: &str, slug: &str) -> String {
    format!("<script src=\"{}/widget.js\" data-tenant=\"{slug}\" async></script>", public_url.trim_end_matches('/'))
}

async fn render(s: &PagesState, page: &Page, p: &Principal, shown: Shown, typed: Typed) -> Response {
    let result = async {
        let tenant = p.tenant()?;
        let business = s.conversations.tenant(tenant).await?.ok_or(Error::NotFound)?;
        let form = match typed.settings {
            Some(form) => form,
            None => {
                let settings = s.conversations.settings(tenant).await?;
                SettingsForm::of(&settings, &s.conversations.domains(tenant).await?)
            }
        };
        let model = s.models.view(tenant).await?;
        Ok::<_, Error>(AssistantView {
            form,
            tones: TONES,
            snippet: embed_snippet(&s.identity.config().public_url, &business.slug),
            model_form: typed.model.unwrap_or_else(|| ModelForm::of(&model)),
            model: ModelView::from(&model),
            model_errors: typed.model_errors,
            can_manage_model: p.can(Permission::TenantManage),
            shown,
        })
    };
    match result.await {
        Ok(view) => page.render_status(view.shown.status, "conversations/assistant.html", view),
        Err(e) => page.error(e),
    }
}

pub(super) async fn show(State(s): State<PagesState>, page: Page, p: Principal) -> Response {
    render(&s, &page, &p, Shown::default(), Typed::default()).await
}

/// Moves errors the service names by index or as a whole onto the fields the form has: bad
/// opening hours onto their weekday, bad origins and domains onto their text area (naming the
/// line at fault).
pub(super) fn place_errors(page: &Page, form: &SettingsForm, errors: Vec<FieldError>) -> Vec<FieldError> {
    let origins = lines(&form.allowed_origins);
    let domains = lines(&form.domains);
    let mut out = Vec::with_capacity(errors.len());
    for e in errors {
        if e.field == "opening_hours" {
            continue; // replaced by the per-day errors below
        }
        let indexed = |prefix: &str, values: &[String]| {
            e.field
                .strip_prefix(prefix)
                .and_then(|rest| rest.strip_prefix('[')?.strip_suffix(']')?.parse::<usize>().ok())
                .and_then(|i| values.get(i).cloned())
        };
        if let Some(value) = indexed("allowed_origins", &origins) {
            out.push(FieldError { field: "allowed_origins".into(), message: format!("{value}: {}", e.message), ..e });
        } else if let Some(value) = indexed("domains", &domains) {
            out.push(FieldError { field: "domains".into(), message: format!("{value}: {}", e.message), ..e });
        } else {
            out.push(e);
        }
    }
    for h in &form.hours {
        for range in super::comma_list(&h.value) {
            if hours::parse_range(&range).is_none() {
                let message = page.t("conv.assistant.hours_invalid").replace("{range}", &range);
                out.push(FieldError::new(format!("hours_{}", h.day), "invalid", message));
            }
        }
    }
    out
}

pub(super) async fn update(
    State(s): State<PagesState>,
    page: Page,
    p: Principal,
    AuditActor(actor): AuditActor,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let form = SettingsForm::parse(&pairs);
    let result = async {
        let tenant = p.tenant()?;
        s.conversations.update_settings(tenant, form.settings(), Some(lines(&form.domains)), &actor).await
    };
    match result.await {
        Ok(_) => Redirect::to("/app/assistant?notice=saved").into_response(),
        Err(Error::Validation(errors)) => {
            let errors = place_errors(&page, &form, localized(&page, errors));
            let shown = Shown { status: StatusCode::UNPROCESSABLE_ENTITY, errors, alert: None };
            render(&s, &page, &p, shown, Typed { settings: Some(form), ..Typed::default() }).await
        }
        Err(e) => match Shown::from_error(&page, e) {
            Ok(shown) => render(&s, &page, &p, shown, Typed { settings: Some(form), ..Typed::default() }).await,
            Err(e) => page.error(e),
        },
    }
}

pub(super) async fn update_model(
    State(s): State<PagesState>,
    page: Page,
    p: Principal,
    AuditActor(actor): AuditActor,
    Form(f): Form<ModelForm>,
) -> Response {
    let result = async { s.models.update(p.tenant()?, f.request(), &actor).await }.await;
    match result {
        Ok(_) => Redirect::to("/app/assistant?notice=model_saved#model").into_response(),
        Err(Error::Validation(errors)) => {
            let model_errors = localized(&page, errors)
                .into_iter()
                .map(|e| match e.field.as_str() {
                    "fallback_api_key_sealed" => FieldError { field: "fallback_api_key".into(), ..e },
                    _ => e,
                })
                .collect();
            let shown = Shown { status: StatusCode::UNPROCESSABLE_ENTITY, ..Shown::default() };
            render(&s, &page, &p, shown, Typed { model: Some(f), model_errors, ..Typed::default() }).await
        }
        Err(e) => page.error(e),
    }
}

pub(super) async fn reset_model(
    State(s): State<PagesState>,
    page: Page,
    p: Principal,
    AuditActor(actor): AuditActor,
) -> Response {
    let result = async { s.models.reset(p.tenant()?, &actor).await }.await;
    page.after(result, "/app/assistant?notice=model_reset#model")
}
