//! Prints the OpenAPI document of the nl6 REST API (no fleet needed):
//! `cargo run -p nl6-rest --example openapi > openapi.json`.

fn main() {
    println!("{}", nl6_rest::openapi_json());
}
