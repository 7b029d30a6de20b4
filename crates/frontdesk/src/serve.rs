//! `frontdesk serve`: migrations, the HTTP server and the job workers in one process, with a
//! graceful shutdown on Ctrl-C / SIGTERM (in-flight requests and jobs finish first).

use crate::app::{self, App, AppError};
use crate::config::Config;
use frontdesk_store::jobs::{Worker, WorkerConfig};
use frontdesk_store::Backend;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Instant;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub async fn run(config: Config, demo: bool) -> Result<(), AppError> {
    let started = Instant::now();
    let db = app::open_db(&config).await?;
    let app = app::build(&config, db).await?;
    let seeded = if demo { crate::demo::seed(&app.identity, &app.insights, &app.conversations).await? } else { false };
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| frontdesk_kernel::Error::internal(format!("cannot listen on {}: {e}", config.listen)))?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let server = launch(app, &config, listener, shutdown_rx).await?;
    let url = config.public_url();
    tracing::info!(listen = %config.listen, ready_ms = started.elapsed().as_millis() as u64, "frontdesk is ready");
    println!("Frontdesk is ready: open {url}/login");
    if demo {
        println!(
            "Demo studio \"{}\"{}: log in as {} (owner) or {} (platform operator), password: {}",
            crate::demo::DEMO_SLUG,
            if seeded { " created" } else { "" },
            crate::demo::OWNER_EMAIL,
            crate::demo::OPERATOR_EMAIL,
            crate::demo::DEMO_PASSWORD
        );
    }
    println!("API reference: {url}/api/docs · Press Ctrl-C to stop.");
    shutdown_signal().await;
    tracing::info!("shutting down");
    let _ = shutdown_tx.send(true);
    server.await.map_err(frontdesk_kernel::Error::internal)?;
    Ok(())
}

/// Starts the server and the workers on `listener`; the returned task ends after `shutdown`.
/// Tests and benchmarks call this with a port-0 listener.
pub async fn launch(
    app: App,
    config: &Config,
    listener: TcpListener,
    shutdown: watch::Receiver<bool>,
) -> Result<tokio::task::JoinHandle<()>, AppError> {
    let workers = if config.workers {
        if app.db.backend() == Backend::Sqlite {
            // One process owns a SQLite database: anything still "running" died with the last one.
            let mut tx = app.db.system().await?;
            let n = frontdesk_store::jobs::recover_orphans(&mut tx).await?;
            tx.commit().await?;
            if n > 0 {
                tracing::warn!(jobs = n, "re-queued jobs left running by a previous process");
            }
        }
        app.jobs.schedule_recurring(&app.db).await?;
        let worker_config = WorkerConfig { concurrency: config.worker_concurrency, ..WorkerConfig::default() };
        app.workers.running.store(true, Ordering::Relaxed);
        app.workers.concurrency.store(worker_config.concurrency, Ordering::Relaxed);
        let worker = Worker::new(app.db.clone(), app.jobs.clone(), worker_config);
        Some(tokio::spawn(worker.run(shutdown.clone())))
    } else {
        None
    };
    let mut server_shutdown = shutdown.clone();
    let router = app.router.into_make_service_with_connect_info::<SocketAddr>();
    let db = app.db.clone();
    // No Nagle: streamed answers are many small writes, and waiting for the client's delayed ACK
    // would hold each one back by up to 40 ms.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set");
        }
    });
    Ok(tokio::spawn(async move {
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = server_shutdown.wait_for(|stop| *stop).await;
            })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "server stopped with an error");
        }
        if let Some(w) = workers {
            let _ = w.await;
        }
        db.close().await;
    }))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
