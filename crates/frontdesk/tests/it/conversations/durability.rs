//! Durability and order: a process killed in the middle of a turn, the turns of one
//! conversation, and many conversations at once.

use super::*;
use crate::both;
use crate::harness::{Backend, TenantCtx};
use frontdesk_agent::testing::{Reply, StandIn};
use frontdesk_store::jobs::{self, JobState};
use frontdesk_store::Db;
use futures_util::future::join_all;
use tokio::sync::watch;

/// An app in a runtime of its own, so that the test can kill it as a crash would: every task
/// (the request, the turn in flight, the workers) stops where it is; nothing shuts down.
struct Doomed {
    app: TestApp,
    tenant: TenantCtx,
    runtime: tokio::runtime::Runtime,
}

async fn start_doomed(backend: Backend, model_url: String, lease_ms: u64) -> Doomed {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
        let (app, tenant) = runtime.block_on(async move {
            let app = TestApp::spawn_with(backend, |c| {
                fast(c);
                c.chat_turn_lease_ms = lease_ms;
            })
            .await;
            let tenant = app.tenant("Crash Studio").await;
            use_model_at(&app.client, &app.url, &tenant, &model_url, json!({})).await;
            (app, tenant)
        });
        let _ = tx.send(Doomed { app, tenant, runtime });
    });
    rx.await.expect("the doomed app started")
}

/// A new process on the same database and data directory (the same secret key).
struct Restarted {
    url: String,
    db: Db,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Restarted {
    async fn start(config: &frontdesk::config::Config) -> Restarted {
        let mut config = config.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        config.listen = listener.local_addr().expect("addr");
        let db = frontdesk::app::open_db(&config).await.expect("open the database again");
        let built = frontdesk::app::build(&config, db.clone()).await.expect("build");
        let (stop, rx) = watch::channel(false);
        let task = frontdesk::serve::launch(built, &config, listener, rx).await.expect("launch");
        Restarted { url: format!("http://{}", config.listen), db, stop, task }
    }

    async fn shut_down(self) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(10), self.task).await;
        self.db.close().await;
    }

    /// Turn jobs still queued or running.
    async fn pending_turns(&self) -> usize {
        let mut tx = self.db.system_read().await.expect("tx");
        let mut n = 0;
        for state in [JobState::Queued, JobState::Running] {
            let list = jobs::list(&mut tx, state, None, 500).await.expect("jobs");
            n += list.iter().filter(|j| j.kind == frontdesk_conversations::service::TURN_JOB).count();
        }
        n
    }
}

