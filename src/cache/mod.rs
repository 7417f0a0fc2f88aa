//! Product and category reads, cached as the response bodies they are: in this process
//! (`moka`, bounded by `CACHE_MAX_MB`, [`L1_TTL`]) in front of Redis ([`L2_TTL`], with
//! `REDIS_URL`).
//!
//! **Invalidation.** Every catalog write tells the cache what it changed right after its
//! commit ([`CatalogListener`]), before its response is sent. The cache forgets it here, makes
//! the Redis copies stale and publishes the change; every other instance forgets it when the
//! message arrives (well under a second). The relay's subscriber ([`Subscriber`]) repeats the
//! invalidation for the events the outbox carries (price changes, placed orders), which covers
//! a process that died between its commit and its publish. Order placement, stock checks and
//! charged prices never read this cache.
//!
//! **No stale write-back.** A read that loaded the old value before a write must not store it
//! after the write's invalidation:
//! - in process, a product's entry is loaded and removed through the same per-key compute, so a
//!   removal waits for a load in flight and then removes what it stored; list entries carry a
//!   generation in their key, and a write moves every list to a new generation, so a late
//!   store lands under a key no reader asks for;
//! - in Redis, each entry carries the version tokens it was read under (`v:lists`, or `v:all`
//!   and `v:product:{id}`); a write replaces the tokens, an entry whose tokens differ is a
//!   miss, and an entry is stored only by a script that checks the tokens are still the ones
//!   read before the load.
//!
//! **While the channel is down** (Redis unreachable, or the subscription lost) nothing tells
//! this instance of writes elsewhere, so every read bypasses both levels and goes to the
//! database, and the local cache is flushed when the subscription is back.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use moka::future::Cache as Moka;
use moka::ops::compute::Op;
use redis::{PushKind, Script};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::background::Stop;
use crate::cluster::Redis;
use crate::db::CatalogListener;
use crate::domain::{CatalogChange, CategoryId, DomainEvent, EventEnvelope, ProductId};
use crate::error::AppError;
use crate::events::Subscriber;

/// How long this process keeps an entry: the bound on staleness should an invalidation be lost
/// while the channel looked healthy.
pub const L1_TTL: Duration = Duration::from_secs(30);
/// How long Redis keeps an entry.
pub const L2_TTL: Duration = Duration::from_secs(300);
/// Version tokens outlive every entry stored under them.
const VERSION_TTL: Duration = Duration::from_secs(2 * 300);

/// A cached read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Entry {
    /// `GET /products/{id}`.
    Product(ProductId),
    /// `GET /categories/{id}`.
    Category(CategoryId),
    /// `GET /categories`.
    Categories,
    /// A page of `GET /products`, by its parsed query.
    ProductPage(Box<str>),
    /// `GET /products/search`, by its parsed query.
    Search(Box<str>),
}

impl Entry {
    fn is_list(&self) -> bool {
        !matches!(self, Entry::Product(_))
    }

    fn heap_len(&self) -> usize {
        match self {
            Entry::ProductPage(query) | Entry::Search(query) => query.len(),
            _ => 0,
        }
    }

    fn redis_name(&self) -> String {
        match self {
            Entry::Product(id) => format!("c1:product:{id}"),
            Entry::Category(id) => format!("c1:category:{id}"),
            Entry::Categories => "c1:categories".to_owned(),
            Entry::ProductPage(query) => format!("c1:products:{query}"),
            Entry::Search(query) => format!("c1:search:{query}"),
        }
    }

