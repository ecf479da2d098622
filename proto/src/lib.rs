//! The contract of Refract, with no I/O: everything the gateway and the worker agree on, so that
//! both build on this crate and neither on the other.
//!
//! * [`v1`]: the gRPC messages and services of `refract/v1/worker.proto` (prost and tonic);
//! * [`processor`]: the transport-independent calls (process an event, hydrate a token, subscribe
//!   to its deltas) that the engine serves and the gateway makes;
//! * [`convert`]: those calls' types as gRPC messages and back;
//! * [`frame`]: the browser frames of `docs/protocol.md`, parsed and encoded;
//! * [`error`]: every wire error code ([`ErrorCode`]) and the typed [`Failure`];
//! * [`layout`]: the Redis key layout and the forms of a Redis address.
//!
//! A new frame, RPC or error code is a change here plus its users.

pub mod convert;
pub mod error;
pub mod frame;
pub mod layout;
pub mod processor;

pub use error::{ErrorCode, Failure};
pub use frame::{ClientFrame, Rejected, ServerFrame};
pub use processor::{
    BodyError, DeltaFeed, EventRequest, FeedError, Hydration, Outcome, Processor, Published,
    Subscription, UploadBody, UploadRequest, Uploaded,
};

/// Version 1 of the gRPC contract.
pub mod v1 {
    #![allow(missing_docs, clippy::all, clippy::pedantic)]
    tonic::include_proto!("refract.v1");
}
