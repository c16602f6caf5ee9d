//! `--mdt`: the model-driven telemetry (Cisco MDT) fleet.
//!
//! nl6d's start-up devices stream the generic-counters sensor path (10 interfaces, SAMPLE
//! 1 s) over each dial-out transport and encoding of [`MDT_CASES`] to a light sink in
//! this process (see [`MdtSink`]): it counts messages and bytes, never decodes. Leaves
//! are nl6d's own count (`updates_sent` of `GET /api/v1/mdt/status`) over each steady
//! window; for UDP, datagrams sent and received are the namespace's UDP counters
//! (`/proc/net/snmp`) next to the sink's count.

use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::sync::atomic::AtomicBool;

use tokio::io::{AsyncReadExt, BufReader};

use super::*;

/// MDT dial-out transports (nl6d's `--mdt-protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MdtProtocol {
    Grpc,
    Tcp,
    Udp,
}

impl MdtProtocol {
    pub(super) fn flag(self) -> &'static str {
        match self {
            MdtProtocol::Grpc => "grpc",
            MdtProtocol::Tcp => "tcp",
            MdtProtocol::Udp => "udp",
        }
    }
}

/// MDT encodings (nl6d's `--mdt-encoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MdtEncoding {
    /// Self-describing (key-value) GPB.
    Kv,
    /// Compact GPB.
    Compact,
}

impl MdtEncoding {
    pub(super) fn flag(self) -> &'static str {
        match self {
            MdtEncoding::Kv => "self-describing-gpb",
            MdtEncoding::Compact => "gpb",
        }
    }
}

/// The measured (transport, encoding) pairs.
pub(super) const MDT_CASES: [(MdtProtocol, MdtEncoding); 6] = [
    (MdtProtocol::Grpc, MdtEncoding::Kv),
    (MdtProtocol::Grpc, MdtEncoding::Compact),
    (MdtProtocol::Tcp, MdtEncoding::Kv),
    (MdtProtocol::Tcp, MdtEncoding::Compact),
    (MdtProtocol::Udp, MdtEncoding::Compact),
    (MdtProtocol::Udp, MdtEncoding::Kv),
];

/// Receive buffer asked for the UDP sink (the kernel may cap it).
const UDP_RCVBUF: libc::c_int = 64 * 1024 * 1024;
/// The TCP and UDP header: type, encap, version, flags (u16 each), length (u32).
const MDT_HEADER_LEN: usize = 12;

/// What the MDT run measures.
pub(super) struct MdtSizes {
    pub(super) devices: u32,
    pub(super) warmup: Duration,
    pub(super) windows: usize,
    pub(super) window: Duration,
}

impl MdtSizes {
    pub(super) fn new(quick: bool) -> MdtSizes {
        if quick {
            MdtSizes {
                devices: 100,
                warmup: Duration::from_secs(3),
                windows: 2,
                window: Duration::from_secs(5),
            }
        } else {
            MdtSizes {
                devices: 1_000,
                warmup: Duration::from_secs(5),
                windows: 3,
                window: Duration::from_secs(10),
            }
        }
    }
}

/// Counters of an MDT sink.
#[derive(Default)]
pub(super) struct MdtCounters {
    /// Open TCP connections or gRPC streams (UDP has none).
    pub(super) connections: AtomicU64,
    pub(super) messages: AtomicU64,
    /// TCP: header and payload; UDP: whole datagrams; gRPC: `MdtDialoutArgs` messages.
    pub(super) bytes: AtomicU64,
    /// TCP messages or datagrams whose header was not a data header of the right length.
    pub(super) malformed: AtomicU64,
}

impl MdtCounters {
    fn add(&self, bytes: usize) {
        self.messages.fetch_add(1, Relaxed);
        self.bytes.fetch_add(bytes as u64, Relaxed);
    }
}

/// A light MDT collector: a TCP listener reading header and payload, a UDP socket
/// counting datagrams, or a tonic server of `gRPCMdtDialout.MdtDialout`.
pub(super) struct MdtSink {
    pub(super) addr: SocketAddr,
    pub(super) counters: Arc<MdtCounters>,
    /// The UDP socket's receive buffer as the kernel set it.
    pub(super) rcvbuf: Option<usize>,
    task: SinkTask,
}

