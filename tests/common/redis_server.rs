//! A private `redis-server` for one test: its own port, ended by its PID.

#![allow(dead_code)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    pub port: u16,
    args: Vec<String>,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts `redis-server` on a free loopback port.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts `redis-server` on a free loopback port with extra options
    /// (`["--requirepass", "secret"]`, `["--maxclients", "1"]`).
    pub fn start_with(args: &[&str]) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let args = args.iter().map(|a| (*a).to_owned()).collect();
        let mut server = Self {
            port,
            args,
            child: None,
        };
        server.restart();
        server
    }

    /// `redis://127.0.0.1:<port>/14`, as FastApp writes it.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/14", self.port)
    }

    /// Starts it again on the same port (after [`stop`](Self::stop)).
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start `redis-server` ({e}): these tests need it on PATH; \
                     install it with `apt-get install redis-server` (bash scripts/test.sh does)"
                )
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.ping() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server on port {} did not answer PING", self.port);
    }

    /// Kills it (SIGKILL, by PID) and waits until it is gone.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn ping(&self) -> bool {
        use std::io::{Read, Write};
        let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
        let mut reply = [0u8; 7];
        // With `--requirepass`, an unauthenticated PING is refused: it answered.
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut reply).is_ok()
            && (&reply == b"+PONG\r\n" || &reply == b"-NOAUTH")
    }

    /// A connection Redis has accepted (it answered), held until dropped:
    /// with `--maxclients 1`, nobody else gets in.
    pub fn hold_connection(&self) -> std::net::TcpStream {
        use std::io::{Read, Write};
        // Redis may not have seen the readiness check's connection close yet.
        for _ in 0..250 {
            let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).expect("connects");
            let mut reply = [0u8; 7];
            if stream.write_all(b"PING\r\n").is_ok()
                && stream.read_exact(&mut reply).is_ok()
                && &reply == b"+PONG\r\n"
            {
                return stream;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "redis-server on port {} accepted no connection to hold",
            self.port
        );
    }

    /// A connection for commands, held until dropped: it stays in when
    /// `maxclients` keeps everyone else out.
    pub fn control(&self) -> Control {
        let stream = self.hold_connection();
        Control {
            reader: std::io::BufReader::new(stream.try_clone().expect("clones the stream")),
            stream,
        }
    }

    /// `PUBSUB NUMSUB channel`, through redis-cli.
    pub fn numsub(&self, channel: &str) -> u64 {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "--raw", "PUBSUB", "NUMSUB", channel])
            .output()
            .expect("redis-cli runs");
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines()
            .nth(1)
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("NUMSUB: {text}"))
    }
}

/// A connection to a [`RedisServer`] that sends commands and reads replies
/// (status, error, integer or bulk string).
pub struct Control {
    stream: std::net::TcpStream,
    reader: std::io::BufReader<std::net::TcpStream>,
}

impl Control {
    /// Sends `args` as one command and returns its reply's text (`-ERR ...`
    /// for an error).
    pub fn command(&mut self, args: &[&str]) -> String {
        use std::io::{BufRead, Read, Write};
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        self.stream.write_all(request.as_bytes()).expect("sends");
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("a reply");
        let line = line.trim_end();
        match line.split_at(1) {
            ("$", len) => {
                let len: usize = len.parse().expect("a bulk length");
                let mut body = vec![0; len + 2];
                self.reader.read_exact(&mut body).expect("the bulk string");
                body.truncate(len);
                String::from_utf8(body).expect("text")
            }
            ("-", _) => line.to_owned(),
            (_, rest) => rest.to_owned(),
        }
    }

    /// The ids of the clients subscribed to at least one channel, oldest
    /// first (`CLIENT LIST`'s `sub=` field).
    pub fn subscriber_ids(&mut self) -> Vec<u64> {
        let list = self.command(&["CLIENT", "LIST"]);
        let mut ids: Vec<u64> = list
            .lines()
            .filter(|client| !client.split(' ').any(|field| field == "sub=0"))
            .filter_map(|client| client.split(' ').find_map(|f| f.strip_prefix("id=")))
            .map(|id| id.parse().expect("a client id"))
            .collect();
        ids.sort_unstable();
        ids
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
