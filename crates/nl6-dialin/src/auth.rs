//! Optional username/password authentication (gRPC metadata, as pygnmi and gnmic send it).

use tonic::Status;

/// Checks the `username` and `password` metadata of a request against `expected`.
pub(crate) fn check(
    expected: Option<&(String, String)>,
    headers: &http::HeaderMap,
) -> Result<(), Status> {
    let Some((user, password)) = expected else {
        return Ok(());
    };
    let given = |name: &str| headers.get(name).map(|v| v.as_bytes());
    match (given("username"), given("password")) {
        (Some(u), Some(p)) => {
            // Evaluate both comparisons, so timing says nothing about which one failed.
            let ok =
                constant_time_eq(u, user.as_bytes()) & constant_time_eq(p, password.as_bytes());
            if ok {
                Ok(())
            } else {
                Err(Status::unauthenticated("wrong username or password"))
            }
        }
        _ => Err(Status::unauthenticated(
            "username and password metadata are required",
        )),
    }
}

/// Compares two byte strings in time independent of where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(!x));
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> http::HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    http::HeaderName::from_static(k),
                    http::HeaderValue::from_static(v),
                )
            })
            .collect()
    }

    #[test]
    fn credentials_are_checked_only_when_configured() {
        let creds = ("admin".to_string(), "s3cret".to_string());
        assert!(check(None, &headers(&[])).is_ok());
        assert!(
            check(
                Some(&creds),
                &headers(&[("username", "admin"), ("password", "s3cret")])
            )
            .is_ok()
        );
        for bad in [
            headers(&[]),
            headers(&[("username", "admin")]),
            headers(&[("username", "admin"), ("password", "s3cre")]),
            headers(&[("username", "admin"), ("password", "s3cret!")]),
            headers(&[("username", "root"), ("password", "s3cret")]),
        ] {
            let err = check(Some(&creds), &bad).unwrap_err();
            assert_eq!(err.code(), tonic::Code::Unauthenticated);
        }
        assert!(constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"a", b""));
    }
}
