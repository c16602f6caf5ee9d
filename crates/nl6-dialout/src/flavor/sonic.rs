//! SONiC telemetry dial-out: `gnmi.sonic.gNMIDialOut/Publish`, bidi; a destination group
//! of collectors tried in order.

use std::time::Duration;

use futures::future::BoxFuture;
use http::uri::PathAndQuery;

use super::{Flavor, SubscribeResponseEncoder};
use crate::config::{Encoding, FlavorOption};
use crate::error::FlavorError;
use crate::grpc::CallSpec;
use crate::net::DeviceNet;
use crate::session::{PushSession, Session, SessionContext};

/// The gRPC method of SONiC dial-out.
pub const SONIC_PUBLISH: &str = "/gnmi.sonic.gNMIDialOut/Publish";

/// SONiC's default `retry_interval`: the wait once every collector of the group failed.
pub const DEFAULT_RETRY_INTERVAL: Duration = Duration::from_secs(30);

/// The SONiC flavor (`sonic`): SubscribeResponses out, `PublishResponse`s (never
/// required) read and counted as `responses_received`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sonic;

impl Flavor for Sonic {
    fn name(&self) -> &str {
        "sonic"
    }

    fn summary(&self) -> &str {
        "SONiC gNMIDialOut: SubscribeResponses on /gnmi.sonic.gNMIDialOut/Publish (bidi, PublishResponses counted); collectors = a destination group tried in order"
    }

    fn encodings(&self) -> &[Encoding] {
        // SONiC sends JSON_IETF (its default), ASCII, BYTES or PROTO; nl6 has no
        // ASCII or BYTES values.
        &[Encoding::JsonIetf, Encoding::Proto]
    }

    fn options(&self) -> &[FlavorOption] {
        &[
            FlavorOption::Collectors,
            FlavorOption::RetryInterval,
            FlavorOption::Failback,
        ]
    }

    fn retry_interval(&self) -> Option<Duration> {
        Some(DEFAULT_RETRY_INTERVAL)
    }

    fn open<'a>(
        &'a self,
        net: &'a DeviceNet,
        ctx: &'a SessionContext,
    ) -> BoxFuture<'a, Result<Session, FlavorError>> {
        Box::pin(async move {
            let connection = net.http2().await?;
            let spec = CallSpec::new(PathAndQuery::from_static(SONIC_PUBLISH))
                .count_responses(ctx.responses());
            let call = connection.call(spec).await?;
            Ok(Session::Push(PushSession::new(
                call,
                SubscribeResponseEncoder::default(),
            )))
        })
    }
}
