//! The stream deframers (server-sent events; AWS's binary event-stream for Bedrock), fed the
//! bytes in two pieces split where the first byte says: whole frames or errors, never a panic
//! or a frame lost between pieces.
#![no_main]

use libfuzzer_sys::fuzz_target;
use server::providers::framing::{Deframer, Framing};

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let at = usize::from(split).min(rest.len());
    for framing in [Framing::ServerSentEvents, Framing::AwsEventStream] {
        let mut deframer = Deframer::new(framing);
        for piece in [&rest[..at], &rest[at..]] {
            deframer.push(piece);
            while let Some(frame) = deframer.next_frame() {
                if frame.is_err() {
                    break;
                }
            }
        }
    }
});
