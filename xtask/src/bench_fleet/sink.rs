//! The SAMPLE sink: where the fleet pushes during the throughput windows.

use super::*;

/// Receives the fleet's Publish streams during the SAMPLE windows.
///
/// `Light` (the default) is one tonic server on the same tonic/h2 stack as
/// nl6-collector serving the Publish method of every dial-out flavor (see
/// [`LightService`]) that only walks each message's top-level fields (leaf count and
/// timestamp) instead of building prost structs: nl6-collector's full decode costs
/// ~3x nl6d's CPU per leaf, so on this 2-core machine it, not nl6d, would limit 10,000
/// devices. `Full` is the nl6-collector library (`--nl6-collector`, gNMIReverse only).
pub(super) enum Sink {
    Light(LightSink),
    Full(CollectorHandle),
}

/// What a sink counted so far.
pub(super) struct SinkCounts {
    pub(super) streams_active: u64,
    pub(super) leaves: u64,
    /// Notification timestamp → receipt, cumulative.
    pub(super) latency: LatencyHist,
}

impl Sink {
    pub(super) fn start(runtime: &Runtime, full: bool, tls: Option<&BenchTls>) -> Result<Sink> {
        Ok(if full {
            Sink::Full(start_collector(runtime, tls)?)
        } else {
            Sink::Light(LightSink::start(runtime, tls)?)
        })
    }

    pub(super) fn local_addr(&self) -> SocketAddr {
        match self {
            Sink::Light(s) => s.addr,
            Sink::Full(c) => c.local_addr(),
        }
    }

    pub(super) fn streams_active(&self) -> u64 {
        match self {
            Sink::Light(s) => s.counters.streams_active.load(Relaxed),
            Sink::Full(c) => c.stats().streams_active,
        }
    }

    pub(super) fn counts(&self) -> SinkCounts {
        match self {
            Sink::Light(s) => SinkCounts {
                streams_active: s.counters.streams_active.load(Relaxed),
                leaves: s.counters.leaves.load(Relaxed),
                latency: LatencyHist::Light(
                    s.counters.latency.iter().map(|b| b.load(Relaxed)).collect(),
                ),
            },
            Sink::Full(c) => {
                let stats = c.stats();
                SinkCounts {
                    streams_active: stats.streams_active,
                    leaves: stats.leaves,
                    latency: LatencyHist::Full(stats.latency),
                }
            }
        }
    }

    pub(super) fn shutdown(self, runtime: &Runtime) -> Result<()> {
        match self {
            Sink::Light(s) => s.shutdown(runtime),
            Sink::Full(c) => Ok(runtime.block_on(c.shutdown())?),
        }
    }
}

/// A cumulative latency histogram of either sink.
pub(super) enum LatencyHist {
    Light(Vec<u64>),
    Full(nl6_collector::Latency),
}

impl LatencyHist {
    /// p50 and p99 in ms of the samples recorded after `earlier`.
    pub(super) fn percentiles_since(&self, earlier: &LatencyHist) -> Option<(f64, f64)> {
        match (self, earlier) {
            (LatencyHist::Light(now), LatencyHist::Light(before)) => {
                let delta: Vec<u64> = now.iter().zip(before).map(|(a, b)| a - b).collect();
                Some((
                    light_percentile(&delta, 0.5)?,
                    light_percentile(&delta, 0.99)?,
                ))
            }
            (LatencyHist::Full(now), LatencyHist::Full(before)) => {
                let delta = now.since(before);
                let ms = |q| delta.percentile(q).map(|d| d.as_secs_f64() * 1e3);
                Some((ms(0.5)?, ms(0.99)?))
            }
            _ => None,
        }
    }
}

/// Light-sink latency buckets: 0.1 ms up to 100 ms, 10 ms up to 10 s, then one overflow.
pub(super) const FINE_BUCKETS: u64 = 1_000;
pub(super) const COARSE_BUCKETS: u64 = 990;
pub(super) const LATENCY_BUCKETS: usize = (FINE_BUCKETS + COARSE_BUCKETS + 1) as usize;

pub(super) fn latency_bucket(micros: u64) -> usize {
    let b = if micros < 100_000 {
        micros / 100
    } else {
        (FINE_BUCKETS + (micros - 100_000) / 10_000).min(FINE_BUCKETS + COARSE_BUCKETS)
    };
    b as usize
}