enum SinkTask {
    Tcp(tokio::task::JoinHandle<()>),
    Udp(Arc<AtomicBool>, std::thread::JoinHandle<()>),
    Grpc(
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
    ),
}

impl MdtSink {
    pub(super) fn start(runtime: &Runtime, protocol: MdtProtocol) -> Result<MdtSink> {
        let counters = Arc::new(MdtCounters::default());
        let listen = SocketAddr::from(([127, 0, 0, 1], 0));
        let mut rcvbuf = None;
        let (addr, task) = match protocol {
            MdtProtocol::Tcp => {
                let listener = runtime
                    .block_on(tokio::net::TcpListener::bind(listen))
                    .context("MDT TCP sink: bind")?;
                let addr = listener.local_addr()?;
                let c = counters.clone();
                (addr, SinkTask::Tcp(runtime.spawn(tcp_accept(listener, c))))
            }
            MdtProtocol::Udp => {
                let socket = UdpSocket::bind(listen).context("MDT UDP sink: bind")?;
                rcvbuf = Some(set_rcvbuf(&socket, UDP_RCVBUF)?);
                socket.set_read_timeout(Some(Duration::from_millis(100)))?;
                let addr = socket.local_addr()?;
                let stop = Arc::new(AtomicBool::new(false));
                let (c, s) = (counters.clone(), stop.clone());
                let thread = std::thread::Builder::new()
                    .name("mdt-udp-sink".into())
                    .spawn(move || udp_receive(&socket, &c, &s))?;
                (addr, SinkTask::Udp(stop, thread))
            }
            MdtProtocol::Grpc => {
                let incoming = runtime
                    .block_on(async { tonic::transport::server::TcpIncoming::bind(listen) })
                    .context("MDT gRPC sink: bind")?;
                let addr = incoming.local_addr()?;
                let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
                let stopped = async move {
                    let _ = stopped.await;
                };
                let router = tonic::transport::Server::builder()
                    .add_service(MdtDialoutService(counters.clone()));
                let server = runtime.spawn(router.serve_with_incoming_shutdown(incoming, stopped));
                (addr, SinkTask::Grpc(stop, server))
            }
        };
        Ok(MdtSink {
            addr,
            counters,
            rcvbuf,
            task,
        })
    }

    pub(super) fn messages(&self) -> u64 {
        self.counters.messages.load(Relaxed)
    }

    pub(super) fn bytes(&self) -> u64 {
        self.counters.bytes.load(Relaxed)
    }

    pub(super) fn shutdown(self, runtime: &Runtime) -> Result<()> {
        match self.task {
            SinkTask::Tcp(accept) => accept.abort(),
            SinkTask::Udp(stop, thread) => {
                stop.store(true, Relaxed);
                thread
                    .join()
                    .map_err(|_| anyhow!("MDT UDP sink thread panicked"))?;
            }
            SinkTask::Grpc(stop, mut server) => {
                let _ = stop.send(());
                let waited = runtime.block_on(async {
                    tokio::time::timeout(Duration::from_secs(10), &mut server).await
                });
                match waited {
                    Ok(joined) => joined
                        .context("MDT gRPC sink task failed")?
                        .context("MDT gRPC sink stopped with an error")?,
                    Err(_) => server.abort(),
                }
            }
        }
        let malformed = self.counters.malformed.load(Relaxed);
        if malformed > 0 {
            bail!("MDT sink: {malformed} messages had no valid MDT data header");
        }
        Ok(())
    }
}

/// Sets `SO_RCVBUFFORCE` (privileged) or else `SO_RCVBUF`; returns what the kernel set.
fn set_rcvbuf(socket: &UdpSocket, size: libc::c_int) -> Result<usize> {
    let fd = socket.as_raw_fd();
    let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    for option in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
        // SAFETY: `fd` is an open socket; the value is a valid c_int of `len` bytes.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                option,
                (&size as *const libc::c_int).cast(),
                len,
            )
        };
        if rc == 0 {
            break;
        }
    }
    let mut got: libc::c_int = 0;
    let mut got_len = len;
    // SAFETY: `fd` is an open socket; `got` and `got_len` are valid and writable.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&mut got as *mut libc::c_int).cast(),
            &mut got_len,
        )
    };
    if rc != 0 {
        bail!(
            "MDT UDP sink: getsockopt(SO_RCVBUF): {}",
            std::io::Error::last_os_error()
        );
    }
    Ok(usize::try_from(got).unwrap_or(0))
}

