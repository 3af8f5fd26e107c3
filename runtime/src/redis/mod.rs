//! Redis fan-out: configuration, the driver, and the adapter type.
//!
//! Servers on the Redis adapter see each other's broadcasts, and so does a
//! process that runs no server at all (see
//! [`Broadcaster::redis_emitter`](crate::Broadcaster::redis_emitter)).

mod config;
mod driver;
mod presence;
mod shortfall;

pub use config::{DEFAULT_PREFIX, DEFAULT_PRESENCE_TIMEOUT, DEFAULT_REDIS_URL, RedisConfig};
pub use driver::RedisDriver;
pub(crate) use presence::RedisStore;
pub use shortfall::publish_shortfalls;

pub use crate::error::RedisDriverError;
use crate::error::ServerError;

/// The socketioxide adapter of a Redis-mode server: socketioxide-redis over
/// [`RedisDriver`].
pub type RedisAdapter = socketioxide_redis::CustomRedisAdapter<socketioxide::adapter::Emitter, RedisDriver>;

/// A socketioxide builder on the Redis adapter at `config`: for a server
/// (`publish_only == false`: it subscribes to its namespaces' channels) or
/// for an emitter (it subscribes to nothing). Fails when Redis cannot be
/// reached within the configuration's start-up wait.
pub(crate) async fn builder(
    builder: socketioxide::SocketIoBuilder,
    config: &RedisConfig,
    publish_only: bool,
) -> Result<(socketioxide::SocketIoBuilder<RedisAdapter>, RedisDriver), ServerError> {
    let driver = match publish_only {
        false => RedisDriver::connect(config).await,
        true => RedisDriver::publish_only(config).await,
    }
    .map_err(|source| ServerError::Redis {
        url: config.display_url(),
        source,
    })?;
    let adapter = socketioxide_redis::RedisAdapterConfig::new()
        .with_prefix(config.prefix().to_owned())
        .with_stream_buffer(config.stream_buffer())
        .with_request_timeout(config.request_timeout());
    let state = socketioxide_redis::RedisAdapterCtr::new_with_driver(driver.clone(), adapter);
    Ok((builder.with_adapter::<RedisAdapter>(state), driver))
}
