//! The team: members with their roles, pending invitations, inviting, changing roles, removing.

use super::response::{show, with_notice, Shown};
use crate::model::{Invitation, InvitationId, InviteRequest, Member, MemberId};
use crate::service::Identity;
use axum::extract::State;
use axum::response::Response;
use axum::Form;
use frontdesk_kernel::{Error, Result};
use frontdesk_web::pages::Page;
use frontdesk_web::{ApiPath, AuditActor, Permission, Principal, Role};
use serde::{Deserialize, Serialize};

const TEAM: &str = "/app/team";
const TEMPLATE: &str = "identity/team.html";
/// More members than this are not shown on one page.
const LIMIT: u32 = 500;

/// The invite form's values.
#[derive(Deserialize, Serialize)]
pub struct InviteForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

impl Default for InviteForm {
    fn default() -> Self {
        Self { email: String::new(), role: Role::Member.as_str().into() }
    }
}

#[derive(Serialize)]
struct MemberRow {
    #[serde(flatten)]
    member: Member,
    /// The caller may change this member's role or remove them.
    manageable: bool,
}

#[derive(Serialize)]
struct TeamView {
    members: Vec<MemberRow>,
    invitations: Vec<Invitation>,
    can_manage: bool,
    /// Roles the caller may hand out.
    roles: Vec<Role>,
    invite: InviteForm,
}

async fn team_page(
    identity: &Identity,
    page: &Page,
    principal: &Principal,
    shown: Shown,
    invite: InviteForm,
) -> Response {
    let members = match identity.members(principal, None, LIMIT).await {
        Ok(m) => m,
        Err(e) => return page.error(e),
    };
    let invitations = match identity.invitations(principal, None, LIMIT).await {
        Ok(list) => list.into_iter().filter(|i| i.status == "pending").collect(),
        Err(e) => return page.error(e),
    };
    let can_manage = principal.can(Permission::MembersManage);
    let owns = principal.can(Permission::TenantOwn);
    let members = members
        .into_iter()
        .map(|member| MemberRow { manageable: can_manage && (member.role != Role::Owner || owns), member })
        .collect();
    let roles = Role::ALL.into_iter().filter(|r| *r != Role::Owner || owns).collect();
    show(page, TEMPLATE, shown, TeamView { members, invitations, can_manage, roles, invite })
}

/// Redirects with `notice` after success; shows a refusal (say, the last owner) on the team page.
async fn outcome(
    identity: &Identity,
    page: &Page,
    principal: &Principal,
    result: Result<()>,
    notice: &str,
    invite: InviteForm,
) -> Response {
    match result {
        Ok(()) => with_notice(TEAM, notice),
        Err(e) => match Shown::from_error(page, e) {
            Ok(shown) => team_page(identity, page, principal, shown, invite).await,
            Err(e) => page.error(e),
        },
    }
}

fn role(value: &str) -> Result<Role> {
    Role::parse(value).ok_or_else(|| Error::field("role", "invalid", "Choose a role."))
}

/// `GET /app/team`
pub async fn team(State(identity): State<Identity>, page: Page, principal: Principal) -> Response {
    team_page(&identity, &page, &principal, Shown::ok(), InviteForm::default()).await
}

/// `POST /app/team/invite`
pub async fn invite(
    State(identity): State<Identity>,
    page: Page,
    principal: Principal,
    AuditActor(actor): AuditActor,
    Form(form): Form<InviteForm>,
) -> Response {
    let result = match role(&form.role) {
        Ok(role) => {
            identity.invite(&principal, InviteRequest { email: form.email.clone(), role }, &actor).await.map(drop)
        }
        Err(e) => Err(e),
    };
    outcome(&identity, &page, &principal, result, "invited", form).await
}

#[derive(Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    role: String,
}

/// `POST /app/team/members/{member_id}/role`
pub async fn change_role(
    State(identity): State<Identity>,
    page: Page,
    principal: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(member_id): ApiPath<String>,
    Form(form): Form<RoleForm>,
) -> Response {
    let Some(id) = MemberId::parse(&member_id) else {
        return page.error(Error::NotFound);
    };
    let result = match role(&form.role) {
        Ok(role) => identity.change_role(&principal, &id, role, &actor).await.map(drop),
        Err(e) => Err(e),
    };
    outcome(&identity, &page, &principal, result, "role_changed", InviteForm::default()).await
}

/// `POST /app/team/members/{member_id}/remove`
pub async fn remove_member(
    State(identity): State<Identity>,
    page: Page,
    principal: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(member_id): ApiPath<String>,
) -> Response {
    let Some(id) = MemberId::parse(&member_id) else {
        return page.error(Error::NotFound);
    };
    let result = identity.remove_member(&principal, &id, &actor).await;
    outcome(&identity, &page, &principal, result, "member_removed", InviteForm::default()).await
}

/// `POST /app/team/invitations/{invitation_id}/revoke`
pub async fn revoke_invitation(
    State(identity): State<Identity>,
    page: Page,
    principal: Principal,
    AuditActor(actor): AuditActor,
    ApiPath(invitation_id): ApiPath<String>,
) -> Response {
    let Some(id) = InvitationId::parse(&invitation_id) else {
        return page.error(Error::NotFound);
    };
    let result = identity.revoke_invitation(&principal, &id, &actor).await;
    outcome(&identity, &page, &principal, result, "invitation_revoked", InviteForm::default()).await
}
