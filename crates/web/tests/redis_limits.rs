//! Rate limits kept in Redis are shared by every replica (needs Redis on REDIS_URL or
//! 127.0.0.1:6379; `scripts/test` starts it).

use frontdesk_web::ratelimit::{Decision, Quota, RateLimiter};

fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

#[tokio::test]
async fn replicas_share_one_budget() {
    let a = RateLimiter::redis(&redis_url()).await.expect("Redis must be running for this test");
    let b = RateLimiter::redis(&redis_url()).await.expect("redis");
    assert_eq!(a.backend_name(), "redis");
    let key = format!("test:{}", frontdesk_kernel::id::new_body());
    let quota = Quota::per_minute(4);
    for limiter in [&a, &b, &a, &b] {
        assert_eq!(limiter.hit(&key, quota).await, Decision::Allow);
    }
    // The fifth request is refused whichever replica sees it, with a wait of about 15 s.
    for limiter in [&a, &b] {
        match limiter.hit(&key, quota).await {
            Decision::Deny(wait) => assert!(wait.as_secs() >= 10 && wait.as_secs() <= 15, "{wait:?}"),
            Decision::Allow => panic!("the shared budget is spent"),
        }
    }
    // Peeking does not spend.
    let other = format!("test:{}", frontdesk_kernel::id::new_body());
    for _ in 0..10 {
        assert_eq!(a.peek(&other, Quota::per_minute(1)).await, Decision::Allow);
    }
}
