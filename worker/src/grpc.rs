//! The worker's gRPC service (`refract.v1.Worker`) over any [`Processor`]. Messages are read and
//! written by `refract_proto::convert`; failures travel in-band in the replies, so a gRPC status
//! from a worker always means a transport failure.
//!
//! Each call runs in a SERVER span (`refract_telemetry::rpc_server_span`) continuing the
//! gateway's trace; a failed call's span has an ERROR status and its error code.

use std::sync::Arc;

use futures_util::StreamExt;
use refract_proto::convert;
use refract_proto::v1::{
    self, EventReply, HydrateReply, HydrateRequest, TouchReply, TouchRequest, UploadChunk,
    UploadReply,
    upload_chunk::Part,
    worker_server::{Worker, WorkerServer},
};
use refract_proto::{BodyError, ErrorCode, Failure, Outcome, Processor};
use tonic::{Request, Response, Status, Streaming};
use tracing::Instrument;

/// Records how a call whose span is `span` ended: its gRPC status (always OK: failures are in
/// the reply) and, for a failure, an ERROR status with its code.
fn ended<T>(span: &tracing::Span, result: &Result<T, Failure>) {
    refract_telemetry::rpc_status(span, Ok(()));
    if let Err(failure) = result {
        refract_telemetry::failed(span, failure.code.as_str(), &failure.message);
    }
}

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

#[tonic::async_trait]
impl<P: Processor + 'static> Worker for WorkerService<P> {
    async fn process_event(
        &self,
        request: Request<v1::EventRequest>,
    ) -> Result<Response<EventReply>, Status> {
        let span = refract_telemetry::rpc_server_span("ProcessEvent", request.metadata());
        let result = match convert::event(request.into_inner()) {
            Ok(event) => {
                refract_telemetry::set_int(&span, "seq", event.seq);
                self.processor.process(event).instrument(span.clone()).await
            }
            Err(failure) => Err(failure),
        };
        if let Ok(Outcome::Applied { version, .. }) = &result {
            refract_telemetry::set_int(&span, "version", *version);
        }
        ended(&span, &result);
        Ok(Response::new(convert::event_reply(result)))
    }

    async fn hydrate(
        &self,
        request: Request<HydrateRequest>,
    ) -> Result<Response<HydrateReply>, Status> {
        let span = refract_telemetry::rpc_server_span("Hydrate", request.metadata());
        let HydrateRequest { token, tab } = request.into_inner();
        let result = if token.is_empty() {
            Err(Failure::new(ErrorCode::Internal, "hydrate needs a token"))
        } else {
            self.processor
                .hydrate(&token, &tab)
                .instrument(span.clone())
                .await
        };
        ended(&span, &result);
        Ok(Response::new(convert::hydrate_reply(result)))
    }

    async fn touch(&self, request: Request<TouchRequest>) -> Result<Response<TouchReply>, Status> {
        let span = refract_telemetry::rpc_server_span("Touch", request.metadata());
        let tokens = request.into_inner().tokens;
        let result = self.processor.touch(&tokens).instrument(span.clone()).await;
        ended(&span, &result);
        Ok(Response::new(convert::touch_reply(result)))
    }

    /// Reads the header, then hands the data to the processor as a stream it pulls at its own
    /// pace (HTTP/2 flow control holds the gateway back meanwhile). A broken or reset stream
    /// ends the body with an error, or drops this call: either way the partial file goes.
    async fn upload(
        &self,
        request: Request<Streaming<UploadChunk>>,
    ) -> Result<Response<UploadReply>, Status> {
        let span = refract_telemetry::rpc_server_span("Upload", request.metadata());
        let mut stream = request.into_inner();
        let first = stream.message().await?;
        let result = match convert::upload_request(first) {
            Ok(header) => {
                let body = stream
                    .map(|chunk| match chunk {
                        Ok(UploadChunk {
                            part: Some(Part::Data(data)),
                        }) => Ok(data),
                        Ok(_) => Err(BodyError("a second header in an upload".into())),
                        Err(status) => Err(BodyError(status.message().to_owned())),
                    })
                    .boxed();
                self.processor
                    .upload(header, body)
                    .instrument(span.clone())
                    .await
            }
            Err(failure) => Err(failure),
        };
        ended(&span, &result);
        Ok(Response::new(convert::upload_reply(result)))
    }
}
