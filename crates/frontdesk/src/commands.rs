//! What each subcommand does. Every command works on the same data (`--data-dir`,
//! `DATABASE_URL`), so the CLI and a running server see the same tenants.

use crate::app::{self, AppError};
use crate::cli::*;
use crate::config::Config;
use frontdesk_identity::model::{CreateApiKeyRequest, NewTenantRequest, TenantStatus};
use frontdesk_identity::{store as id_store, Identity};
use frontdesk_kernel::TenantId;
use frontdesk_store::audit::Actor;
use frontdesk_store::jobs::{self, JobState};
use frontdesk_web::{Permission, PermissionSet, Role};

pub async fn run(cli: Cli) -> Result<(), AppError> {
    let mut config = Config::load(cli.config.as_deref())?;
    if let Some(dir) = cli.data_dir {
        config.data_dir = dir;
    }
    if let Command::Serve(args) = &cli.command {
        if let Some(listen) = args.listen {
            config.listen = listen;
        }
    }
    config.validate()?;
    let serving = matches!(cli.command, Command::Serve(_));
    init_logging(&config, serving);
    match cli.command {
        Command::Serve(args) => crate::serve::run(config, args.demo).await,
        Command::Migrate => {
            let n = frontdesk_store::migrate::run(&app::db_config(&config), &app::migrations()).await?;
            println!("database is up to date ({n} migrations applied now)");
            Ok(())
        }
        Command::Tenant(c) => tenant(&config, c).await,
        Command::User(c) => user(&config, c).await,
        Command::Apikey(c) => apikey(&config, c).await,
        Command::Jobs(c) => jobs_command(&config, c).await,
        Command::Insights(InsightsCommand::Nab { data, windows, results }) => {
            let params = frontdesk_insights::DetectorParams::default();
            let report =
                tokio::task::spawn_blocking(move || frontdesk_insights::run_corpus(&data, &windows, &results, &params))
                    .await
                    .map_err(frontdesk_kernel::Error::internal)?
                    .map_err(|e| frontdesk_kernel::Error::bad_request("nab", e.to_string()))?;
            println!("{report}");
            Ok(())
        }
        Command::Bench(BenchCommand::Foundation { postgres, requests, concurrency }) => {
            crate::bench::foundation(postgres, requests, concurrency).await
        }
        Command::Knowledge(c) => knowledge_command(&config, c).await,
        Command::Bench(BenchCommand::Search { data, sizes, no_vectors }) => {
            crate::bench::search(&config, data, &sizes, no_vectors).await
        }
        Command::Bench(BenchCommand::Insights { postgres, nab, batches }) => {
            crate::bench::insights(postgres, nab, batches).await
        }
        Command::Bench(BenchCommand::Chat {
            postgres,
            engines,
            turns,
            turns_per_visitor,
            concurrency,
            runs,
            server_log,
        }) => {
            if let Some(bad) = engines.iter().find(|e| !matches!(e.as_str(), "sqlite" | "postgres")) {
                return Err(frontdesk_kernel::Error::field(
                    "engines",
                    "invalid",
                    format!("{bad}: use sqlite or postgres."),
                )
                .into());
            }
            let options = crate::bench::ChatBench {
                sqlite: engines.iter().any(|e| e == "sqlite"),
                postgres: engines.iter().any(|e| e == "postgres").then_some(postgres),
                turns: turns.max(1),
                turns_per_visitor: turns_per_visitor.max(1),
                concurrency: concurrency.into_iter().filter(|c| *c > 0).collect(),
                runs: runs.max(1),
                server_log,
            };
            crate::bench::chat(options).await
        }
    }
}