/// The middle of bucket `index`, in ms.
pub(super) fn latency_bucket_ms(index: usize) -> f64 {
    let i = index as u64;
    if i < FINE_BUCKETS {
        (i as f64 + 0.5) * 0.1
    } else {
        100.0 + ((i - FINE_BUCKETS) as f64 + 0.5) * 10.0
    }
}

pub(super) fn light_percentile(buckets: &[u64], q: f64) -> Option<f64> {
    let total: u64 = buckets.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = ((q * total as f64).ceil() as u64).max(1);
    let mut seen = 0;
    for (i, n) in buckets.iter().enumerate() {
        seen += n;
        if seen >= rank {
            return Some(latency_bucket_ms(i));
        }
    }
    None
}

/// 100 ms slots per second in the arrival histogram.
pub(super) const ARRIVAL_SLOTS: usize = 10;

/// The 100 ms slot of its second that `unix_ns` falls in.
pub(super) fn arrival_slot(unix_ns: u64) -> usize {
    ((unix_ns % 1_000_000_000) / 100_000_000) as usize
}

/// Counters of the light sink.
pub(super) struct LightCounters {
    pub(super) streams_active: AtomicU64,
    pub(super) leaves: AtomicU64,
    /// Leaves by the 100 ms slot of the second they arrived in (wall clock).
    pub(super) arrivals: [AtomicU64; ARRIVAL_SLOTS],
    pub(super) malformed: AtomicU64,
    /// TLS handshakes that failed (`--tls`).
    pub(super) tls_failures: AtomicU64,
    pub(super) latency: Vec<AtomicU64>,
}

impl LightCounters {
    /// Counts one received message.
    fn record(&self, summary: Option<Summary>) {
        let Some(summary) = summary else {
            self.malformed.fetch_add(1, Relaxed);
            return;
        };
        let received = unix_now_ns();
        self.leaves.fetch_add(summary.updates, Relaxed);
        self.arrivals[arrival_slot(received)].fetch_add(summary.updates, Relaxed);
        let micros = received.saturating_sub(summary.timestamp_ns) / 1_000;
        self.latency[latency_bucket(micros)].fetch_add(1, Relaxed);
    }
}

/// The light sink (see [`Sink`]).
pub(super) struct LightSink {
    pub(super) addr: SocketAddr,
    pub(super) counters: Arc<LightCounters>,
    pub(super) stop: tokio::sync::oneshot::Sender<()>,
    pub(super) server: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
}

impl LightSink {
    /// Serves on a free loopback port, with TLS when `tls` is given.
    pub(super) fn start(runtime: &Runtime, tls: Option<&BenchTls>) -> Result<LightSink> {
        let counters = Arc::new(LightCounters {
            streams_active: AtomicU64::new(0),
            leaves: AtomicU64::new(0),
            arrivals: std::array::from_fn(|_| AtomicU64::new(0)),
            malformed: AtomicU64::new(0),
            tls_failures: AtomicU64::new(0),
            latency: (0..LATENCY_BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        });
        let listen = SocketAddr::from(([127, 0, 0, 1], 0));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let stopped = async move {
            let _ = stopped.await;
        };
        let router = tonic::transport::Server::builder()
            .add_service(LightService::<ReversePublish>::new(&counters))
            .add_service(LightService::<SonicPublish>::new(&counters))
            .add_service(LightService::<NokiaPublish>::new(&counters));
        let (addr, server) = match tls {
            None => {
                let incoming = runtime
                    .block_on(async { tonic::transport::server::TcpIncoming::bind(listen) })
                    .context("light sink: bind")?;
                let addr = incoming.local_addr().context("light sink: local address")?;
                let server = runtime.spawn(router.serve_with_incoming_shutdown(incoming, stopped));
                (addr, server)
            }
            Some(tls) => {
                let listener = runtime
                    .block_on(tokio::net::TcpListener::bind(listen))
                    .context("light sink: bind")?;
                let addr = listener.local_addr().context("light sink: local address")?;
                let incoming = {
                    let _entered = runtime.enter();
                    Box::pin(tls_incoming(listener, tls.server.clone(), counters.clone()))
                };
                let server = runtime.spawn(router.serve_with_incoming_shutdown(incoming, stopped));
                (addr, server)
            }
        };
        Ok(LightSink {
            addr,
            counters,
            stop,
            server,
        })
    }

    pub(super) fn shutdown(self, runtime: &Runtime) -> Result<()> {
        let _ = self.stop.send(());
        let malformed = self.counters.malformed.load(Relaxed);
        let tls_failures = self.counters.tls_failures.load(Relaxed);
        if tls_failures > 0 {
            eprintln!("    warning: light sink: {tls_failures} TLS handshakes failed");
        }
        let mut server = self.server;
        let waited = runtime
            .block_on(async { tokio::time::timeout(Duration::from_secs(10), &mut server).await });
        match waited {
            Ok(joined) => joined
                .context("light sink task failed")?
                .context("light sink stopped with an error")?,
            Err(_) => server.abort(),
        }
        if malformed > 0 {
            bail!("light sink: {malformed} messages were not SubscribeResponse updates");
        }
        Ok(())
    }
}

/// The `Publish` method of one dial-out flavor, as [`LightService`] serves it.
pub(super) trait PublishMethod: Send + Sync + 'static {
    const FLAVOR: Flavor;
}

