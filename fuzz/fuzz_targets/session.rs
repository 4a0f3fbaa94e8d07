//! The connection state machine: input fed in pieces, and within small budgets, gives the
//! same replies as the whole input fed at once; line-protocol replies end every line in CRLF.
#![no_main]

use hamon::monitor::protocol::{Budget, Session};
use hamon_fuzz::Fixed;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&cuts, input)) = data.split_first() else {
        return;
    };
    let oracle = Fixed::new();
    let mut whole = Session::new(64);
    let all = whole.feed(input, &oracle);

    let mut pieces = Session::new(64);
    let budget = Budget {
        max_lines: usize::from(cuts % 5) + 1,
        max_output: usize::from(cuts >> 3) * 8 + 1,
    };
    let step = usize::from(cuts % 7) + 1;
    let (mut bytes, mut commands, mut close) = (Vec::new(), 0, false);
    for piece in input.chunks(step) {
        let mut rest = piece;
        loop {
            let (used, out) = pieces.feed_bounded(rest, &oracle, budget);
            assert!(used <= rest.len());
            bytes.extend(out.bytes);
            commands += out.commands;
            close |= out.close;
            rest = &rest[used..];
            if rest.is_empty() {
                break;
            }
            assert!(used > 0, "a bounded feed makes progress");
        }
    }
    assert_eq!(bytes, all.bytes, "pieces and whole differ");
    assert_eq!((commands, close), (all.commands, all.close));
    assert_eq!(whole.is_closed(), all.close);

    if !all.bytes.starts_with(b"HTTP/1.1 ") {
        assert!(all.bytes.is_empty() || all.bytes.ends_with(b"\r\n"));
        for (i, &b) in all.bytes.iter().enumerate() {
            if b == b'\n' {
                assert!(
                    i > 0 && all.bytes[i - 1] == b'\r',
                    "bare LF in {:?}",
                    all.bytes
                );
            }
        }
    }
});