fn init_logging(config: &Config, serving: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = if serving { config.log_level.clone() } else { "warn".to_owned() };
    let filter = EnvFilter::try_new(&filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if serving && config.log_format == "json" {
        builder.json().flatten_event(true).with_current_span(true).with_span_list(false).try_init()
    } else {
        builder.compact().try_init()
    };
}

async fn services(config: &Config) -> Result<Identity, AppError> {
    let db = app::open_db(config).await?;
    app::identity(config, db).await
}

async fn tenant_by_slug(identity: &Identity, slug: &str) -> Result<frontdesk_identity::model::Tenant, AppError> {
    identity.tenant_by_slug(slug).await?.ok_or_else(|| {
        frontdesk_kernel::Error::field("tenant", "unknown_tenant", format!("No tenant with slug {slug}.")).into()
    })
}

/// A password from FRONTDESK_PASSWORD, or a generated one (printed by the caller).
fn password_from_env() -> (String, bool) {
    match std::env::var("FRONTDESK_PASSWORD") {
        Ok(p) if !p.is_empty() => (p, false),
        _ => (frontdesk_kernel::crypto::random_token(12), true),
    }
}

async fn tenant(config: &Config, c: TenantCommand) -> Result<(), AppError> {
    let identity = services(config).await?;
    match c {
        TenantCommand::Create { name, slug, owner_email, owner_name, time_zone, locale, industry } => {
            let existing = identity.find_user(&owner_email).await?;
            let (password, generated) = password_from_env();
            let req = NewTenantRequest {
                tenant_name: name,
                slug,
                time_zone: Some(time_zone),
                locale: Some(locale),
                industry: Some(industry),
            };
            let (tenant, user) =
                identity.create_tenant_with_owner(req, &owner_email, &owner_name, Some(&password)).await?;
            println!("created tenant {} ({}) with owner {}", tenant.slug, tenant.id, user.email);
            if existing.is_none() && generated {
                println!("owner password (shown once): {password}");
            }
        }
        TenantCommand::List { json } => {
            let tenants = identity.platform_tenants(None, 10_000).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&tenants).map_err(frontdesk_kernel::Error::from)?);
            } else {
                println!("{:<24} {:<32} {:<10} {:>7}  ID", "SLUG", "NAME", "STATUS", "MEMBERS");
                for t in tenants {
                    println!(
                        "{:<24} {:<32} {:<10} {:>7}  {}",
                        t.tenant.slug,
                        t.tenant.name,
                        t.tenant.status.as_str(),
                        t.members,
                        t.tenant.id
                    );
                }
            }
        }
        TenantCommand::Suspend { slug, undo } => {
            let t = tenant_by_slug(&identity, &slug).await?;
            let status = if undo { TenantStatus::Active } else { TenantStatus::Suspended };
            identity.set_tenant_status(&t.id, status, &Actor::cli()).await?;
            println!("tenant {slug} is now {}", status.as_str());
        }
    }
    Ok(())
}

async fn user(config: &Config, c: UserCommand) -> Result<(), AppError> {
    let identity = services(config).await?;
    let UserCommand::Create { email, name, platform_operator, tenant, role } = c;
    let role = Role::parse(&role)
        .ok_or_else(|| frontdesk_kernel::Error::field("role", "invalid", "Use OWNER, ADMIN, MEMBER or VIEWER."))?;
    let (password, generated) = password_from_env();
    let user = identity.create_user(&email, &name, &password, platform_operator).await?;
    println!("created user {} ({})", user.email, user.id);
    if generated {
        println!("password (shown once): {password}");
    }
    if let Some(slug) = tenant {
        let t = tenant_by_slug(&identity, &slug).await?;
        let mut tx = identity.db().system().await?;
        id_store::insert_membership(&mut tx, &t.id, &user.id, role).await?;
        frontdesk_store::audit::record_system(
            &mut tx,
            t.id.as_str(),
            &Actor::cli(),
            frontdesk_store::audit::Change::new("member.added", "user", Some(user.id.as_str()))
                .details(serde_json::json!({"role": role})),
        )
        .await?;
        tx.commit().await?;
        println!("added to {slug} as {role}");
    }
    Ok(())
}

async fn apikey(config: &Config, c: ApiKeyCommand) -> Result<(), AppError> {
    let identity = services(config).await?;
    match c {
        ApiKeyCommand::Create { tenant, name, permissions, expires_in_days } => {
            let t = tenant_by_slug(&identity, &tenant).await?;
            let req = CreateApiKeyRequest {
                name,
                permissions: (!permissions.is_empty()).then_some(permissions),
                expires_in_days,
            };
            let created = identity.create_api_key_for(&t.id, PermissionSet::all(), None, req, &Actor::cli()).await?;
            println!(
                "created API key {} ({}) with {}",
                created.key.name,
                created.key.id,
                created.key.permissions.join(",")
            );
            println!("secret (shown once): {}", created.secret);
        }
        ApiKeyCommand::List { tenant } => {
            let t = tenant_by_slug(&identity, &tenant).await?;
            let principal = cli_principal(&t.id);
            for k in identity.api_keys(&principal, None, 10_000).await? {
                let status = if k.revoked_at.is_some() { "revoked" } else { "active" };
                println!("{}  {:<24} {:<14} {:<8} {}", k.id, k.name, k.prefix, status, k.permissions.join(","));
            }
        }
        ApiKeyCommand::Revoke { tenant, key_id } => {
            let t = tenant_by_slug(&identity, &tenant).await?;
            let id = frontdesk_identity::model::ApiKeyId::parse(&key_id).ok_or(frontdesk_kernel::Error::NotFound)?;
            identity.revoke_api_key(&cli_principal(&t.id), &id, &Actor::cli()).await?;
            println!("revoked {key_id}");
        }
    }
    Ok(())
}