/// gNMIReverse: client streaming, one `Empty` reply at the end.
pub(super) struct ReversePublish;
/// SONiC: bidi streaming, no response (SONiC's own server sends none).
pub(super) struct SonicPublish;
/// Nokia SR OS: bidi streaming, one empty `PublishResponse` per message received.
pub(super) struct NokiaPublish;

impl PublishMethod for ReversePublish {
    const FLAVOR: Flavor = Flavor::GnmiReverse;
}
impl PublishMethod for SonicPublish {
    const FLAVOR: Flavor = Flavor::Sonic;
}
impl PublishMethod for NokiaPublish {
    const FLAVOR: Flavor = Flavor::Nokia;
}

/// One flavor's service of the light sink: every method of it is handled as `Publish`,
/// counted in the counters all three services share.
pub(super) struct LightService<M>(Arc<LightCounters>, std::marker::PhantomData<M>);

impl<M> LightService<M> {
    fn new(counters: &Arc<LightCounters>) -> Self {
        LightService(counters.clone(), std::marker::PhantomData)
    }
}

impl<M> Clone for LightService<M> {
    fn clone(&self) -> Self {
        LightService(self.0.clone(), std::marker::PhantomData)
    }
}

impl<M: PublishMethod> tonic::server::NamedService for LightService<M> {
    const NAME: &'static str = M::FLAVOR.service();
}

impl<M, B> tonic::codegen::Service<tonic::codegen::http::Request<B>> for LightService<M>
where
    M: PublishMethod,
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
            let mut grpc = tonic::server::Grpc::new(SummaryCodec)
                .apply_max_message_size_config(Some(64 * 1024 * 1024), None);
            Ok(match M::FLAVOR {
                Flavor::GnmiReverse => grpc.client_streaming(LightPublish(counters), request).await,
                Flavor::Sonic => {
                    let bidi = LightBidi {
                        counters,
                        reply_each: false,
                    };
                    grpc.streaming(bidi, request).await
                }
                Flavor::Nokia => {
                    let bidi = LightBidi {
                        counters,
                        reply_each: true,
                    };
                    grpc.streaming(bidi, request).await
                }
            })
        })
    }
}

/// One gNMIReverse `Publish` call of the light sink.
pub(super) struct LightPublish(Arc<LightCounters>);

/// Counts an open stream in `streams_active` while it lives, however the call ends.
pub(super) struct ActiveStream(Arc<LightCounters>);

impl ActiveStream {
    fn open(counters: Arc<LightCounters>) -> ActiveStream {
        counters.streams_active.fetch_add(1, Relaxed);
        ActiveStream(counters)
    }
}

impl Drop for ActiveStream {
    fn drop(&mut self) {
        self.0.streams_active.fetch_sub(1, Relaxed);
    }
}

impl tonic::server::ClientStreamingService<Option<Summary>> for LightPublish {
    type Response = ();
    type Future = tonic::codegen::BoxFuture<tonic::Response<()>, tonic::Status>;

