//! The API shapes Gatehouse translates to and from OpenAI's chat: Anthropic's Messages,
//! OpenAI's Responses and text completions, requests, replies and event streams.

pub mod anthropic;
pub mod completions;
pub mod egress;
pub mod responses;
