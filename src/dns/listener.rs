//! The gateway's DNS sockets: UDP and TCP on every configured address.
//!
//! The loops are ours rather than hickory-server's `Server` for two reasons: a signed reply
//! must go out byte for byte as its MAC was computed (hickory's `ResponseHandler` re-encodes
//! messages), and TCP needs a cap on connections, which hickory's server lacks. Parsing and
//! message building still use hickory (`Request::from_bytes`, `MessageResponseBuilder`).
//!
//! UDP: one task per datagram, at most [`Limits::max_udp_in_flight`] at once (beyond that,
//! datagrams are dropped, as a busy server would). TCP: at most [`Limits::max_tcp_connections`]
//! connections (a further one is closed at once), each closed after
//! [`Limits::tcp_idle_timeout`] without a message; messages on one connection (pipelined) are
//! answered in order.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_server::net::xfer::Protocol;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;

/// Turns one request's bytes into the reply's bytes (`None`: send nothing).
pub trait Handler: Send + Sync + 'static {
    /// Handles one DNS message received from `src` over `protocol`.
    fn handle(
        &self,
        request: Vec<u8>,
        src: SocketAddr,
        protocol: Protocol,
    ) -> impl Future<Output = Option<Vec<u8>>> + Send;
}

/// Resource limits of the listeners.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_tcp_connections: usize,
    pub tcp_idle_timeout: Duration,
    pub max_udp_in_flight: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_tcp_connections: 256,
            tcp_idle_timeout: Duration::from_secs(10),
            max_udp_in_flight: 1024,
        }
    }
}

/// Running listeners; dropping them (or [`Listeners::shutdown`]) stops accepting.
pub struct Listeners {
    local_addrs: Vec<SocketAddr>,
    tasks: JoinSet<()>,
    busy: Arc<InFlight>,
}

/// Counts requests being answered, so shutdown can wait for them.
#[derive(Default)]
struct InFlight {
    count: AtomicUsize,
    idle: Notify,
}

impl InFlight {
    /// Marks a request as being answered until the guard drops.
    fn enter(self: &Arc<Self>) -> InFlightGuard {
        self.count.fetch_add(1, Ordering::SeqCst);
        InFlightGuard(self.clone())
    }
}

