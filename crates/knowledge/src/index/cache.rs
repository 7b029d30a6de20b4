//! Tenants' indexes in memory: loaded on a tenant's first search, replaced when the tenant's
//! generation moves, evicted least-recently-used beyond a memory budget and after an idle time.
//! A tenant that never searches costs nothing, so 10 idle tenants and 10,000 cost the same.

use super::TenantIndex;
use frontdesk_kernel::TenantId;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Entry {
    index: Arc<TenantIndex>,
    bytes: usize,
    last_used: Instant,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<TenantId, Entry>,
    /// One loader per tenant at a time: concurrent searches wait for the same load.
    loaders: HashMap<TenantId, Arc<tokio::sync::Mutex<()>>>,
    used: usize,
}

/// What the cache holds (for health output and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct CacheStats {
    pub tenants: usize,
    pub bytes: usize,
    pub budget: usize,
}

pub struct IndexCache {
    budget: usize,
    idle: Duration,
    inner: Mutex<Inner>,
}

impl IndexCache {
    pub fn new(budget_bytes: usize, idle: Duration) -> Self {
        Self { budget: budget_bytes, idle, inner: Mutex::new(Inner::default()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent data (every update is one step).
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn stats(&self) -> CacheStats {
        let inner = self.lock();
        CacheStats { tenants: inner.entries.len(), bytes: inner.used, budget: self.budget }
    }

    /// The cached index when it is at `generation` (or newer).
    fn fresh(&self, tenant: &TenantId, generation: i64) -> Option<Arc<TenantIndex>> {
        let mut inner = self.lock();
        let entry = inner.entries.get_mut(tenant)?;
        if entry.index.generation < generation {
            return None;
        }
        entry.last_used = Instant::now();
        Some(entry.index.clone())
    }

    /// The tenant's index at `generation` or newer: cached, or made by `load` from the previous
    /// index (which it may reuse in part). Concurrent callers for one tenant share one load.
    pub async fn get<F, Fut, E>(&self, tenant: &TenantId, generation: i64, load: F) -> Result<Arc<TenantIndex>, E>
    where
        F: FnOnce(Option<Arc<TenantIndex>>) -> Fut,
        Fut: Future<Output = Result<TenantIndex, E>>,
    {
        if let Some(index) = self.fresh(tenant, generation) {
            return Ok(index);
        }
        let loader = self.lock().loaders.entry(tenant.clone()).or_default().clone();
        let _guard = loader.lock().await;
        if let Some(index) = self.fresh(tenant, generation) {
            return Ok(index);
        }
        let previous = self.lock().entries.get(tenant).map(|e| e.index.clone());
        let result = load(previous).await;
        let mut inner = self.lock();
        if Arc::strong_count(&loader) <= 2 {
            inner.loaders.remove(tenant);
        }
        let index = Arc::new(result?);
        let bytes = index.bytes();
        if let Some(old) =
            inner.entries.insert(tenant.clone(), Entry { index: index.clone(), bytes, last_used: Instant::now() })
        {
            inner.used -= old.bytes;
        }
        inner.used += bytes;
        self.evict(&mut inner, tenant);
        Ok(index)
    }

    /// Drops a tenant's index (its next search rebuilds).
    pub fn forget(&self, tenant: &TenantId) {
        let mut inner = self.lock();
        if let Some(old) = inner.entries.remove(tenant) {
            inner.used -= old.bytes;
        }
    }

    /// Idle entries first, then least recently used ones while over budget; never `keep`.
    fn evict(&self, inner: &mut Inner, keep: &TenantId) {
        let now = Instant::now();
        let idle: Vec<TenantId> = inner
            .entries
            .iter()
            .filter(|(t, e)| *t != keep && now.duration_since(e.last_used) > self.idle)
            .map(|(t, _)| t.clone())
            .collect();
        for t in idle {
            if let Some(e) = inner.entries.remove(&t) {
                inner.used -= e.bytes;
            }
        }
        while inner.used > self.budget {
            let victim = inner
                .entries
                .iter()
                .filter(|(t, _)| *t != keep)
                .min_by_key(|(_, e)| e.last_used)
                .map(|(t, _)| t.clone());
            let Some(victim) = victim else { break };
            if let Some(e) = inner.entries.remove(&victim) {
                inner.used -= e.bytes;
                tracing::debug!(tenant_id = %victim, bytes = e.bytes, "knowledge index evicted");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::{ChunkInput, Segment};
    use crate::text::Language;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn index(generation: i64, words: usize) -> TenantIndex {
        let body = (0..words).map(|i| format!("word{i}")).collect::<Vec<_>>().join(" ");
        let c = ChunkInput {
            id: "c".into(),
            title: String::new(),
            section: String::new(),
            body,
            language: Language::En,
            vector: None,
        };
        TenantIndex::new(generation, None, vec![Arc::new(Segment::build("s".into(), 1, vec![], vec![c], 0))])
    }

    #[tokio::test]
    async fn loads_once_per_generation_and_evicts_over_budget() {
        let one = index(1, 200).bytes();
        let cache = IndexCache::new(one * 2 + one / 2, Duration::from_secs(3600));
        let loads = AtomicUsize::new(0);
        let (a, b, c) = (TenantId::new(), TenantId::new(), TenantId::new());
        let load = |g: i64| {
            loads.fetch_add(1, Ordering::SeqCst);
            async move { Ok::<_, ()>(index(g, 200)) }
        };
        cache.get(&a, 1, |_| load(1)).await.unwrap();
        cache.get(&a, 1, |_| load(1)).await.unwrap();
        assert_eq!(loads.load(Ordering::SeqCst), 1, "cached");
        let got = cache.get(&a, 2, |prev| {
            assert_eq!(prev.map(|p| p.generation), Some(1), "the previous index is offered for reuse");
            load(2)
        });
        assert_eq!(got.await.unwrap().generation, 2);
        cache.get(&b, 1, |_| load(1)).await.unwrap();
        cache.get(&a, 2, |_| load(2)).await.unwrap(); // touch a: b is now the oldest
        cache.get(&c, 1, |_| load(1)).await.unwrap();
        let stats = cache.stats();
        assert_eq!(stats.tenants, 2);
        assert!(stats.bytes <= stats.budget);
        assert!(cache.fresh(&b, 1).is_none(), "least recently used went first");
        assert!(cache.fresh(&a, 2).is_some());
        assert!(cache.get(&b, 1, |_| async { Err::<TenantIndex, _>("down") }).await.is_err());
    }

    #[tokio::test]
    async fn idle_indexes_are_dropped() {
        let cache = IndexCache::new(usize::MAX, Duration::from_millis(1));
        let (a, b) = (TenantId::new(), TenantId::new());
        cache.get(&a, 1, |_| async { Ok::<_, ()>(index(1, 5)) }).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        cache.get(&b, 1, |_| async { Ok::<_, ()>(index(1, 5)) }).await.unwrap();
        assert_eq!(cache.stats().tenants, 1);
    }
}
