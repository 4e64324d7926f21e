//! API keys: read only from environment variables, never printed.
//!
//! [`ApiKey`]'s `Debug` and `Display` print `(redacted)`, and the only way to
//! the value is [`ApiKey::expose`], used where a request header is built and
//! where [`configured`] builds the scrubber that finds keys in answers.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

use crate::error::Error;
use crate::privacy::secrets::Secrets;
use crate::workspace::config::Config;

#[derive(Clone)]
pub(crate) struct ApiKey(SecretString);

impl ApiKey {
    /// Reads the key from `var`; a missing or empty variable is an error that
    /// names the variable and the provider (exit 3: the call cannot be made).
    pub(crate) fn from_env(provider: &str, var: &str) -> Result<ApiKey, Error> {
        match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Ok(ApiKey(SecretString::from(v.trim().to_string()))),
            _ => Err(Error::incomplete(format!(
                "provider `{provider}` needs an API key in the environment variable `{var}`, which is not set"
            ))
            .with_hint(format!("export {var}=… (promptctl never reads keys from files)"))),
        }
    }

    /// The key itself, for a request header (and [`configured`]). Nothing
    /// else may call this.
    pub(crate) fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// Removes the key, any 12 characters of it in any case, and anything
    /// key-shaped from text a server sent back.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let whole = text.replace(self.expose(), "(redacted)");
        let parts = Secrets::new([self.expose()]);
        crate::privacy::secrets::mask(&parts.scrub(&whole))
    }
}

/// The scrubber for every key the workspace's providers name with
/// `api_key_env` and the environment holds, used or not by this command: a
/// model can echo any key it was shown, and a key is a key wherever it came
/// from. Unset variables are skipped (a call that needs one fails on its own).
pub(crate) fn configured(config: &Config) -> Secrets {
    let keys: Vec<ApiKey> = config
        .providers
        .iter()
        .filter_map(|(name, p)| ApiKey::from_env(name, p.api_key_env.as_deref()?).ok())
        .collect();
    Secrets::new(keys.iter().map(ApiKey::expose))
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
        let s = k.scrub("Key SK-TEST-0123456789 is not valid; sk-test-0123 was.");
        assert_eq!(
            s,
            "Key [REDACTED:api_key] is not valid; [REDACTED:api_key] was."
        );
    }
}
