//! The business-metrics feed against a real SQLite database: closed buckets of active tenants
//! become points (zeros included), re-runs add nothing, later runs add only the new buckets, and
//! tenants cannot ingest under the reserved prefix. (This crate has no PostgreSQL client for
//! tests; the feed runs on PostgreSQL in the application's integration tests, `it::business`.)

use frontdesk_insights::business::{BusinessFeed, Count, SourceFuture, Window, BUCKET_MS, GRACE_MS, LOOKBACK_MS};
use frontdesk_insights::model::Resolution;
use frontdesk_insights::{BusinessMetrics, Insights};
use frontdesk_kernel::{Error, TenantId};
use frontdesk_store::testing::TestDb;
use serde_json::json;
use std::sync::{Arc, Mutex};

/// A source that reports the events it is given: `(tenant, timestamp)`, one per event.
#[derive(Default)]
struct Events {
    seen: Mutex<Vec<(TenantId, i64)>>,
    /// The windows it was asked for.
    asked: Mutex<Vec<Window>>,
}

impl BusinessMetrics for Events {
    fn metrics(&self) -> &'static [&'static str] {
        &["frontdesk.test_events", "frontdesk.test_quiet"]
    }

    fn active_tenants(&self, since_ms: i64) -> SourceFuture<'_, Vec<TenantId>> {
        let seen = self.seen.lock().expect("lock");
        let tenants: Vec<TenantId> = seen.iter().filter(|(_, t)| *t >= since_ms).map(|(x, _)| x.clone()).collect();
        drop(seen);
        Box::pin(async move { Ok(tenants) })
    }

    fn collect<'a>(&'a self, tenant: &'a TenantId, window: Window) -> SourceFuture<'a, Vec<Count>> {
        self.asked.lock().expect("lock").push(window);
        let counts = self
            .seen
            .lock()
            .expect("lock")
            .iter()
            .filter(|(t, _)| t == tenant)
            .filter_map(|(_, ts)| window.bucket_of(*ts))
            .map(|bucket| Count { metric: "frontdesk.test_events", bucket, value: 1.0 })
            .collect();
        Box::pin(async move { Ok(counts) })
    }
}

async fn raw_points(insights: &Insights, tenant: &TenantId, metric: &str) -> Vec<(i64, f64)> {
    let points = insights.data(tenant, metric, None, Resolution::Raw, 0, i64::MAX / 2).await.expect("data");
    points.into_iter().map(|p| (p.t, p.value)).collect()
}

async fn feed_closes_buckets_once(postgres: bool) {
    let migrations = [frontdesk_store::MIGRATIONS, frontdesk_insights::MIGRATIONS].concat();
    let test_db = TestDb::create(postgres, "business", &migrations, |_| {}).await.expect("test database");
    let db = test_db.db.clone();
    let insights = Insights::new(db.clone());
    let source = Arc::new(Events::default());
    let feed = BusinessFeed::new(insights.clone(), vec![source.clone()]);
    let (busy, idle) = (TenantId::new(), TenantId::new());

    // Two events in one bucket, one in the next, 20 minutes before "now".
    let now = (frontdesk_kernel::time::now_ms() / BUCKET_MS) * BUCKET_MS + GRACE_MS + 1;
    let b0 = now - GRACE_MS - 1 - 4 * BUCKET_MS;
    source.seen.lock().expect("lock").extend([
        (busy.clone(), b0 + 10),
        (busy.clone(), b0 + 20),
        (busy.clone(), b0 + BUCKET_MS),
    ]);
    let report = feed.close_buckets(now).await.expect("feed");
    let buckets = (LOOKBACK_MS / BUCKET_MS) as usize;
    assert_eq!((report.tenants, report.points, report.failed), (1, 2 * buckets, 0), "{report:?}");
    let events = raw_points(&insights, &busy, "frontdesk.test_events").await;
    assert_eq!(events.len(), buckets, "one point per closed bucket, zeros included");
    assert!(events.contains(&(b0, 2.0)) && events.contains(&(b0 + BUCKET_MS, 1.0)), "{events:?}");
    assert_eq!(events.iter().map(|(_, v)| v).sum::<f64>(), 3.0);
    let quiet = raw_points(&insights, &busy, "frontdesk.test_quiet").await;
    assert!(quiet.len() == buckets && quiet.iter().all(|(_, v)| *v == 0.0));
    assert!(raw_points(&insights, &idle, "frontdesk.test_events").await.is_empty(), "idle tenants are not visited");

    // The same run again: nothing new, and the source is not even asked.
    let asked = source.asked.lock().expect("lock").len();
    assert_eq!(feed.close_buckets(now).await.expect("again").points, 0);
    assert_eq!(source.asked.lock().expect("lock").len(), asked);

    // A bucket later: only the new bucket is asked for and stored.
    source.seen.lock().expect("lock").push((busy.clone(), now));
    let later = now + BUCKET_MS;
    let report = feed.close_buckets(later).await.expect("later");
    assert_eq!(report.points, 2, "{report:?}");
    let last = *source.asked.lock().expect("lock").last().expect("asked");
    assert_eq!((last.from_ms, last.to_ms), (BusinessFeed::window(now).to_ms, BusinessFeed::window(later).to_ms));
    let events = raw_points(&insights, &busy, "frontdesk.test_events").await;
    assert_eq!(events.last(), Some(&(BusinessFeed::window(now).to_ms, 1.0)));
    // The series are scored like any metric.
    let series = insights.series_list(&busy).await.expect("series");
    assert_eq!(
        series.iter().map(|s| s.metric.as_str()).collect::<Vec<_>>(),
        ["frontdesk.test_events", "frontdesk.test_quiet"]
    );

    // Tenants cannot write under the reserved prefix, whatever else the batch holds.
    let ts = frontdesk_kernel::time::now_ms() / 1000;
    let batch = vec![
        json!({"metric": "bookings", "value": 1, "timestamp": ts}),
        json!({"metric": "frontdesk.test_events", "value": 5, "timestamp": ts}),
    ];
    match insights.ingest(&busy, batch).await {
        Err(Error::Validation(errors)) => {
            assert_eq!((errors[0].field.as_str(), errors[0].code.as_str()), ("[1].metric", "reserved"));
        }
        other => panic!("expected a reserved-name error, got {other:?}"),
    }
    assert!(raw_points(&insights, &busy, "bookings").await.is_empty(), "the batch was refused as a whole");

    test_db.drop_database().await.expect("drop the test database");
}

#[tokio::test]
async fn feed_closes_buckets_once_sqlite() {
    feed_closes_buckets_once(false).await;
}

#[tokio::test]
async fn feed_closes_buckets_once_postgres() {
    feed_closes_buckets_once(true).await;
}
