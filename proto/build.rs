//! Compiles `refract/v1/*.proto` with protox (a protobuf compiler in Rust, so no `protoc` is
//! needed) and generates the prost messages and tonic client and server.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let descriptors = protox::compile(["refract/v1/worker.proto"], ["."])?;
    // Upload data as `Bytes`: a chunk of the gateway's request body is sent without a copy.
    tonic_prost_build::configure()
        .bytes(".refract.v1.UploadChunk.data")
        .compile_fds(descriptors)?;
    println!("cargo:rerun-if-changed=refract");
    Ok(())
}
