//! Dashboard pages of identity (log-in, sign-up, team, API keys, account).
use frontdesk_web::pages::TemplatesBuilder;
pub fn templates(_b: &mut TemplatesBuilder) {}
pub fn routes(_identity: crate::Identity) -> frontdesk_web::Routes { frontdesk_web::Routes::new() }
