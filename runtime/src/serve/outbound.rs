//! The outbound side of one TCP connection: what it owes its client is held
//! here, counted in bytes, and a client that stops reading is cut off.
//!
//! socketioxide queues each socket's packets in a channel bounded in packets
//! ([`ServerBuilder::max_buffer_size`](crate::ServerBuilder::max_buffer_size)),
//! whose writer waits while the client does not read; a queue of large
//! packets then holds hundreds of megabytes before anything notices. Here a
//! write the kernel cannot take at once is accepted into the connection's
//! own buffer instead, so socketioxide's writer keeps draining its channel
//! into it, and the backlog is counted in bytes where it sits. A connection
//! whose backlog would pass [`Serve::max_outbound_bytes`] or that has not
//! written a byte of it for [`Serve::write_stall_timeout`] is a slow
//! consumer: it is closed (Engine.IO sees its transport fail, and its
//! client reconnects and resyncs), counted, and logged at most once a
//! second across the process.
//!
//! The buffer is drained on every write, on every flush, and by the read
//! side: the task reading the connection is woken when the socket becomes
//! writable again, as the writer may be idle by then.
//!
//! [`Serve::max_outbound_bytes`]: super::Serve::max_outbound_bytes
//! [`Serve::write_stall_timeout`]: super::Serve::write_stall_timeout

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::{Instant, Sleep};

use crate::error::Throttle;

/// The limits of [`Outbound`], from [`Serve`](super::Serve).
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub(super) max_bytes: usize,
    pub(super) stall: Duration,
}

/// A buffer this large or larger is given back once it is drained.
const KEEP_CAPACITY: usize = 64 * 1024;

/// A TCP connection with its outbound backlog and its place under the
/// connection limit, which it keeps until it is closed, through a
/// websocket upgrade too.
pub(super) struct Outbound {
    stream: TcpStream,
    peer: SocketAddr,
    limits: Limits,
    /// Bytes accepted from the writer that the kernel has not taken yet;
    /// `pending[sent..]` is still owed.
    pending: Vec<u8>,
    sent: usize,
    /// When the backlog is closed for stalling: reset whenever it moves.
    stall: Option<Pin<Box<Sleep>>>,
    /// The task reading the connection, woken to drain the backlog.
    reader: Option<Waker>,
    /// Why the connection was cut off, once it was.
    cut: Option<Cut>,
    _permit: Option<OwnedSemaphorePermit>,
}

/// Why a slow consumer was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cut {
    Bytes,
    Stalled,
}

impl Outbound {
    pub(super) fn new(
        stream: TcpStream,
        peer: SocketAddr,
        limits: Limits,
        permit: Option<OwnedSemaphorePermit>,
    ) -> Self {
        Self {
            stream,
            peer,
            limits,
            pending: Vec::new(),
            sent: 0,
            stall: None,
            reader: None,
            cut: None,
            _permit: permit,
        }
    }

    /// A write: straight to the socket while nothing is owed and the
    /// kernel takes it, else into the backlog.
    fn write(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
        direct: impl FnOnce(Pin<&mut TcpStream>, &mut Context<'_>) -> Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        if let Some(e) = self.refuse() {
            return Poll::Ready(Err(e));
        }
        if self.owed() > 0
            && let Poll::Ready(Err(e)) = self.drain(cx)
        {
            return Poll::Ready(Err(e));
        }
        if self.owed() == 0 {
            match direct(Pin::new(&mut self.stream), cx) {
                Poll::Pending => {}
                ready => return ready,
            }
        }
        Poll::Ready(self.queue(bufs))
    }

    fn owed(&self) -> usize {
        self.pending.len() - self.sent
    }

