//! A tenant's model settings against real SQLite and PostgreSQL: the built model is cached per
//! tenant, a change made here applies at once, and the usage of deferred calls is handed to the
//! caller and stored in its transaction.

use frontdesk_agent::settings::{store_usage, UpdateModelSettings};
use frontdesk_agent::testing::StandIn;
use frontdesk_agent::usage::deferred;
use frontdesk_agent::{ChatMessage, ChatRequest, ModelSettings};
use frontdesk_kernel::crypto::Keyring;
use frontdesk_kernel::TenantId;
use frontdesk_store::audit::Actor;
use frontdesk_store::testing::TestDb;
use frontdesk_store::{Db, Migration};
use serde_json::json;

/// The agent's tables reference `tenants` (identity's); a bare one stands in for it here.
const TENANTS: Migration = Migration {
    component: "agent_settings_test",
    version: 1,
    name: "0001_tenants",
    sqlite_up: "CREATE TABLE tenants (id TEXT PRIMARY KEY);",
    sqlite_down: "DROP TABLE tenants;",
    postgres_up: "CREATE TABLE tenants (id TEXT PRIMARY KEY);",
    postgres_down: "DROP TABLE tenants;",
};

struct Harness {
    db: Db,
    settings: ModelSettings,
    test_db: TestDb,
}

impl Harness {
    async fn start(postgres: bool) -> Harness {
        let migrations = [frontdesk_store::MIGRATIONS, &[TENANTS], frontdesk_agent::MIGRATIONS].concat();
        let test_db = TestDb::create(postgres, "agent", &migrations, |_| {}).await.expect("test database");
        let db = test_db.db.clone();
        let keys = Keyring::new(&[7u8; 32], &[]).expect("keyring");
        let settings = ModelSettings::new(db.clone(), keys, None).expect("settings");
        Harness { db, settings, test_db }
    }

    async fn tenant(&self) -> TenantId {
        let tenant = TenantId::new();
        let mut tx = self.db.system().await.expect("tx");
        frontdesk_store::query("INSERT INTO tenants (id) VALUES ($1)")
            .bind(tenant.as_str())
            .execute(frontdesk_store::Tx::conn(&mut tx))
            .await
            .expect("tenant");
        tx.commit().await.expect("commit");
        tenant
    }

    async fn use_model(&self, tenant: &TenantId, stand_in: &StandIn, model: &str) {
        let change: UpdateModelSettings =
            serde_json::from_value(json!({"base_url": stand_in.base_url(), "model": model})).expect("change");
        self.settings.update(tenant, change, &Actor::system("test")).await.expect("update");
    }

    async fn calls(&self, tenant: &TenantId) -> i64 {
        let days = self.settings.usage(tenant, 0, i64::MAX).await.expect("usage");
        days.iter().map(|d| d.calls).sum()
    }

    async fn stop(self) {
        self.test_db.drop_database().await.expect("drop the test database");
    }
}

fn ask() -> ChatRequest {
    ChatRequest::new(vec![ChatMessage::user("When do you open?")])
}

async fn cached_model_and_changes_applying_at_once(postgres: bool) {
    let h = Harness::start(postgres).await;
    let stand_in = StandIn::start().await;
    let tenant = h.tenant().await;
    assert!(h.settings.provider(&tenant).await.expect("provider").is_none(), "no model configured");

    h.use_model(&tenant, &stand_in, "first").await;
    let model = h.settings.provider(&tenant).await.expect("provider").expect("a model after the change");
    model.complete(&tenant, "chat", ask()).await.expect("answer");
    assert_eq!(stand_in.received().last().map(|r| r.model().to_owned()).as_deref(), Some("first"));
    assert_eq!(h.calls(&tenant).await, 1, "a call outside `deferred` is recorded at once");

    // Removed behind the service's back (as another replica would): the cached model serves on.
    let mut tx = h.db.tenant(&tenant).await.expect("tx");
    frontdesk_store::query("DELETE FROM llm_settings WHERE tenant_id = $1")
        .bind(tenant.as_str())
        .execute(frontdesk_store::Tx::conn(&mut tx))
        .await
        .expect("delete");
    tx.commit().await.expect("commit");
    assert!(h.settings.provider(&tenant).await.expect("provider").is_some(), "served from the cache");

    // Changes through the service apply at once.
    h.settings.reset(&tenant, &Actor::system("test")).await.expect("reset");
    assert!(h.settings.provider(&tenant).await.expect("provider").is_none());
    h.use_model(&tenant, &stand_in, "second").await;
    let model = h.settings.provider(&tenant).await.expect("provider").expect("model");
    model.complete(&tenant, "chat", ask()).await.expect("answer");
    assert_eq!(stand_in.received().last().map(|r| r.model().to_owned()).as_deref(), Some("second"));
    h.stop().await;
}

async fn deferred_usage_stored_with_the_callers_transaction(postgres: bool) {
    let h = Harness::start(postgres).await;
    let stand_in = StandIn::start().await;
    let (tenant, other) = (h.tenant().await, h.tenant().await);
    h.use_model(&tenant, &stand_in, "m").await;
    h.use_model(&other, &stand_in, "m").await;
    let model = h.settings.provider(&tenant).await.expect("provider").expect("model");
    let others = h.settings.provider(&other).await.expect("provider").expect("model");

    let (answers, records) = deferred(&tenant, async {
        let streamed = model.stream(&tenant, "chat", ask()).await.expect("stream");
        let events: Vec<_> = futures_util::StreamExt::collect(streamed).await;
        let whole = model.complete(&tenant, "summary", ask()).await;
        // Another tenant's call is not this caller's to store: it is recorded at once.
        let foreign = others.complete(&other, "chat", ask()).await;
        (events, whole, foreign)
    })
    .await;
    assert!(answers.0.iter().all(Result::is_ok) && answers.1.is_ok() && answers.2.is_ok());
    assert_eq!(records.iter().map(|r| r.purpose.as_str()).collect::<Vec<_>>(), ["chat", "summary"]);
    assert!(records.iter().all(|r| r.tenant_id == tenant && r.model == "m"));
    assert_eq!(h.calls(&tenant).await, 0, "deferred records are not written by the calls");
    assert_eq!(h.calls(&other).await, 1);

    // Rolled back with the caller's transaction…
    let mut tx = h.db.tenant(&tenant).await.expect("tx");
    store_usage(&mut tx, &records).await.expect("store");
    drop(tx);
    assert_eq!(h.calls(&tenant).await, 0);
    // …committed with it.
    let mut tx = h.db.tenant(&tenant).await.expect("tx");
    store_usage(&mut tx, &records).await.expect("store");
    tx.commit().await.expect("commit");
    assert_eq!(h.calls(&tenant).await, 2);

    // A transaction stores only its own tenant's usage.
    let mut tx = h.db.tenant(&other).await.expect("tx");
    assert!(store_usage(&mut tx, &records).await.is_err());
    drop(tx);
    h.stop().await;
}

#[tokio::test]
async fn model_is_cached_and_changes_apply_at_once_sqlite() {
    cached_model_and_changes_applying_at_once(false).await;
}

#[tokio::test]
async fn model_is_cached_and_changes_apply_at_once_postgres() {
    cached_model_and_changes_applying_at_once(true).await;
}

#[tokio::test]
async fn deferred_usage_is_stored_with_the_callers_transaction_sqlite() {
    deferred_usage_stored_with_the_callers_transaction(false).await;
}

#[tokio::test]
async fn deferred_usage_is_stored_with_the_callers_transaction_postgres() {
    deferred_usage_stored_with_the_callers_transaction(true).await;
}
