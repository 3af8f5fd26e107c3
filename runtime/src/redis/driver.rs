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
use super::shortfall::Receivers;
use crate::error::{RedisDriverError, Throttle};
use crate::metrics::RedisMetrics;

type Handlers = Arc<RwLock<HashMap<String, Handler>>>;

/// Where a channel's messages go, and whether its subscriber is told when
/// Redis confirms the subscription (the first time, and after every
/// reconnect): with an empty message.
struct Handler {
    tx: mpsc::Sender<ChanItem>,
    renewals: bool,
}

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
    conn: Conn,
    handlers: Handlers,
    timeout: Duration,
    publish_only: bool,
    dropped: Arc<AtomicU64>,
    receivers: Arc<Receivers>,
    metrics: Arc<RedisMetrics>,
}

/// One Redis server through a connection manager, or a cluster with sharded pub/sub.
#[derive(Clone)]
enum Conn {
    Single(ConnectionManager),
    #[cfg(feature = "cluster")]
    Cluster(redis::cluster_async::ClusterConnection),
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
        let deadline = tokio::time::Instant::now() + config.startup_wait();
        loop {
            match Self::open_once(config, publish_only).await {
                Err(e) if tokio::time::Instant::now() < deadline => {
                    static RETRYING: Throttle = Throttle::new();
                    match RETRYING.admit() {
                        Some(more) => tracing::warn!(
                            url = %config.display_url(),
                            "fast-app: redis unreachable, retrying: {}{}",
                            e.cause(),
                            Throttle::more(more)
                        ),
                        None => tracing::debug!("fast-app: redis unreachable, retrying: {e}"),
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                result => return result,
            }
        }
    }

    async fn open_once(config: &RedisConfig, publish_only: bool) -> Result<Self, RedisDriverError> {
        let handlers = Handlers::default();
        let dropped = Arc::new(AtomicU64::new(0));
        let metrics = RedisMetrics::new(config.prefix());
        // Every driver hears of its connection's loss (a publish-only one has
        // no subscription, so no message, to route).
        let push = {
            let (handlers, dropped, metrics) = (handlers.clone(), dropped.clone(), metrics.clone());
            move |push: PushInfo| {
                route(push, &handlers, &dropped, &metrics);
                Ok::<(), std::convert::Infallible>(())
            }
        };
        let subscriber = !publish_only;
        let conn = match config.cluster_nodes() {
            None => Conn::Single(connect_single(config, push, subscriber).await?),
            #[cfg(feature = "cluster")]
            Some(nodes) => Conn::Cluster(connect_cluster(config, nodes, push).await?),
            #[cfg(not(feature = "cluster"))]
            Some(_) => return Err(RedisDriverError::ClusterDisabled),
        };
        Ok(Self {
            conn,
            handlers,
            timeout: config.timeout(),
            publish_only,
            dropped,
            receivers: Arc::new(Receivers::new(config.prefix(), metrics.clone())),
            metrics,
        })
    }

    /// Messages from Redis dropped because the adapter's stream buffer was full.
    pub fn dropped_messages(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Publishes that reached fewer servers than were subscribed, by the
    /// drivers on this driver's channel prefix in this process: see
    /// [`publish_shortfalls`](super::publish_shortfalls).
    pub fn publish_shortfalls(&self) -> u64 {
        self.receivers.shortfalls()
    }

    /// Whether this driver is on a cluster, whose channels are sharded.
    pub(crate) fn is_cluster(&self) -> bool {
        !matches!(self.conn, Conn::Single(_))
    }

    /// Subscribes to `chan` like [`Driver::subscribe`], and adds an empty
    /// message each time Redis confirms the subscription: once now, and
    /// after each reconnect, when what was published meanwhile was missed.
    pub(crate) async fn subscribe_with_renewals(
        &self,
        chan: String,
        size: usize,
    ) -> Result<mpsc::Receiver<ChanItem>, RedisDriverError> {
        self.subscribe_handler(chan, size, true).await
    }

    async fn subscribe_handler(
        &self,
        chan: String,
        size: usize,
        renewals: bool,
    ) -> Result<mpsc::Receiver<ChanItem>, RedisDriverError> {
        let (tx, rx) = mpsc::channel(size);
        self.handlers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(chan.clone(), Handler { tx, renewals });
        self.seen(match self.conn.clone() {
            Conn::Single(mut conn) => within(self.timeout, conn.subscribe(&chan)).await,
            #[cfg(feature = "cluster")]
            Conn::Cluster(mut conn) => within(self.timeout, conn.ssubscribe(&chan)).await,
        })?;
        Ok(rx)
    }

    /// Runs a Lua script on this driver's connection, within its timeout.
    pub(crate) async fn eval<T: redis::FromRedisValue>(
        &self,
        script: &redis::ScriptInvocation<'_>,
    ) -> Result<T, RedisDriverError> {
        self.seen(match self.conn.clone() {
            Conn::Single(mut conn) => within(self.timeout, script.invoke_async(&mut conn)).await,
            #[cfg(feature = "cluster")]
            Conn::Cluster(mut conn) => within(self.timeout, script.invoke_async(&mut conn)).await,
        })
    }

    /// Runs a command on this driver's connection, within its timeout.
    pub(crate) async fn query<T: redis::FromRedisValue>(
        &self,
        cmd: &redis::Cmd,
    ) -> Result<T, RedisDriverError> {
        self.seen(match self.conn.clone() {
            Conn::Single(mut conn) => within(self.timeout, cmd.query_async(&mut conn)).await,
            #[cfg(feature = "cluster")]
            Conn::Cluster(mut conn) => within(self.timeout, cmd.query_async(&mut conn)).await,
        })
    }

    /// `result`, having noted what it says of the connection: Redis
    /// answered (it is up), or it was lost or did not answer in time.
    fn seen<T>(&self, result: Result<T, RedisDriverError>) -> Result<T, RedisDriverError> {
        match &result {
            Ok(_) => self.metrics.up(),
            Err(RedisDriverError::Timeout(_)) => self.metrics.down(),
            Err(RedisDriverError::Redis(e))
                if e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() =>
            {
                self.metrics.down()
            }
            Err(_) => {}
        }
        result
    }
}

async fn connect_single(
    config: &RedisConfig,
    push: impl redis::aio::AsyncPushSender,
    subscriber: bool,
) -> Result<ConnectionManager, RedisDriverError> {
    let client = redis::Client::open(no_delay(config.url())?)?;
    // The manager below retries for ever, inside our timeout: what stopped
    // it (a refused connection, an unknown host, a wrong password, a full
    // Redis) would read as a timeout. One plain connection first says why.
    probe(&client, config.timeout()).await?;
    let mut manager = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(config.timeout()))
        // Every request of ours runs under `within`, so one timer bounds it.
        // A subscriber keeps the connection's own timer as well, for the
        // subscriptions it sends again by itself after a reconnect.
        .set_response_timeout(subscriber.then(|| config.timeout()))
        // Keep trying, at least every second, for as long as Redis is away.
        .set_number_of_retries(usize::MAX)
        .set_max_delay(Duration::from_secs(1))
        .set_push_sender(push);
    if subscriber {
        manager = manager.set_automatic_resubscription();
    }
    within(
        config.timeout(),
        ConnectionManager::new_with_config(client, manager),
    )
    .await
}

/// One plain connection to `client`'s server: why it cannot be had, if it
/// cannot.
async fn probe(client: &redis::Client, timeout: Duration) -> Result<(), RedisDriverError> {
    let probe = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout));
    match within(
        timeout,
        client.get_multiplexed_async_connection_with_config(&probe),
    )
    .await
    {
        Ok(_) => Ok(()),
        Err(e) if matches!(&e, RedisDriverError::Redis(io) if io.is_io_error()) => {
            Err(greeting(client, timeout).await.unwrap_or(e))
        }
        Err(e) => Err(e),
    }
}

