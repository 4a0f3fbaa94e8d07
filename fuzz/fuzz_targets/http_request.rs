//! The HTTP request line parser and the responses: a parsed line also looks like a request
//! before its end is seen, and every response is complete (status line, headers ending in an
//! empty line, a body as long as Content-Length says).
#![no_main]

use hamon::monitor::http::{looks_like_method, parse_request_line, respond};
use hamon_fuzz::Fixed;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|line: &[u8]| {
    let Some((method, path)) = parse_request_line(line) else {
        return;
    };
    assert!(looks_like_method(line), "{line:?}");
    assert!(!path.contains(['?', '#']));
    let response = respond(&method, &path, &Fixed::new());
    let text = String::from_utf8(response).expect("responses are UTF-8");
    assert!(text.starts_with("HTTP/1.1 "), "{text}");
    let (head, body) = text.split_once("\r\n\r\n").expect("a head that ends");
    let length: usize = head
        .split("\r\n")
        .find_map(|h| h.strip_prefix("Content-Length: "))
        .expect("Content-Length")
        .parse()
        .expect("a number");
    if method == "HEAD" && head.starts_with("HTTP/1.1 2") {
        assert!(body.is_empty());
    } else if method != "HEAD" {
        assert_eq!(body.len(), length, "{text}");
    }
});