struct InFlightGuard(Arc<InFlight>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl Listeners {
    /// Binds UDP and TCP on each address (port 0: the same free port for both) and serves.
    pub async fn bind<H: Handler>(
        addrs: &[SocketAddr],
        handler: Arc<H>,
        limits: Limits,
    ) -> io::Result<Listeners> {
        let mut tasks = JoinSet::new();
        let mut local_addrs = Vec::new();
        let busy = Arc::new(InFlight::default());
        for addr in addrs {
            let (udp, tcp) = bind_pair(*addr).await?;
            let local = udp.local_addr()?;
            tracing::info!(addr = %local, "DNS listening on UDP and TCP");
            local_addrs.push(local);
            tasks.spawn(serve_udp(
                Arc::new(udp),
                handler.clone(),
                limits,
                busy.clone(),
            ));
            tasks.spawn(serve_tcp(tcp, handler.clone(), limits, busy.clone()));
        }
        Ok(Listeners {
            local_addrs,
            tasks,
            busy,
        })
    }

    /// The bound addresses, in the order given.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// Stops accepting, then waits (at most `grace`) for the requests being answered to finish,
    /// so every change acknowledged to a client is in the journal before the process exits.
    pub async fn shutdown(mut self, grace: Duration) {
        self.tasks.abort_all();
        let drained = tokio::time::timeout(grace, async {
            loop {
                let idle = self.busy.idle.notified();
                if self.busy.count.load(Ordering::SeqCst) == 0 {
                    return;
                }
                idle.await;
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                requests = self.busy.count.load(Ordering::SeqCst),
                "shutdown grace ran out with requests still being answered"
            );
        }
    }
}

/// Binds UDP, then TCP on the same port; with port 0, retries when TCP finds the port taken.
pub async fn bind_pair(addr: SocketAddr) -> io::Result<(UdpSocket, TcpListener)> {
    let mut last_error = None;
    for _ in 0..10 {
        let udp = UdpSocket::bind(addr).await?;
        let bound = udp.local_addr()?;
        match TcpListener::bind(bound).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(err) if addr.port() == 0 && err.kind() == io::ErrorKind::AddrInUse => {
                last_error = Some(err);
            }
            Err(err) => return Err(err),
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::other("no port free for both UDP and TCP")))
}

async fn serve_udp<H: Handler>(
    socket: Arc<UdpSocket>,
    handler: Arc<H>,
    limits: Limits,
    busy: Arc<InFlight>,
) {
    let in_flight = Arc::new(Semaphore::new(limits.max_udp_in_flight));
    let mut buffer = vec![0u8; 65_535];
    loop {
        let (len, src) = match socket.recv_from(&mut buffer).await {
            Ok(received) => received,
            Err(err) => {
                // ICMP errors from earlier sends surface here on some systems: not fatal.
                tracing::debug!(error = %err, "UDP receive error");
                continue;
            }
        };
        let Ok(permit) = in_flight.clone().try_acquire_owned() else {
            tracing::warn!(%src, "UDP request dropped: too many in flight");
            continue;
        };
        let request = buffer[..len].to_vec();
        let (socket, handler) = (socket.clone(), handler.clone());
        let guard = busy.enter();
        tokio::spawn(async move {
            if let Some(reply) = handler.handle(request, src, Protocol::Udp).await
                && let Err(err) = socket.send_to(&reply, src).await
            {
                tracing::debug!(%src, error = %err, "UDP send failed");
            }
            drop(permit);
            drop(guard);
        });
    }
}

async fn serve_tcp<H: Handler>(
    listener: TcpListener,
    handler: Arc<H>,
    limits: Limits,
    busy: Arc<InFlight>,
) {
    let connections = Arc::new(Semaphore::new(limits.max_tcp_connections));
    loop {
        let (stream, src) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                tracing::debug!(error = %err, "TCP accept error");
                // Out of file descriptors and the like: do not spin.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            tracing::warn!(%src, "TCP connection refused: too many open");
            drop(stream);
            continue;
        };
        let (handler, busy) = (handler.clone(), busy.clone());
        tokio::spawn(async move {
            if let Err(err) =
                serve_connection(stream, src, handler, limits.tcp_idle_timeout, busy).await
            {
                tracing::debug!(%src, error = %err, "TCP connection ended");
            }
            drop(permit);
        });
    }
}

/// Answers length-prefixed messages on one connection until it closes or idles out.
async fn serve_connection<H: Handler>(
    mut stream: TcpStream,
    src: SocketAddr,
    handler: Arc<H>,
    idle_timeout: Duration,
    busy: Arc<InFlight>,
) -> io::Result<()> {
    loop {
        let mut len = [0u8; 2];
        match tokio::time::timeout(idle_timeout, stream.read_exact(&mut len)).await {
            Err(_) => return Ok(()), // idle: close quietly
            Ok(Err(err)) if err.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Ok(result) => result?,
        };
        let mut request = vec![0u8; usize::from(u16::from_be_bytes(len))];
        tokio::time::timeout(idle_timeout, stream.read_exact(&mut request))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "message body stalled"))??;
        let guard = busy.enter();
        let reply = handler.handle(request, src, Protocol::Tcp).await;
        let Some(reply) = reply else {
            continue;
        };
        let Ok(reply_len) = u16::try_from(reply.len()) else {
            tracing::error!(%src, len = reply.len(), "reply too large for TCP framing");
            continue;
        };
        let mut framed = Vec::with_capacity(reply.len() + 2);
        framed.extend_from_slice(&reply_len.to_be_bytes());
        framed.extend_from_slice(&reply);
        stream.write_all(&framed).await?;
        drop(guard);
    }
}
