//! Rate limits with GCRA (the generic cell rate algorithm): one timestamp per key, smooth
//! refill, exact `Retry-After`. In process by default; in Redis when `REDIS_URL` is set, so that
//! every replica counts against the same limits.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// `count` requests per `period`, with bursts up to `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    pub count: u32,
    pub period: Duration,
}

impl Quota {
    pub const fn per_minute(count: u32) -> Self {
        Self { count, period: Duration::from_secs(60) }
    }

    pub const fn new(count: u32, period: Duration) -> Self {
        Self { count, period }
    }

    fn interval_ms(self) -> i64 {
        (self.period.as_millis() as i64 / self.count.max(1) as i64).max(1)
    }

    fn tolerance_ms(self) -> i64 {
        self.interval_ms() * (self.count.max(1) as i64 - 1)
    }
}

/// The answer of a limiter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Denied; the caller may retry after this long.
    Deny(Duration),
}

enum Backend {
    Memory(Vec<Mutex<HashMap<String, i64>>>),
    Redis(redis::aio::ConnectionManager),
}

pub struct RateLimiter {
    backend: Backend,
}

const SHARDS: usize = 16;
/// Past this many keys in a shard, expired ones are swept (keeps memory flat under scans).
const SWEEP_AT: usize = 4096;

/// GCRA in one round trip. KEYS[1] the key; ARGV interval, tolerance, consume (1/0), all in ms.
/// Returns 0 when allowed, else the milliseconds to wait.
const GCRA_LUA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
if tat - now > tolerance then
  return tat - tolerance - now
end
if ARGV[3] == '1' then
  local new_tat = tat + interval
  redis.call('SET', KEYS[1], new_tat, 'PX', new_tat - now + 1000)
end
return 0
"#;

impl RateLimiter {
    pub fn in_memory() -> Self {
        Self { backend: Backend::Memory((0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect()) }
    }

    /// Connects to Redis; fails fast when it does not answer.
    pub async fn redis(url: &str) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let manager = redis::aio::ConnectionManager::new(client).await?;
        Ok(Self { backend: Backend::Redis(manager) })
    }

    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Memory(_) => "memory",
            Backend::Redis(_) => "redis",
        }
    }

    /// Counts one request against `key` and says whether it may proceed.
    pub async fn hit(&self, key: &str, quota: Quota) -> Decision {
        self.check(key, quota, true).await
    }

    /// Says whether a request would be allowed, without counting it (log-in throttling counts
    /// only failures).
    pub async fn peek(&self, key: &str, quota: Quota) -> Decision {
        self.check(key, quota, false).await
    }

    async fn check(&self, key: &str, quota: Quota, consume: bool) -> Decision {
        match &self.backend {
            Backend::Memory(shards) => {
                let now = frontdesk_kernel::time::now_ms();
                let shard = &shards[shard_of(key)];
                let mut map = shard.lock().unwrap_or_else(|e| e.into_inner());
                if map.len() > SWEEP_AT {
                    map.retain(|_, tat| *tat > now);
                }
                let tat = map.get(key).copied().unwrap_or(now).max(now);
                if tat - now > quota.tolerance_ms() {
                    return Decision::Deny(Duration::from_millis((tat - quota.tolerance_ms() - now) as u64));
                }
                if consume {
                    map.insert(key.to_owned(), tat + quota.interval_ms());
                }
                Decision::Allow
            }
            Backend::Redis(manager) => {
                let mut conn = manager.clone();
                let result: Result<i64, _> = redis::Script::new(GCRA_LUA)
                    .key(format!("fd:rl:{key}"))
                    .arg(quota.interval_ms())
                    .arg(quota.tolerance_ms())
                    .arg(if consume { "1" } else { "0" })
                    .invoke_async(&mut conn)
                    .await;
                match result {
                    Ok(0) => Decision::Allow,
                    Ok(ms) => Decision::Deny(Duration::from_millis(ms.max(1) as u64)),
                    Err(e) => {
                        // Failing open: an outage of the limiter must not take the product down.
                        tracing::warn!(error = %e, "rate limiter unavailable; allowing the request");
                        Decision::Allow
                    }
                }
            }
        }
    }
}

fn shard_of(key: &str) -> usize {
    // FNV-1a: cheap and good enough to spread keys over shards.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in key.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    (h as usize) % SHARDS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn gcra_allows_the_burst_then_denies_with_retry_after() {
        let rl = RateLimiter::in_memory();
        let q = Quota::per_minute(3);
        for _ in 0..3 {
            assert_eq!(rl.hit("ip:1", q).await, Decision::Allow);
        }
        match rl.hit("ip:1", q).await {
            Decision::Deny(d) => assert!(d > Duration::from_secs(15) && d <= Duration::from_secs(20), "{d:?}"),
            Decision::Allow => panic!("fourth request within the minute must be denied"),
        }
        // Another key is independent; peek does not count.
        assert_eq!(rl.peek("ip:2", q).await, Decision::Allow);
        for _ in 0..3 {
            assert_eq!(rl.hit("ip:2", q).await, Decision::Allow);
        }
    }
}
