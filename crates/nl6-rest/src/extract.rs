//! The JSON body extractor: checks the content type and size and names the field at fault.

use std::net::Ipv4Addr;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::body_error::BodyError;
use crate::error::ApiError;

/// A JSON request body. Unlike `axum::Json`, every rejection is a [`BodyError`] with a
/// message that names the field path (`gnmi_dialout.tls`) and the line/column.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

/// Parses `bytes` as `T`, naming the field path of a shape error.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, BodyError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(BodyError::Empty);
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => BodyError::Shape {
                path: if path == "." { String::new() } else { path },
                message: inner.to_string(),
            },
            _ => BodyError::Syntax(inner.to_string()),
        }
    })?;
    de.end().map_err(|e| BodyError::Syntax(e.to_string()))?;
    Ok(value)
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = BodyError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        match content_type {
            Some(ct) if is_json(&ct) => {}
            Some(ct) => return Err(BodyError::ContentType(format!("{ct:?}"))),
            None => return Err(BodyError::ContentType("none".to_string())),
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                BodyError::TooLarge
            } else {
                BodyError::Read(rejection.body_text())
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// The path parameters of a route, as text (a malformed path is an [`ApiError`], not
/// axum's plain-text rejection).
#[derive(Debug, Clone)]
pub struct PathText<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for PathText<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(t)| PathText(t))
            .map_err(|e| ApiError::invalid("path", e.body_text()))
    }
}

/// Parses the `{ip}` of a device path.
pub(crate) fn device_ip(text: &str) -> Result<Ipv4Addr, ApiError> {
    text.parse()
        .map_err(|_| ApiError::invalid("ip", format!("{text:?} is not an IPv4 address")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::CreateDevices;

    #[test]
    fn content_types() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(is_json("application/merge-patch+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/x-www-form-urlencoded"));
    }

    #[test]
    fn errors_name_the_path_and_position() {
        let e = parse_json::<CreateDevices>(br#"{"start_ip":"127.0.0.1","bogus":1}"#).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("unknown field `bogus`") && text.contains("line 1"),
            "{text}"
        );
        let e = parse_json::<CreateDevices>(
            br#"{"start_ip":"x","gnmi_dialout":{"collector":"h:1","tls":{"nope":true}}}"#,
        )
        .unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("gnmi_dialout.tls") && text.contains("`nope`"),
            "{text}"
        );
        let e = parse_json::<CreateDevices>(br#"{"start_ip": "#).unwrap_err();
        assert!(matches!(e, BodyError::Syntax(_)), "{e}");
        let e = parse_json::<CreateDevices>(br#"{"start_ip":"a"} x"#).unwrap_err();
        assert!(matches!(e, BodyError::Syntax(_)), "{e}");
        assert_eq!(
            parse_json::<CreateDevices>(b" \n").unwrap_err(),
            BodyError::Empty
        );
        let e = parse_json::<CreateDevices>(br#"{"device_count":1}"#).unwrap_err();
        assert!(e.to_string().contains("missing field `start_ip`"), "{e}");
    }
}
