//! A collector that enforces an HTTP/2 keepalive ping policy the way grpc-go and gRPC
//! C-core servers do (`EnforcementPolicy.MinTime`, ping strikes): every ping that comes
//! sooner than `min_interval` after the previous one is a strike, and the strike after
//! `max_strikes` is answered with GOAWAY `ENHANCE_YOUR_CALM` "too_many_pings" and a
//! closed connection.
//!
//! It speaks HTTP/2 at the frame level (no library server exposes received pings): it
//! sends its SETTINGS, acknowledges the client's, accepts request streams without ever
//! answering them (a Publish collector sends nothing until the end), returns flow-control
//! credit for every DATA frame, and acknowledges pings.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::Instant;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const WINDOW_UPDATE: u8 = 0x8;
const ACK: u8 = 0x1;
const ENHANCE_YOUR_CALM: u32 = 0xb;

/// What the server saw, shared with the test.
#[derive(Debug, Default)]
pub struct PolicyCounters {
    /// Connections accepted.
    pub connections: AtomicU64,
    /// Request streams opened (HEADERS frames).
    pub streams: AtomicU64,
    /// DATA frames received.
    pub data_frames: AtomicU64,
    /// PING frames received (not acks).
    pub pings: AtomicU64,
    /// GOAWAY too_many_pings sent.
    pub goaways: AtomicU64,
}

/// A running ping-policy collector on 127.0.0.1.
pub struct PingPolicyServer {
    addr: SocketAddr,
    counters: Arc<PolicyCounters>,
    task: JoinHandle<()>,
}

impl Drop for PingPolicyServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl PingPolicyServer {
    /// Starts a server that allows one ping per `min_interval` and `max_strikes` early
    /// ones before its GOAWAY (grpc-go: 5 minutes and 2).
    pub async fn start(min_interval: Duration, max_strikes: u32) -> PingPolicyServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let counters = Arc::new(PolicyCounters::default());
        let shared = counters.clone();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                shared.connections.fetch_add(1, SeqCst);
                let counters = shared.clone();
                tokio::spawn(async move {
                    let _ = serve(socket, &counters, min_interval, max_strikes).await;
                });
            }
        });
        PingPolicyServer {
            addr,
            counters,
            task,
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What it saw so far.
    pub fn counters(&self) -> &PolicyCounters {
        &self.counters
    }
}

async fn write_frame(
    socket: &mut TcpStream,
    kind: u8,
    flags: u8,
    stream: u32,
    payload: &[u8],
) -> std::io::Result<()> {
    let len = u32::try_from(payload.len())
        .expect("small frame")
        .to_be_bytes();
    let mut frame = Vec::with_capacity(9 + payload.len());
    frame.extend_from_slice(&len[1..]);
    frame.push(kind);
    frame.push(flags);
    frame.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    frame.extend_from_slice(payload);
    socket.write_all(&frame).await
}

async fn serve(
    mut socket: TcpStream,
    counters: &PolicyCounters,
    min_interval: Duration,
    max_strikes: u32,
) -> std::io::Result<()> {
    let mut preface = [0u8; 24];
    socket.read_exact(&mut preface).await?;
    if preface != PREFACE {
        return Ok(());
    }
    write_frame(&mut socket, SETTINGS, 0, 0, &[]).await?;
    let mut last_ping: Option<Instant> = None;
    let mut strikes = 0;
    let mut last_stream = 0u32;
    loop {
        let mut header = [0u8; 9];
        socket.read_exact(&mut header).await?;
        let len = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
        let (kind, flags) = (header[3], header[4]);
        let stream = u32::from_be_bytes([header[5], header[6], header[7], header[8]]) & 0x7fff_ffff;
        let mut payload = vec![0u8; len];
        socket.read_exact(&mut payload).await?;
        match kind {
            SETTINGS if flags & ACK == 0 => write_frame(&mut socket, SETTINGS, ACK, 0, &[]).await?,
            HEADERS => {
                counters.streams.fetch_add(1, SeqCst);
                last_stream = last_stream.max(stream);
            }
            DATA => {
                counters.data_frames.fetch_add(1, SeqCst);
                if len > 0 {
                    let credit = u32::try_from(len).expect("frame length").to_be_bytes();
                    write_frame(&mut socket, WINDOW_UPDATE, 0, 0, &credit).await?;
                    write_frame(&mut socket, WINDOW_UPDATE, 0, stream, &credit).await?;
                }
            }
            PING if flags & ACK == 0 => {
                counters.pings.fetch_add(1, SeqCst);
                let now = Instant::now();
                if last_ping.is_some_and(|at| now.duration_since(at) < min_interval) {
                    strikes += 1;
                }
                last_ping = Some(now);
                if strikes > max_strikes {
                    let mut goaway = Vec::new();
                    goaway.extend_from_slice(&last_stream.to_be_bytes());
                    goaway.extend_from_slice(&ENHANCE_YOUR_CALM.to_be_bytes());
                    goaway.extend_from_slice(b"too_many_pings");
                    write_frame(&mut socket, GOAWAY, 0, 0, &goaway).await?;
                    counters.goaways.fetch_add(1, SeqCst);
                    socket.shutdown().await?;
                    return Ok(());
                }
                write_frame(&mut socket, PING, ACK, 0, &payload).await?;
            }
            _ => {}
        }
    }
}
