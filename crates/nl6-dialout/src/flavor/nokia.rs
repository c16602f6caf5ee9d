//! Nokia SR OS dial-out telemetry: `Nokia.SROS.DialoutTelemetry/Publish`, bidi, with
//! the metadata `subscription-name` and `system-name` on every stream.

use futures::future::BoxFuture;
use http::header::{HeaderName, HeaderValue};
use http::uri::PathAndQuery;

use super::{Flavor, SubscribeResponseEncoder};
use crate::config::{ConfigError, ConfigKey, DialoutConfig, FlavorOption};
use crate::error::FlavorError;
use crate::grpc::CallSpec;
use crate::net::DeviceNet;
use crate::session::{PushSession, Session, SessionContext};

/// The gRPC method of Nokia SR OS dial-out.
pub const NOKIA_PUBLISH: &str = "/Nokia.SROS.DialoutTelemetry/Publish";

/// The `subscription-name` sent when the block names no `subscription`.
pub const DEFAULT_SUBSCRIPTION: &str = "nl6";

/// The Nokia SR OS flavor (`nokia`): SubscribeResponses out, one empty
/// `PublishResponse` per message back (counted as `responses_received`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Nokia;

impl Flavor for Nokia {
    fn name(&self) -> &str {
        "nokia"
    }

    fn summary(&self) -> &str {
        "Nokia SR OS: SubscribeResponses on /Nokia.SROS.DialoutTelemetry/Publish (bidi, PublishResponses counted) with metadata subscription-name and system-name"
    }

    fn options(&self) -> &[FlavorOption] {
        &[FlavorOption::Subscription]
    }

    fn check(&self, cfg: &DialoutConfig) -> Result<(), ConfigError> {
        let name = &cfg.subscription;
        if name.len() > 255 || HeaderValue::from_str(name).is_err() || name.trim() != name {
            return Err(ConfigError::new(
                ConfigKey::Subscription,
                format!(
                    "{name:?} cannot be sent as metadata: use up to 255 visible ASCII characters without leading or trailing spaces"
                ),
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
            let subscription = match ctx.config.subscription.as_str() {
                "" => DEFAULT_SUBSCRIPTION,
                name => name,
            };
            let metadata = |text: &str| {
                HeaderValue::from_str(text).map_err(|_| {
                    FlavorError::Message(format!("{text:?} cannot be sent as metadata"))
                })
            };
            let spec = CallSpec::new(PathAndQuery::from_static(NOKIA_PUBLISH))
                .metadata(
                    HeaderName::from_static("subscription-name"),
                    metadata(subscription)?,
                )
                .metadata(
                    HeaderName::from_static("system-name"),
                    metadata(&ctx.hostname)?,
                )
                .count_responses(ctx.responses());
            let connection = net.http2().await?;
            let call = connection.call(spec).await?;
            Ok(Session::Push(PushSession::new(
                call,
                SubscribeResponseEncoder::default(),
            )))
        })
    }
}
