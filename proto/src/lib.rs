//! The gateway ↔ worker gRPC contract of Refract: the `refract.v1` package of
//! `refract/v1/worker.proto`, compiled with prost and tonic (`worker_client::WorkerClient`,
//! `worker_server::{Worker, WorkerServer}` and the messages).

/// Version 1 of the contract.
pub mod v1 {
    #![allow(missing_docs, clippy::all, clippy::pedantic)]
    tonic::include_proto!("refract.v1");
}
