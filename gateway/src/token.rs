//! Client tokens: issued by the server, unguessable, and verifiable by any gateway sharing the
//! secret, so a token the server did not issue is rejected without a store lookup.
//!
//! A token is `base64url(16 random bytes) "." base64url(first 16 bytes of HMAC-SHA256(key, random))`
//! (HMAC: RFC 2104), 45 characters.
//!
//! Behind the gateway a token is known only by its **store key**, a keyed hash of it
//! ([`TokenIssuer::store_key`]): workers, Redis key names and channels never see the token itself,
//! so whoever can list Redis's keys (or read a worker's logs) cannot take a session over.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

const NONCE_BYTES: usize = 16;
const TAG_BYTES: usize = 16;

/// Issues and verifies tokens with one secret key.
#[derive(Clone)]
pub struct TokenIssuer {
    key: [u8; 32],
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenIssuer(..)")
    }
}

/// The system's random source failed (no entropy available).
#[derive(thiserror::Error, Debug)]
#[error("no randomness available for tokens: {0}")]
pub struct RandomnessError(String);

fn random<const N: usize>() -> Result<[u8; N], RandomnessError> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| RandomnessError(e.to_string()))?;
    Ok(buf)
}

impl TokenIssuer {
    /// An issuer whose key is derived (SHA-256) from `secret`: every gateway given the same secret
    /// accepts the same tokens.
    pub fn from_secret(secret: &str) -> Self {
        TokenIssuer {
            key: Sha256::digest(secret.as_bytes()).into(),
        }
    }

    /// An issuer with a fresh random key: tokens are valid only for this process.
    ///
    /// # Errors
    /// [`RandomnessError`] when the system has no randomness.
    pub fn random() -> Result<Self, RandomnessError> {
        Ok(TokenIssuer { key: random()? })
    }

    fn mac(&self, nonce: &[u8]) -> Hmac<Sha256> {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(nonce);
        mac
    }

    /// The issuer of `secret`, or of a fresh random key without one (see [`TokenIssuer::random`]).
    ///
    /// # Errors
    /// [`RandomnessError`] when there is no secret and the system has no randomness.
    pub fn from_secret_or_random(secret: Option<&str>) -> Result<Self, RandomnessError> {
        match secret {
            Some(s) => Ok(TokenIssuer::from_secret(s)),
            None => TokenIssuer::random(),
        }
    }

    /// A new token.
    ///
    /// # Errors
    /// [`RandomnessError`] when the system has no randomness.
    pub fn issue(&self) -> Result<String, RandomnessError> {
        let nonce: [u8; NONCE_BYTES] = random()?;
        let tag = self.mac(&nonce).finalize().into_bytes();
        Ok(format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(nonce),
            URL_SAFE_NO_PAD.encode(&tag[..TAG_BYTES])
        ))
    }

    /// The name the session of `token` has behind the gateway (in the store, on the delta feed,
    /// in every call to a worker): `base64url` of the first 16 bytes of
    /// HMAC-SHA256(key, `"store:" token`), 22 characters. It cannot be turned back into the token,
    /// and without the secret it cannot be computed from one.
    pub fn store_key(&self, token: &str) -> String {
        let mut mac = self.mac(b"store:");
        mac.update(token.as_bytes());
        URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..TAG_BYTES])
    }

    /// Whether `token` was issued with this key (checked in constant time).
    pub fn verify(&self, token: &str) -> bool {
        let Some((nonce, tag)) = token.split_once('.') else {
            return false;
        };
        let (Ok(nonce), Ok(tag)) = (URL_SAFE_NO_PAD.decode(nonce), URL_SAFE_NO_PAD.decode(tag))
        else {
            return false;
        };
        nonce.len() == NONCE_BYTES
            && tag.len() == TAG_BYTES
            && self.mac(&nonce).verify_truncated_left(&tag).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_verify_and_forgeries_do_not() {
        let issuer = TokenIssuer::from_secret("s3cret");
        let token = issuer.issue().unwrap();
        assert_eq!(token.len(), 45);
        assert!(issuer.verify(&token));
        assert!(
            TokenIssuer::from_secret("s3cret").verify(&token),
            "same secret, same tokens"
        );
        assert!(!TokenIssuer::from_secret("other").verify(&token));
        assert_ne!(issuer.issue().unwrap(), token);
        let mut tampered = token.clone().into_bytes();
        tampered[3] = if tampered[3] == b'A' { b'B' } else { b'A' };
        assert!(!issuer.verify(std::str::from_utf8(&tampered).unwrap()));
        for bad in ["", ".", "abc", "a.b", "not base64!.x", &token[..30]] {
            assert!(!issuer.verify(bad), "{bad:?}");
        }
    }

    #[test]
    fn a_tokens_store_key_is_stable_per_secret_and_reveals_nothing() {
        let issuer = TokenIssuer::from_secret("s3cret");
        let token = issuer.issue().unwrap();
        let key = issuer.store_key(&token);
        assert_eq!(key.len(), 22);
        assert_eq!(TokenIssuer::from_secret("s3cret").store_key(&token), key);
        assert_ne!(TokenIssuer::from_secret("other").store_key(&token), key);
        assert_ne!(issuer.store_key(&issuer.issue().unwrap()), key);
        assert!(!token.contains(&key) && !key.contains(&token[..8]));
    }
}