/// The operator at the command line, acting in one tenant with every permission.
fn cli_principal(tenant: &TenantId) -> frontdesk_web::Principal {
    let all = PermissionSet::from_iter(Permission::ALL.iter().copied());
    frontdesk_web::Principal {
        platform_operator: true,
        ..frontdesk_web::Principal::api_key(tenant.clone(), "cli", "cli".into(), all)
    }
}

async fn jobs_command(config: &Config, c: JobsCommand) -> Result<(), AppError> {
    let db = app::open_db(config).await?;
    match c {
        JobsCommand::List { state } => {
            let state = match state.as_str() {
                "queued" => JobState::Queued,
                "running" => JobState::Running,
                "dead" => JobState::Dead,
                _ => {
                    return Err(
                        frontdesk_kernel::Error::field("state", "invalid", "Use queued, running or dead.").into()
                    )
                }
            };
            let mut tx = db.system_read().await?;
            for j in jobs::list(&mut tx, state, None, 1000).await? {
                println!(
                    "{}  {:<32} tenant={} attempts={}/{} {}",
                    j.id,
                    j.kind,
                    j.tenant_id.map(|t| t.to_string()).unwrap_or_else(|| "-".into()),
                    j.attempts,
                    j.max_attempts,
                    j.last_error.unwrap_or_default()
                );
            }
        }
        JobsCommand::Retry { job_id } => {
            let mut tx = db.system().await?;
            jobs::retry(&mut tx, &job_id).await?;
            tx.commit().await?;
            println!("job {job_id} queued again");
        }
    }
    Ok(())
}

async fn knowledge_command(config: &Config, c: KnowledgeCommand) -> Result<(), AppError> {
    let db = app::open_db(config).await?;
    let identity = app::identity(config, db.clone()).await?;
    let knowledge = app::knowledge(config, db)?;
    match c {
        KnowledgeCommand::Import { tenant, paths } => {
            let t = tenant_by_slug(&identity, &tenant).await?;
            for f in frontdesk_knowledge::cli::import(&knowledge, &t.id, &paths).await? {
                let what = match &f.outcome {
                    frontdesk_knowledge::IngestOutcome::Updated { chunks, .. } => {
                        format!("{} ({chunks} passages)", if f.created { "added" } else { "updated" })
                    }
                    frontdesk_knowledge::IngestOutcome::Unchanged => "unchanged".into(),
                    frontdesk_knowledge::IngestOutcome::Failed { error, .. } => format!("failed: {error}"),
                    other => format!("{other:?}").to_lowercase(),
                };
                println!("{}: {what}", f.name);
            }
        }
        KnowledgeCommand::Search { tenant, limit, mode, json, query } => {
            let t = tenant_by_slug(&identity, &tenant).await?;
            let mode = match mode.as_deref() {
                None | Some("hybrid") => None,
                Some("bm25") => Some(frontdesk_knowledge::model::SearchMode::Bm25),
                Some("vector") => Some(frontdesk_knowledge::model::SearchMode::Vector),
                Some(_) => {
                    return Err(frontdesk_kernel::Error::field("mode", "invalid", "Use hybrid, bm25 or vector.").into())
                }
            };
            let results = frontdesk_knowledge::cli::search(&knowledge, &t.id, &query.join(" "), limit, mode).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&results).map_err(frontdesk_kernel::Error::from)?);
            } else {
                print!("{}", frontdesk_knowledge::cli::render(&results));
            }
        }
        KnowledgeCommand::Reindex { tenant } => {
            let tenant = match tenant {
                Some(slug) => Some(tenant_by_slug(&identity, &slug).await?.id),
                None => None,
            };
            for r in frontdesk_knowledge::cli::reindex(&knowledge, tenant).await? {
                println!(
                    "{}: {} passages, {} with vectors ({} embedded now), index {:.1} MB, {:.1} s",
                    r.tenant,
                    r.chunks,
                    r.vectors,
                    r.embedded,
                    r.bytes as f64 / 1e6,
                    r.elapsed.as_secs_f64()
                );
            }
        }
    }
    Ok(())
}
