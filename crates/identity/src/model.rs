//! Identity's business objects and the shapes the API exchanges.

use frontdesk_kernel::define_id;
use frontdesk_kernel::time::rfc3339;
use frontdesk_kernel::TenantId;
use frontdesk_web::Role;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

define_id!(
    /// A person who can sign in; may belong to several tenants.
    UserId,
    "usr"
);
define_id!(
    /// A user's membership in one tenant, with a role.
    MemberId,
    "mem"
);
define_id!(
    /// A part of a tenant's business (a location, a studio room group).
    WorkspaceId,
    "wsp"
);
define_id!(
    /// An invitation to join a tenant.
    InvitationId,
    "inv"
);
define_id!(
    /// An API key of a tenant.
    ApiKeyId,
    "key"
);
define_id!(
    /// A dashboard session.
    SessionId,
    "ses"
);
define_id!(
    /// One log-in's chain of refresh tokens.
    FamilyId,
    "fam"
);
define_id!(
    /// An e-mail in the outbox.
    EmailId,
    "eml"
);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TenantStatus {
    Active,
    Suspended,
}

impl TenantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TenantStatus::Active => "active",
            TenantStatus::Suspended => "suspended",
        }
    }

    pub fn parse(s: &str) -> Self {
        if s == "suspended" {
            TenantStatus::Suspended
        } else {
            TenantStatus::Active
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Tenant {
    pub id: TenantId,
    pub slug: String,
    pub name: String,
    pub status: TenantStatus,
    /// IANA time zone; bookings and reports are computed in it.
    pub time_zone: String,
    /// `en` or `de`.
    pub locale: String,
    /// `fitness`, `salon`, `clinic`, `school` or `other`.
    pub industry: String,
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub name: String,
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

/// A user as others in the tenant see them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Member {
    pub id: MemberId,
    pub user_id: UserId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub two_factor: bool,
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub joined_at: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Invitation {
    pub id: InvitationId,
    pub email: String,
    pub role: Role,
    /// `pending`, `accepted`, `revoked` or `expired`.
    pub status: String,
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub name: String,
    /// The first characters of the key, to recognise it.
    pub prefix: String,
    pub permissions: Vec<String>,
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    #[serde(with = "rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<i64>,
    #[serde(with = "rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<i64>,
    #[serde(with = "rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<i64>,
}

/// Returned once, at creation: the only time the secret is shown.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiKeyCreated {
    #[serde(flatten)]
    pub key: ApiKey,
    /// The full key. Store it now: it cannot be shown again.
    pub secret: String,
}

/// The signed-in user's own view.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Me {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub locale: Option<String>,
    pub two_factor: bool,
    pub platform_operator: bool,
    pub tenant_id: Option<TenantId>,
    pub role: Option<Role>,
    pub memberships: Vec<MyMembership>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MyMembership {
    pub tenant_id: TenantId,
    pub tenant_name: String,
    pub slug: String,
    pub role: Role,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Single use: each refresh returns a new one.
    pub refresh_token: String,
    pub tenant_id: Option<TenantId>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Email {
    pub id: EmailId,
    pub to: String,
    pub subject: String,
    pub body: String,
    /// `queued`, `sent`, `held` (no mail server configured: kept here), `failed`.
    pub status: String,
    #[serde(with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
}

/// The operator's view of a tenant.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TenantSummary {
    #[serde(flatten)]
    pub tenant: Tenant,
    pub members: i64,
}

// ---- requests ----

#[derive(Debug, Deserialize, ToSchema)]
pub struct SignupRequest {
    /// The business's name.
    pub tenant_name: String,
    /// Optional handle; derived from the name when absent.
    pub slug: Option<String>,
    pub name: String,
    pub email: String,
    pub password: String,
    pub time_zone: Option<String>,
    pub locale: Option<String>,
    pub industry: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewTenantRequest {
    pub tenant_name: String,
    pub slug: Option<String>,
    pub time_zone: Option<String>,
    pub locale: Option<String>,
    pub industry: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenRequest {
    pub email: String,
    pub password: String,
    /// The current 6-digit code, once two-factor authentication is on.
    pub totp_code: Option<String>,
    /// A recovery code instead of `totp_code`.
    pub recovery_code: Option<String>,
    /// The tenant to act in; the first membership when absent.
    pub tenant_id: Option<TenantId>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SwitchTenantRequest {
    pub tenant_id: TenantId,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateTenantRequest {
    pub name: Option<String>,
    pub time_zone: Option<String>,
    pub locale: Option<String>,
    pub industry: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct WorkspaceRequest {
    pub name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ChangeRoleRequest {
    pub role: Role,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct InviteRequest {
    pub email: String,
    pub role: Role,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AcceptInvitationRequest {
    pub token: String,
    /// For a new account: your name.
    pub name: Option<String>,
    /// For a new account: a password; for an existing account: its password.
    pub password: String,
    /// For an existing account with two-factor on: its current code or a recovery code.
    pub code: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateApiKeyRequest {
    pub name: String,
    /// Permissions of the key (`members:read`, …); at most your own. All of yours when absent.
    pub permissions: Option<Vec<String>>,
    /// Days until the key expires; never when absent.
    pub expires_in_days: Option<u32>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateMeRequest {
    pub name: Option<String>,
    pub locale: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    pub new_password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TotpSetup {
    /// Base32 secret for manual entry.
    pub secret: String,
    /// `otpauth://` URI for authenticator apps.
    pub otpauth_uri: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TotpCodeRequest {
    pub code: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryCodes {
    /// Ten single-use codes; shown once.
    pub recovery_codes: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct DisableTotpRequest {
    pub password: String,
    pub code: String,
}

/// Industries a tenant can name (they pick demo data and wording).
pub const INDUSTRIES: &[&str] = &["fitness", "salon", "clinic", "school", "other"];
