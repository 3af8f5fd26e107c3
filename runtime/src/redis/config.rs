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
/// use fast_app::redis::RedisConfig;
///
/// let config = RedisConfig::new("redis://localhost:6379/14").with_prefix("chat-app");
/// assert_eq!(config.url(), "redis://localhost:6379/14?protocol=resp3");
/// assert_eq!(config.prefix(), "chat-app");
/// assert_eq!(config.timeout(), Duration::from_secs(2));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisConfig {
    url: String,
    cluster_nodes: Option<Vec<String>>,
    prefix: String,
    timeout: Duration,
    stream_buffer_size: usize,
    request_timeout: Duration,
    startup_wait: Duration,
}

impl RedisConfig {
    /// Redis at `url` (`redis://[user:password@]host:port[/db]`). RESP3, which
    /// pub/sub on one multiplexed connection needs, is asked for unless the
    /// URL names a protocol.
    pub fn new(url: impl AsRef<str>) -> Self {
        Self {
            url: with_resp3(url.as_ref()),
            cluster_nodes: None,
            prefix: DEFAULT_PREFIX.to_owned(),
            timeout: Duration::from_secs(2),
            stream_buffer_size: 65_536,
            request_timeout: Duration::from_secs(5),
            startup_wait: Duration::ZERO,
        }
    }

    /// A Redis Cluster reached through any of `nodes`
    /// (`redis://host:port`), with sharded pub/sub. Serving or emitting on
    /// it needs the `redis-cluster` feature of `fast-app`.
    pub fn cluster<S: AsRef<str>>(nodes: impl IntoIterator<Item = S>) -> Self {
        let nodes: Vec<String> = nodes.into_iter().map(|n| with_resp3(n.as_ref())).collect();
        let mut config = Self::new(nodes.first().map(String::as_str).unwrap_or(DEFAULT_REDIS_URL));
        config.cluster_nodes = Some(nodes);
        config
    }

    /// From `REDIS_SOCKETIO_URL` (default [`DEFAULT_REDIS_URL`]) and
    /// `REDIS_SOCKETIO_PREFIX` (default [`DEFAULT_PREFIX`]). With
    /// `REDIS_SOCKETIO_CLUSTER=1`, the URL is a comma-separated list of
    /// cluster nodes (see [`RedisConfig::cluster`]).
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let url = var("REDIS_SOCKETIO_URL").unwrap_or_else(|| DEFAULT_REDIS_URL.to_owned());
        let cluster = var("REDIS_SOCKETIO_CLUSTER").is_some_and(|v| matches!(v.trim(), "1" | "true" | "yes"));
        let config = match cluster {
            true => Self::cluster(url.split(',').map(str::trim).filter(|n| !n.is_empty())),
            false => Self::new(url),
        };
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

    /// How long a server or emitter that finds Redis unreachable at start-up
    /// keeps retrying before it fails (default: it fails at once).
    pub fn with_startup_wait(mut self, wait: Duration) -> Self {
        self.startup_wait = wait;
        self
    }

    /// The start-up wait.
    pub fn startup_wait(&self) -> Duration {
        self.startup_wait
    }

    /// The URL, RESP3 included.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The cluster's nodes, for a cluster configuration.
    pub fn cluster_nodes(&self) -> Option<&[String]> {
        self.cluster_nodes.as_deref()
    }

    /// The URL (every node's, for a cluster) without passwords, for messages.
    pub fn display_url(&self) -> String {
        match &self.cluster_nodes {
            Some(nodes) => nodes.iter().map(|n| redact(n)).collect::<Vec<_>>().join(","),
            None => redact(&self.url),
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

/// `url` with its password replaced by `***`.
fn redact(url: &str) -> String {
    match (url.split_once("://"), url.rfind('@')) {
        (Some((scheme, rest)), Some(at)) if at > scheme.len() => {
            let host = &url[at + 1..];
            let user = rest[..at - scheme.len() - 3].split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}")
        }
        _ => url.to_owned(),
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
