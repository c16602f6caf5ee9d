//! Arista gNMIReverse: `Publish(stream SubscribeResponse)` and, with `publish: "get"`,
//! `PublishGet(stream GetResponse)`, both client-streaming and fire-and-forget.

use futures::future::BoxFuture;
use http::uri::PathAndQuery;
use nl6_resolver::{LeafSet, ResponseEncoder};

use super::Flavor;
use crate::config::{ConfigError, ConfigKey, DialoutConfig, FlavorOption, Mode, Publish};
use crate::error::FlavorError;
use crate::net::DeviceNet;
use crate::session::{PushSession, Sample, SampleEncoder, Session, SessionContext, WireMessage};

/// The gRPC method of gNMIReverse subscriptions.
pub const GNMIREVERSE_PUBLISH: &str = "/gnmireverse.gNMIReverse/Publish";
/// The gRPC method of gNMIReverse Get results.
pub const GNMIREVERSE_PUBLISH_GET: &str = "/gnmireverse.gNMIReverse/PublishGet";

/// The Arista gNMIReverse flavor (`gnmireverse`).
#[derive(Debug, Clone, Copy, Default)]
pub struct GnmiReverse;

impl Flavor for GnmiReverse {
    fn name(&self) -> &str {
        crate::config::DEFAULT_FLAVOR
    }

    fn summary(&self) -> &str {
        "Arista gNMIReverse: SubscribeResponses on /gnmireverse.gNMIReverse/Publish, or with publish \"get\" GetResponses on /gnmireverse.gNMIReverse/PublishGet"
    }

    fn options(&self) -> &[FlavorOption] {
        &[FlavorOption::Publish]
    }

    fn check(&self, cfg: &DialoutConfig) -> Result<(), ConfigError> {
        if cfg.publish == Publish::Get && cfg.mode != Mode::Sample {
            return Err(ConfigError::new(
                ConfigKey::Publish,
                "get issues the paths as a Get every sample_interval, so it needs mode sample",
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
            let connection = net.http2().await?;
            let encoder = SubscribeResponseEncoder::default();
            let session = match ctx.config.publish {
                Publish::Subscribe => {
                    let call = connection
                        .client_streaming(PathAndQuery::from_static(GNMIREVERSE_PUBLISH))
                        .await?;
                    PushSession::new(call, encoder)
                }
                Publish::Get => {
                    let call = connection
                        .client_streaming(PathAndQuery::from_static(GNMIREVERSE_PUBLISH_GET))
                        .await?;
                    PushSession::new(call, GetResponseEncoder(encoder))
                }
            };
            Ok(Session::Push(session))
        })
    }
}

/// Encodes a sample as `gnmi.SubscribeResponse{update: Notification}`s in the device's
/// notification shape: ONE with every leaf of the sample when flat (what gnmireverse,
/// SONiC and Nokia send), one per list entry otherwise (Junos: each with Juniper's
/// telemetry header).
#[derive(Debug, Clone, Default)]
pub struct SubscribeResponseEncoder {
    wire: Option<ResponseEncoder>,
}

impl SubscribeResponseEncoder {
    /// The device's response encoder (its path table is looked up on first use).
    fn wire(&mut self, sample: &Sample<'_>) -> &mut ResponseEncoder {
        self.wire
            .get_or_insert_with(|| ResponseEncoder::new(sample.model))
    }
}

impl SampleEncoder for SubscribeResponseEncoder {
    fn encode(&mut self, sample: &Sample<'_>, out: &mut Vec<WireMessage>) {
        let (snapshot, masks, encoding, target) = (
            sample.snapshot,
            sample.masks,
            sample.encoding,
            sample.target,
        );
        self.wire(sample).encode(
            snapshot,
            masks,
            encoding,
            Some(target),
            &mut |bytes, updates| {
                out.push(WireMessage {
                    bytes: bytes.into(),
                    updates: updates as u64,
                })
            },
        );
    }

    fn encode_delete(
        &mut self,
        at_ns: u64,
        target: &str,
        paths: Vec<nl6_gnmi::proto::gnmi::Path>,
        out: &mut Vec<WireMessage>,
    ) {
        if paths.is_empty() {
            return;
        }
        out.push(WireMessage {
            bytes: nl6_resolver::delete_response(at_ns, Some(target), paths).into(),
            updates: 0,
        });
    }
}

/// Encodes a SAMPLE tick as the `gnmi.GetResponse` a Get of the configured paths
/// answers: one notification per path (per path and list entry in a per-entry shape), in
/// configuration order, all read at the tick's instant. (A `GetResponse{notification: [n]}` and a `SubscribeResponse{update: n}`
/// are the same bytes, so each path's notification comes from the same wire encoder.)
#[derive(Debug, Clone)]
pub struct GetResponseEncoder(pub SubscribeResponseEncoder);

impl SampleEncoder for GetResponseEncoder {
    fn encode(&mut self, sample: &Sample<'_>, out: &mut Vec<WireMessage>) {
        let mut bytes = Vec::new();
        let mut updates = 0;
        let mut masks = vec![LeafSet::EMPTY; sample.masks.len()];
        for path in sample.paths {
            for (idx, mask) in masks.iter_mut().enumerate() {
                let wanted = sample.masks.get(idx).copied().unwrap_or(LeafSet::EMPTY);
                *mask = path.leaves(idx).intersect(wanted);
            }
            let (encoding, target) = (sample.encoding, sample.target);
            // Each path's notification holds only its own other-subtree leaves.
            let narrowed;
            let snapshot = if sample.snapshot.extras().is_empty() {
                sample.snapshot
            } else {
                narrowed = sample.snapshot.narrowed(path);
                &narrowed
            };
            updates += self.0.wire(sample).encode_notifications(
                snapshot,
                &masks,
                encoding,
                Some(target),
                &mut bytes,
            );
        }
        out.push(WireMessage {
            bytes: bytes.into(),
            updates: updates as u64,
        });
    }
}