    /// Writes what is owed; `Ready(Ok)` once nothing is.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.owed() > 0 {
            match Pin::new(&mut self.stream).poll_write(cx, &self.pending[self.sent..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    self.sent += n;
                    self.moved();
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return self.check_stall(cx),
            }
        }
        self.pending.clear();
        self.sent = 0;
        if self.pending.capacity() >= KEEP_CAPACITY {
            self.pending = Vec::new();
        }
        self.stall = None;
        Poll::Ready(Ok(()))
    }

    /// The backlog moved: the stall clock starts again.
    fn moved(&mut self) {
        if let Some(stall) = &mut self.stall {
            stall.as_mut().reset(Instant::now() + self.limits.stall);
        }
    }

    /// `Pending` while the backlog may still move, with `cx` woken when the
    /// stall bound is reached; the cut-off error once it is.
    fn check_stall(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let stall = self
            .stall
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(self.limits.stall)));
        // The reader is the task that is sure to poll again: it is woken.
        let fired = match &self.reader {
            Some(reader) => stall.as_mut().poll(&mut Context::from_waker(reader)),
            None => stall.as_mut().poll(cx),
        };
        match fired {
            Poll::Ready(()) => Poll::Ready(Err(self.cut_off(Cut::Stalled))),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Accepts `bufs` into the backlog, or cuts the connection off if the
    /// backlog would pass its bound. One write larger than the bound is
    /// accepted when nothing else is owed: it is a large message, not a
    /// backlog.
    fn queue(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let len: usize = bufs.iter().map(|b| b.len()).sum();
        let owed = self.owed();
        if owed > 0 && owed + len > self.limits.max_bytes {
            return Err(self.cut_off(Cut::Bytes));
        }
        if self.sent > 0 && self.sent >= owed {
            // Most of the buffer is sent: move the rest to the front.
            self.pending.drain(..self.sent);
            self.sent = 0;
        }
        for buf in bufs {
            self.pending.extend_from_slice(buf);
        }
        self.hand_to_reader()?;
        Ok(len)
    }

    /// The writer may go idle once its write is accepted: the reader is
    /// woken to drain the backlog when the socket is writable again (or
    /// when it stalls for too long).
    fn hand_to_reader(&mut self) -> io::Result<()> {
        if let Some(reader) = self.reader.clone()
            && let Poll::Ready(Err(e)) = self.drain(&mut Context::from_waker(&reader))
        {
            reader.wake();
            return Err(e);
        }
        Ok(())
    }

    /// Closes the connection as a slow consumer: counted, logged, its
    /// backlog freed, and its reader woken to see the error.
    fn cut_off(&mut self, why: Cut) -> io::Error {
        if self.cut.is_none() {
            self.cut = Some(why);
            self.pending = Vec::new();
            self.sent = 0;
            self.stall = None;
            crate::metrics::slow_consumer_disconnected();
            static CUT: Throttle = Throttle::new();
            let reason = match why {
                Cut::Bytes => format!("its backlog passed {} bytes", self.limits.max_bytes),
                Cut::Stalled => format!("it took nothing for {:?}", self.limits.stall),
            };
            match CUT.admit() {
                Some(more) => tracing::warn!(
                    peer = %self.peer,
                    "fast-app: slow consumer closed: {reason}{}",
                    Throttle::more(more)
                ),
                None => tracing::debug!(peer = %self.peer, "fast-app: slow consumer closed: {reason}"),
            }
            if let Some(reader) = self.reader.take() {
                reader.wake();
            }
        }
        self.cut_error()
    }

    fn cut_error(&self) -> io::Error {
        let message = match self.cut {
            Some(Cut::Stalled) => "slow consumer: its client took nothing for too long",
            _ => "slow consumer: its outbound backlog passed the limit",
        };
        io::Error::new(io::ErrorKind::TimedOut, message)
    }

    /// The error to answer with once the connection is cut off.
    fn refuse(&self) -> Option<io::Error> {
        self.cut.map(|_| self.cut_error())
    }
}

impl AsyncRead for Outbound {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if let Some(e) = this.refuse() {
            return Poll::Ready(Err(e));
        }
        match &this.reader {
            Some(reader) if reader.will_wake(cx.waker()) => {}
            _ => this.reader = Some(cx.waker().clone()),
        }
        if this.owed() > 0
            && let Poll::Ready(Err(e)) = this.drain(cx)
        {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Outbound {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.write(cx, &[io::IoSlice::new(buf)], |stream, cx| {
            stream.poll_write(cx, buf)
        })
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.write(cx, bufs, |stream, cx| stream.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    /// Flushed once the kernel has what is not owed: the backlog is written
    /// on, without holding the writer (which would let socketioxide's
    /// packet queue fill behind it instead).
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if let Some(e) = this.refuse() {
            return Poll::Ready(Err(e));
        }
        if this.owed() > 0 {
            if let Poll::Ready(Err(e)) = this.drain(cx) {
                return Poll::Ready(Err(e));
            }
            if this.owed() > 0 {
                if this.reader.is_none() {
                    // No reader yet to drain it: this flush waits for it.
                    return Poll::Pending;
                }
                this.hand_to_reader()?;
                return Poll::Ready(Ok(()));
            }
        }
        Pin::new(&mut this.stream).poll_flush(cx)
    }

    /// Writes everything owed, then shuts the write side down.
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.cut.is_none() {
            match this.drain(cx) {
                Poll::Ready(Ok(())) => {}
                other => return other,
            }
        }
        Pin::new(&mut this.stream).poll_shutdown(cx)
    }
}
