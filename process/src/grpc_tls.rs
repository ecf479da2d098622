//! TLS on the gRPC link between gateways and workers, off unless configured: the options, which
//! a gateway, a worker and the `healthcheck` command share (in one container they read the same
//! variables), and the tonic configurations they make.
//!
//! A worker with `--grpc-tls-cert`/`--grpc-tls-key` serves TLS; with `--grpc-tls-ca` too, it
//! requires every client to present a certificate signed by that authority (mutual TLS). A
//! gateway with `--grpc-tls-ca` dials workers over TLS and checks their certificates against that
//! authority, for the name `--grpc-tls-domain` (workers are dialled by address, so their
//! certificates name the deployment, not each pod); with `--grpc-tls-cert`/`--grpc-tls-key` it
//! presents its own. Files are PEM; they are read when the process starts.

use std::path::{Path, PathBuf};

use clap::Args;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity, ServerTlsConfig};

/// The gRPC link's TLS options (see the module docs).
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct GrpcTlsArgs {
    /// PEM certificate this process presents on the gateway–worker gRPC link (a worker's as
    /// server, a gateway's as client).
    #[arg(long, env = "REFRACT_GRPC_TLS_CERT", requires = "grpc_tls_key")]
    pub grpc_tls_cert: Option<PathBuf>,
    /// PEM private key of --grpc-tls-cert.
    #[arg(long, env = "REFRACT_GRPC_TLS_KEY", requires = "grpc_tls_cert")]
    pub grpc_tls_key: Option<PathBuf>,
    /// PEM certificate of the authority that signs the other side's certificates: a worker then
    /// accepts only gateways presenting one; a gateway checks the workers' against it.
    #[arg(long, env = "REFRACT_GRPC_TLS_CA")]
    pub grpc_tls_ca: Option<PathBuf>,
    /// The name the workers' certificates must carry (checked by gateways).
    #[arg(
        long,
        default_value = "refract-worker",
        env = "REFRACT_GRPC_TLS_DOMAIN"
    )]
    pub grpc_tls_domain: String,
}

/// Why the gRPC link's TLS cannot be set up.
#[derive(thiserror::Error, Debug)]
pub enum GrpcTlsError {
    /// A certificate or key file cannot be read.
    #[error("gRPC TLS: cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file holds no PEM block of the kind needed.
    #[error("gRPC TLS: {path} holds no PEM {label}")]
    NotPem {
        /// The file.
        path: PathBuf,
        /// The kind of block looked for (`CERTIFICATE`, `PRIVATE KEY`).
        label: String,
    },
    /// The options do not make a working setup.
    #[error("gRPC TLS: {0}")]
    Options(&'static str),
}

/// The endpoint of the worker at `addr` (`host:port`) as a gateway or a health check dials it:
/// `https://` with `tls` (see [`GrpcTlsArgs::client`]), else `http://`.
///
/// # Errors
/// When `addr` does not make a URI, or `tls` cannot be used.
pub fn endpoint(
    addr: &str,
    tls: Option<ClientTlsConfig>,
) -> Result<Endpoint, tonic::transport::Error> {
    match tls {
        Some(tls) => Endpoint::from_shared(format!("https://{addr}"))?.tls_config(tls),
        None => Endpoint::from_shared(format!("http://{addr}")),
    }
}

impl GrpcTlsArgs {
    /// A worker's server configuration: `None` without a certificate (plain gRPC), else mutual
    /// TLS (a worker's TLS always checks its clients: one-way TLS would let anyone who reaches
    /// the port call it, and its own health check could not verify it).
    ///
    /// # Errors
    /// [`GrpcTlsError::Options`] for a certificate without an authority or the other way round,
    /// [`GrpcTlsError::Read`] for an unreadable file and [`GrpcTlsError::NotPem`] for one that
    /// holds no PEM block of the expected kind.
    pub fn server(&self) -> Result<Option<ServerTlsConfig>, GrpcTlsError> {
        match (self.grpc_tls_cert.is_some(), &self.grpc_tls_ca) {
            (false, None) => Ok(None),
            (true, Some(ca)) => {
                let ca = Certificate::from_pem(read_pem(ca, "CERTIFICATE")?);
                let identity = self.identity()?.ok_or(GrpcTlsError::Options(
                    "--grpc-tls-cert needs --grpc-tls-key",
                ))?;
                Ok(Some(
                    ServerTlsConfig::new().identity(identity).client_ca_root(ca),
                ))
            }
            (false, Some(_)) => Err(GrpcTlsError::Options(
                "a worker with --grpc-tls-ca needs --grpc-tls-cert and --grpc-tls-key",
            )),
            (true, None) => Err(GrpcTlsError::Options(
                "a worker with --grpc-tls-cert needs --grpc-tls-ca: its TLS is mutual",
            )),
        }
    }

    /// A gateway's (or a health check's) client configuration: `None` without an authority
    /// (plain gRPC).
    ///
    /// # Errors
    /// [`GrpcTlsError::Options`] for a certificate without an authority to check workers by,
    /// [`GrpcTlsError::Read`] for an unreadable file and [`GrpcTlsError::NotPem`] for one that
    /// holds no PEM block of the expected kind.
    pub fn client(&self) -> Result<Option<ClientTlsConfig>, GrpcTlsError> {
        let Some(ca) = &self.grpc_tls_ca else {
            return match self.grpc_tls_cert {
                Some(_) => Err(GrpcTlsError::Options(
                    "a gateway with --grpc-tls-cert needs --grpc-tls-ca to check the workers",
                )),
                None => Ok(None),
            };
        };
        let mut config = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(read_pem(ca, "CERTIFICATE")?))
            .domain_name(self.grpc_tls_domain.clone());
        if let Some(identity) = self.identity()? {
            config = config.identity(identity);
        }
        Ok(Some(config))
    }

