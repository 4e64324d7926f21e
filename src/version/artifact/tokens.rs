//! Token counts with a real BPE tokenizer that works offline.
//!
//! tiktoken-rs embeds OpenAI's encodings in the binary; loading one costs
//! about 0.2 s, so only `lint` loads it, once. Models tiktoken does not know
//! (Claude, local models) are counted with `o200k_base` and marked approximate.

/// A token count and the encoding that produced it.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Count {
    pub tokens: usize,
    pub encoding: &'static str,
    /// True when the model's own tokenizer is not available.
    pub approximate: bool,
}

pub(crate) fn count(model: &str, text: &str) -> Count {
    match tiktoken_rs::bpe_for_model(model) {
        Ok(bpe) => Count {
            tokens: bpe.encode_with_special_tokens(text).len(),
            encoding: encoding_name(model),
            approximate: false,
        },
        Err(_) => Count {
            tokens: tiktoken_rs::o200k_base_singleton()
                .encode_with_special_tokens(text)
                .len(),
            encoding: "o200k_base",
            approximate: true,
        },
    }
}

fn encoding_name(model: &str) -> &'static str {
    match tiktoken_rs::tokenizer::get_tokenizer(model) {
        Some(tiktoken_rs::tokenizer::Tokenizer::Cl100kBase) => "cl100k_base",
        Some(tiktoken_rs::tokenizer::Tokenizer::O200kBase) => "o200k_base",
        Some(tiktoken_rs::tokenizer::Tokenizer::P50kBase) => "p50k_base",
        Some(tiktoken_rs::tokenizer::Tokenizer::R50kBase) => "r50k_base",
        _ => "tiktoken",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_real_tokens() {
        // "hello world" is two tokens in both cl100k_base and o200k_base.
        let c = super::count("gpt-4o-mini", "hello world");
        assert_eq!(c.tokens, 2);
        assert!(!c.approximate);
        let c = super::count("claude-sonnet-4-5", "hello world");
        assert!(c.approximate);
        assert_eq!(c.tokens, 2);
    }
}
