//! Identity's JSON API under `/api/v1`. Each handler's doc comment is its OpenAPI text and its
//! `security` names what it needs (see `frontdesk_web::routes`).

use crate::model::*;
use crate::service::Identity;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use frontdesk_kernel::error::Problem;
use frontdesk_kernel::paging::{Page, PageRequest};
use frontdesk_kernel::{Result, TenantId};
use frontdesk_web::{ApiJson, ApiPath, ApiQuery, AuditActor, ClientIp, Principal};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router(identity: Identity) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(signup))
        .routes(routes!(token))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(revoke_all))
        .routes(routes!(switch_tenant))
        .routes(routes!(accept_invitation))
        .routes(routes!(get_me, update_me))
        .routes(routes!(change_password))
        .routes(routes!(two_factor_setup))
        .routes(routes!(two_factor_confirm))
        .routes(routes!(two_factor_disable))
        .routes(routes!(create_tenant))
        .routes(routes!(get_tenant, update_tenant))
        .routes(routes!(list_workspaces, create_workspace))
        .routes(routes!(get_workspace, rename_workspace, delete_workspace))
        .routes(routes!(list_members))
        .routes(routes!(get_member, change_role, remove_member))
        .routes(routes!(list_invitations, invite))
        .routes(routes!(get_invitation, revoke_invitation))
        .routes(routes!(list_api_keys, create_api_key))
        .routes(routes!(get_api_key, revoke_api_key))
        .routes(routes!(list_outbox))
        .routes(routes!(platform_tenants))
        .routes(routes!(suspend_tenant))
        .routes(routes!(reactivate_tenant))
        .with_state(identity)
}

fn ip(c: &ClientIp) -> &str {
    &c.0
}

/// The created tenant and the owner's tokens.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct SignupResponse {
    pub tenant: Tenant,
    pub tokens: TokenPair,
}

/// Sign up
///
/// Creates a business (tenant) with its first workspace and its owner's account, and signs the
/// owner in.
#[utoipa::path(post, path = "/api/v1/auth/signup", tag = "auth", request_body = SignupRequest,
    responses((status = 201, body = SignupResponse), (status = 422, body = Problem), (status = 429, body = Problem)),
    security(()))]
async fn signup(
    State(id): State<Identity>,
    client: ClientIp,
    ApiJson(req): ApiJson<SignupRequest>,
) -> Result<(StatusCode, Json<SignupResponse>)> {
    let (tenant, tokens) = id.signup(req, ip(&client)).await?;
    Ok((StatusCode::CREATED, Json(SignupResponse { tenant, tokens })))
}

/// Get tokens
///
/// Exchanges e-mail and password (plus `totp_code` or `recovery_code` once two-factor is on) for
/// a 15-minute access token and a single-use refresh token. Failed attempts are throttled per
/// account and per address (`429` with `Retry-After`). Without a second factor when one is
/// needed, answers `401` with code `mfa_required`.
#[utoipa::path(post, path = "/api/v1/auth/token", tag = "auth", request_body = TokenRequest,
    responses((status = 200, body = TokenPair), (status = 401, body = Problem), (status = 429, body = Problem)),
    security(()))]
async fn token(
    State(id): State<Identity>,
    client: ClientIp,
    ApiJson(req): ApiJson<TokenRequest>,
) -> Result<Json<TokenPair>> {
    Ok(Json(id.token_login(req, ip(&client)).await?))
}

/// Refresh tokens
///
/// Rotates a refresh token: the old one is spent, a new pair returned. Presenting a spent
/// refresh token revokes every token of that sign-in (`401 refresh_token_reused`).
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenPair), (status = 401, body = Problem)),
    security(()))]
async fn refresh(State(id): State<Identity>, ApiJson(req): ApiJson<RefreshRequest>) -> Result<Json<TokenPair>> {
    Ok(Json(id.refresh(&req.refresh_token).await?))
}

/// Log out
///
/// Ends this sign-in: the session, or the access token's family with all its refresh tokens.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    responses((status = 204), (status = 401, body = Problem)), security(("bearer" = [])))]
async fn logout(State(id): State<Identity>, p: Principal) -> Result<StatusCode> {
    id.logout(&p).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Log out everywhere
///
/// Ends every session and token of your account, on every device.
#[utoipa::path(post, path = "/api/v1/auth/revoke-all", tag = "auth",
    responses((status = 204), (status = 401, body = Problem)), security(("bearer" = [])))]