    /// The version keys whose tokens an entry in Redis is valid under.
    fn versions(&self) -> Vec<String> {
        match self {
            Entry::Product(id) => vec!["c1:v:all".to_owned(), format!("c1:v:product:{id}")],
            _ => vec!["c1:v:lists".to_owned()],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    generation: u64,
    entry: Entry,
}

/// What goes over the channel: the change, and who made it (it has already forgotten it).
#[derive(Debug, Serialize, Deserialize)]
struct Message {
    origin: Uuid,
    change: CatalogChange,
}

pub struct Cache {
    /// `None` when `CACHE_MAX_MB` is 0: every read goes to the database.
    local: Option<Moka<Key, Bytes>>,
    /// The generation of product entries; moves on [`CatalogChange::Everything`].
    all: AtomicU64,
    /// The generation of list entries; moves on every change.
    lists: AtomicU64,
    shared: Option<Shared>,
    origin: Uuid,
}

struct Shared {
    redis: Arc<Redis>,
    channel: String,
    /// Subscribed: other instances' writes reach this one.
    listening: AtomicBool,
}

impl Cache {
    /// A cache of at most `max_bytes` in this process, shared through `redis` when given.
    pub fn new(max_bytes: u64, redis: Option<Arc<Redis>>) -> Arc<Self> {
        let local = (max_bytes > 0).then(|| {
            Moka::builder()
                .max_capacity(max_bytes)
                .weigher(|key: &Key, value: &Bytes| {
                    let size = value.len() + size_of_val(key) + key.entry.heap_len() + 64;
                    u32::try_from(size).unwrap_or(u32::MAX)
                })
                .time_to_live(L1_TTL)
                .build()
        });
        let shared = redis.filter(|_| local.is_some()).map(|redis| Shared {
            channel: redis.key("c1:invalidate"),
            redis,
            listening: AtomicBool::new(false),
        });
        Arc::new(Cache {
            local,
            all: AtomicU64::new(0),
            lists: AtomicU64::new(0),
            shared,
            origin: Uuid::now_v7(),
        })
    }

    /// The cached body of `entry`, or `load`'s, stored on the way. Concurrent misses of one
    /// entry make one load; the others wait for it. Errors are not stored.
    pub async fn get_or_load<F, Fut>(&self, entry: Entry, load: F) -> Result<Bytes, AppError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Bytes, AppError>>,
    {
        let Some(local) = self.local.as_ref().filter(|_| self.usable()) else {
            metrics::counter!("cache_requests_total", "outcome" => "bypass").increment(1);
            return load().await;
        };
        let key = Key {
            generation: self.generation(&entry),
            entry,
        };
        if let Some(body) = local.get(&key).await {
            metrics::counter!("cache_requests_total", "outcome" => "hit").increment(1);
            return Ok(body);
        }
        let entry = key.entry.clone();
        let computed = local
            .entry(key)
            .and_try_compute_with(|existing| async move {
                if existing.is_some() {
                    return Ok(Op::Nop);
                }
                self.shared_or_load(&entry, load).await.map(Op::Put)
            })
            .await?;
        let body = computed
            .into_entry()
            .ok_or_else(|| anyhow::anyhow!("a computed cache entry is missing"))?
            .into_value();
        Ok(body)
    }

    /// The entry from Redis when it holds a current copy; otherwise `load`'s, stored in Redis
    /// unless a write came in between.
    async fn shared_or_load<F, Fut>(&self, entry: &Entry, load: F) -> Result<Bytes, AppError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Bytes, AppError>>,
    {
        let Some(shared) = &self.shared else {
            metrics::counter!("cache_requests_total", "outcome" => "miss").increment(1);
            return load().await;
        };
        let redis = &shared.redis;
        let name = redis.key(&entry.redis_name());
        let versions: Vec<String> = entry.versions().iter().map(|v| redis.key(v)).collect();
        let mut keys = versions.clone();
        keys.push(name.clone());
        let read = redis
            .call(|mut connection| async move {
                redis::cmd("MGET")
                    .arg(&keys)
                    .query_async::<Vec<Option<Vec<u8>>>>(&mut connection)
                    .await
            })
            .await;
        let Some(mut read) = read else {
            metrics::counter!("cache_requests_total", "outcome" => "miss").increment(1);
            return load().await;
        };
        let stored = read.pop().flatten();
        let tokens: Vec<Vec<u8>> = read.into_iter().map(Option::unwrap_or_default).collect();
        let stamp = stamp(&tokens);
        if let Some(body) = stored.and_then(|stored| current(&stored, &stamp)) {
            metrics::counter!("cache_requests_total", "outcome" => "shared_hit").increment(1);
            return Ok(body);
        }
        metrics::counter!("cache_requests_total", "outcome" => "miss").increment(1);
        let body = load().await?;
        let mut value = stamp;
        value.extend_from_slice(&body);
        redis
            .call(|mut connection| async move {
                let mut invocation = store_script().prepare_invoke();
                invocation
                    .key(&name)
                    .arg(millis(L2_TTL))
                    .arg(value.as_slice());
                for (version, token) in versions.iter().zip(&tokens) {
                    invocation.key(version).arg(token.as_slice());
                }
                invocation.invoke_async::<i64>(&mut connection).await
            })
            .await;
        Ok(body)
    }

    fn usable(&self) -> bool {
        self.shared
            .as_ref()
            .is_none_or(|shared| shared.listening.load(Ordering::Acquire))
    }

    fn generation(&self, entry: &Entry) -> u64 {
        if entry.is_list() {
            self.lists.load(Ordering::Acquire)
        } else {
            self.all.load(Ordering::Acquire)
        }
    }

    /// Forgets, in this process, what `change` made stale.
    async fn forget(&self, change: &CatalogChange) {
        self.lists.fetch_add(1, Ordering::AcqRel);
        let Some(local) = &self.local else { return };
        match change {
            CatalogChange::Everything => {
                self.all.fetch_add(1, Ordering::AcqRel);
            }
            CatalogChange::Products(ids) => {
                let generation = self.all.load(Ordering::Acquire);
                for id in ids {
                    let key = Key {
                        generation,
                        entry: Entry::Product(*id),
                    };
                    // Through the entry, so a load in flight finishes first and is removed.
                    local
                        .entry(key)
                        .and_compute_with(|_| async { Op::Remove })
                        .await;
                }
            }
        }
    }

    /// Forgets everything in this process.
    fn flush(&self) {
        self.all.fetch_add(1, Ordering::AcqRel);
        self.lists.fetch_add(1, Ordering::AcqRel);
        if let Some(local) = &self.local {
            local.invalidate_all();
        }
    }

    /// Makes the Redis copies of what `change` touched stale and tells the other instances.
    async fn announce(&self, change: &CatalogChange) {
        let Some(shared) = &self.shared else { return };
        let redis = &shared.redis;
        let mut versions = vec![redis.key("c1:v:lists")];
        match change {
            CatalogChange::Everything => versions.push(redis.key("c1:v:all")),
            CatalogChange::Products(ids) => versions.extend(
                ids.iter()
                    .map(|id| redis.key(&format!("c1:v:product:{id}"))),
            ),
        }
        let message = Message {
            origin: self.origin,
            change: change.clone(),
        };
        let Ok(message) = serde_json::to_string(&message) else {
            return;
        };
        let token = Uuid::new_v4().simple().to_string();
        let published = redis
            .call(|mut connection| async move {
                let mut invocation = invalidate_script().prepare_invoke();
                invocation
                    .arg(&token)
                    .arg(millis(VERSION_TTL))
                    .arg(&shared.channel)
                    .arg(&message);
                for version in &versions {
                    invocation.key(version);
                }
                invocation.invoke_async::<i64>(&mut connection).await
            })
            .await;
        // While this instance hears nothing either, Redis is down for it and the limiter has
        // said so once; a lost announcement is news only while the channel looked healthy.
        if published.is_none() && shared.listening.load(Ordering::Acquire) {
            tracing::warn!(
                "a catalog change could not be announced through Redis; other instances \
                 may serve the old value for up to {L1_TTL:?}"
            );
        }
    }

    /// Listens to other instances' changes until shutdown; with `REDIS_URL` only. While the
    /// subscription is down, reads bypass the cache (see the module's documentation).
    pub async fn listen(self: Arc<Self>, mut stop: Stop) {
        let Some(shared) = &self.shared else { return };
        let (sender, mut pushes) = tokio::sync::mpsc::unbounded_channel();
        let mut subscriber = match shared.redis.subscriber(sender).await {
            Ok(subscriber) => subscriber,
            Err(error) => {
                tracing::error!(error = %error, "cannot make the Redis subscriber; the cache \
                    stays bypassed");
                return;
            }
        };
        let mut subscribed = false;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                () = stop.stopped() => return,
                push = pushes.recv() => {
                    let Some(push) = push else { return };
                    match push.kind {
                        PushKind::Subscribe => {
                            // Messages may have been lost before this: start afresh.
                            self.flush();
                            shared.listening.store(true, Ordering::Release);
                        }
                        PushKind::Disconnection => {
                            shared.listening.store(false, Ordering::Release);
                            self.flush();
                        }
                        PushKind::Message => self.receive(&push.data).await,
                        _ => {}
                    }
                }
                _ = tick.tick(), if !shared.listening.load(Ordering::Acquire) => {
                    // Subscribing the first time, or nudging a reconnect that gave up.
                    let attempt = if subscribed {
                        redis::cmd("PING").query_async::<()>(&mut subscriber).await
                    } else {
                        subscriber.subscribe(&shared.channel).await
                    };
                    subscribed |= attempt.is_ok();
                }
            }
        }
    }

