//! Anthropic's Messages API ↔ OpenAI's chat: the request, the reply and the event stream.

pub mod reply;
pub mod request;
pub mod stream;