/// The payload length of a TCP or UDP MDT data header, `None` for anything else.
pub(super) fn mdt_header_len(header: &[u8]) -> Option<usize> {
    if header.len() < MDT_HEADER_LEN {
        return None;
    }
    let word = |i: usize| u16::from_be_bytes([header[i], header[i + 1]]);
    let (kind, encap, version) = (word(0), word(2), word(4));
    if kind != 1 || !(1..=2).contains(&encap) || version != 1 {
        return None;
    }
    let len = u32::from_be_bytes([header[8], header[9], header[10], header[11]]);
    usize::try_from(len).ok()
}

async fn tcp_accept(listener: tokio::net::TcpListener, counters: Arc<MdtCounters>) {
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(tcp_connection(stream, counters.clone()));
    }
}

/// Reads framed messages until the device closes; counts each.
async fn tcp_connection(stream: tokio::net::TcpStream, counters: Arc<MdtCounters>) {
    counters.connections.fetch_add(1, Relaxed);
    let mut reader = BufReader::with_capacity(64 * 1024, stream);
    let mut header = [0u8; MDT_HEADER_LEN];
    while reader.read_exact(&mut header).await.is_ok() {
        let Some(len) = mdt_header_len(&header) else {
            counters.malformed.fetch_add(1, Relaxed);
            break;
        };
        let mut payload = (&mut reader).take(len as u64);
        match tokio::io::copy(&mut payload, &mut tokio::io::sink()).await {
            Ok(n) if n == len as u64 => counters.add(MDT_HEADER_LEN + len),
            _ => break,
        }
    }
    counters.connections.fetch_sub(1, Relaxed);
}

/// Counts datagrams until `stop`.
fn udp_receive(socket: &UdpSocket, counters: &MdtCounters, stop: &AtomicBool) {
    let mut buf = vec![0u8; 65_536];
    while !stop.load(Relaxed) {
        match socket.recv(&mut buf) {
            Ok(n) => match mdt_header_len(&buf[..n]) {
                Some(len) if len + MDT_HEADER_LEN == n => counters.add(n),
                _ => {
                    counters.malformed.fetch_add(1, Relaxed);
                }
            },
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
}

/// `/mdt_dialout.gRPCMdtDialout/MdtDialout`: counts each `MdtDialoutArgs` and its size,
/// answers nothing (nl6d requires no reply).
#[derive(Clone)]
pub(super) struct MdtDialoutService(Arc<MdtCounters>);

impl tonic::server::NamedService for MdtDialoutService {
    const NAME: &'static str = "mdt_dialout.gRPCMdtDialout";
}

impl<B> tonic::codegen::Service<tonic::codegen::http::Request<B>> for MdtDialoutService
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<tonic::codegen::StdError> + Send + 'static,
{
    type Response = tonic::codegen::http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = tonic::codegen::BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: tonic::codegen::http::Request<B>) -> Self::Future {
        let counters = self.0.clone();
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(LengthCodec)
                .apply_max_message_size_config(Some(64 * 1024 * 1024), None);
            Ok(grpc.streaming(MdtBidi(counters), request).await)
        })
    }
}

type MdtReplies = futures::stream::BoxStream<'static, Result<(), tonic::Status>>;

/// One `MdtDialout` call: requests are counted as the (empty) reply stream is polled.
struct MdtBidi(Arc<MdtCounters>);

/// Counts an open gRPC stream while it lives.
struct OpenStream(Arc<MdtCounters>);

impl OpenStream {
    fn open(counters: Arc<MdtCounters>) -> OpenStream {
        counters.connections.fetch_add(1, Relaxed);
        OpenStream(counters)
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Relaxed);
    }
}

