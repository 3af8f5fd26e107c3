//! A socketioxide-redis driver that survives Redis restarts.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, PushInfo, PushKind, Value};
use socketioxide_redis::drivers::{ChanItem, Driver, MessageStream};
use tokio::sync::mpsc;

use super::RedisConfig;

/// Why a Redis operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RedisDriverError {
    /// Redis answered with an error, or the connection failed.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// Redis did not answer in time (it may be down).
    #[error("redis did not answer within {0:?}")]
    Timeout(Duration),
}

type Handlers = Arc<RwLock<HashMap<String, mpsc::Sender<ChanItem>>>>;

/// The socketioxide-redis driver fast-app uses.
///
/// Unlike socketioxide-redis' own driver, which keeps one connection for
/// life, it runs on the `redis` crate's [`ConnectionManager`]: a lost
/// connection is re-established in the background (retrying at least every
/// second), and its channels are subscribed again. Every operation is
/// bounded by [`RedisConfig::timeout`], so nothing waits on a Redis that is
/// down. A publish-only driver (see [`RedisDriver::publish_only`])
/// subscribes to nothing at all.
#[derive(Clone)]
pub struct RedisDriver {
    conn: ConnectionManager,
    handlers: Handlers,
    timeout: Duration,
    publish_only: bool,
    dropped: Arc<AtomicU64>,
}

impl RedisDriver {
    /// Connects for a server: publishes, and receives on its subscriptions.
    pub async fn connect(config: &RedisConfig) -> Result<Self, RedisDriverError> {
        Self::open(config, false).await
    }

    /// Connects for a process that only broadcasts: it never subscribes, so
    /// it neither receives the cluster's traffic nor counts as a server.
    pub async fn publish_only(config: &RedisConfig) -> Result<Self, RedisDriverError> {
        Self::open(config, true).await
    }

    async fn open(config: &RedisConfig, publish_only: bool) -> Result<Self, RedisDriverError> {
        let client = redis::Client::open(config.url())?;
        let handlers = Handlers::default();
        let dropped = Arc::new(AtomicU64::new(0));
        let mut manager = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.timeout()))
            .set_response_timeout(Some(config.timeout()))
            .set_number_of_retries(usize::MAX)
            .set_max_delay(Duration::from_secs(1));
        if !publish_only {
            let (handlers, dropped) = (handlers.clone(), dropped.clone());
            manager = manager
                .set_automatic_resubscription()
                .set_push_sender(move |push: PushInfo| {
                    route(push, &handlers, &dropped);
                    Ok::<(), std::convert::Infallible>(())
                });
        }
        let conn = within(
            config.timeout(),
            ConnectionManager::new_with_config(client, manager),
        )
        .await?;
        Ok(Self {
            conn,
            handlers,
            timeout: config.timeout(),
            publish_only,
            dropped,
        })
    }

    /// Messages from Redis dropped because the adapter's stream buffer was full.
    pub fn dropped_messages(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Runs `op`, failing after `timeout`.
async fn within<T>(
    timeout: Duration,
    op: impl Future<Output = redis::RedisResult<T>>,
) -> Result<T, RedisDriverError> {
    match tokio::time::timeout(timeout, op).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(RedisDriverError::Timeout(timeout)),
    }
}

/// Hands a pub/sub message to its channel's stream; a full stream drops it, loudly.
fn route(push: PushInfo, handlers: &Handlers, dropped: &AtomicU64) {
    if !matches!(push.kind, PushKind::Message | PushKind::SMessage) {
        return;
    }
    let mut data = push.data.into_iter();
    let (Some(Value::BulkString(channel)), Some(Value::BulkString(message))) = (data.next(), data.next())
    else {
        tracing::warn!("fast-app: unexpected pub/sub message shape from redis");
        return;
    };
    let channel = String::from_utf8_lossy(&channel).into_owned();
    let handlers = handlers.read().unwrap_or_else(|e| e.into_inner());
    let Some(tx) = handlers.get(&channel) else {
        return;
    };
    if let Err(e) = tx.try_send((channel, message)) {
        let total = dropped.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::warn!(
            total,
            "fast-app: redis message dropped, the adapter's stream buffer is full: {e}"
        );
    }
}

impl Driver for RedisDriver {
    type Error = RedisDriverError;

    async fn publish(&self, chan: String, val: Vec<u8>) -> Result<(), Self::Error> {
        let mut conn = self.conn.clone();
        within(self.timeout, conn.publish::<_, _, Value>(chan, val)).await?;
        Ok(())
    }

    async fn subscribe(&self, chan: String, size: usize) -> Result<MessageStream<ChanItem>, Self::Error> {
        if self.publish_only {
            return Ok(MessageStream::new_empty());
        }
        let (tx, rx) = mpsc::channel(size);
        self.handlers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(chan.clone(), tx);
        let mut conn = self.conn.clone();
        within(self.timeout, conn.subscribe(&chan)).await?;
        Ok(MessageStream::new(rx))
    }

    async fn unsubscribe(&self, chan: String) -> Result<(), Self::Error> {
        if self.publish_only {
            return Ok(());
        }
        self.handlers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&chan);
        let mut conn = self.conn.clone();
        within(self.timeout, conn.unsubscribe(&chan)).await
    }

    async fn num_serv(&self, chan: &str) -> Result<u16, Self::Error> {
        let mut conn = self.conn.clone();
        let (_, count): (String, u16) = within(
            self.timeout,
            redis::cmd("PUBSUB")
                .arg("NUMSUB")
                .arg(chan)
                .query_async(&mut conn),
        )
        .await?;
        Ok(count)
    }
}

impl fmt::Debug for RedisDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisDriver")
            .field("publish_only", &self.publish_only)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}
