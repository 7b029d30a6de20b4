//! Starting the app for a test: a fresh SQLite file or a fresh PostgreSQL database, port 0,
//! shut down and cleaned up by [`TestApp::stop`].

use frontdesk::app;
use frontdesk::config::Config;
use frontdesk_identity::model::NewTenantRequest;
use frontdesk_identity::Identity;
use frontdesk_store::Db;
use serde_json::{json, Value};
use std::path::PathBuf;
use tokio::sync::watch;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Admin URL of the test PostgreSQL server (databases are created and dropped through it).
pub fn postgres_admin_url() -> String {
    std::env::var("FRONTDESK_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}", frontdesk_kernel::id::new_body().to_lowercase())
}

pub struct TestApp {
    pub url: String,
    pub client: reqwest::Client,
    pub db: Db,
    pub identity: Identity,
    pub config: Config,
    pub route_table: frontdesk_web::RouteTable,
    pub openapi: Value,
    shutdown: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
    dir: PathBuf,
    pg_database: Option<String>,
}

/// A tenant with every kind of credential, made through the public API.
pub struct TenantCtx {
    pub tenant_id: String,
    pub slug: String,
    pub email: String,
    pub access_token: String,
    pub refresh_token: String,
    pub api_key: String,
    /// Dashboard session cookie and its CSRF token.
    pub session: (String, String),
}