/// What Redis says, unasked, to a connection it will not serve: a full Redis
/// (`maxclients`) writes `-ERR max number of clients reached` and hangs up
/// before reading, which a client busy writing its handshake sees as a bare
/// reset. Plain TCP only; `None` when Redis says nothing.
async fn greeting(client: &redis::Client, timeout: Duration) -> Option<RedisDriverError> {
    use tokio::io::AsyncReadExt;
    let redis::ConnectionAddr::Tcp(host, port) = client.get_connection_info().addr() else {
        return None;
    };
    let said = tokio::time::timeout(timeout, async {
        let mut stream = tokio::net::TcpStream::connect((host.as_str(), *port))
            .await
            .ok()?;
        let mut reply = [0u8; 256];
        let n = stream.read(&mut reply).await.ok()?;
        Some(String::from_utf8_lossy(&reply[..n]).into_owned())
    })
    .await
    .ok()??;
    let message = said.strip_prefix('-')?.lines().next()?.trim();
    Some(RedisDriverError::Refused(message.to_owned()))
}

#[cfg(feature = "cluster")]
async fn connect_cluster(
    config: &RedisConfig,
    nodes: &[String],
    push: impl redis::aio::AsyncPushSender,
) -> Result<redis::cluster_async::ClusterConnection, RedisDriverError> {
    // The cluster connection reconnects and subscribes again by itself.
    let nodes_info = nodes
        .iter()
        .map(|node| no_delay(node))
        .collect::<Result<Vec<_>, _>>()?;
    let client = redis::cluster::ClusterClientBuilder::new(nodes_info)
        .use_protocol(redis::ProtocolVersion::RESP3)
        .connection_timeout(config.timeout())
        .response_timeout(config.timeout())
        .push_sender(push)
        .build()?;
    let error = match within(config.timeout(), client.get_async_connection()).await {
        Ok(connection) => return Ok(connection),
        Err(e) => e,
    };
    // The cluster client reports a node it could not use as a timeout or a
    // bare I/O error (a full node hangs up: "broken pipe"): a plain
    // connection to each node says why, if one can.
    for node in nodes {
        if let Ok(node) = redis::Client::open(node.as_str())
            && let Err(cause) = probe(&node, config.timeout()).await
        {
            return Err(cause);
        }
    }
    Err(error)
}