impl tonic::server::StreamingService<usize> for MdtBidi {
    type Response = ();
    type ResponseStream = MdtReplies;
    type Future = tonic::codegen::BoxFuture<tonic::Response<MdtReplies>, tonic::Status>;

    fn call(&mut self, request: tonic::Request<tonic::Streaming<usize>>) -> Self::Future {
        let counters = self.0.clone();
        Box::pin(async move {
            let open = OpenStream::open(counters);
            let requests = request.into_inner();
            let replies = futures::stream::unfold(Some((requests, open)), |state| async move {
                let (mut requests, open) = state?;
                loop {
                    match requests.message().await {
                        Ok(Some(len)) => open.0.add(len),
                        Ok(None) => return None,
                        Err(status) => return Some((Err(status), None)),
                    }
                }
            });
            Ok(tonic::Response::new(Box::pin(replies) as MdtReplies))
        })
    }
}

/// Decodes a message to its length; encodes nothing (no reply is ever sent).
#[derive(Debug, Clone, Copy, Default)]
struct LengthCodec;

impl tonic::codec::Codec for LengthCodec {
    type Encode = ();
    type Decode = usize;
    type Encoder = LengthCodec;
    type Decoder = LengthCodec;

    fn encoder(&mut self) -> Self::Encoder {
        LengthCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        LengthCodec
    }
}

impl tonic::codec::Encoder for LengthCodec {
    type Item = ();
    type Error = tonic::Status;

    fn encode(&mut self, _: (), _: &mut tonic::codec::EncodeBuf<'_>) -> Result<(), Self::Error> {
        Ok(())
    }
}

impl tonic::codec::Decoder for LengthCodec {
    type Item = usize;
    type Error = tonic::Status;

    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<usize>, Self::Error> {
        use bytes::Buf as _;
        let len = src.remaining();
        src.advance(len);
        Ok(Some(len))
    }
}

/// The namespace's UDP counters of `/proc/net/snmp`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct UdpSnmp {
    pub(super) in_datagrams: u64,
    pub(super) out_datagrams: u64,
    pub(super) rcvbuf_errors: u64,
}

impl UdpSnmp {
    pub(super) fn read() -> Result<UdpSnmp> {
        let text = std::fs::read_to_string("/proc/net/snmp").context("reading /proc/net/snmp")?;
        UdpSnmp::parse(&text)
    }

    pub(super) fn parse(text: &str) -> Result<UdpSnmp> {
        let mut lines = text.lines().filter(|l| l.starts_with("Udp: "));
        let (Some(names), Some(values)) = (lines.next(), lines.next()) else {
            bail!("/proc/net/snmp has no Udp lines");
        };
        let mut snmp = UdpSnmp::default();
        for (name, value) in names.split_whitespace().zip(values.split_whitespace()) {
            let value = value.parse().unwrap_or(0);
            match name {
                "InDatagrams" => snmp.in_datagrams = value,
                "OutDatagrams" => snmp.out_datagrams = value,
                "RcvbufErrors" => snmp.rcvbuf_errors = value,
                _ => {}
            }
        }
        Ok(snmp)
    }
}

/// One (transport, encoding), medians over the steady windows.
pub(super) struct MdtResult {
    pub(super) protocol: MdtProtocol,
    pub(super) encoding: MdtEncoding,
    pub(super) devices: u32,
    pub(super) leaves_per_s: f64,
    pub(super) messages_per_s: f64,
    pub(super) bytes_per_s: f64,
    pub(super) cpu_per_mleaf: f64,
    pub(super) rss: u64,
    /// Summed over the windows.
    pub(super) dropped: u64,
    pub(super) send_failures: u64,
    /// UDP only, summed over the windows: datagrams the namespace sent, the sink
    /// received, and the kernel dropped for a full receive buffer.
    pub(super) udp: Option<(u64, u64, u64)>,
}

/// A reading at the edge of a window.
struct MdtReading {
    at: Instant,
    cpu: f64,
    status: DialoutTotals,
    messages: u64,
    bytes: u64,
    snmp: UdpSnmp,
}

