//! HTTP/1.x on the monitor port: `/livez`, `/readyz`, `/health` and `/metrics`, answered
//! from the cached state with `Connection: close`. Only the request line is interpreted; headers are read
//! and skipped.

use crate::monitor::metrics;
use crate::monitor::protocol::Oracle;
use crate::monitor::render;

const METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT",
];

/// Whether the bytes start like an HTTP request line (used before a line is complete).
pub fn looks_like_method(start: &[u8]) -> bool {
    METHODS
        .iter()
        .any(|m| start.len() > m.len() && start.starts_with(m.as_bytes()) && start[m.len()] == b' ')
}

/// `METHOD PATH HTTP/1.x` -> (method, path without query).
pub fn parse_request_line(line: &[u8]) -> Option<(String, String)> {
    let text = std::str::from_utf8(line).ok()?;
    let mut parts = text.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some()
        || !METHODS.contains(&method)
        || !matches!(version, "HTTP/1.0" | "HTTP/1.1")
    {
        return None;
    }
    let path = target.split(['?', '#']).next().unwrap_or("");
    Some((method.to_string(), path.to_string()))
}

fn reason_phrase(code: u16) -> &'static str {
    match code {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

fn response(code: u16, content_type: &str, body: &str, head_only: bool, extra: &str) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {code} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n{extra}\r\n",
        reason_phrase(code),
        body.len()
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(body.as_bytes());
    }
    out
}

pub fn error_response(code: u16, body: &str) -> Vec<u8> {
    response(
        code,
        "text/plain; charset=utf-8",
        &format!("{body}\n"),
        false,
        "",
    )
}

pub fn respond(method: &str, path: &str, oracle: &dyn Oracle) -> Vec<u8> {
    let head_only = method == "HEAD";
    if !matches!(method, "GET" | "HEAD") {
        return response(
            405,
            "text/plain; charset=utf-8",
            "method not allowed\n",
            false,
            "Allow: GET, HEAD\r\n",
        );
    }
    let text = "text/plain; charset=utf-8";
    match path {
        "/livez" => {
            let v = oracle.verdict();
            if v.live {
                response(200, text, "ok\n", head_only, "")
            } else {
                response(
                    503,
                    text,
                    &format!("not live: {}\n", v.reason),
                    head_only,
                    "",
                )
            }
        }
        "/readyz" => {
            let v = oracle.verdict();
            if v.state.is_available() {
                response(200, text, &format!("{}\n", v.state), head_only, "")
            } else {
                response(
                    503,
                    text,
                    &format!("{} {}\n", v.state, v.reason),
                    head_only,
                    "",
                )
            }
        }
        "/health" => {
            let v = oracle.verdict();
            let (checks, counters, window) = oracle.details();
            let body = render::health_json(&v, oracle.identity(), &checks, &counters, window);
            let code = if render::health_status(v.state) == "fail" {
                503
            } else {
                200
            };
            response(code, "application/health+json", &body, head_only, "")
        }
        "/metrics" => {
            let v = oracle.verdict();
            let (checks, counters, window) = oracle.details();
            let body = metrics::exposition(&v, &checks, &counters, window, &oracle.net());
            response(200, crate::metrics::CONTENT_TYPE, &body, head_only, "")
        }
        _ => response(
            404,
            text,
            "not found: try /livez, /readyz, /health or /metrics\n",
            head_only,
            "",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::protocol::Session;
    use crate::monitor::protocol::tests::fixed;
    use crate::monitor::state::State;

    fn get(req: &str, state: State) -> (String, bool) {
        let mut s = Session::new(512);
        let out = s.feed(req.as_bytes(), &fixed(state));
        (String::from_utf8(out.bytes).unwrap(), out.close)
    }

    fn status_code(resp: &str) -> &str {
        &resp[9..12]
    }

    #[test]
    fn request_lines() {
        assert_eq!(
            parse_request_line(b"GET /readyz?x=1 HTTP/1.1"),
            Some(("GET".into(), "/readyz".into()))
        );
        assert_eq!(parse_request_line(b"GET /readyz"), None);
        assert_eq!(parse_request_line(b"get / HTTP/1.1"), None);
        assert_eq!(parse_request_line(b"check db"), None);
        assert!(looks_like_method(b"GET /aaaa"));
        assert!(!looks_like_method(b"GETX"));
    }

    #[test]
    fn endpoints_answer_with_the_right_codes() {
        let cases = [
            ("/livez", State::Up, "200"),
            ("/livez", State::Down, "503"),
            ("/livez", State::Starting, "200"),
            ("/readyz", State::Up, "200"),
            ("/readyz", State::Degraded, "200"),
            ("/readyz", State::Draining, "503"),
            ("/readyz", State::Starting, "503"),
            ("/health", State::Up, "200"),
            ("/health", State::Degraded, "200"),
            ("/health", State::Down, "503"),
            ("/metrics", State::Down, "200"),
            ("/nope", State::Up, "404"),
        ];
        for (path, state, code) in cases {
            let (resp, close) = get(
                &format!("GET {path} HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n"),
                state,
            );
            assert_eq!(status_code(&resp), code, "{path} {state}: {resp}");
            assert!(close);
            assert!(resp.contains("Connection: close\r\n"));
        }
    }

    #[test]
    fn health_is_json_and_head_has_no_body() {
        let (resp, _) = get("GET /health HTTP/1.0\n\n", State::Up);
        let body = resp.split("\r\n\r\n").nth(1).unwrap();
        let doc: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(doc["status"], "pass");
        assert_eq!(doc["checks"]["db"][0]["observedValue"], 2);
        let (resp, _) = get("HEAD /health HTTP/1.1\r\n\r\n", State::Up);
        assert!(resp.ends_with("\r\n\r\n"), "{resp}");
        let (resp, _) = get("POST /health HTTP/1.1\r\n\r\n", State::Up);
        assert_eq!(status_code(&resp), "405");
    }

    #[test]
    fn metrics_are_the_text_format() {
        let (resp, _) = get("GET /metrics HTTP/1.1\r\n\r\n", State::Degraded);
        assert!(
            resp.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
            "{resp}"
        );
        let body = resp.split("\r\n\r\n").nth(1).unwrap();
        let samples = crate::metrics::prom::parse(body).unwrap();
        assert!(
            samples
                .iter()
                .any(|(n, l, v)| n == "hamon_state" && l[0].1 == "DEGRADED" && *v == 1.0)
        );
        let (resp, _) = get("HEAD /metrics HTTP/1.1\r\n\r\n", State::Up);
        assert!(resp.ends_with("\r\n\r\n"), "{resp}");
    }

    #[test]
    fn oversized_requests_are_refused() {
        let long = format!("GET /{} HTTP/1.1\r\n", "a".repeat(600));
        let (resp, close) = get(&long, State::Up);
        assert_eq!(status_code(&resp), "431");
        assert!(close);
        let many_headers = format!("GET / HTTP/1.1\r\n{}", "X-A: b\r\n".repeat(2000));
        let (resp, _) = get(&many_headers, State::Up);
        assert_eq!(status_code(&resp), "431");
    }
}