async fn revoke_all(State(id): State<Identity>, p: Principal, AuditActor(actor): AuditActor) -> Result<StatusCode> {
    id.revoke_all(&p, &actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Switch tenant
///
/// Tokens for another tenant you are a member of.
#[utoipa::path(post, path = "/api/v1/auth/switch-tenant", tag = "auth", request_body = SwitchTenantRequest,
    responses((status = 200, body = TokenPair), (status = 422, body = Problem)), security(("bearer" = [])))]
async fn switch_tenant(
    State(id): State<Identity>,
    p: Principal,
    ApiJson(req): ApiJson<SwitchTenantRequest>,
) -> Result<Json<TokenPair>> {
    Ok(Json(id.switch_tenant_tokens(&p, &req.tenant_id).await?))
}

/// Accept an invitation
///
/// Joins the inviting tenant: with the password of your existing account, or with a name and a
/// new password to create one.
#[utoipa::path(post, path = "/api/v1/invitations/accept", tag = "members", request_body = AcceptInvitationRequest,
    responses((status = 200, body = Tenant), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(()))]
async fn accept_invitation(
    State(id): State<Identity>,
    client: ClientIp,
    ApiJson(req): ApiJson<AcceptInvitationRequest>,
) -> Result<Json<Tenant>> {
    Ok(Json(id.accept_invitation(req, ip(&client)).await?.0))
}

/// Your account
#[utoipa::path(get, path = "/api/v1/me", tag = "account", responses((status = 200, body = Me)), security(("bearer" = [])))]
async fn get_me(State(id): State<Identity>, p: Principal) -> Result<Json<Me>> {
    Ok(Json(id.me(&p).await?))
}

/// Change your name or language
#[utoipa::path(patch, path = "/api/v1/me", tag = "account", request_body = UpdateMeRequest,
    responses((status = 200, body = Me), (status = 422, body = Problem)), security(("bearer" = [])))]
async fn update_me(
    State(id): State<Identity>,
    p: Principal,
    AuditActor(a): AuditActor,
    ApiJson(req): ApiJson<UpdateMeRequest>,
) -> Result<Json<Me>> {
    Ok(Json(id.update_me(&p, req, &a).await?))
}

/// Change your password
///
/// Ends every other session and token of your account.
#[utoipa::path(post, path = "/api/v1/me/password", tag = "account", request_body = ChangePasswordRequest,
    responses((status = 204), (status = 422, body = Problem)), security(("bearer" = [])))]
async fn change_password(
    State(id): State<Identity>,
    p: Principal,
    AuditActor(a): AuditActor,
    ApiJson(req): ApiJson<ChangePasswordRequest>,
) -> Result<StatusCode> {
    id.change_password(&p, req, &a).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Start two-factor set-up
///
/// A new TOTP secret to add to an authenticator app; confirm it with a code.
#[utoipa::path(post, path = "/api/v1/me/two-factor/setup", tag = "account",
    responses((status = 200, body = TotpSetup), (status = 409, body = Problem)), security(("bearer" = [])))]
async fn two_factor_setup(State(id): State<Identity>, p: Principal) -> Result<Json<TotpSetup>> {
    Ok(Json(id.totp_setup(&p).await?))
}

/// Confirm two-factor set-up
///
/// Turns two-factor on and returns ten single-use recovery codes (shown once).
#[utoipa::path(post, path = "/api/v1/me/two-factor/confirm", tag = "account", request_body = TotpCodeRequest,
    responses((status = 200, body = RecoveryCodes), (status = 422, body = Problem)), security(("bearer" = [])))]
async fn two_factor_confirm(
    State(id): State<Identity>,
    p: Principal,
    AuditActor(a): AuditActor,
    ApiJson(req): ApiJson<TotpCodeRequest>,
) -> Result<Json<RecoveryCodes>> {
    Ok(Json(id.totp_confirm(&p, &req.code, &a).await?))
}

/// Turn two-factor off
#[utoipa::path(post, path = "/api/v1/me/two-factor/disable", tag = "account", request_body = DisableTotpRequest,
    responses((status = 204), (status = 422, body = Problem)), security(("bearer" = [])))]
async fn two_factor_disable(
    State(id): State<Identity>,
    p: Principal,
    AuditActor(a): AuditActor,
    ApiJson(req): ApiJson<DisableTotpRequest>,
) -> Result<StatusCode> {
    id.totp_disable(&p, req, &a).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Add a business
///
/// Creates another tenant with you as its owner.
#[utoipa::path(post, path = "/api/v1/tenants", tag = "tenant", request_body = NewTenantRequest,
    responses((status = 201, body = Tenant), (status = 422, body = Problem)), security(("bearer" = [])))]
