//! HTML escaping for the status page: every string that comes from a configuration, an
//! operator or a peer (node names, reasons, paths, event texts) goes through [`html`], so
//! that it shows as text and never becomes markup or script.

/// `s` as HTML text, safe in element content and in quoted attribute values.
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters show as nothing useful and may confuse a terminal that
            // prints the page's source.
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hostile_reason_stays_text() {
        let e = html("<img src=x onerror=alert(1)>");
        assert_eq!(e, "&lt;img src=x onerror=alert(1)&gt;");
        assert!(!e.contains('<') && !e.contains('>'));
        assert_eq!(
            html("\"'><script>alert(1)</script>"),
            "&quot;&#39;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"
        );
        assert_eq!(html("a & b"), "a &amp; b");
        assert_eq!(html("&lt;"), "&amp;lt;");
        assert_eq!(
            html("é /var/lib/hamon\u{1b}[2J"),
            "é /var/lib/hamon\u{fffd}[2J"
        );
    }
}
