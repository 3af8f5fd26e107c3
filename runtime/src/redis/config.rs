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
    presence_timeout: Duration,
}

/// How long the members of a server that stopped (killed, cut off) stay
/// shown before the other servers remove them, by default.
pub const DEFAULT_PRESENCE_TIMEOUT: Duration = Duration::from_secs(30);

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
            presence_timeout: DEFAULT_PRESENCE_TIMEOUT,
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
    /// `REDIS_SOCKETIO_PRESENCE_TIMEOUT` sets the presence timeout in
    /// seconds (see [`with_presence_timeout`](Self::with_presence_timeout)).
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let url = var("REDIS_SOCKETIO_URL").unwrap_or_else(|| DEFAULT_REDIS_URL.to_owned());
        let cluster = var("REDIS_SOCKETIO_CLUSTER").is_some_and(|v| matches!(v.trim(), "1" | "true" | "yes"));
        let config = match cluster {
            true => Self::cluster(url.split(',').map(str::trim).filter(|n| !n.is_empty())),
            false => Self::new(url),
        };
        let config = match var("REDIS_SOCKETIO_PREFIX") {
            Some(prefix) => config.with_prefix(prefix),
            None => config,
        };
        let presence = var("REDIS_SOCKETIO_PRESENCE_TIMEOUT").and_then(|v| v.trim().parse::<f64>().ok());
        match presence.and_then(|secs| Duration::try_from_secs_f64(secs).ok()) {
            Some(timeout) if !timeout.is_zero() => config.with_presence_timeout(timeout),
            _ => config,
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

    /// How long the presence of a server that stopped without leaving (it
    /// was killed, or cut off from Redis) outlives it (default
    /// [`DEFAULT_PRESENCE_TIMEOUT`], 30 s): the members of a killed server
    /// are gone, with `presence_leave`, within it. Each server renews its
    /// liveness every quarter of the timeout; the others take a server not
    /// renewed for half of it as gone and remove its members at their next
    /// check, a quarter later at most.
    pub fn with_presence_timeout(mut self, timeout: Duration) -> Self {
        self.presence_timeout = timeout;
        self
    }

    /// The presence timeout.
    pub fn presence_timeout(&self) -> Duration {
        self.presence_timeout
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

/// `url` with every password replaced by `***`: the one in the user info
/// (`redis://user:pw@host`, `rediss://:pw@host`, and `user:pw@host` without
/// a scheme, which is read as `redis://` would read it) and the one in the
/// query (`redis+unix:///run/redis.sock?pass=pw`, or `password=`).
fn redact(url: &str) -> String {
    const HIDDEN: &str = "***";
    let schemeless = !url.contains("://");
    let parsed = match schemeless {
        true => url::Url::parse(&format!("redis://{url}")),
        false => url::Url::parse(url),
    };
    let Ok(mut parsed) = parsed else {
        // Not a URL: keep what cannot hold a secret (the host, after the
        // last `@`, and no query).
        let rest = url.rsplit_once('@').map_or(url, |(_, host)| host);
        let rest = rest.split_once('?').map_or(rest, |(host, _)| host);
        let hidden = if url.contains('@') { "***@" } else { "" };
        return format!("{hidden}{rest}");
    };
    if parsed.password().is_some() {
        // Only a URL that cannot have a password refuses one.
        let _ = parsed.set_password(Some(HIDDEN));
    }
    let secret = |key: &str| matches!(key, "pass" | "password");
    if parsed.query_pairs().any(|(key, _)| secret(&key)) {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(key, value)| {
                let value = if secret(&key) { HIDDEN.into() } else { value };
                (key.into_owned(), value.into_owned())
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    let shown = parsed.to_string();
    match schemeless {
        true => shown.trim_start_matches("redis://").to_owned(),
        false => shown,
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

    #[track_caller]
    fn hides(url: &str, shown: &str) {
        let redacted = redact(url);
        assert_eq!(redacted, shown, "{url}");
        for secret in ["s3cret", "pw%2F"] {
            assert!(!redacted.contains(secret), "{url} shown as {redacted}");
        }
    }

    #[test]
    fn every_form_of_password_is_hidden() {
        hides("redis://app:s3cret@cache:6379/1", "redis://app:***@cache:6379/1");
        hides("redis://:s3cret@cache:6379", "redis://:***@cache:6379");
        hides(
            "rediss://app:s3cret@cache:6380/0",
            "rediss://app:***@cache:6380/0",
        );
        hides("valkeys://:s3cret@cache", "valkeys://:***@cache");
        hides("app:s3cret@127.0.0.1:1", "app:***@127.0.0.1:1");
        hides(":s3cret@127.0.0.1:1/2", ":***@127.0.0.1:1/2");
        hides("redis://app:pw%2F@cache", "redis://app:***@cache");
        // An `@` in the password: the host is after the last one.
        hides("redis://app:s3c@ret@cache:1", "redis://app:***@cache:1");
        hides(
            "redis+unix:///run/redis.sock?db=2&user=app&pass=s3cret",
            "redis+unix:///run/redis.sock?db=2&user=app&pass=***",
        );
        hides(
            "unix:///run/redis.sock?password=s3cret",
            "unix:///run/redis.sock?password=***",
        );
        // What does not parse keeps only its host.
        hides("redis://app:s3cret@[bad", "***@[bad");
        // Nothing to hide: unchanged.
        hides("redis://cache:6379/14", "redis://cache:6379/14");
        hides("cache:6379", "cache:6379");
    }

    #[test]
    fn cluster_nodes_are_each_hidden() {
        let config = RedisConfig::cluster(["redis://:s3cret@a:7000", "b:7001", "app:s3cret@c:7002"]);
        assert_eq!(
            config.display_url(),
            "redis://:***@a:7000?protocol=resp3,b:7001?protocol=resp3,app:***@c:7002?protocol=resp3"
        );
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