    async fn receive(&self, data: &[redis::Value]) {
        let Some(redis::Value::BulkString(body)) = data.get(1) else {
            return;
        };
        match serde_json::from_slice::<Message>(body) {
            Ok(message) if message.origin == self.origin => {}
            Ok(message) => self.forget(&message.change).await,
            Err(error) => {
                tracing::warn!(error = %error, "an unreadable cache invalidation; flushing");
                self.flush();
            }
        }
    }
}

#[async_trait::async_trait]
impl CatalogListener for Cache {
    async fn changed(&self, change: CatalogChange) {
        self.forget(&change).await;
        self.announce(&change).await;
    }
}

/// The outbox's backstop: the events that change the catalog are invalidated again once
/// relayed, in case their writer died between commit and announcement.
#[async_trait::async_trait]
impl Subscriber for Cache {
    fn name(&self) -> &'static str {
        "cache"
    }

    async fn handle(&self, events: &[EventEnvelope]) -> anyhow::Result<()> {
        let mut products = Vec::new();
        for envelope in events {
            match &envelope.event {
                DomainEvent::ProductPriceChanged { product_id, .. } => products.push(*product_id),
                DomainEvent::OrderPlaced { items, .. } => {
                    products.extend(items.iter().map(|item| item.product_id));
                }
                _ => {}
            }
        }
        if !products.is_empty() && self.local.is_some() {
            products.sort_unstable();
            products.dedup();
            self.changed(CatalogChange::Products(products)).await;
        }
        Ok(())
    }
}

