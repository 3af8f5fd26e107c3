//! A request body with a deadline: one that never finishes (a client that
//! announces a length and stops sending) is failed, and its connection
//! closed, instead of holding a file descriptor for ever.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Bytes, HttpBody};
use hyper::body::{Frame, Incoming, SizeHint};
use tokio::time::{Instant, Sleep};

/// `Incoming`, failed once `deadline` passes before its end.
pub(super) struct Timed {
    body: Incoming,
    deadline: Instant,
    /// Armed at the first poll that must wait.
    timer: Option<Pin<Box<Sleep>>>,
    timeout: Duration,
}

impl Timed {
    /// `body`, which must have arrived whole within `timeout` of now.
    pub(super) fn new(body: Incoming, timeout: Duration) -> Self {
        Self {
            body,
            deadline: Instant::now() + timeout,
            timer: None,
            timeout,
        }
    }
}

impl HttpBody for Timed {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.body).poll_frame(cx) {
            Poll::Ready(frame) => return Poll::Ready(frame.map(|f| f.map_err(io::Error::other))),
            Poll::Pending => {}
        }
        let deadline = this.deadline;
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                tracing::debug!(
                    "fast-app: a request body did not arrive within {:?}",
                    this.timeout
                );
                Poll::Ready(Some(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("request body not received within {:?}", this.timeout),
                ))))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
