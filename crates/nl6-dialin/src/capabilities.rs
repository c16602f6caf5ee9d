//! The Capabilities RPC.

use nl6_gnmi::proto::gnmi::{CapabilityResponse, Encoding, ModelData};
use nl6_ifstate::DeviceModel;

/// gNMI version served.
pub const GNMI_VERSION: &str = "0.10.0";

/// The interfaces model every device serves.
pub const MODEL_NAME: &str = "openconfig-interfaces";

/// Organization of [`MODEL_NAME`].
pub const MODEL_ORGANIZATION: &str = "OpenConfig working group";

/// Version of [`MODEL_NAME`] whose state leaves are served.
pub const MODEL_VERSION: &str = "3.7.0";

/// The Capabilities answer of `device`: the interfaces model, then the models of the
/// device's other subtrees.
pub(crate) fn capabilities(device: &DeviceModel) -> CapabilityResponse {
    let mut supported_models = vec![ModelData {
        name: MODEL_NAME.to_string(),
        organization: MODEL_ORGANIZATION.to_string(),
        version: MODEL_VERSION.to_string(),
    }];
    if let Some(subtrees) = device.subtrees() {
        supported_models.extend(subtrees.models().iter().map(|m| ModelData {
            name: m.name.to_string(),
            organization: m.organization.to_string(),
            version: m.version.to_string(),
        }));
    }
    CapabilityResponse {
        supported_models,
        supported_encodings: vec![
            Encoding::Json as i32,
            Encoding::JsonIetf as i32,
            Encoding::Proto as i32,
        ],
        g_nmi_version: GNMI_VERSION.to_string(),
        extension: Vec::new(),
    }
}
