//! A transcription form relayed as it is read: the fields before the file, the file as it
//! arrives, the fields after it, re-encoded for the upstream without holding the file in
//! memory.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::core::body::MAX_BODY_BYTES;
use crate::core::error::ApiError;
use crate::engine::litellm_fields;

/// Largest text field of a transcription form.
const MAX_FORM_FIELD_BYTES: u64 = 64 * 1024;
/// Upload pieces buffered between the client and the upstream.
const UPLOAD_BUFFER_PIECES: usize = 8;

/// The uploaded file of a transcription form: its part headers and its bytes, either already
/// read (it came before `model`) or still arriving.
pub struct UploadedFile {
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    pub bytes: FileBytes,
}

pub enum FileBytes {
    Read(Bytes),
    Arriving(Box<multer::Field<'static>>),
}

pub fn form_error(error: multer::Error) -> ApiError {
    match error {
        multer::Error::StreamSizeExceeded { .. } | multer::Error::FieldSizeExceeded { .. } => {
            ApiError::BodyTooLarge(MAX_BODY_BYTES)
        }
        other => ApiError::bad_request(
            format!("The multipart form could not be read: {other}."),
            None,
        ),
    }
}

pub async fn read_text_field(mut field: multer::Field<'static>) -> Result<Bytes, ApiError> {
    let mut value = Vec::new();
    while let Some(piece) = field.chunk().await.map_err(form_error)? {
        value.extend_from_slice(&piece);
        if value.len() as u64 > MAX_FORM_FIELD_BYTES {
            return Err(ApiError::bad_request(
                format!(
                    "The form field `{}` is longer than {MAX_FORM_FIELD_BYTES} bytes.",
                    field.name().unwrap_or_default()
                ),
                None,
            ));
        }
    }
    Ok(Bytes::from(value))
}

/// One form part's opening: boundary and headers.
fn part_head(boundary: &str, name: &str, file: Option<&UploadedFile>) -> Bytes {
    let quoted = |text: &str| text.replace(['"', '\r', '\n'], "_");
    let mut head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"",
        quoted(name)
    );
    if let Some(file) = file {
        head.push_str(&format!(
            "; filename=\"{}\"\r\nContent-Type: {}",
            quoted(file.file_name.as_deref().unwrap_or("audio")),
            quoted(
                file.content_type
                    .as_deref()
                    .unwrap_or("application/octet-stream")
            )
        ));
    }
    head.push_str("\r\n\r\n");
    Bytes::from(head)
}

/// Why the client's upload could not be relayed, once it is known.
pub type UploadFailure = Arc<Mutex<Option<ApiError>>>;

/// The upstream's form as a body that streams: the fields read so far, the file as it arrives,
/// then the fields after it. A client that stops sending (or sends too much) ends the upload
/// with an error, which fails the upstream call; the reason is left in the `UploadFailure`.
pub fn relay_form(
    boundary: String,
    fields: Vec<(String, Bytes)>,
    file: UploadedFile,
    mut form: multer::Multipart<'static>,
) -> (reqwest::Body, UploadFailure) {
    let failure = UploadFailure::default();
    let failure_slot = failure.clone();
    let (sender, mut receiver) =
        mpsc::channel::<Result<Bytes, std::io::Error>>(UPLOAD_BUFFER_PIECES);
    tokio::spawn(async move {
        let send = |piece: Bytes| {
            let sender = sender.clone();
            async move { sender.send(Ok(piece)).await.is_ok() }
        };
        let fail = |error: ApiError| {
            let sender = sender.clone();
            let message = error.to_string();
            if let Ok(mut slot) = failure_slot.lock() {
                *slot = Some(error);
            }
            async move {
                let _ = sender.send(Err(std::io::Error::other(message))).await;
            }
        };
        for (name, value) in &fields {
            for piece in [
                part_head(&boundary, name, None),
                value.clone(),
                Bytes::from_static(b"\r\n"),
            ] {
                if !send(piece).await {
                    return;
                }
            }
        }
        if !send(part_head(&boundary, "file", Some(&file))).await {
            return;
        }
        match file.bytes {
            FileBytes::Read(bytes) => {
                if !send(bytes).await {
                    return;
                }
            }
            FileBytes::Arriving(mut field) => loop {
                match field.chunk().await {
                    Ok(Some(piece)) => {
                        if !send(piece).await {
                            return;
                        }
                    }
                    Ok(None) => break,
                    Err(error) => return fail(form_error(error)).await,
                }
            },
        }
        if !send(Bytes::from_static(b"\r\n")).await {
            return;
        }
        loop {
            match form.next_field().await {
                Ok(Some(field)) => {
                    let name = field.name().unwrap_or_default().to_string();
                    let value = match read_text_field(field).await {
                        Ok(value) => value,
                        Err(error) => return fail(error).await,
                    };
                    match litellm_fields::keeps_form_field(&name) {
                        Ok(true) => {}
                        Ok(false) => continue,
                        Err(error) => return fail(error).await,
                    }
                    for piece in [
                        part_head(&boundary, &name, None),
                        value,
                        Bytes::from_static(b"\r\n"),
                    ] {
                        if !send(piece).await {
                            return;
                        }
                    }
                }
                Ok(None) => break,
                Err(error) => return fail(form_error(error)).await,
            }
        }
        send(Bytes::from(format!("--{boundary}--\r\n"))).await;
    });
    let pieces = futures::stream::poll_fn(move |context| receiver.poll_recv(context));
    (reqwest::Body::wrap_stream(pieces), failure)
}