/// The process dies while the model is streaming its answer; the next process answers that turn
/// exactly once. On SQLite (one process owns the file) the restart releases the orphaned turn at
/// once, so the lease is long here; on PostgreSQL the turn's lease runs out and a worker takes it.
async fn killed_mid_turn(backend: Backend) {
    let model = StandIn::start().await;
    model.push(Reply::HangAfterFirstChunk("Let me check the timetable".into()));
    model.always(Reply::Text("Yoga starts at 18:00.".into()));
    let lease_ms = match backend {
        Backend::Sqlite => 120_000,
        Backend::Postgres => 1_000,
    };
    let doomed = start_doomed(backend, model.base_url(), lease_ms).await;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
    let res = client
        .post(format!("{}/api/v1/public/chat/stream", doomed.app.url))
        .query(&[("tenant", doomed.tenant.slug.as_str())])
        .json(&json!({"message": "When does yoga start tonight?"}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    let mut live = Live::new(res);
    let deadline = Instant::now() + Duration::from_secs(10);
    let accepted = live.until(deadline, |e| e.name == "accepted").await.data;
    live.until(deadline, |e| e.name == "delta").await; // the model is mid-answer
    let Doomed { app: dead, tenant, runtime } = doomed;
    runtime.shutdown_background();
    drop(live);
    // The operating system closes a dead process's connections, which ends its transactions.
    let _ = tokio::time::timeout(Duration::from_secs(5), dead.db.close()).await;

    let next = Restarted::start(&dead.config).await;
    let id = accepted["message"]["id"].clone();
    let conversation = accepted["conversation_id"].as_str().expect("id");
    let staff = |url: String| {
        let client = client.clone();
        let token = tenant.access_token.clone();
        async move {
            let res = client.get(url).bearer_auth(token).send().await.expect("send");
            res.json::<Value>().await.expect("json").as_array().cloned().unwrap_or_default()
        }
    };
    let messages_url = format!("{}/api/v1/conversations/{conversation}/messages", next.url);
    let deadline = Instant::now() + Duration::from_secs(20);
    while replies_to(&staff(messages_url.clone()).await, &id).is_empty() {
        assert!(Instant::now() < deadline, "the turn was not answered after the restart");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    while next.pending_turns().await > 0 {
        assert!(Instant::now() < deadline, "the turn job never finished");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let messages = staff(messages_url).await;
    let authors: Vec<&str> = messages.iter().map(|m| m["author"].as_str().unwrap_or_default()).collect();
    assert_eq!(authors, ["customer", "agent"], "{messages:#?}");
    assert_eq!(replies_to(&messages, &id)[0]["text"], "Yoga starts at 18:00.");
    assert_eq!(model.received().len(), 2, "the hung call and the one after the restart");

    // The visitor's token still works and shows the answer.
    let history: Value = client
        .get(format!("{}/api/v1/public/history", next.url))
        .query(&[("tenant", tenant.slug.as_str())])
        .header("x-visitor-token", accepted["visitor_token"].as_str().expect("token"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(history["messages"][1]["text"], "Yoga starts at 18:00.", "{history}");

    next.shut_down().await;
    dead.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_turn_sqlite() {
    killed_mid_turn(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_turn_postgres() {
    killed_mid_turn(Backend::Postgres).await;
}

/// Twenty messages sent at once into one conversation: each is answered once, in the order the
/// messages were stored, each turn with the conversation up to its own message as context.
async fn one_conversation_in_order(app: &TestApp) {
    let model = StandIn::start().await;
    model.always(Reply::Text("Welcome!".into()));
    let t = app.tenant("Order Studio").await;
    use_model(app, &t, &model, json!({})).await;
    let first = say(app, &t.slug, None, "Hello, I have a few questions.").await;
    let token = first["visitor_token"].as_str().expect("token").to_owned();
    let conversation = first["conversation_id"].as_str().expect("id").to_owned();
    for i in 0..20 {
        model.push(Reply::Text(format!("Answer {i}")));
    }
    let started = Instant::now();
    let sends = (0..20).map(|i| {
        let body = json!({"message": format!("Question number {i}"), "visitor_token": token});
        chat(app, &t.slug, body)
    });
    for (status, body) in join_all(sends).await {
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["conversation_id"], conversation.as_str());
    }
    let messages =
        messages_until(app, &t.access_token, &conversation, Duration::from_secs(60), |m| by(m, "agent").len() == 21)
            .await;
    eprintln!("20 queued turns of one conversation answered in {:?}", started.elapsed());
    let customers = by(&messages, "customer");
    let agents = by(&messages, "agent");
    assert_eq!((customers.len(), agents.len()), (21, 21));
    let asked: Vec<&Value> = customers.iter().map(|m| &m["id"]).collect();
    let answered: Vec<&Value> = agents.iter().map(|m| &m["reply_to"]).collect();
    assert_eq!(asked, answered, "replies in the order of the messages they answer");
    for (k, customer) in customers.iter().enumerate().skip(1) {
        let replies = replies_to(&messages, &customer["id"]);
        assert_eq!(replies.len(), 1);
        assert_eq!(replies[0]["text"], format!("Answer {}", k - 1), "the model's k-th answer went to the k-th message");
        // The turn's context is the conversation as it stood when this message came: every
        // earlier message in order, ending with this one.
        let prompt = prompt_of(&model, k);
        let users: Vec<&str> = prompt.iter().filter(|(role, _)| role == "user").map(|(_, c)| c.as_str()).collect();
        let sent: Vec<&str> = customers[..=k].iter().filter_map(|m| m["text"].as_str()).collect();
        assert_eq!(users, sent, "turn {k}");
    }
}
both!(ordered_turns, one_conversation_in_order, |c: &mut frontdesk::config::Config| super::fast(c));

/// While one conversation's model call hangs, 200 other conversations started at once are all
/// answered.
async fn conversations_in_parallel(app: &TestApp) {
    let model = StandIn::start().await;
    model.push(Reply::HangAfterFirstChunk("Let me look that up".into()));
    model.always(Reply::Text("Here you go.".into()));
    let t = app.tenant("Busy Studio").await;
    use_model(app, &t, &model, json!({"idle_timeout_ms": 120_000, "total_timeout_ms": 120_000})).await;
    let res = app
        .client
        .post(app.at("/api/v1/public/chat/stream"))
        .query(&[("tenant", t.slug.as_str())])
        .json(&json!({"message": "Which trainer is best for rehab after a knee injury?"}))
        .send()
        .await
        .expect("send");
    let mut stuck = Live::new(res);
    let deadline = Instant::now() + Duration::from_secs(10);
    let accepted = stuck.until(deadline, |e| e.name == "accepted").await.data;
    stuck.until(deadline, |e| e.name == "delta").await;

    let started = Instant::now();
    let sends = (0..200).map(|i| chat(app, &t.slug, json!({"message": format!("Is class {i} on today?")})));
    let answers = join_all(sends).await;
    let elapsed = started.elapsed();
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{body}");
        assert_eq!(body["status"], "open", "{body}");
        let replies = body["replies"].as_array().cloned().unwrap_or_default();
        assert!(replies.iter().any(|r| r["author"] == "agent" && r["text"] == "Here you go."), "{body}");
    }
    let conversations: std::collections::HashSet<&str> =
        answers.iter().filter_map(|(_, b)| b["conversation_id"].as_str()).collect();
    assert_eq!(conversations.len(), 200);
    assert!(elapsed < Duration::from_secs(25), "200 turns took {elapsed:?}");
    // The hung conversation is still waiting for its model, unanswered.
    let stuck_messages = staff_messages(app, &t.access_token, accepted["conversation_id"].as_str().expect("id")).await;
    assert_eq!(by(&stuck_messages, "agent").len(), 0, "{stuck_messages:#?}");
    assert_eq!(model.received().len(), 201);
    eprintln!("200 parallel conversations answered in {elapsed:?}");
}
both!(parallel_conversations, conversations_in_parallel, |c: &mut frontdesk::config::Config| super::fast(c));
