//! Cisco IOS XR model-driven telemetry (MDT).

mod config;
mod encode;
mod flavor;
mod frame;
pub mod proto;
mod proto_gen;
mod row;
mod sensor;
mod transport;

pub use config::{
    DEFAULT_MAX_DATAGRAM, MAX_DATAGRAM, MIN_DATAGRAM, MdtConfigError, MdtSessionConfig,
    MdtTransport,
};
pub use encode::{
    Collection, CollectionEncoder, EncodedMessage, MAX_TCP_MESSAGE, MdtEncoding, UnknownEncoding,
};
pub use flavor::{MDT_DIALOUT, MdtCounters, MdtFlavor};
pub use frame::{ENCAP_GPB, ENCAP_JSON, HEADER_LEN, HEADER_VERSION, Header, TYPE_DATA, frame};
pub use proto_gen::{generate_proto, proto_of};
pub use row::{Row, Value};
pub use sensor::{FieldKind, FieldSpec, SensorPath, UnknownSensorPath};
