//! Who may do what: roles, permissions, and the one matrix between them.
//!
//! Every route declares a [`Requirement`]; one middleware enforces it (see `auth.rs`). Handlers
//! receive a [`Principal`] that has already passed.

use frontdesk_kernel::{Error, TenantId};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A member's role in a tenant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Role {
    Viewer,
    Member,
    Admin,
    Owner,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Member, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "OWNER",
            Role::Admin => "ADMIN",
            Role::Member => "MEMBER",
            Role::Viewer => "VIEWER",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
    }

    /// The permission matrix: the only place that says what a role may do.
    pub fn permissions(self) -> PermissionSet {
        use Permission::*;
        // Later capabilities add their permissions to these rows.
        let read = [TenantRead, MembersRead, InsightsRead, ConversationsRead, KnowledgeRead, ChannelsRead];
        // Members staff the front desk: they answer customers.
        let member = [ConversationsReply];
        let admin = [
            TenantManage,
            MembersManage,
            ApiKeysRead,
            ApiKeysManage,
            AuditRead,
            OutboxRead,
            JobsRead,
            JobsManage,
            InsightsManage,
            MetricsIngest,
            AssistantManage,
            KnowledgeManage,
            ChannelsManage,
            PaymentsRead,
            PaymentsManage,
        ];
        match self {
            Role::Viewer => PermissionSet::from_iter(read),
            Role::Member => PermissionSet::from_iter(read.into_iter().chain(member)),
            Role::Admin => PermissionSet::from_iter(read.into_iter().chain(member).chain(admin)),
            Role::Owner => PermissionSet::all(),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! permissions {
    ($($variant:ident = $name:literal : $doc:literal,)*) => {
        /// One thing a principal may do in a tenant. Its string form is the OpenAPI scope.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Permission {
            $(#[doc = $doc] $variant,)*
        }

        impl Permission {
            pub const ALL: &'static [Permission] = &[$(Permission::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(Permission::$variant => $name,)* }
            }

            pub fn describe(self) -> &'static str {
                match self { $(Permission::$variant => $doc,)* }
            }

            pub fn parse(s: &str) -> Option<Permission> {
                match s { $($name => Some(Permission::$variant),)* _ => None }
            }
        }
    };
}

permissions! {
    TenantRead = "tenant:read": "See the tenant's settings and workspaces",
    TenantManage = "tenant:manage": "Change the tenant's settings and workspaces",
    MembersRead = "members:read": "See members and invitations",
    MembersManage = "members:manage": "Invite, remove and change the roles of members",
    ApiKeysRead = "api_keys:read": "See API keys (never their secrets)",
    ApiKeysManage = "api_keys:manage": "Create and revoke API keys",
    AuditRead = "audit:read": "Read the audit log",
    OutboxRead = "outbox:read": "Read outgoing e-mail held in the outbox",
    JobsRead = "jobs:read": "See the tenant's background jobs and dead letters",
    JobsManage = "jobs:manage": "Retry dead background jobs",
    TenantOwn = "tenant:own": "Hand over or give up ownership of the tenant",
    InsightsRead = "insights:read": "See metrics, anomalies, workflows and webhook deliveries",
    InsightsManage = "insights:manage": "Acknowledge anomalies, change sensitivity, workflows and webhook endpoints",
    MetricsIngest = "metrics:ingest": "Send metric points",
    ConversationsRead = "conversations:read": "See conversations, messages and contacts",
    ConversationsReply = "conversations:reply": "Answer customers, take over and hand back, assign, label and resolve conversations",
    AssistantManage = "assistant:manage": "Change the assistant's persona, instructions, FAQ, model and web chat settings",
    KnowledgeRead = "knowledge:read": "See knowledge sources and try searches",
    KnowledgeManage = "knowledge:manage": "Add, refresh and delete knowledge sources and FAQ entries",
    ChannelsRead = "channels:read": "See connected channels and outgoing messages",
    ChannelsManage = "channels:manage": "Connect and disconnect WhatsApp, SMS and Telegram accounts and send messages",
    PaymentsRead = "payments:read": "See the connected Stripe account, payments and dunning cases",
    PaymentsManage = "payments:manage": "Connect and disconnect Stripe, start and stop dunning",
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of permissions as a bit set (fits every permission we will ever have in 64 bits).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PermissionSet(u64);

impl PermissionSet {
    pub fn all() -> Self {
        Self::from_iter(Permission::ALL.iter().copied())
    }

    pub fn contains(self, p: Permission) -> bool {
        self.0 & (1 << p as u64) != 0
    }

    pub fn insert(&mut self, p: Permission) {
        self.0 |= 1 << p as u64;
    }

    pub fn intersect(self, other: PermissionSet) -> Self {
        Self(self.0 & other.0)
    }

    pub fn is_subset_of(self, other: PermissionSet) -> bool {
        self.0 & !other.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL.iter().copied().filter(move |p| self.contains(*p))
    }

    /// `tenant:read,members:read`
    pub fn to_csv(self) -> String {
        self.iter().map(Permission::as_str).collect::<Vec<_>>().join(",")
    }

    /// Parses a stored list; unknown names (from a newer version) are ignored.
    pub fn from_csv(s: &str) -> Self {
        Self::from_iter(s.split(',').filter_map(|p| Permission::parse(p.trim())))
    }
}

impl FromIterator<Permission> for PermissionSet {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        let mut set = PermissionSet::default();
        for p in iter {
            set.insert(p);
        }
        set
    }
}

