//! Where Redis is and how to talk to it, from code or from the environment.

use std::time::Duration;

/// FastApp's default `REDIS_SOCKETIO_URL`.
pub const DEFAULT_REDIS_URL: &str = "redis://localhost:6379/14";

/// The default channel prefix (`REDIS_SOCKETIO_PREFIX`).
pub const DEFAULT_PREFIX: &str = "socket.io";

/// How to reach Redis, and the limits of fan-out through it.
///
/// ```
/// use std::time::Duration;
/// use fast_app_runtime::redis::RedisConfig;
///
/// let config = RedisConfig::new("redis://localhost:6379/14").with_prefix("chat-app");
/// assert_eq!(config.url(), "redis://localhost:6379/14?protocol=resp3");
/// assert_eq!(config.prefix(), "chat-app");
/// assert_eq!(config.timeout(), Duration::from_secs(2));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisConfig {
    url: String,
    prefix: String,
    timeout: Duration,
    stream_buffer_size: usize,
    request_timeout: Duration,
}

impl RedisConfig {
    /// Redis at `url` (`redis://[user:password@]host:port[/db]`). RESP3, which
    /// pub/sub on one multiplexed connection needs, is asked for unless the
    /// URL names a protocol.
    pub fn new(url: impl AsRef<str>) -> Self {
        Self {
            url: with_resp3(url.as_ref()),
            prefix: DEFAULT_PREFIX.to_owned(),
            timeout: Duration::from_secs(2),
            stream_buffer_size: 65_536,
            request_timeout: Duration::from_secs(5),
        }
    }

    /// From `REDIS_SOCKETIO_URL` (default [`DEFAULT_REDIS_URL`]) and
    /// `REDIS_SOCKETIO_PREFIX` (default [`DEFAULT_PREFIX`]).
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let config = Self::new(var("REDIS_SOCKETIO_URL").unwrap_or_else(|| DEFAULT_REDIS_URL.to_owned()));
        match var("REDIS_SOCKETIO_PREFIX") {
            Some(prefix) => config.with_prefix(prefix),
            None => config,
        }
    }

    /// The channel prefix. Redis pub/sub ignores database numbers: two
    /// applications on one Redis are kept apart by their prefixes.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long one Redis operation may take before it fails (default 2 s):
    /// while Redis is unreachable, `broadcast` returns an error within it.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Messages from Redis queued before the adapter reads them (default
    /// 65 536; socketioxide-redis' own default, 1024, loses bursts). What
    /// overflows is dropped and logged.
    pub fn with_stream_buffer(mut self, messages: usize) -> Self {
        self.stream_buffer_size = messages;
        self
    }

    /// How long cluster-wide queries (e.g. `fetch_sockets`) wait for other servers (default 5 s).
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The URL, RESP3 included.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL without its password, for messages.
    pub fn display_url(&self) -> String {
        match (self.url.split_once("://"), self.url.rfind('@')) {
            (Some((scheme, rest)), Some(at)) if at > scheme.len() => {
                let host = &self.url[at + 1..];
                let user = rest[..at - scheme.len() - 3].split(':').next().unwrap_or("");
                format!("{scheme}://{user}:***@{host}")
            }
            _ => self.url.clone(),
        }
    }

    /// The channel prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The operation timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The stream buffer size.
    pub fn stream_buffer(&self) -> usize {
        self.stream_buffer_size
    }

    /// The cluster query timeout.
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }
}

/// `url` with `protocol=resp3` added when it names no protocol.
fn with_resp3(url: &str) -> String {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    if query.split('&').any(|kv| kv.starts_with("protocol=")) {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&protocol=resp3")
    } else {
        format!("{url}?protocol=resp3")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resp3_is_added_unless_a_protocol_is_named() {
        assert_eq!(with_resp3("redis://h:1/14"), "redis://h:1/14?protocol=resp3");
        assert_eq!(
            with_resp3("redis://h:1/14?db=2"),
            "redis://h:1/14?db=2&protocol=resp3"
        );
        assert_eq!(with_resp3("redis://h:1?protocol=3"), "redis://h:1?protocol=3");
    }

    #[test]
    fn passwords_stay_out_of_messages() {
        let config = RedisConfig::new("redis://app:s3cret@cache:6379/1");
        assert_eq!(
            config.display_url(),
            "redis://app:***@cache:6379/1?protocol=resp3"
        );
        assert_eq!(
            RedisConfig::new("redis://cache").display_url(),
            "redis://cache?protocol=resp3"
        );
    }
}
