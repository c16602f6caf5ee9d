//! Arista gNMIReverse: `Publish(stream SubscribeResponse)` and, with `publish: "get"`,
//! `PublishGet(stream GetResponse)`, both client-streaming and fire-and-forget.

use futures::future::BoxFuture;
use http::uri::PathAndQuery;
use nl6_resolver::{LeafSet, WireEncoder};

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

/// Encodes a sample as ONE `gnmi.SubscribeResponse{update: Notification}` with every
/// leaf of the sample: what gnmireverse, SONiC and Nokia send.
#[derive(Debug, Clone, Default)]
pub struct SubscribeResponseEncoder {
    wire: Option<WireEncoder>,
}

impl SubscribeResponseEncoder {
    /// The device's wire encoder (its path table is looked up on first use).
    fn wire(&mut self, sample: &Sample<'_>) -> &mut WireEncoder {
        self.wire
            .get_or_insert_with(|| WireEncoder::new(sample.model.names()))
    }
}

impl SampleEncoder for SubscribeResponseEncoder {
    fn encode(&mut self, sample: &Sample<'_>, out: &mut Vec<WireMessage>) {
        let mut bytes = Vec::new();
        let (snapshot, masks, encoding, target) = (
            sample.snapshot,
            sample.masks,
            sample.encoding,
            sample.target,
        );
        let updates =
            self.wire(sample)
                .encode_response(snapshot, masks, encoding, Some(target), &mut bytes);
        out.push(WireMessage {
            bytes: bytes.into(),
            updates: updates as u64,
        });
    }
}

/// Encodes a SAMPLE tick as the `gnmi.GetResponse` a Get of the configured paths
/// answers: one notification per path, in configuration order, all read at the tick's
/// instant. (A `GetResponse{notification: [n]}` and a `SubscribeResponse{update: n}`
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
            let (snapshot, encoding, target) = (sample.snapshot, sample.encoding, sample.target);
            updates += self.0.wire(sample).encode_response(
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
