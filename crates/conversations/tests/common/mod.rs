//! What the conversations tests share: a fresh database with the schemas this crate needs, the
//! identity service on it, and tenants with an owner.
#![allow(dead_code)]

use frontdesk_identity::model::{NewTenantRequest, Tenant};
use frontdesk_identity::{Identity, IdentityConfig};
use frontdesk_kernel::crypto::Keyring;
use frontdesk_store::testing::TestDb;
use frontdesk_store::Db;
use frontdesk_web::RateLimiter;
use std::sync::Arc;

pub struct Base {
    pub test_db: TestDb,
    pub db: Db,
    pub keys: Keyring,
    pub identity: Identity,
    /// Unique per test run: goes into slugs and e-mail addresses.
    pub body: String,
}

impl Base {
    /// A fresh SQLite file or PostgreSQL database (`label` goes into its name), migrated.
    pub async fn start(postgres: bool, label: &str) -> Base {
        let migrations = [
            frontdesk_store::MIGRATIONS,
            frontdesk_identity::MIGRATIONS,
            frontdesk_agent::MIGRATIONS,
            frontdesk_conversations::MIGRATIONS,
        ]
        .concat();
        let test_db = TestDb::create(postgres, label, &migrations, |_| {}).await.expect("test database");
        let db = test_db.db.clone();
        let keys = Keyring::new(&[7u8; 32], &[]).expect("keyring");
        let identity =
            Identity::new(db.clone(), keys.clone(), Arc::new(RateLimiter::in_memory()), IdentityConfig::default());
        Base { test_db, db, keys, identity, body: frontdesk_kernel::id::new_body().to_lowercase() }
    }

    /// A tenant named `name` with an owner; returns it and the owner's e-mail address.
    pub async fn tenant(&self, name: &str, slug: &str) -> (Tenant, String) {
        let request = NewTenantRequest {
            tenant_name: name.into(),
            slug: Some(format!("{slug}-{}", &self.body[..8])),
            time_zone: None,
            locale: None,
            industry: None,
        };
        let email = format!("owner-{slug}-{}@conversations.test", self.body);
        let (tenant, _) = self
            .identity
            .create_tenant_with_owner(request, &email, "Owner", Some("a long test password"))
            .await
            .expect("tenant");
        (tenant, email)
    }
}
