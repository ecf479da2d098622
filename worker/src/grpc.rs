//! The worker's gRPC server (`refract.v1.Worker`) over any [`Processor`], with the standard gRPC
//! health service, and the mapping between the contract's messages and the processor's types.

use std::sync::Arc;

use refract_core::EventError;
use refract_proto::v1::{
    self, Applied, Duplicate, ErrorCode, EventReply, HydrateReply, HydrateRequest, event_reply,
    worker_server::{Worker, WorkerServer},
};
use tonic::{Request, Response, Status};
use tracing::Instrument;

use crate::api::{EventRequest, Hydration, Outcome, Processor};

/// Serves a [`Processor`] as `refract.v1.Worker`.
pub struct WorkerService<P> {
    processor: Arc<P>,
}

impl<P: Processor + 'static> WorkerService<P> {
    /// The service of `processor`, ready to add to a tonic server.
    pub fn server(processor: Arc<P>) -> WorkerServer<Self> {
        WorkerServer::new(WorkerService { processor })
    }
}

/// The contract's error code of an [`EventError`].
pub fn error_code(e: &EventError) -> ErrorCode {
    match e {
        EventError::UnknownHandler(_) => ErrorCode::UnknownHandler,
        EventError::BadArguments(_) => ErrorCode::BadArguments,
        EventError::HandlerFailed(_) => ErrorCode::HandlerFailed,
        EventError::Internal(_) => ErrorCode::Internal,
    }
}

/// The [`EventError`] of a contract error.
pub fn event_error(e: v1::EventError) -> EventError {
    match ErrorCode::try_from(e.code).unwrap_or(ErrorCode::Internal) {
        ErrorCode::UnknownHandler => EventError::UnknownHandler(e.message),
        ErrorCode::BadArguments => EventError::BadArguments(e.message),
        ErrorCode::HandlerFailed => EventError::HandlerFailed(e.message),
        ErrorCode::Internal | ErrorCode::Unspecified => EventError::Internal(e.message),
    }
}

/// The reply message of a processed event.
pub fn reply(result: Result<Outcome, EventError>) -> EventReply {
    let outcome = match result {
        Ok(Outcome::Applied { version, frame }) => event_reply::Outcome::Applied(Applied {
            version,
            frame: frame.to_string(),
        }),
        Ok(Outcome::Duplicate) => event_reply::Outcome::Duplicate(Duplicate {}),
        Err(e) => event_reply::Outcome::Error(v1::EventError {
            code: error_code(&e) as i32,
            message: e.to_string(),
        }),
    };
    EventReply {
        outcome: Some(outcome),
    }
}

/// The result a reply message stands for.
pub fn outcome(reply: EventReply) -> Result<Outcome, EventError> {
    match reply.outcome {
        Some(event_reply::Outcome::Applied(a)) => Ok(Outcome::Applied {
            version: a.version,
            frame: a.frame.into(),
        }),
        Some(event_reply::Outcome::Duplicate(_)) => Ok(Outcome::Duplicate),
        Some(event_reply::Outcome::Error(e)) => Err(event_error(e)),
        None => Err(EventError::Internal(
            "the worker sent an empty reply".into(),
        )),
    }
}

/// The [`Hydration`] of a hydrate reply.
///
/// # Errors
/// [`EventError::Internal`] when its state is not a JSON object.
pub fn hydration(reply: HydrateReply) -> Result<Hydration, EventError> {
    let state = serde_json::from_str(&reply.state_json)
        .map_err(|e| EventError::Internal(format!("the worker sent an unreadable state: {e}")))?;
    Ok(Hydration {
        version: reply.version,
        last_seq: reply.last_seq,
        state,
    })
}

#[tonic::async_trait]
impl<P: Processor + 'static> Worker for WorkerService<P> {
    async fn process_event(
        &self,
        request: Request<v1::EventRequest>,
    ) -> Result<Response<EventReply>, Status> {
        let span = tracing::info_span!("process_event");
        refract_telemetry::extract(request.metadata(), &span);
        let req = request.into_inner();
        if req.seq == 0 || req.token.is_empty() {
            return Err(Status::invalid_argument(
                "an event needs a token and a seq >= 1",
            ));
        }
        let args = if req.args_json.is_empty() {
            serde_json::Value::Null
        } else {
            match serde_json::from_str(&req.args_json) {
                Ok(v) => v,
                Err(e) => {
                    return Ok(Response::new(reply(Err(EventError::BadArguments(
                        format!("arguments are not JSON: {e}"),
                    )))));
                }
            }
        };
        let event = EventRequest {
            token: req.token,
            seq: req.seq,
            handler: req.handler,
            args,
        };
        let result = self.processor.process(event).instrument(span).await;
        Ok(Response::new(reply(result)))
    }

    async fn hydrate(
        &self,
        request: Request<HydrateRequest>,
    ) -> Result<Response<HydrateReply>, Status> {
        let span = tracing::info_span!("hydrate");
        refract_telemetry::extract(request.metadata(), &span);
        let token = request.into_inner().token;
        if token.is_empty() {
            return Err(Status::invalid_argument("hydrate needs a token"));
        }
        match self.processor.hydrate(&token).instrument(span).await {
            Ok(h) => Ok(Response::new(HydrateReply {
                version: h.version,
                last_seq: h.last_seq,
                state_json: serde_json::Value::Object(h.state).to_string(),
            })),
            Err(e) => Err(Status::unavailable(e.to_string())),
        }
    }
}
