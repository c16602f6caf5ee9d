//! Examples of embedding and extending nl6; run them with
//! `cargo run -p nl6-examples --example <name>`:
//!
//! - `toy_flavor`: a new dial-out flavor implemented against `nl6_dialout::Flavor`,
//!   registered in a fleet and used through its REST API, with no change to the
//!   exporter.
//! - `embed_fleet`: a fleet inside your own program, queried over gNMI.