async fn create_tenant(
    State(id): State<Identity>,
    p: Principal,
    AuditActor(a): AuditActor,
    ApiJson(req): ApiJson<NewTenantRequest>,
) -> Result<(StatusCode, Json<Tenant>)> {
    Ok((StatusCode::CREATED, Json(id.create_tenant(&p, req, &a).await?)))
}

/// The current tenant
#[utoipa::path(get, path = "/api/v1/tenant", tag = "tenant", responses((status = 200, body = Tenant)), security(("bearer" = ["tenant:read"])))]
async fn get_tenant(State(id): State<Identity>, p: Principal) -> Result<Json<Tenant>> {
    Ok(Json(id.tenant(&p).await?))
}

/// Change the tenant's settings
#[utoipa::path(patch, path = "/api/v1/tenant", tag = "tenant", request_body = UpdateTenantRequest,
    responses((status = 200, body = Tenant), (status = 422, body = Problem)), security(("bearer" = ["tenant:manage"])))]
async fn update_tenant(
    State(id): State<Identity>,
    p: Principal,
    AuditActor(a): AuditActor,
    ApiJson(req): ApiJson<UpdateTenantRequest>,
) -> Result<Json<Tenant>> {
    Ok(Json(id.update_tenant(&p, req, &a).await?))
}

/// List workspaces
#[utoipa::path(get, path = "/api/v1/workspaces", tag = "tenant", responses((status = 200, body = Vec<Workspace>)), security(("bearer" = ["tenant:read"])))]
async fn list_workspaces(State(id): State<Identity>, p: Principal) -> Result<Json<Vec<Workspace>>> {
    Ok(Json(id.workspaces(&p).await?))
}

/// Create a workspace
#[utoipa::path(post, path = "/api/v1/workspaces", tag = "tenant", request_body = WorkspaceRequest,
    responses((status = 201, body = Workspace), (status = 422, body = Problem)), security(("bearer" = ["tenant:manage"])))]
async fn create_workspace(
    State(id): State<Identity>,
    p: Principal,
    AuditActor(a): AuditActor,
    ApiJson(req): ApiJson<WorkspaceRequest>,
) -> Result<(StatusCode, Json<Workspace>)> {
    Ok((StatusCode::CREATED, Json(id.create_workspace(&p, req, &a).await?)))
}

/// Get a workspace
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}", tag = "tenant", params(("workspace_id" = WorkspaceId, Path,)),
    responses((status = 200, body = Workspace), (status = 404, body = Problem)), security(("bearer" = ["tenant:read"])))]
async fn get_workspace(
    State(id): State<Identity>,
    p: Principal,
    ApiPath(wid): ApiPath<WorkspaceId>,
) -> Result<Json<Workspace>> {
    Ok(Json(id.workspace(&p, &wid).await?))
}

/// Rename a workspace
#[utoipa::path(patch, path = "/api/v1/workspaces/{workspace_id}", tag = "tenant", params(("workspace_id" = WorkspaceId, Path,)), request_body = WorkspaceRequest,
    responses((status = 200, body = Workspace), (status = 404, body = Problem)), security(("bearer" = ["tenant:manage"])))]
async fn rename_workspace(
    State(id): State<Identity>,
    p: Principal,
    AuditActor(a): AuditActor,
    ApiPath(wid): ApiPath<WorkspaceId>,
    ApiJson(req): ApiJson<WorkspaceRequest>,
) -> Result<Json<Workspace>> {
    Ok(Json(id.rename_workspace(&p, &wid, req, &a).await?))
}

/// Delete a workspace
///
/// A tenant keeps at least one workspace.
#[utoipa::path(delete, path = "/api/v1/workspaces/{workspace_id}", tag = "tenant", params(("workspace_id" = WorkspaceId, Path,)),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)), security(("bearer" = ["tenant:manage"])))]
async fn delete_workspace(
    State(id): State<Identity>,
    p: Principal,
    AuditActor(a): AuditActor,
    ApiPath(wid): ApiPath<WorkspaceId>,
) -> Result<StatusCode> {
    id.delete_workspace(&p, &wid, &a).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// List members
#[utoipa::path(get, path = "/api/v1/members", tag = "members", params(PageRequest),
    responses((status = 200, body = Page<Member>)), security(("bearer" = ["members:read"])))]
async fn list_members(
    State(id): State<Identity>,
    p: Principal,
    ApiQuery(page): ApiQuery<PageRequest>,
) -> Result<Json<Page<Member>>> {
    let limit = page.limit()?;
    let rows = id.members(&p, page.after()?.as_deref(), limit + 1).await?;
    Ok(Json(Page::from_rows(rows, limit, |m| m.id.as_str())))
}

