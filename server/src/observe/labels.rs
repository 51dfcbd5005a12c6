//! The labels LiteLLM's metrics carry (its names, so dashboards built for LiteLLM work), which of
//! them a deployment keeps, and one call's values for them.

/// A label of LiteLLM's metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Label {
    EndUser,
    HashedApiKey,
    ApiKeyAlias,
    RequestedModel,
    Team,
    TeamAlias,
    User,
    UserEmail,
    StatusCode,
    Route,
    ClientIp,
    UserAgent,
    /// The upstream model name (LiteLLM's `model` and `litellm_model_name`).
    Model,
    LitellmModelName,
    ModelId,
    ApiBase,
    ApiProvider,
    ModelGroup,
    ExceptionStatus,
    ExceptionClass,
    FallbackModel,
    /// OpenTelemetry's GenAI attributes, as Prometheus names them.
    GenAiOperationName,
    GenAiProviderName,
    GenAiRequestModel,
    GenAiResponseModel,
    GenAiTokenType,
    ErrorType,
    /// Gatehouse's own: a request-log callback, and what became of what it was given.
    Callback,
    Outcome,
}

/// How many labels there are: the size of a call's value table.
pub const LABEL_COUNT: usize = Label::ALL.len();

impl Label {
    pub const ALL: [Label; 29] = [
        Label::EndUser,
        Label::HashedApiKey,
        Label::ApiKeyAlias,
        Label::RequestedModel,
        Label::Team,
        Label::TeamAlias,
        Label::User,
        Label::UserEmail,
        Label::StatusCode,
        Label::Route,
        Label::ClientIp,
        Label::UserAgent,
        Label::Model,
        Label::LitellmModelName,
        Label::ModelId,
        Label::ApiBase,
        Label::ApiProvider,
        Label::ModelGroup,
        Label::ExceptionStatus,
        Label::ExceptionClass,
        Label::FallbackModel,
        Label::GenAiOperationName,
        Label::GenAiProviderName,
        Label::GenAiRequestModel,
        Label::GenAiResponseModel,
        Label::GenAiTokenType,
        Label::ErrorType,
        Label::Callback,
        Label::Outcome,
    ];

    /// LiteLLM's name for it.
    pub const fn name(self) -> &'static str {
        match self {
            Label::EndUser => "end_user",
            Label::HashedApiKey => "hashed_api_key",
            Label::ApiKeyAlias => "api_key_alias",
            Label::RequestedModel => "requested_model",
            Label::Team => "team",
            Label::TeamAlias => "team_alias",
            Label::User => "user",
            Label::UserEmail => "user_email",
            Label::StatusCode => "status_code",
            Label::Route => "route",
            Label::ClientIp => "client_ip",
            Label::UserAgent => "user_agent",
            Label::Model => "model",
            Label::LitellmModelName => "litellm_model_name",
            Label::ModelId => "model_id",
            Label::ApiBase => "api_base",
            Label::ApiProvider => "api_provider",
            Label::ModelGroup => "model_group",
            Label::ExceptionStatus => "exception_status",
            Label::ExceptionClass => "exception_class",
            Label::FallbackModel => "fallback_model",
            Label::GenAiOperationName => "gen_ai_operation_name",
            Label::GenAiProviderName => "gen_ai_provider_name",
            Label::GenAiRequestModel => "gen_ai_request_model",
            Label::GenAiResponseModel => "gen_ai_response_model",
            Label::GenAiTokenType => "gen_ai_token_type",
            Label::ErrorType => "error_type",
            Label::Callback => "callback",
            Label::Outcome => "outcome",
        }
    }

    pub fn from_name(name: &str) -> Option<Label> {
        Label::ALL.into_iter().find(|label| label.name() == name)
    }

    /// Kept unless the configuration lists the metric's labels: the rest name a person or a
    /// client (an end user's id, an email, an address, a user agent), and each distinct value
    /// is a new series.
    pub const fn kept_by_default(self) -> bool {
        !matches!(
            self,
            Label::EndUser | Label::UserEmail | Label::ClientIp | Label::UserAgent
        )
    }

    pub const fn index(self) -> usize {
        self as usize
    }
}

/// One call's value for every label (empty where it has none), borrowed from what the call
/// already holds: recording a call allocates nothing for labels seen before.
#[derive(Debug, Clone, Copy)]
pub struct LabelValues<'a> {
    values: [&'a str; LABEL_COUNT],
}

impl Default for LabelValues<'_> {
    fn default() -> Self {
        LabelValues {
            values: [""; LABEL_COUNT],
        }
    }
}

/// The longest label value kept (longer ones are cut at a character boundary).
pub const MAX_VALUE_BYTES: usize = 256;

impl<'a> LabelValues<'a> {
    pub fn set(&mut self, label: Label, value: &'a str) -> &mut Self {
        self.values[label.index()] = if value.len() > MAX_VALUE_BYTES {
            let mut end = MAX_VALUE_BYTES;
            while !value.is_char_boundary(end) {
                end -= 1;
            }
            &value[..end]
        } else {
            value
        };
        self
    }

    pub fn get(&self, label: Label) -> &'a str {
        self.values[label.index()]
    }
}

/// LiteLLM's `exception_class` for an HTTP status the proxy answered with (its names for the
/// OpenAI SDK's exceptions).
pub fn exception_class(status: u16) -> &'static str {
    match status {
        400 => "BadRequestError",
        401 => "AuthenticationError",
        403 => "PermissionDeniedError",
        404 => "NotFoundError",
        408 => "Timeout",
        413 | 422 => "UnprocessableEntityError",
        429 => "RateLimitError",
        503 => "ServiceUnavailableError",
        500..=599 => "InternalServerError",
        _ => "APIError",
    }
}

/// The text of common statuses without formatting a number per call.
pub fn status_text(status: u16) -> std::borrow::Cow<'static, str> {
    let known = match status {
        200 => "200",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        408 => "408",
        413 => "413",
        422 => "422",
        429 => "429",
        500 => "500",
        502 => "502",
        503 => "503",
        504 => "504",
        other => return std::borrow::Cow::Owned(other.to_string()),
    };
    std::borrow::Cow::Borrowed(known)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_label_is_found_by_its_name_and_indexes_its_own_slot() {
        for (position, label) in Label::ALL.into_iter().enumerate() {
            assert_eq!(Label::from_name(label.name()), Some(label));
            assert_eq!(label.index(), position);
        }
        assert_eq!(Label::from_name("hashed_api_key_x"), None);
    }

    #[test]
    fn people_and_clients_are_off_by_default() {
        let off: Vec<&str> = Label::ALL
            .into_iter()
            .filter(|label| !label.kept_by_default())
            .map(Label::name)
            .collect();
        assert_eq!(off, ["end_user", "user_email", "client_ip", "user_agent"]);
    }

    #[test]
    fn a_label_value_is_cut_at_a_character_boundary() {
        let long = "é".repeat(200);
        let mut values = LabelValues::default();
        values.set(Label::UserAgent, &long);
        let kept = values.get(Label::UserAgent);
        assert!(kept.len() <= MAX_VALUE_BYTES && kept.len() >= MAX_VALUE_BYTES - 1);
        assert!(long.starts_with(kept));
        values.set(Label::Model, "gpt");
        assert_eq!(values.get(Label::Model), "gpt");
    }

    #[test]
    fn statuses_name_the_sdk_exceptions() {
        assert_eq!(exception_class(429), "RateLimitError");
        assert_eq!(exception_class(502), "InternalServerError");
        assert_eq!(status_text(429), "429");
        assert_eq!(status_text(418), "418");
    }
}