pub const PASSWORD: &str = "correct horse battery staple";

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> TestApp {
        let dir = std::env::temp_dir().join(unique("frontdesk-test-"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let mut config = Config { data_dir: dir.clone(), log_format: "pretty".into(), ..Config::default() };
        // Tests drive many requests from one address; the throttling tests set their own limits.
        config.rate_limit_per_ip = 1_000_000;
        config.rate_limit_per_user = 1_000_000;
        config.rate_limit_per_api_key = 1_000_000;
        config.rate_limit_per_tenant = 1_000_000;
        config.sqlite_synchronous = "NORMAL".into();
        let pg_database = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => {
                let name = unique("fd_test_");
                admin_exec(&format!("CREATE DATABASE {name}")).await;
                let base = postgres_admin_url();
                let url = match base.rsplit_once('/') {
                    Some((prefix, _)) => format!("{prefix}/{name}"),
                    None => panic!("FRONTDESK_TEST_POSTGRES must end with /<database>"),
                };
                config.database_url = Some(url);
                config.database_max_connections = 8;
                Some(name)
            }
        };
        tweak(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        config.listen = addr;
        let db = app::open_db(&config).await.expect("open database");
        let built = app::build(&config, db.clone()).await.expect("build app");
        let identity = built.identity.clone();
        let route_table = built.route_table.clone();
        let openapi = serde_json::to_value(&built.openapi).expect("openapi json");
        let (shutdown, rx) = watch::channel(false);
        let task = frontdesk::serve::launch(built, &config, listener, rx).await.expect("launch");
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .expect("client");
        TestApp {
            url: format!("http://{addr}"),
            client,
            db,
            identity,
            config,
            route_table,
            openapi,
            shutdown,
            task: Some(task),
            dir,
            pg_database,
        }
    }

    /// Stops the server and workers and removes the database.
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(10), task).await;
        }
        self.db.close().await;
        if let Some(name) = self.pg_database.take() {
            admin_exec(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// `GET path` with a bearer token, as JSON (whatever the status).
    pub async fn get_json(&self, path: &str, token: &str) -> Value {
        self.client.get(self.at(path)).bearer_auth(token).send().await.expect("send").json().await.expect("json")
    }

    /// Signs up a new tenant through the API and collects all its credentials.
    pub async fn tenant(&self, name: &str) -> TenantCtx {
        let slug = unique("t-").chars().take(20).collect::<String>();
        let email = format!("{}@example.com", unique("owner-"));
        let res = self
            .client
            .post(self.at("/api/v1/auth/signup"))
            .json(&json!({"tenant_name": name, "slug": slug, "name": "Owner", "email": email, "password": PASSWORD}))
            .send()
            .await
            .expect("signup");
        assert_eq!(res.status(), 201, "signup: {}", res.text().await.unwrap_or_default());
        let body: Value = res.json().await.expect("json");
        let access = body["tokens"]["access_token"].as_str().expect("access").to_owned();
        let refresh = body["tokens"]["refresh_token"].as_str().expect("refresh").to_owned();
        let tenant_id = body["tenant"]["id"].as_str().expect("tenant id").to_owned();
        let key = self
            .client
            .post(self.at("/api/v1/api-keys"))
            .bearer_auth(&access)
            .json(&json!({"name": "test key"}))
            .send()
            .await
            .expect("api key");
        assert_eq!(key.status(), 201);
        let key: Value = key.json().await.expect("json");
        let session = self.session_for(&email).await;
        TenantCtx {
            tenant_id,
            slug,
            email,
            access_token: access,
            refresh_token: refresh,
            api_key: key["secret"].as_str().expect("secret").to_owned(),
            session,
        }
    }

    /// A dashboard session for an account (as the log-in page creates it).
    pub async fn session_for(&self, email: &str) -> (String, String) {
        let user = self.identity.find_user(email).await.expect("find").expect("user exists");
        let s = self.identity.create_session(&user, "127.0.0.1").await.expect("session");
        (s.cookie, s.csrf_token)
    }

    /// Adds an account to a tenant with a role, returning its access token.
    pub async fn member(&self, tenant: &TenantCtx, role: &str) -> (String, String) {
        let email = format!("{}@example.com", unique("m-"));
        let user = self.identity.create_user(&email, "Member", PASSWORD, false).await.expect("user");
        let mut tx = self.db.system().await.expect("tx");
        let tid = frontdesk_kernel::TenantId::parse(&tenant.tenant_id).expect("tenant id");
        frontdesk_identity::store::insert_membership(
            &mut tx,
            &tid,
            &user.id,
            frontdesk_web::Role::parse(role).expect("role"),
        )
        .await
        .expect("membership");
        tx.commit().await.expect("commit");
        (email.clone(), self.token(&email, PASSWORD, Some(&tenant.tenant_id)).await)
    }

    pub async fn token(&self, email: &str, password: &str, tenant: Option<&str>) -> String {
        let res = self
            .client
            .post(self.at("/api/v1/auth/token"))
            .json(&json!({"email": email, "password": password, "tenant_id": tenant}))
            .send()
            .await
            .expect("token");
        assert_eq!(res.status(), 200, "token: {}", res.text().await.unwrap_or_default());
        res.json::<Value>().await.expect("json")["access_token"].as_str().expect("access").to_owned()
    }

    /// A tenant created by the operator path (no HTTP).
    pub async fn tenant_direct(&self, name: &str) -> String {
        let slug = unique("d-").chars().take(20).collect::<String>();
        let req = NewTenantRequest {
            tenant_name: name.into(),
            slug: Some(slug),
            time_zone: None,
            locale: None,
            industry: None,
        };
        let email = format!("{}@example.com", unique("o-"));
        let (t, _) =
            self.identity.create_tenant_with_owner(req, &email, "Owner", Some(PASSWORD)).await.expect("tenant");
        t.id.to_string()
    }
}

/// How a test authenticates a request.
#[derive(Clone, Debug)]
pub enum Cred {
    Token(String),
    ApiKey(String),
    Session(String, String),
    Anonymous,
}

impl TenantCtx {
    pub fn creds(&self) -> [(&'static str, Cred); 3] {
        [
            ("session", Cred::Session(self.session.0.clone(), self.session.1.clone())),
            ("token", Cred::Token(self.access_token.clone())),
            ("api_key", Cred::ApiKey(self.api_key.clone())),
        ]
    }
}

pub fn authed(rb: reqwest::RequestBuilder, cred: &Cred) -> reqwest::RequestBuilder {
    match cred {
        Cred::Token(t) | Cred::ApiKey(t) => rb.bearer_auth(t),
        Cred::Session(cookie, csrf) => rb.header("cookie", format!("fd_session={cookie}")).header("x-csrf-token", csrf),
        Cred::Anonymous => rb,
    }
}

async fn admin_exec(sql: &str) {
    use sqlx::Connection;
    let mut conn =
        sqlx::PgConnection::connect(&postgres_admin_url()).await.expect("connect to the test PostgreSQL server");
    sqlx::query(sql).execute(&mut conn).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    let _ = conn.close().await;
}

/// Runs `async fn body(app: &TestApp)` against both engines as `name::sqlite` and
/// `name::postgres`.
#[macro_export]
macro_rules! both {
    ($name:ident, $body:ident) => {
        $crate::both!($name, $body, |_config| {});
    };
    ($name:ident, $body:ident, $tweak:expr) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::harness::TestApp::spawn_with($crate::harness::Backend::Sqlite, $tweak).await;
                super::$body(&app).await;
                app.stop().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let app = $crate::harness::TestApp::spawn_with($crate::harness::Backend::Postgres, $tweak).await;
                super::$body(&app).await;
                app.stop().await;
            }
        }
    };
}
