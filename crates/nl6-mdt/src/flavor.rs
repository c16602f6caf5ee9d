//! MDT dial-out on nl6's dial-out seam: an [`MdtFlavor`] dials gRPC, TCP or UDP from
//! the device address and turns every sample into one collection per sensor path.

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use futures::future::BoxFuture;
use http::uri::PathAndQuery;
use nl6_dialout::{
    CallSpec, ConfigError, DeviceNet, DialoutConfig, Flavor, FlavorError, PushSession, RunSlot,
    Sample, SampleEncoder, SampleKind, Session, SessionContext, WireMessage,
};
use nl6_resolver::{LeafSet, Snapshot};
use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint};

use crate::collect::{Collector, MdtCounters};
use crate::config::{MdtConfigError, MdtSessionConfig, MdtTransport};
use crate::encode::{EncodedMessage, MdtEncoding};
use crate::frame::frame;
use crate::transport::{TcpPush, UdpPush};

/// The gRPC method of MDT dial-out.
pub const MDT_DIALOUT: &str = "/mdt_dialout.gRPCMdtDialout/MdtDialout";

/// A Cisco MDT dial-out flavor: one destination's transport, encoding, subscription
/// and sensor paths. Register it in a [`nl6_dialout::FlavorRegistry`]; devices whose
/// dial-out block names it stream MDT.
///
/// The block's `collector`, `mode`, `sample_interval` and `tls` apply as for every
/// flavor (`on-change` = event-driven: a full collection first, then per state event
/// the changed interfaces of the paths that carry state); its `encoding` is not used.
/// Its `paths` decide what is read at each sample: keep the default
/// (`/interfaces/interface[name=*]/state`), which reads every interface's state and
/// counters.
#[derive(Debug, Clone)]
pub struct MdtFlavor {
    name: String,
    summary: String,
    config: Arc<MdtSessionConfig>,
    counters: Arc<MdtCounters>,
}

impl MdtFlavor {
    /// The flavor `mdt-<transport>` (`mdt-grpc`, `mdt-tcp`, `mdt-udp`) of `config`.
    pub fn new(config: MdtSessionConfig) -> Result<MdtFlavor, MdtConfigError> {
        let name = format!("mdt-{}", config.transport);
        MdtFlavor::named(name, config)
    }

    /// The flavor of `config` under its own `name` (several MDT destinations side by
    /// side).
    pub fn named(
        name: impl Into<String>,
        config: MdtSessionConfig,
    ) -> Result<MdtFlavor, MdtConfigError> {
        config.validate()?;
        let paths: Vec<&str> = config.sensor_paths.iter().map(|p| p.as_str()).collect();
        let summary = format!(
            "Cisco IOS XR MDT dial-out over {} ({}), subscription {}: {}",
            match config.transport {
                MdtTransport::Grpc => "gRPC on /mdt_dialout.gRPCMdtDialout/MdtDialout",
                MdtTransport::Tcp => "TCP with the 12-byte header",
                MdtTransport::Udp => "UDP, one message per datagram",
            },
            config.encoding,
            config.subscription_id,
            paths.join(", ")
        );
        Ok(MdtFlavor {
            name: name.into(),
            summary,
            config: Arc::new(config),
            counters: Arc::default(),
        })
    }

    /// The settings it sends with.
    pub fn config(&self) -> &MdtSessionConfig {
        &self.config
    }

    /// The same flavor counting into `counters` (shared by several flavors, e.g. every
    /// MDT destination of a fleet).
    pub fn with_counters(mut self, counters: Arc<MdtCounters>) -> MdtFlavor {
        self.counters = counters;
        self
    }

    /// Its counters.
    pub fn counters(&self) -> &Arc<MdtCounters> {
        &self.counters
    }
}

impl Flavor for MdtFlavor {
    fn name(&self) -> &str {
        &self.name
    }

    fn summary(&self) -> &str {
        &self.summary
    }

    fn check(&self, cfg: &DialoutConfig) -> Result<(), ConfigError> {
        if self.config.transport == MdtTransport::Udp && cfg.tls.enabled {
            return Err(ConfigError::at(
                nl6_dialout::ConfigKey::Tls,
                "tls.enabled",
                "UDP dial-out cannot carry TLS: set tls.enabled false",
            ));
        }
        Ok(())
    }

    fn open<'a>(
        &'a self,
        net: &'a DeviceNet,
        ctx: &'a SessionContext,
    ) -> BoxFuture<'a, Result<Session, FlavorError>> {
        Box::pin(async move {
            let encoder = MdtSampleEncoder::new(
                self.config.clone(),
                ctx.hostname.clone(),
                self.counters.clone(),
                ctx.run().clone(),
            );
            let session = match self.config.transport {
                MdtTransport::Grpc => {
                    let connection = net.http2().await?;
                    let spec = CallSpec::new(PathAndQuery::from_static(MDT_DIALOUT))
                        .count_responses(ctx.responses());
                    PushSession::new(connection.call(spec).await?, encoder)
                }
                MdtTransport::Tcp => PushSession::new(TcpPush::new(net.tcp().await?), encoder),
                MdtTransport::Udp => PushSession::new(UdpPush(net.udp().await?), encoder),
            };
            Ok(Session::Push(session))
        })
    }
}