/// Get a member
#[utoipa::path(get, path = "/api/v1/members/{member_id}", tag = "members", params(("member_id" = MemberId, Path,)),
    responses((status = 200, body = Member), (status = 404, body = Problem)), security(("bearer" = ["members:read"])))]
async fn get_member(State(id): State<Identity>, p: Principal, ApiPath(mid): ApiPath<MemberId>) -> Result<Json<Member>> {
    Ok(Json(id.member(&p, &mid).await?))
}

/// Change a member's role
///
/// Only an owner may make or unmake an owner; the last owner stays owner (`409 last_owner`).
#[utoipa::path(patch, path = "/api/v1/members/{member_id}", tag = "members", params(("member_id" = MemberId, Path,)), request_body = ChangeRoleRequest,
    responses((status = 200, body = Member), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = ["members:manage"])))]
async fn change_role(
    State(id): State<Identity>,
    p: Principal,
    AuditActor(a): AuditActor,
    ApiPath(mid): ApiPath<MemberId>,
    ApiJson(req): ApiJson<ChangeRoleRequest>,
) -> Result<Json<Member>> {
    Ok(Json(id.change_role(&p, &mid, req.role, &a).await?))
}

/// Remove a member
#[utoipa::path(delete, path = "/api/v1/members/{member_id}", tag = "members", params(("member_id" = MemberId, Path,)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = ["members:manage"])))]
async fn remove_member(
    State(id): State<Identity>,
    p: Principal,
    AuditActor(a): AuditActor,
    ApiPath(mid): ApiPath<MemberId>,
) -> Result<StatusCode> {
    id.remove_member(&p, &mid, &a).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// List invitations
#[utoipa::path(get, path = "/api/v1/invitations", tag = "members", params(PageRequest),
    responses((status = 200, body = Page<Invitation>)), security(("bearer" = ["members:read"])))]
async fn list_invitations(
    State(id): State<Identity>,
    p: Principal,
    ApiQuery(page): ApiQuery<PageRequest>,
) -> Result<Json<Page<Invitation>>> {
    let limit = page.limit()?;
    let rows = id.invitations(&p, page.after()?.as_deref(), limit + 1).await?;
    Ok(Json(Page::from_rows(rows, limit, |i| i.id.as_str())))
}

/// Invite someone
///
/// Sends an invitation link by e-mail (through the outbox).
#[utoipa::path(post, path = "/api/v1/invitations", tag = "members", request_body = InviteRequest,
    responses((status = 201, body = Invitation), (status = 422, body = Problem)), security(("bearer" = ["members:manage"])))]
async fn invite(
    State(id): State<Identity>,
    p: Principal,
    AuditActor(a): AuditActor,
    ApiJson(req): ApiJson<InviteRequest>,
) -> Result<(StatusCode, Json<Invitation>)> {
    Ok((StatusCode::CREATED, Json(id.invite(&p, req, &a).await?)))
}

/// Get an invitation
#[utoipa::path(get, path = "/api/v1/invitations/{invitation_id}", tag = "members", params(("invitation_id" = InvitationId, Path,)),
    responses((status = 200, body = Invitation), (status = 404, body = Problem)), security(("bearer" = ["members:read"])))]
async fn get_invitation(
    State(id): State<Identity>,
    p: Principal,
    ApiPath(iid): ApiPath<InvitationId>,
) -> Result<Json<Invitation>> {
    Ok(Json(id.invitation(&p, &iid).await?))
}

/// Revoke an invitation
#[utoipa::path(delete, path = "/api/v1/invitations/{invitation_id}", tag = "members", params(("invitation_id" = InvitationId, Path,)),
    responses((status = 204), (status = 404, body = Problem)), security(("bearer" = ["members:manage"])))]
async fn revoke_invitation(
    State(id): State<Identity>,
    p: Principal,
    AuditActor(a): AuditActor,
    ApiPath(iid): ApiPath<InvitationId>,
) -> Result<StatusCode> {
    id.revoke_invitation(&p, &iid, &a).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// List API keys
///
/// Keys with their prefix and last use; never their secret.
#[utoipa::path(get, path = "/api/v1/api-keys", tag = "api keys", params(PageRequest),
    responses((status = 200, body = Page<ApiKey>)), security(("bearer" = ["api_keys:read"])))]
async fn list_api_keys(
    State(id): State<Identity>,
    p: Principal,
    ApiQuery(page): ApiQuery<PageRequest>,
) -> Result<Json<Page<ApiKey>>> {
    let limit = page.limit()?;
    let rows = id.api_keys(&p, page.after()?.as_deref(), limit + 1).await?;
    Ok(Json(Page::from_rows(rows, limit, |k| k.id.as_str())))
}