/// The tokens an entry was read under, as its stored prefix: `len:token` each, then `|`.
fn stamp(tokens: &[Vec<u8>]) -> Vec<u8> {
    let mut stamp = Vec::new();
    for token in tokens {
        stamp.extend_from_slice(token.len().to_string().as_bytes());
        stamp.push(b':');
        stamp.extend_from_slice(token);
    }
    stamp.push(b'|');
    stamp
}

/// The body of a stored value whose stamp is `stamp`.
fn current(stored: &[u8], stamp: &[u8]) -> Option<Bytes> {
    stored.strip_prefix(stamp).map(Bytes::copy_from_slice)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// KEYS[1] the entry, KEYS[2..] its version keys; ARGV[1] TTL in ms, ARGV[2] the value,
/// ARGV[3..] the tokens read before the load. Stores only if no token changed since.
fn store_script() -> &'static Script {
    static SCRIPT: std::sync::OnceLock<Script> = std::sync::OnceLock::new();
    SCRIPT.get_or_init(|| {
        Script::new(
            r"
for i = 2, #KEYS do
  if (redis.call('GET', KEYS[i]) or '') ~= ARGV[i + 1] then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[1])
return 1",
        )
    })
}

/// KEYS the version keys to replace; ARGV[1] the new token, ARGV[2] its TTL in ms, ARGV[3]
/// the channel, ARGV[4] the message. One round trip, and no reader sees the message before
/// the tokens changed.
fn invalidate_script() -> &'static Script {
    static SCRIPT: std::sync::OnceLock<Script> = std::sync::OnceLock::new();
    SCRIPT.get_or_init(|| {
        Script::new(
            r"
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2])
end
return redis.call('PUBLISH', ARGV[3], ARGV[4])",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_matches_only_the_tokens_it_was_made_of() {
        let stamp_a = stamp(&[b"ab".to_vec(), b"c".to_vec()]);
        let stamp_b = stamp(&[b"a".to_vec(), b"bc".to_vec()]);
        assert_ne!(stamp_a, stamp_b);
        let mut stored = stamp_a.clone();
        stored.extend_from_slice(b"{\"x\":1}");
        assert_eq!(current(&stored, &stamp_a).unwrap(), &b"{\"x\":1}"[..]);
        assert!(current(&stored, &stamp_b).is_none());
        assert!(current(&stored, &stamp(&[Vec::new(), Vec::new()])).is_none());
    }

    #[tokio::test]
    async fn a_load_in_flight_does_not_outlive_the_invalidation_of_its_entry() {
        let cache = Cache::new(1 << 20, None);
        let id = ProductId::generate();
        let (loading, loaded) = tokio::sync::oneshot::channel::<()>();
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let reader = {
            let cache = cache.clone();
            tokio::spawn(async move {
                cache
                    .get_or_load(Entry::Product(id), || async move {
                        let _ = loading.send(());
                        let _ = released.await;
                        Ok(Bytes::from_static(b"old"))
                    })
                    .await
            })
        };
        loaded.await.unwrap();
        let invalidation = {
            let cache = cache.clone();
            tokio::spawn(async move { cache.changed(CatalogChange::product(id)).await })
        };
        tokio::task::yield_now().await;
        release.send(()).unwrap();
        assert_eq!(reader.await.unwrap().unwrap(), &b"old"[..]);
        invalidation.await.unwrap();

        let after = cache
            .get_or_load(Entry::Product(id), || async {
                Ok(Bytes::from_static(b"new"))
            })
            .await
            .unwrap();
        assert_eq!(after, &b"new"[..]);
    }

    #[tokio::test]
    async fn a_list_loaded_before_a_change_is_not_served_after_it() {
        let cache = Cache::new(1 << 20, None);
        let entry = Entry::ProductPage("first".into());
        let (loading, loaded) = tokio::sync::oneshot::channel::<()>();
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let reader = {
            let cache = cache.clone();
            let entry = entry.clone();
            tokio::spawn(async move {
                cache
                    .get_or_load(entry, || async move {
                        let _ = loading.send(());
                        let _ = released.await;
                        Ok(Bytes::from_static(b"old"))
                    })
                    .await
            })
        };
        loaded.await.unwrap();
        cache.changed(CatalogChange::Products(Vec::new())).await;
        release.send(()).unwrap();
        reader.await.unwrap().unwrap();

        let after = cache
            .get_or_load(entry, || async { Ok(Bytes::from_static(b"new")) })
            .await
            .unwrap();
        assert_eq!(after, &b"new"[..]);
    }

    #[tokio::test]
    async fn concurrent_misses_of_one_entry_make_one_load() {
        let cache = Cache::new(1 << 20, None);
        let loads = Arc::new(AtomicU64::new(0));
        let readers: Vec<_> = (0..16)
            .map(|_| {
                let cache = cache.clone();
                let loads = loads.clone();
                tokio::spawn(async move {
                    cache
                        .get_or_load(Entry::Categories, || async move {
                            loads.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            Ok(Bytes::from_static(b"[]"))
                        })
                        .await
                })
            })
            .collect();
        for reader in readers {
            assert_eq!(reader.await.unwrap().unwrap(), &b"[]"[..]);
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
    }
}