/// Turns samples into MDT wire messages for one session.
struct MdtSampleEncoder {
    transport: MdtTransport,
    encoding: MdtEncoding,
    collector: Collector,
    /// Every leaf of every interface, compiled on first use: an event-driven session's
    /// samples read state only, so its full collections read the device again with it.
    all_leaves: Option<nl6_resolver::Selection>,
    /// The run the device takes part in: its tag goes into `subscription_id_str`.
    run: RunSlot,
}

impl MdtSampleEncoder {
    fn new(
        config: Arc<MdtSessionConfig>,
        hostname: Arc<str>,
        counters: Arc<MdtCounters>,
        run: RunSlot,
    ) -> MdtSampleEncoder {
        MdtSampleEncoder {
            transport: config.transport,
            encoding: config.encoding,
            collector: Collector::new(
                hostname,
                config.subscription_id.as_str().into(),
                config.sensor_paths.as_slice().into(),
                config.encoding,
                config.max_payload(),
                counters,
            ),
            all_leaves: None,
            run,
        }
    }
}

/// `MdtDialoutArgs{ReqId, data}`, encoded.
fn dialout_args(req_id: i64, data: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(
        1 + encoded_len_varint(req_id as u64)
            + 1
            + encoded_len_varint(data.len() as u64)
            + data.len(),
    );
    if req_id != 0 {
        encode_key(1, WireType::Varint, &mut out);
        encode_varint(req_id as u64, &mut out);
    }
    if !data.is_empty() {
        encode_key(2, WireType::LengthDelimited, &mut out);
        encode_varint(data.len() as u64, &mut out);
        out.put_slice(data);
    }
    out.freeze()
}

impl SampleEncoder for MdtSampleEncoder {
    fn encode(&mut self, sample: &Sample<'_>, out: &mut Vec<WireMessage>) {
        let event = (sample.kind == SampleKind::Event).then_some(sample.masks);
        let (transport, encoding) = (self.transport, self.encoding);
        let run = self.run.ledger();
        self.collector
            .set_run_tag(run.as_ref().and_then(|ledger| ledger.tag()));
        // A full collection carries the counters too, even when the session's samples
        // were read for state changes only (event-driven).
        let reread;
        let snapshot = if event.is_none()
            && sample
                .masks
                .iter()
                .all(|m| m.intersect(LeafSet::COUNTERS).is_empty())
        {
            let names = sample.model.names();
            let all = self
                .all_leaves
                .get_or_insert_with(|| nl6_resolver::Selection::all(names.len()));
            reread = Snapshot::capture(sample.model, sample.snapshot.timestamp_ns(), all);
            &reread
        } else {
            sample.snapshot
        };
        self.collector.collect(
            snapshot,
            sample.model.spec().speed_bps,
            event,
            |collection_id, message: &EncodedMessage| {
                let bytes = match transport {
                    MdtTransport::Grpc => dialout_args(collection_id as i64, &message.payload),
                    MdtTransport::Tcp | MdtTransport::Udp => frame(encoding, &message.payload),
                };
                out.push(WireMessage {
                    bytes,
                    updates: message.leaves,
                });
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::recycle;
    use crate::proto::mdt_dialout::MdtDialoutArgs;
    use crate::row::Row;
    use prost::Message;

    #[test]
    fn dialout_args_are_what_prost_writes() {
        for (req_id, data) in [(0i64, &b""[..]), (1, b"x"), (77_598, &[7u8; 300][..])] {
            let ours = dialout_args(req_id, data);
            let theirs = MdtDialoutArgs {
                req_id,
                data: data.to_vec(),
                ..Default::default()
            }
            .encode_to_vec();
            assert_eq!(&ours[..], &theirs[..], "ReqId {req_id}");
        }
    }

    #[test]
    fn recycled_rows_keep_their_allocation() {
        let rows: Vec<Row<'static>> = Vec::with_capacity(16);
        let name = String::from("Ethernet1");
        let mut borrowed: Vec<Row<'_>> = recycle(rows);
        assert_eq!(borrowed.capacity(), 16);
        borrowed.push(Row {
            name: &name,
            ifindex: 1,
            speed_bps: 0,
            reading: nl6_resolver::InterfaceReading {
                state: nl6_ifstate::IfState {
                    link: nl6_ifstate::LinkStatus::Up,
                    admin: nl6_ifstate::AdminStatus::Up,
                    last_change_ns: 0,
                },
                counters: nl6_ifstate::Counters::default(),
            },
        });
        let back: Vec<Row<'static>> = recycle(borrowed);
        assert!(back.is_empty());
        assert_eq!(back.capacity(), 16);
    }
}