fn mdt_reading(daemon: &Daemon, sink: &MdtSink) -> Result<MdtReading> {
    let status = daemon.mdt()?;
    Ok(MdtReading {
        at: Instant::now(),
        cpu: cpu_seconds(daemon.pid())?,
        status,
        messages: sink.messages(),
        bytes: sink.bytes(),
        snmp: UdpSnmp::read()?,
    })
}

/// RSS of nl6d with no device (MDT configured), once it settled.
pub(super) fn mdt_idle_rss(bin: &Path, runtime: &Runtime) -> Result<u64> {
    let sink = MdtSink::start(runtime, MdtProtocol::Tcp)?;
    let daemon = Daemon::start_mdt(bin, 0, "tcp", MdtEncoding::Compact.flag(), sink.addr)?;
    std::thread::sleep(Duration::from_secs(2));
    let rss = rss_bytes(daemon.pid())?;
    daemon.stop()?;
    sink.shutdown(runtime)?;
    Ok(rss)
}

/// Waits until nl6d counts every device connected and (TCP, gRPC) the sink as many
/// connections.
fn wait_mdt_connected(
    daemon: &Daemon,
    sink: &MdtSink,
    protocol: MdtProtocol,
    count: u32,
) -> Result<()> {
    let timeout = Duration::from_secs(30 + u64::from(count) / 100);
    let deadline = Instant::now() + timeout;
    let want = u64::from(count);
    loop {
        let status = daemon.mdt()?;
        let seen = sink.counters.connections.load(Relaxed);
        if status.devices_connected == want && (protocol == MdtProtocol::Udp || seen == want) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!(
                "after {timeout:?}: nl6d has {} MDT devices connected, the sink {seen}, want \
                 {want} ({status:?}){}",
                status.devices_connected,
                daemon.log_tail()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

pub(super) fn measure_mdt(
    bin: &Path,
    runtime: &Runtime,
    sizes: &MdtSizes,
    protocol: MdtProtocol,
    encoding: MdtEncoding,
) -> Result<MdtResult> {
    let count = sizes.devices;
    eprintln!(
        "==> MDT {count} devices, {}, {}, SAMPLE 1 s",
        protocol.flag(),
        encoding.flag()
    );
    let sink = MdtSink::start(runtime, protocol)?;
    if let Some(rcvbuf) = sink.rcvbuf {
        eprintln!("    UDP sink receive buffer {:.1} MiB", rcvbuf as f64 / MIB);
    }
    let daemon = Daemon::start_mdt(bin, count, protocol.flag(), encoding.flag(), sink.addr)?;
    let ready = Instant::now();
    wait_mdt_connected(&daemon, &sink, protocol, count)?;
    eprintln!(
        "    {count} devices connected in {:.1} s",
        ready.elapsed().as_secs_f64()
    );
    std::thread::sleep(sizes.warmup);
    let mut leaves = Vec::new();
    let mut messages = Vec::new();
    let mut bytes = Vec::new();
    let mut cpu = Vec::new();
    let mut rss = Vec::new();
    let (mut dropped, mut send_failures) = (0, 0);
    let mut udp = (0, 0, 0);
    for _ in 0..sizes.windows {
        let before = mdt_reading(&daemon, &sink)?;
        std::thread::sleep(sizes.window);
        let after = mdt_reading(&daemon, &sink)?;
        let secs = (after.at - before.at).as_secs_f64();
        let sent = after.status.updates_sent - before.status.updates_sent;
        let w_messages = after.messages - before.messages;
        let w_cpu = (after.cpu - before.cpu) / (sent as f64 / 1e6).max(1e-9);
        let w_rss = rss_bytes(daemon.pid())?;
        let w_dropped = after.status.updates_dropped - before.status.updates_dropped;
        dropped += w_dropped;
        send_failures += after.status.send_failures - before.status.send_failures;
        let out = after.snmp.out_datagrams - before.snmp.out_datagrams;
        let lost = after.snmp.rcvbuf_errors - before.snmp.rcvbuf_errors;
        if protocol == MdtProtocol::Udp {
            udp.0 += out;
            udp.1 += w_messages;
            udp.2 += lost;
        }
        eprintln!(
            "    window: {:.0} leaves/s, {:.0} msgs/s, {:.2} MB/s, nl6d {:.3} CPU-s/M leaves, \
             RSS {:.1} MiB, dropped {w_dropped}{}",
            sent as f64 / secs,
            w_messages as f64 / secs,
            (after.bytes - before.bytes) as f64 / secs / 1e6,
            w_cpu,
            w_rss as f64 / MIB,
            if protocol == MdtProtocol::Udp {
                format!(", datagrams sent {out} received {w_messages} (rcvbuf drops {lost})")
            } else {
                String::new()
            }
        );
        leaves.push(sent as f64 / secs);
        messages.push(w_messages as f64 / secs);
        bytes.push((after.bytes - before.bytes) as f64 / secs);
        cpu.push(w_cpu);
        rss.push(w_rss as f64);
    }
    daemon.stop()?;
    sink.shutdown(runtime)?;
    Ok(MdtResult {
        protocol,
        encoding,
        devices: count,
        leaves_per_s: median(leaves.into_iter()),
        messages_per_s: median(messages.into_iter()),
        bytes_per_s: median(bytes.into_iter()),
        cpu_per_mleaf: median(cpu.into_iter()),
        rss: median(rss.into_iter()) as u64,
        dropped,
        send_failures,
        udp: (protocol == MdtProtocol::Udp).then_some(udp),
    })
}

/// Runs every case of [`MDT_CASES`] and prints the report.
pub(super) fn run_mdt(bin: &Path, runtime: &Runtime, quick: bool) -> Result<()> {
    let sizes = MdtSizes::new(quick);
    let nofile = raise_open_files(u64::from(sizes.devices) + 512)?;
    let load_before = load_average();
    eprintln!(
        "==> bench-fleet --mdt ({}), load average {load_before}, open-files soft limit {nofile}",
        if quick { "--quick" } else { "full" }
    );
    let idle_rss = mdt_idle_rss(bin, runtime)?;
    eprintln!(
        "    nl6d with 0 devices: RSS {:.1} MiB",
        idle_rss as f64 / MIB
    );
    let mut results = Vec::new();
    for (protocol, encoding) in MDT_CASES {
        results.push(measure_mdt(bin, runtime, &sizes, protocol, encoding)?);
    }
    let report = MdtReport {
        quick,
        sizes,
        load_before,
        load_after: load_average(),
        idle_rss,
        results,
    };
    print!("{}", report.table());
    println!("\n--- markdown for docs/benchmarks.md ---\n");
    print!("{}", report.markdown());
    Ok(())
}

/// The MDT report.
pub(super) struct MdtReport {
    pub(super) quick: bool,
    pub(super) sizes: MdtSizes,
    pub(super) load_before: String,
    pub(super) load_after: String,
    pub(super) idle_rss: u64,
    pub(super) results: Vec<MdtResult>,
}

impl MdtReport {
    const HEAD: [&'static str; 10] = [
        "transport",
        "encoding",
        "devices",
        "leaves/s",
        "msgs/s",
        "MB/s",
        "B/msg",
        "nl6d CPU-s/M leaves",
        "RSS/device",
        "dropped",
    ];

    pub(super) fn rows(&self) -> Vec<[String; 10]> {
        self.results
            .iter()
            .map(|r| {
                let rss_per_device =
                    (r.rss as f64 - self.idle_rss as f64) / f64::from(r.devices.max(1));
                let mut dropped = format!("{} leaves", thousands(r.dropped));
                if r.send_failures > 0 {
                    dropped.push_str(&format!(", {} send failures", thousands(r.send_failures)));
                }
                if let Some((sent, received, rcvbuf)) = r.udp {
                    let lost = sent.saturating_sub(received);
                    dropped.push_str(&format!(
                        "; datagrams {} sent, {} received ({:.2}% lost, {} rcvbuf)",
                        thousands(sent),
                        thousands(received),
                        100.0 * lost as f64 / (sent.max(1)) as f64,
                        thousands(rcvbuf)
                    ));
                }
                [
                    r.protocol.flag().to_string(),
                    r.encoding.flag().to_string(),
                    thousands(u64::from(r.devices)),
                    thousands(r.leaves_per_s.round() as u64),
                    thousands(r.messages_per_s.round() as u64),
                    format!("{:.2}", r.bytes_per_s / 1e6),
                    thousands((r.bytes_per_s / r.messages_per_s.max(1e-9)).round() as u64),
                    format!("{:.3}", r.cpu_per_mleaf),
                    format!("{:.1} KiB", rss_per_device / 1024.0),
                    dropped,
                ]
            })
            .collect()
    }

    fn header(&self) -> String {
        format!(
            "MDT fleet ({}): {} devices x 10 interfaces, generic-counters, SAMPLE 1 s, \
             warm-up {} s, median of {} windows of {} s; load average before {}, after {}; \
             nl6d with 0 devices {:.1} MiB RSS\n",
            if self.quick { "--quick" } else { "full" },
            thousands(u64::from(self.sizes.devices)),
            self.sizes.warmup.as_secs(),
            self.sizes.windows,
            self.sizes.window.as_secs(),
            self.load_before,
            self.load_after,
            self.idle_rss as f64 / MIB
        )
    }

    pub(super) fn table(&self) -> String {
        let mut out = format!("\n{}\n", self.header());
        out.push_str(&plain_table(&Self::HEAD, &self.rows()));
        out
    }

    pub(super) fn markdown(&self) -> String {
        let mut out = format!("{}\n", self.header());
        out.push_str(&markdown_table(&Self::HEAD, &self.rows()));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(kind: u16, encap: u16, version: u16, len: u32) -> Vec<u8> {
        let mut h = Vec::new();
        for word in [kind, encap, version, 0] {
            h.extend_from_slice(&word.to_be_bytes());
        }
        h.extend_from_slice(&len.to_be_bytes());
        h
    }

    #[test]
    fn reads_mdt_headers() {
        assert_eq!(mdt_header_len(&header(1, 1, 1, 965)), Some(965));
        assert_eq!(mdt_header_len(&header(1, 2, 1, 7)), Some(7));
        assert_eq!(mdt_header_len(&header(2, 1, 1, 0)), None);
        assert_eq!(mdt_header_len(&header(1, 1, 2, 0)), None);
        assert_eq!(mdt_header_len(&header(1, 1, 1, 0)[..11]), None);
    }

    #[test]
    fn parses_proc_net_snmp() {
        let text = "Ip: Forwarding DefaultTTL\nIp: 1 64\n\
            Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors\n\
            Udp: 987 6 3 1005 2 0\nUdpLite: InDatagrams\nUdpLite: 0\n";
        let snmp = UdpSnmp::parse(text).unwrap();
        assert_eq!(
            snmp,
            UdpSnmp {
                in_datagrams: 987,
                out_datagrams: 1005,
                rcvbuf_errors: 2
            }
        );
        assert!(UdpSnmp::parse("Ip: a\nIp: 1\n").is_err());
    }

    /// The TCP and UDP sinks count what a device sends them.
    #[test]
    fn tcp_and_udp_sinks_count_messages() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let tcp = MdtSink::start(&runtime, MdtProtocol::Tcp).unwrap();
        let mut conn = TcpStream::connect(tcp.addr).unwrap();
        for len in [10u32, 3000] {
            conn.write_all(&header(1, 1, 1, len)).unwrap();
            conn.write_all(&vec![7; len as usize]).unwrap();
        }
        drop(conn);
        let udp = MdtSink::start(&runtime, MdtProtocol::Udp).unwrap();
        assert!(udp.rcvbuf.unwrap() > 0);
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut datagram = header(1, 1, 1, 5);
        datagram.extend_from_slice(&[1; 5]);
        socket.send_to(&datagram, udp.addr).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while (tcp.messages() < 2 || udp.messages() < 1) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!((tcp.messages(), tcp.bytes()), (2, 3034));
        assert_eq!((udp.messages(), udp.bytes()), (1, 17));
        tcp.shutdown(&runtime).unwrap();
        udp.shutdown(&runtime).unwrap();
    }
}
