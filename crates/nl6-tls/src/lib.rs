//! nl6-tls (work in progress).
