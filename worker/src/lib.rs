//! Event processing for Refract, shared by the embedded mode and the worker processes.
//!
//! * [`api`]: the contract between gateway and worker: [`Processor`] (process one event, hydrate a
//!   token) and [`DeltaFeed`] (the deltas published for a token);
//! * [`store`]: what a state store offers: a token's lock, its shards, its version and last applied
//!   event sequence, committed together;
//! * [`memory`]: the in-memory store of the embedded mode, with an in-process delta feed;
//! * [`redis`]: the Redis store and the Redis pub/sub delta feed of the distributed mode;
//! * [`engine`]: the [`Engine`], a [`Processor`] over any store and the app's states;
//! * [`grpc`]: the worker's gRPC server and the contract's message mapping.

#![warn(missing_docs)]

pub mod api;
pub mod engine;
pub mod grpc;
pub mod memory;
pub mod redis;
pub mod store;

pub use api::{DeltaFeed, EventRequest, FeedError, Hydration, Outcome, Processor, Subscription};
pub use engine::Engine;
pub use memory::MemoryStore;
pub use store::{Commit, Lease, Loaded, StateStore, StoreError};
