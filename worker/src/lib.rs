//! Event processing for Refract, shared by the embedded mode and the worker processes. It serves
//! the contract of `refract_proto` ([`Processor`](refract_proto::Processor)) and depends on no
//! gateway code.
//!
//! * [`store`]: what a state store offers: a token's lock, its shards, its version and last applied
//!   event sequence, committed together;
//! * [`memory`]: the in-memory store of the embedded mode, with an in-process delta feed;
//! * [`redis`]: the Redis store of the distributed mode;
//! * [`engine`]: the [`Engine`], a processor over any store and the app's states;
//! * [`tasks`]: background tasks: their sections, heartbeats, and the sweep that records the
//!   tasks of dead workers interrupted;
//! * [`uploads`]: uploaded files, kept on disk until the event that names them;
//! * [`grpc`]: the worker's gRPC service;
//! * [`serve`]: the worker process: its options and its server.

pub mod engine;
mod flush;
pub mod grpc;
pub mod memory;
mod panics;
pub mod redis;
pub mod serve;
pub mod store;
pub mod tasks;
pub mod uploads;

pub use engine::Engine;
pub use memory::MemoryStore;
pub use store::{Commit, Lease, Loaded, StateStore, StoreError};
pub use tasks::{TaskLimits, TaskSupervisor};
pub use uploads::{UploadConfig, UploadDirError, Uploads};