/// `url`'s connection, with `TCP_NODELAY` (the `redis` crate leaves Nagle's
/// algorithm on, which holds a small command back while another is
/// unacknowledged). Presence joins one after the other in a room of ten,
/// each a script then a publish: 1.3 ms at the median instead of 1.8, 2.3
/// at p99 instead of 3.2-6 (`bench/src/bin/presence-joins.rs`).
fn no_delay(url: &str) -> redis::RedisResult<redis::ConnectionInfo> {
    use redis::IntoConnectionInfo;
    let info = url.into_connection_info()?;
    let tcp = info.tcp_settings().clone().set_nodelay(true);
    Ok(info.set_tcp_settings(tcp))
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

/// Hands a pub/sub message to its channel's stream; a full stream drops it,
/// loudly. Notes what a push says of the connection: lost
/// (`Disconnection`, sent by the client library), or up.
fn route(push: PushInfo, handlers: &Handlers, dropped: &AtomicU64, metrics: &RedisMetrics) {
    match push.kind {
        PushKind::Message | PushKind::SMessage => {
            metrics.up();
            metrics.received();
        }
        PushKind::Disconnection => return metrics.down(),
        PushKind::Subscribe | PushKind::SSubscribe => {
            metrics.up();
            return renewed(push, handlers);
        }
        _ => return metrics.up(),
    }
    let mut data = push.data.into_iter();
    let (Some(Value::BulkString(channel)), Some(Value::BulkString(message))) = (data.next(), data.next())
    else {
        static SHAPE: Throttle = Throttle::new();
        match SHAPE.admit() {
            Some(more) => tracing::warn!(
                "fast-app: unexpected pub/sub message shape from redis{}",
                Throttle::more(more)
            ),
            None => tracing::debug!("fast-app: unexpected pub/sub message shape from redis"),
        }
        return;
    };
    let channel = String::from_utf8_lossy(&channel).into_owned();
    let handlers = handlers.read().unwrap_or_else(|e| e.into_inner());
    let Some(Handler { tx, .. }) = handlers.get(&channel) else {
        return;
    };
    if let Err(e) = tx.try_send((channel, message)) {
        metrics.dropped();
        static DROPPED: Throttle = Throttle::new();
        let total = dropped.fetch_add(1, Ordering::Relaxed) + 1;
        match DROPPED.admit() {
            Some(more) => tracing::warn!(
                total,
                "fast-app: redis message dropped, the adapter's stream buffer is full: {e}{}",
                Throttle::more(more)
            ),
            None => tracing::debug!(total, "fast-app: redis message dropped: {e}"),
        }
    }
}

/// Tells a subscriber that asked for it that its subscription is (again) in
/// place. A full buffer drops the notice: the messages it holds come first,
/// and the subscriber learns of a gap from them.
fn renewed(push: PushInfo, handlers: &Handlers) {
    let Some(Value::BulkString(channel)) = push.data.into_iter().next() else {
        return;
    };
    let channel = String::from_utf8_lossy(&channel).into_owned();
    let handlers = handlers.read().unwrap_or_else(|e| e.into_inner());
    if let Some(Handler { tx, renewals: true }) = handlers.get(&channel) {
        let _ = tx.try_send((channel, Vec::new()));
    }
}

impl Driver for RedisDriver {
    type Error = RedisDriverError;

    async fn publish(&self, chan: String, val: Vec<u8>) -> Result<(), Self::Error> {
        let reply = self.seen(match self.conn.clone() {
            Conn::Single(mut conn) => within(self.timeout, conn.publish::<_, _, Value>(&chan, val)).await,
            #[cfg(feature = "cluster")]
            Conn::Cluster(mut conn) => within(self.timeout, conn.spublish::<_, _, Value>(&chan, val)).await,
        })?;
        // How many subscribers received it. A shortfall is still a success:
        // the message was published; the loss is on the receiving side.
        if let Value::Int(reached) = reply {
            self.receivers.record(&chan, reached.max(0) as u64);
        }
        Ok(())
    }

    async fn subscribe(&self, chan: String, size: usize) -> Result<MessageStream<ChanItem>, Self::Error> {
        if self.publish_only {
            return Ok(MessageStream::new_empty());
        }
        Ok(MessageStream::new(
            self.subscribe_handler(chan, size, false).await?,
        ))
    }

    async fn unsubscribe(&self, chan: String) -> Result<(), Self::Error> {
        if self.publish_only {
            return Ok(());
        }
        self.handlers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&chan);
        self.seen(match self.conn.clone() {
            Conn::Single(mut conn) => within(self.timeout, conn.unsubscribe(&chan)).await,
            #[cfg(feature = "cluster")]
            Conn::Cluster(mut conn) => within(self.timeout, conn.sunsubscribe(&chan)).await,
        })
    }

    async fn num_serv(&self, chan: &str) -> Result<u16, Self::Error> {
        let (_, count): (String, u16) = match self.conn.clone() {
            Conn::Single(mut conn) => {
                let mut query = redis::cmd("PUBSUB");
                query.arg("NUMSUB").arg(chan);
                within(self.timeout, query.query_async(&mut conn)).await?
            }
            #[cfg(feature = "cluster")]
            Conn::Cluster(mut conn) => {
                let mut query = redis::cmd("PUBSUB");
                query.arg("SHARDNUMSUB").arg(chan);
                within(self.timeout, query.query_async(&mut conn)).await?
            }
        };
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
