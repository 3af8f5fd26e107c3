//! Redis fan-out: configuration, the driver, and the adapter type.
//!
//! Servers on the Redis adapter see each other's broadcasts, and so does a
//! process that runs no server at all (see
//! [`Broadcaster::redis_emitter`](crate::Broadcaster::redis_emitter)).

mod config;
mod driver;

pub use config::{DEFAULT_PREFIX, DEFAULT_REDIS_URL, RedisConfig};
pub use driver::{RedisDriver, RedisDriverError};

/// The socketioxide adapter of a Redis-mode server: socketioxide-redis over
/// [`RedisDriver`].
pub type RedisAdapter = socketioxide_redis::CustomRedisAdapter<socketioxide::adapter::Emitter, RedisDriver>;

/// The adapter state a Redis-mode `SocketIo` is built with.
pub(crate) fn adapter_state(
    driver: RedisDriver,
    config: &RedisConfig,
) -> socketioxide_redis::RedisAdapterCtr<RedisDriver> {
    let adapter = socketioxide_redis::RedisAdapterConfig::new()
        .with_prefix(config.prefix().to_owned())
        .with_stream_buffer(config.stream_buffer())
        .with_request_timeout(config.request_timeout());
    socketioxide_redis::RedisAdapterCtr::new_with_driver(driver, adapter)
}
