//! What a deployment can serve, and what a request needs: the declarations that keep a request
//! away from a backend that cannot serve it (a clear 400 instead of a wasted upstream call).

use serde::Deserialize;

/// What kind of endpoint a model serves (LiteLLM's `model_info.mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Chat,
    Completion,
    Embedding,
    ImageGeneration,
    AudioTranscription,
    AudioSpeech,
    Rerank,
    Moderation,
}

impl Mode {
    /// Whether a model of `model_mode` can serve a request of this mode: text completions are
    /// also served by chat models (translated), everything else only by its own kind.
    pub fn is_served_by(self, model_mode: Mode) -> bool {
        self == model_mode || (self == Mode::Completion && model_mode == Mode::Chat)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Chat => "chat",
            Mode::Completion => "completion",
            Mode::Embedding => "embedding",
            Mode::ImageGeneration => "image_generation",
            Mode::AudioTranscription => "audio_transcription",
            Mode::AudioSpeech => "audio_speech",
            Mode::Rerank => "rerank",
            Mode::Moderation => "moderation",
        }
    }
}

/// A deployment's declared capabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// `None` for a model nothing is known about: it may serve any endpoint.
    pub mode: Option<Mode>,
    pub streaming: bool,
    pub tools: bool,
    pub parallel_tool_calls: bool,
    pub vision: bool,
    pub json_schema: bool,
    pub reasoning: bool,
    pub max_input_tokens: Option<u64>,
    pub max_output_tokens: Option<u64>,
}

impl Capabilities {
    /// A model nothing is known about (a self-hosted model, say): everything allowed, as
    /// LiteLLM does; `model_info` narrows it.
    pub fn unknown_model() -> Capabilities {
        Capabilities {
            mode: None,
            streaming: true,
            tools: true,
            parallel_tool_calls: true,
            vision: true,
            json_schema: true,
            reasoning: false,
            max_input_tokens: None,
            max_output_tokens: None,
        }
    }

    /// Applies LiteLLM's `model_info` capability fields.
    pub fn override_with(&mut self, info: &CapabilityOverrides) {
        let set = |field: &mut bool, value: Option<bool>| {
            if let Some(value) = value {
                *field = value;
            }
        };
        if info.mode.is_some() {
            self.mode = info.mode;
        }
        set(&mut self.streaming, info.supports_native_streaming);
        set(&mut self.tools, info.supports_function_calling);
        set(
            &mut self.parallel_tool_calls,
            info.supports_parallel_function_calling,
        );
        set(&mut self.vision, info.supports_vision);
        set(&mut self.json_schema, info.supports_response_schema);
        set(&mut self.reasoning, info.supports_reasoning);
        if info.max_input_tokens.is_some() {
            self.max_input_tokens = info.max_input_tokens;
        }
        if info.max_output_tokens.or(info.max_tokens).is_some() {
            self.max_output_tokens = info.max_output_tokens.or(info.max_tokens);
        }
    }

    /// The first thing `needs` asks for that this deployment lacks.
    pub fn missing(&self, needs: &Needs) -> Option<Missing> {
        if let Some(mode) = self.mode.filter(|mode| !needs.mode.is_served_by(*mode)) {
            return Some(Missing::Mode(mode));
        }
        let lacks = [
            (needs.streaming && !self.streaming, Missing::Streaming),
            (needs.tools && !self.tools, Missing::Tools),
            (
                needs.parallel_tool_calls && !self.parallel_tool_calls,
                Missing::ParallelToolCalls,
            ),
            (needs.vision && !self.vision, Missing::Vision),
            (needs.json_schema && !self.json_schema, Missing::JsonSchema),
        ];
        if let Some((_, missing)) = lacks.into_iter().find(|(lacking, _)| *lacking) {
            return Some(missing);
        }
        match self.max_input_tokens {
            Some(limit) if needs.prompt_tokens > limit => Some(Missing::ContextWindow {
                limit,
                estimate: needs.prompt_tokens,
            }),
            _ => None,
        }
    }
}

