//! Bytes on the wire and encode time per MDT encoding.

fn main() {}