    /// These options as command-line arguments (what `stack` passes a child).
    pub fn to_args(&self) -> Vec<String> {
        let GrpcTlsArgs {
            grpc_tls_cert,
            grpc_tls_key,
            grpc_tls_ca,
            grpc_tls_domain,
        } = self;
        let files = [
            ("--grpc-tls-cert", grpc_tls_cert),
            ("--grpc-tls-key", grpc_tls_key),
            ("--grpc-tls-ca", grpc_tls_ca),
        ];
        let mut args: Vec<String> = files
            .into_iter()
            .filter_map(|(flag, path)| path.as_ref().map(|p| format!("{flag}={}", p.display())))
            .collect();
        args.push(format!("--grpc-tls-domain={grpc_tls_domain}"));
        args
    }

    fn identity(&self) -> Result<Option<Identity>, GrpcTlsError> {
        match (&self.grpc_tls_cert, &self.grpc_tls_key) {
            (Some(cert), Some(key)) => Ok(Some(Identity::from_pem(
                read_pem(cert, "CERTIFICATE")?,
                read_pem(key, "PRIVATE KEY")?,
            ))),
            _ => Ok(None),
        }
    }
}

/// No TLS: what every option's default gives.
impl Default for GrpcTlsArgs {
    fn default() -> Self {
        GrpcTlsArgs {
            grpc_tls_cert: None,
            grpc_tls_key: None,
            grpc_tls_ca: None,
            grpc_tls_domain: "refract-worker".into(),
        }
    }
}

/// The file at `path`, which must hold a PEM block whose label ends with `label`
/// (`CERTIFICATE`; `PRIVATE KEY` also matches `RSA PRIVATE KEY` and `EC PRIVATE KEY`), so a
/// wrong file is an error at startup rather than a failed handshake on every call.
fn read_pem(path: &Path, label: &str) -> Result<Vec<u8>, GrpcTlsError> {
    let bytes = std::fs::read(path).map_err(|source| GrpcTlsError::Read {
        path: path.to_owned(),
        source,
    })?;
    let text = String::from_utf8_lossy(&bytes);
    let labelled = text.lines().any(|line| {
        line.strip_prefix("-----BEGIN ")
            .and_then(|rest| rest.strip_suffix("-----"))
            .is_some_and(|found| found.ends_with(label))
    });
    if labelled {
        Ok(bytes)
    } else {
        Err(GrpcTlsError::NotPem {
            path: path.to_owned(),
            label: label.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(argv: &[&str]) -> Result<GrpcTlsArgs, clap::Error> {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            tls: GrpcTlsArgs,
        }
        use clap::Parser as _;
        Cli::try_parse_from(std::iter::once("x").chain(argv.iter().copied())).map(|c| c.tls)
    }

    #[test]
    fn off_by_default_and_options_survive_the_round_trip() {
        assert_eq!(parse(&[]).unwrap(), GrpcTlsArgs::default());
        let on = GrpcTlsArgs {
            grpc_tls_cert: Some("/t/c.pem".into()),
            grpc_tls_key: Some("/t/k.pem".into()),
            grpc_tls_ca: Some("/t/ca.pem".into()),
            grpc_tls_domain: "workers.example".into(),
        };
        let args = on.to_args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_eq!(parse(&args).unwrap(), on);
    }

    #[test]
    fn setups_that_cannot_work_are_refused() {
        assert!(
            parse(&["--grpc-tls-cert=/c.pem"]).is_err(),
            "a certificate needs its key"
        );
        let ca_only_worker = parse(&["--grpc-tls-ca=/ca.pem"]).unwrap();
        assert!(matches!(
            ca_only_worker.server(),
            Err(GrpcTlsError::Options(_))
        ));
        let cert_only_gateway =
            parse(&["--grpc-tls-cert=/c.pem", "--grpc-tls-key=/k.pem"]).unwrap();
        assert!(matches!(
            cert_only_gateway.client(),
            Err(GrpcTlsError::Options(_))
        ));
        let missing = parse(&["--grpc-tls-ca=/nonexistent/ca.pem"]).unwrap();
        assert!(matches!(missing.client(), Err(GrpcTlsError::Read { .. })));
        let cert_only_worker = parse(&["--grpc-tls-cert=/c.pem", "--grpc-tls-key=/k.pem"]).unwrap();
        assert!(matches!(
            cert_only_worker.server(),
            Err(GrpcTlsError::Options(_))
        ));
        let junk = std::env::temp_dir().join(format!("refract-junk-{}.pem", std::process::id()));
        std::fs::write(&junk, "this is not a certificate").unwrap();
        let not_pem = parse(&[&format!("--grpc-tls-ca={}", junk.display())]).unwrap();
        assert!(matches!(not_pem.client(), Err(GrpcTlsError::NotPem { .. })));
        let _ = std::fs::remove_file(&junk);
        assert!(GrpcTlsArgs::default().server().unwrap().is_none());
        assert!(GrpcTlsArgs::default().client().unwrap().is_none());
        let plain = endpoint("w:1", GrpcTlsArgs::default().client().unwrap()).unwrap();
        assert_eq!(plain.uri().scheme_str(), Some("http"));
    }
}
