//! The probe's reply parser: never panics, and a line it accepts, written again field by
//! field with the server's quoting, parses to the same state and fields.
#![no_main]

use hamon::monitor::render::quote;
use hamon::probe::parse_check_line;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    let Ok((state, fields)) = parse_check_line(line) else {
        return;
    };
    let mut again = state.to_string();
    for (key, value) in &fields {
        again.push(' ');
        again.push_str(key);
        again.push('=');
        again.push_str(&quote(value));
    }
    match parse_check_line(&again) {
        Ok(reparsed) => assert_eq!(reparsed, (state, fields), "{line:?} -> {again:?}"),
        Err(e) => panic!("{line:?} -> {again:?}: {e}"),
    }
});