    fn call(&mut self, request: tonic::Request<tonic::Streaming<Option<Summary>>>) -> Self::Future {
        let counters = self.0.clone();
        Box::pin(async move {
            let active = ActiveStream::open(counters);
            let mut stream = request.into_inner();
            while let Some(summary) = stream.message().await? {
                active.0.record(summary);
            }
            Ok(tonic::Response::new(()))
        })
    }
}

/// One bidi `Publish` call of the light sink (SONiC, Nokia): the requests are read as
/// the response stream is polled; with `reply_each` every message received yields one
/// empty response, without none. The response stream ends when the requests do.
pub(super) struct LightBidi {
    counters: Arc<LightCounters>,
    reply_each: bool,
}

type Replies = futures::stream::BoxStream<'static, Result<(), tonic::Status>>;

impl tonic::server::StreamingService<Option<Summary>> for LightBidi {
    type Response = ();
    type ResponseStream = Replies;
    type Future = tonic::codegen::BoxFuture<tonic::Response<Replies>, tonic::Status>;

    fn call(&mut self, request: tonic::Request<tonic::Streaming<Option<Summary>>>) -> Self::Future {
        let (counters, reply_each) = (self.counters.clone(), self.reply_each);
        Box::pin(async move {
            let active = ActiveStream::open(counters);
            let requests = request.into_inner();
            let replies =
                futures::stream::unfold(Some((requests, active)), move |state| async move {
                    let (mut requests, active) = state?;
                    loop {
                        match requests.message().await {
                            Ok(Some(summary)) => {
                                active.0.record(summary);
                                if reply_each {
                                    return Some((Ok(()), Some((requests, active))));
                                }
                            }
                            Ok(None) => return None,
                            Err(status) => return Some((Err(status), None)),
                        }
                    }
                });
            Ok(tonic::Response::new(Box::pin(replies) as Replies))
        })
    }
}

/// What the light sink keeps of one `SubscribeResponse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Summary {
    pub(super) updates: u64,
    pub(super) timestamp_ns: u64,
}

/// Decodes [`Summary`]s (`None` for anything but an update) and encodes the replies
/// (`Empty`, `PublishResponse`: empty messages, no bytes).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct SummaryCodec;

impl tonic::codec::Codec for SummaryCodec {
    type Encode = ();
    type Decode = Option<Summary>;
    type Encoder = SummaryCodec;
    type Decoder = SummaryCodec;

    fn encoder(&mut self) -> Self::Encoder {
        SummaryCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        SummaryCodec
    }
}

impl tonic::codec::Encoder for SummaryCodec {
    type Item = ();
    type Error = tonic::Status;

    /// An empty protobuf message encodes to no bytes.
    fn encode(&mut self, _: (), _: &mut tonic::codec::EncodeBuf<'_>) -> Result<(), Self::Error> {
        Ok(())
    }
}

impl tonic::codec::Decoder for SummaryCodec {
    type Item = Option<Summary>;
    type Error = tonic::Status;

    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Self::Item>, Self::Error> {
        use bytes::Buf as _;
        let bytes = src.copy_to_bytes(src.remaining());
        Ok(Some(summarize(&bytes)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrival_slots_split_the_second() {
        assert_eq!(arrival_slot(1_700_000_000_000_000_000), 0);
        assert_eq!(arrival_slot(1_700_000_000_099_999_999), 0);
        assert_eq!(arrival_slot(1_700_000_000_100_000_000), 1);
        assert_eq!(arrival_slot(1_700_000_000_999_999_999), 9);
    }

    #[test]
    fn light_latency_buckets() {
        assert_eq!(latency_bucket(0), 0);
        assert_eq!(latency_bucket(150), 1);
        assert_eq!(latency_bucket(99_999), 999);
        assert_eq!(latency_bucket(100_000), 1_000);
        assert_eq!(latency_bucket(u64::MAX), LATENCY_BUCKETS - 1);
        let mut hist = vec![0u64; LATENCY_BUCKETS];
        for micros in (1..=100u64).map(|ms| ms * 1_000) {
            hist[latency_bucket(micros)] += 1;
        }
        let p50 = light_percentile(&hist, 0.5).unwrap();
        let p99 = light_percentile(&hist, 0.99).unwrap();
        assert!((50.0..=50.2).contains(&p50), "{p50}");
        assert!((99.0..=100.1).contains(&p99), "{p99}");
        assert_eq!(light_percentile(&[0; 3], 0.5), None);
    }
}
