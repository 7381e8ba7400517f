//! A reader for Java `.properties` files, the format of Kafka's `server.properties`.
//!
//! Supported: `key=value`, `key: value` and `key value`; `#` and `!` comment lines; blank
//! lines; a trailing backslash continuing a value on the next line (leading whitespace of the
//! continuation dropped); the escapes `\t`, `\n`, `\\`, `\=`, `\:`. Later keys replace earlier.

use std::collections::BTreeMap;

/// Parses properties text into key -> value.
pub fn parse(text: &str) -> BTreeMap<String, String> {
    let mut properties = BTreeMap::new();
    let mut logical = String::new();
    for line in text.lines() {
        let line = line.trim_start();
        if logical.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with('!'))
        {
            continue;
        }
        if let Some(continued) = strip_continuation(line) {
            logical.push_str(continued);
            continue;
        }
        logical.push_str(line);
        let (key, value) = split_entry(&logical);
        properties.insert(key, value);
        logical.clear();
    }
    if !logical.is_empty() {
        let (key, value) = split_entry(&logical);
        properties.insert(key, value);
    }
    properties
}

/// A line ending in an odd number of backslashes continues on the next line.
fn strip_continuation(line: &str) -> Option<&str> {
    let trailing = line.chars().rev().take_while(|c| *c == '\\').count();
    (trailing % 2 == 1).then(|| &line[..line.len() - 1])
}

fn split_entry(entry: &str) -> (String, String) {
    let mut key = String::new();
    let mut chars = entry.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => key.push(unescape(chars.next().unwrap_or('\\'))),
            '=' | ':' => break,
            c if c.is_whitespace() => {
                while chars.peek().is_some_and(|c| c.is_whitespace()) {
                    chars.next();
                }
                if chars.peek().is_some_and(|c| *c == '=' || *c == ':') {
                    chars.next();
                }
                break;
            }
            c => key.push(c),
        }
    }
    let rest: String = chars.collect();
    let mut value = String::new();
    let mut rest_chars = rest.trim_start().chars();
    while let Some(c) = rest_chars.next() {
        if c == '\\' {
            value.push(unescape(rest_chars.next().unwrap_or('\\')));
        } else {
            value.push(c);
        }
    }
    (key, value.trim_end().to_owned())
}

fn unescape(c: char) -> char {
    match c {
        't' => '\t',
        'n' => '\n',
        'r' => '\r',
        'f' => '\x0c',
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kafka_style_files() {
        let text = "# Kafka broker\n\
                    node.id=1\n\
                    listeners = PLAINTEXT://127.0.0.1:9092\n\
                    ! another comment\n\
                    \n\
                    log.dirs: /tmp/a\n\
                    num.partitions 3\n\
                    long.value=a,\\\n    b,\\\n    c\n\
                    escaped\\=key=x\\:y\n\
                    empty=\n";
        let properties = parse(text);
        assert_eq!(properties["node.id"], "1");
        assert_eq!(properties["listeners"], "PLAINTEXT://127.0.0.1:9092");
        assert_eq!(properties["log.dirs"], "/tmp/a");
        assert_eq!(properties["num.partitions"], "3");
        assert_eq!(properties["long.value"], "a,b,c");
        assert_eq!(properties["escaped=key"], "x:y");
        assert_eq!(properties["empty"], "");
        assert_eq!(properties.len(), 7);
    }

    #[test]
    fn later_keys_win() {
        let properties = parse("a=1\na=2\n");
        assert_eq!(properties["a"], "2");
    }
}