/// LiteLLM's `model_info` capability fields.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CapabilityOverrides {
    pub mode: Option<Mode>,
    pub supports_native_streaming: Option<bool>,
    pub supports_function_calling: Option<bool>,
    pub supports_parallel_function_calling: Option<bool>,
    pub supports_vision: Option<bool>,
    pub supports_response_schema: Option<bool>,
    pub supports_reasoning: Option<bool>,
    pub max_input_tokens: Option<u64>,
    pub max_output_tokens: Option<u64>,
    pub max_tokens: Option<u64>,
}

impl Needs {
    /// A request of this mode that needs nothing else.
    pub fn plain(mode: Mode, prompt_tokens: u64) -> Needs {
        Needs {
            mode,
            streaming: false,
            tools: false,
            parallel_tool_calls: false,
            vision: false,
            json_schema: false,
            prompt_tokens,
        }
    }
}

/// What one request needs from the deployment that serves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    pub mode: Mode,
    pub streaming: bool,
    pub tools: bool,
    pub parallel_tool_calls: bool,
    pub vision: bool,
    pub json_schema: bool,
    /// Estimated prompt tokens.
    pub prompt_tokens: u64,
}

/// A capability a request needs and a deployment lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    Mode(Mode),
    Streaming,
    Tools,
    ParallelToolCalls,
    Vision,
    JsonSchema,
    ContextWindow { limit: u64, estimate: u64 },
}

impl Missing {
    /// The request parameter that needs the capability.
    pub fn param(&self) -> Option<&'static str> {
        match self {
            Missing::Mode(_) => Some("model"),
            Missing::Streaming => Some("stream"),
            Missing::Tools => Some("tools"),
            Missing::ParallelToolCalls => Some("parallel_tool_calls"),
            Missing::Vision | Missing::ContextWindow { .. } => Some("messages"),
            Missing::JsonSchema => Some("response_format"),
        }
    }

    /// The capability in words, e.g. "tools (function calling)".
    pub fn describe(&self) -> String {
        match self {
            Missing::Mode(mode) => format!("this endpoint (it is a `{}` model)", mode.as_str()),
            Missing::Streaming => "streaming".into(),
            Missing::Tools => "tools (function calling)".into(),
            Missing::ParallelToolCalls => "parallel tool calls".into(),
            Missing::Vision => "vision (image inputs)".into(),
            Missing::JsonSchema => "JSON schema responses (`response_format: json_schema`)".into(),
            Missing::ContextWindow { limit, estimate } => format!(
                "a prompt of about {estimate} tokens (its context window is {limit} tokens)"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat_needs() -> Needs {
        Needs {
            mode: Mode::Chat,
            streaming: false,
            tools: false,
            parallel_tool_calls: false,
            vision: false,
            json_schema: false,
            prompt_tokens: 10,
        }
    }

    #[test]
    fn names_the_first_missing_capability() {
        let mut declared = Capabilities::unknown_model();
        assert_eq!(declared.missing(&chat_needs()), None);
        assert_eq!(declared.missing(&Needs::plain(Mode::Embedding, 1)), None);
        declared.mode = Some(Mode::Chat);
        declared.override_with(&CapabilityOverrides {
            supports_function_calling: Some(false),
            max_input_tokens: Some(100),
            ..CapabilityOverrides::default()
        });
        let with_tools = Needs {
            tools: true,
            ..chat_needs()
        };
        assert_eq!(declared.missing(&with_tools), Some(Missing::Tools));
        assert_eq!(Missing::Tools.param(), Some("tools"));
        assert!(Missing::Tools.describe().contains("tools"));
        let long = Needs {
            prompt_tokens: 101,
            ..chat_needs()
        };
        assert_eq!(
            declared.missing(&long),
            Some(Missing::ContextWindow {
                limit: 100,
                estimate: 101
            })
        );
        let embedding = Needs {
            mode: Mode::Embedding,
            ..chat_needs()
        };
        assert_eq!(
            declared.missing(&embedding),
            Some(Missing::Mode(Mode::Chat))
        );
    }

    #[test]
    fn reads_litellm_model_info_fields() {
        let info: CapabilityOverrides = serde_json::from_value(serde_json::json!({
            "mode": "embedding", "supports_vision": false, "max_tokens": 4096
        }))
        .unwrap();
        let mut declared = Capabilities::unknown_model();
        declared.override_with(&info);
        assert_eq!(declared.mode, Some(Mode::Embedding));
        assert!(!declared.vision);
        assert_eq!(declared.max_output_tokens, Some(4096));
    }
}
