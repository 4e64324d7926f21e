//! API keys: read only from environment variables, never printed.
//!
//! [`ApiKey`]'s `Debug` and `Display` print `(redacted)`, and the only way to
//! the value is [`ApiKey::expose`], used where a request header is built.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

use crate::error::Error;

#[derive(Clone)]
pub struct ApiKey(SecretString);

impl ApiKey {
    /// Reads the key from `var`; a missing or empty variable is an error that
    /// names the variable and the provider (exit 3: the call cannot be made).
    pub fn from_env(provider: &str, var: &str) -> Result<ApiKey, Error> {
        match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Ok(ApiKey(SecretString::from(v.trim().to_string()))),
            _ => Err(Error::incomplete(format!(
                "provider `{provider}` needs an API key in the environment variable `{var}`, which is not set"
            ))
            .with_hint(format!("export {var}=… (promptctl never reads keys from files)"))),
        }
    }

    /// The key itself, for a request header. Nothing else may call this.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// Removes the key (and anything key-shaped) from text a server sent back.
    pub fn scrub(&self, text: &str) -> String {
        crate::privacy::secrets::mask(&text.replace(self.expose(), "(redacted)"))
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(redacted)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(redacted)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_formats_the_key() {
        let k = ApiKey(SecretString::from(
            "sk-test-0123456789abcdefghij".to_string(),
        ));
        assert_eq!(format!("{k} {k:?}"), "(redacted) (redacted)");
        let s = k.scrub("Incorrect API key provided: sk-test-0123456789abcdefghij.");
        assert!(!s.contains("0123456789abcdefghij"), "{s}");
    }
}