/// What a route needs from its caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requirement {
    /// Anyone (log-in, sign-up, health, widget, webhooks).
    Public,
    /// Any signed-in principal (the account's own settings).
    Authenticated,
    /// A principal of a tenant with this permission.
    Tenant(Permission),
    /// The platform operator.
    Platform,
}

/// The OpenAPI scope that marks a platform-operator route.
pub const PLATFORM_SCOPE: &str = "platform:operate";

/// How the principal authenticated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Credential {
    /// Dashboard cookie; unsafe methods need the CSRF token.
    Session {
        session_id: String,
        csrf_token: String,
    },
    /// JWT access token from `/api/v1/auth/token`.
    AccessToken {
        family_id: String,
    },
    ApiKey {
        key_id: String,
    },
}

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct Principal {
    /// The user, unless an API key called.
    pub user_id: Option<String>,
    /// E-mail of the user or name of the key (for the audit log).
    pub label: String,
    /// The tenant this request acts in; `None` for a user with no membership yet.
    pub tenant_id: Option<TenantId>,
    pub role: Option<Role>,
    pub permissions: PermissionSet,
    pub platform_operator: bool,
    pub credential: Credential,
    /// The user's preferred language, if set.
    pub locale: Option<frontdesk_kernel::domain::Locale>,
    /// Name of the current tenant (for the dashboard header).
    pub tenant_name: Option<String>,
    /// The user's tenants, for the dashboard's tenant switcher (filled for sessions only).
    pub memberships: Vec<TenantChoice>,
}

/// One entry of the tenant switcher.
#[derive(Clone, Debug, Serialize)]
pub struct TenantChoice {
    pub tenant_id: TenantId,
    pub name: String,
    pub slug: String,
    pub role: Role,
}

impl Principal {
    /// An API key acting in its tenant with its permissions (no user, no dashboard session).
    pub fn api_key(tenant: TenantId, key_id: &str, label: String, permissions: PermissionSet) -> Self {
        Principal {
            user_id: None,
            label,
            tenant_id: Some(tenant),
            role: None,
            permissions,
            platform_operator: false,
            credential: Credential::ApiKey { key_id: key_id.to_owned() },
            locale: None,
            tenant_name: None,
            memberships: Vec::new(),
        }
    }

    /// The tenant of a tenant-scoped request (the middleware has checked it exists).
    pub fn tenant(&self) -> Result<&TenantId, Error> {
        self.tenant_id
            .as_ref()
            .ok_or_else(|| Error::forbidden("This request needs a tenant; you are not a member of one."))
    }

    pub fn can(&self, p: Permission) -> bool {
        self.tenant_id.is_some() && self.permissions.contains(p)
    }

    pub fn require(&self, p: Permission) -> Result<(), Error> {
        if self.can(p) {
            Ok(())
        } else {
            Err(Error::forbidden(format!("This needs the permission {p}.")))
        }
    }

    pub fn user_id(&self) -> Result<&str, Error> {
        self.user_id.as_deref().ok_or_else(|| Error::forbidden("Only a user (not an API key) can do this."))
    }

    /// Whether this request satisfies `req`.
    pub fn satisfies(&self, req: Requirement) -> bool {
        match req {
            Requirement::Public | Requirement::Authenticated => true,
            Requirement::Tenant(p) => self.can(p),
            Requirement::Platform => self.platform_operator,
        }
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Principal {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| Error::unauthenticated("unauthenticated", "Sign in, or send a bearer token or API key."))
    }
}

/// The audit log's "who" for this request: the principal, the client address, the request id.
pub struct AuditActor(pub frontdesk_store::audit::Actor);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for AuditActor {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        let principal = Principal::from_request_parts(parts, state).await?;
        let ip = parts.extensions.get::<crate::ClientIp>().map(|c| c.0.clone());
        let request_id = parts.extensions.get::<crate::RequestId>().map(|r| r.0.clone());
        let via = if matches!(principal.credential, Credential::Session { .. }) { "dashboard" } else { "api" };
        let (kind, id) = match &principal.credential {
            Credential::ApiKey { key_id } => ("api_key", Some(key_id.clone())),
            _ => ("user", principal.user_id.clone()),
        };
        Ok(AuditActor(frontdesk_store::audit::Actor { kind, id, label: principal.label.clone(), via, ip, request_id }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_is_monotonic_and_viewer_cannot_change_anything() {
        let order = [Role::Viewer, Role::Member, Role::Admin, Role::Owner];
        for pair in order.windows(2) {
            assert!(pair[0].permissions().is_subset_of(pair[1].permissions()), "{:?} ⊄ {:?}", pair[0], pair[1]);
        }
        for p in Role::Viewer.permissions().iter() {
            assert!(p.as_str().ends_with(":read"), "viewer may only read, has {p}");
        }
        assert!(!Role::Admin.permissions().contains(Permission::TenantOwn));
    }

    #[test]
    fn csv_round_trip() {
        let set = Role::Admin.permissions();
        assert_eq!(PermissionSet::from_csv(&set.to_csv()), set);
        assert_eq!(PermissionSet::from_csv("tenant:read,bogus"), PermissionSet::from_iter([Permission::TenantRead]));
    }
}