/// Create an API key
///
/// The response carries the key's secret: the only time it is shown. A key can have at most
/// the permissions of its creator.
#[utoipa::path(post, path = "/api/v1/api-keys", tag = "api keys", request_body = CreateApiKeyRequest,
    responses((status = 201, body = ApiKeyCreated), (status = 422, body = Problem)), security(("bearer" = ["api_keys:manage"])))]
async fn create_api_key(
    State(id): State<Identity>,
    p: Principal,
    AuditActor(a): AuditActor,
    ApiJson(req): ApiJson<CreateApiKeyRequest>,
) -> Result<(StatusCode, Json<ApiKeyCreated>)> {
    Ok((StatusCode::CREATED, Json(id.create_api_key(&p, req, &a).await?)))
}

/// Get an API key
#[utoipa::path(get, path = "/api/v1/api-keys/{key_id}", tag = "api keys", params(("key_id" = ApiKeyId, Path,)),
    responses((status = 200, body = ApiKey), (status = 404, body = Problem)), security(("bearer" = ["api_keys:read"])))]
async fn get_api_key(
    State(id): State<Identity>,
    p: Principal,
    ApiPath(kid): ApiPath<ApiKeyId>,
) -> Result<Json<ApiKey>> {
    Ok(Json(id.api_key(&p, &kid).await?))
}

/// Revoke an API key
///
/// The key is refused from the next request on.
#[utoipa::path(delete, path = "/api/v1/api-keys/{key_id}", tag = "api keys", params(("key_id" = ApiKeyId, Path,)),
    responses((status = 204), (status = 404, body = Problem)), security(("bearer" = ["api_keys:manage"])))]
async fn revoke_api_key(
    State(id): State<Identity>,
    p: Principal,
    AuditActor(a): AuditActor,
    ApiPath(kid): ApiPath<ApiKeyId>,
) -> Result<StatusCode> {
    id.revoke_api_key(&p, &kid, &a).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Outgoing e-mail
///
/// E-mail the tenant sent or holds (without a mail server, e-mail is held here).
#[utoipa::path(get, path = "/api/v1/outbox", tag = "tenant", params(PageRequest),
    responses((status = 200, body = Page<Email>)), security(("bearer" = ["outbox:read"])))]
async fn list_outbox(
    State(id): State<Identity>,
    p: Principal,
    ApiQuery(page): ApiQuery<PageRequest>,
) -> Result<Json<Page<Email>>> {
    let limit = page.limit()?;
    let rows = id.emails(&p, page.after()?.as_deref(), limit + 1).await?;
    Ok(Json(Page::from_rows(rows, limit, |e| e.id.as_str())))
}

/// All tenants (operator)
#[utoipa::path(get, path = "/api/v1/platform/tenants", tag = "platform", params(PageRequest),
    responses((status = 200, body = Page<TenantSummary>)), security(("bearer" = ["platform:operate"])))]
async fn platform_tenants(
    State(id): State<Identity>,
    ApiQuery(page): ApiQuery<PageRequest>,
) -> Result<Json<Page<TenantSummary>>> {
    let limit = page.limit()?;
    let rows = id.platform_tenants(page.after()?.as_deref(), limit + 1).await?;
    Ok(Json(Page::from_rows(rows, limit, |t| t.tenant.id.as_str())))
}

/// Suspend a tenant (operator)
///
/// Its members and keys are refused until it is reactivated; nothing is deleted.
#[utoipa::path(post, path = "/api/v1/platform/tenants/{tenant_id}/suspend", tag = "platform", params(("tenant_id" = TenantId, Path,)),
    responses((status = 200, body = Tenant), (status = 404, body = Problem)), security(("bearer" = ["platform:operate"])))]
async fn suspend_tenant(
    State(id): State<Identity>,
    AuditActor(a): AuditActor,
    ApiPath(tid): ApiPath<TenantId>,
) -> Result<Json<Tenant>> {
    Ok(Json(id.set_tenant_status(&tid, TenantStatus::Suspended, &a).await?))
}

/// Reactivate a tenant (operator)
#[utoipa::path(post, path = "/api/v1/platform/tenants/{tenant_id}/reactivate", tag = "platform", params(("tenant_id" = TenantId, Path,)),
    responses((status = 200, body = Tenant), (status = 404, body = Problem)), security(("bearer" = ["platform:operate"])))]
async fn reactivate_tenant(
    State(id): State<Identity>,
    AuditActor(a): AuditActor,
    ApiPath(tid): ApiPath<TenantId>,
) -> Result<Json<Tenant>> {
    Ok(Json(id.set_tenant_status(&tid, TenantStatus::Active, &a).await?))
}
