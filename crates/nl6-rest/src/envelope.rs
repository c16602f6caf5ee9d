//! The `{success, message, data}` envelope of the device endpoints.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A successful device-endpoint reply.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Envelope<T> {
    /// Always `true` (errors reply `{"success": false, "message"}`).
    pub success: bool,
    /// A human-readable summary.
    pub message: String,
    /// The payload.
    pub data: T,
}

impl<T> Envelope<T> {
    /// A successful reply.
    pub fn ok(message: impl Into<String>, data: T) -> Envelope<T> {
        Envelope {
            success: true,
            message: message.into(),
            data,
        }
    }
}
