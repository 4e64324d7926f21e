//! How deep a YAML document nests, found before it is parsed.
//!
//! The YAML parser reads a whole document before the deserialiser's depth
//! limit (128) is checked, in time that grows with the square of the depth:
//! 64k levels took 11 s to refuse and 200k more than two minutes. This scan
//! goes over the text once and refuses such a file at once.
//!
//! The design decision to know: the scan *under*-counts rather than ever
//! over-count. It counts block collections (`- `, `? `, `key:`, by
//! indentation) and flow collections (`[`, `{`), and skips what cannot nest:
//! comments, quoted scalars, block scalars (`|`, `>`) and the continuation
//! lines of plain scalars. Where YAML is subtle (a sequence at its parent
//! key's own indentation, say) it counts one level fewer. So its depth is
//! never more than the parser's, and a file it refuses is one the parser
//! would refuse too, only slower: no file that loads today is refused.

/// The deepest nesting any promptctl file may have: the YAML deserialiser's
/// own limit.
pub(crate) const MAX_DEPTH: usize = 128;

/// The 1-based line and column where `text` first nests more than `max`
/// levels deep, or `None`.
pub(crate) fn too_deep(text: &str, max: usize) -> Option<(usize, usize)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut scan = Scan {
        max,
        stack: Vec::new(),
        flow: 0,
        flow_base: 0,
        flow_node_start: false,
        flow_after_node: false,
        quote: None,
        skip_deeper_than: None,
    };
    for (i, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line).as_bytes();
        if let Err(col) = scan.line(line) {
            return Some((i + 1, col + 1));
        }
    }
    None
}

/// The scan's state between lines.
struct Scan {
    max: usize,
    /// Open block collections: the column of each and its depth.
    stack: Vec<(isize, usize)>,
    /// Open flow collections, and the depth of the block node they are in.
    flow: usize,
    flow_base: usize,
    /// In a flow collection: whether the next token starts a node (so a
    /// quote opens a quoted scalar), and whether one just ended (so a `:`
    /// is an indicator, as in `{"a":1}`).
    flow_node_start: bool,
    flow_after_node: bool,
    /// Inside a quoted scalar that goes on to the next line.
    quote: Option<u8>,
    /// Inside a block scalar or a plain scalar's continuation lines: lines
    /// indented more than this (and blank ones) are text.
    skip_deeper_than: Option<isize>,
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn is_flow_indicator(b: u8) -> bool {
    matches!(b, b',' | b'[' | b']' | b'{' | b'}')
}

/// Whether position `i` is the end of the line or a blank.
fn blank_or_end(line: &[u8], i: usize) -> bool {
    line.get(i).is_none_or(|&b| is_blank(b))
}

fn skip_blanks(line: &[u8], mut i: usize) -> usize {
    while line.get(i).is_some_and(|&b| is_blank(b)) {
        i += 1;
    }
    i
}

impl Scan {
    fn line(&mut self, line: &[u8]) -> Result<(), usize> {
        if let Some(q) = self.quote {
            let Some(start) = quoted_end(line, 0, q) else {
                return Ok(());
            };
            self.quote = None;
            if self.flow > 0 {
                self.flow_after_node = true;
                self.flow_node_start = false;
                return self.flow_scan(line, start).map(|_| ());
            }
            return Ok(());
        }
        if self.flow > 0 {
            return self.flow_scan(line, 0).map(|_| ());
        }
        let indent = line.iter().take_while(|&&b| b == b' ').count();
        let first = skip_blanks(line, 0);
        if let Some(n) = self.skip_deeper_than {
            if first == line.len() || indent as isize > n {
                return Ok(());
            }
            self.skip_deeper_than = None;
        }
        if first == line.len() || line[first] == b'#' {
            return Ok(());
        }
        if indent == 0 {
            if line[0] == b'%' {
                return Ok(());
            }
            let marker = |m: &[u8]| line.starts_with(m) && blank_or_end(line, 3);
            if marker(b"...") {
                self.stack.clear();
                return Ok(());
            }
            if marker(b"---") {
                self.stack.clear();
                return self.block_node(line, 3);
            }
        }
        while self
            .stack
            .last()
            .is_some_and(|&(col, _)| col >= indent as isize)
        {
            self.stack.pop();
        }
        self.block_node(line, indent)
    }

    /// The depth and column of the innermost open block collection.
    fn base(&self) -> (usize, isize) {
        self.stack
            .last()
            .map_or((0, -1), |&(col, depth)| (depth, col))
    }

    fn push(&mut self, col: usize) -> Result<(), usize> {
        let depth = self.base().0 + 1;
        if depth > self.max {
            return Err(col);
        }
        self.stack.push((col as isize, depth));
        Ok(())
    }

    /// A node in block context starting at `i` (or after it).
    fn block_node(&mut self, line: &[u8], mut i: usize) -> Result<(), usize> {
        loop {
            i = skip_blanks(line, i);
            let Some(&b) = line.get(i) else {
                return Ok(());
            };
            match b {
                b'#' => return Ok(()),
                b'-' | b'?' | b':' if blank_or_end(line, i + 1) => {
                    self.push(i)?;
                    i += 1;
                }
                b'!' | b'&' => {
                    while !blank_or_end(line, i) {
                        i += 1;
                    }
                }
                b'|' | b'>' => {
                    self.skip_deeper_than = Some(self.base().1);
                    return Ok(());
                }
                b'[' | b'{' => {
                    self.flow_base = self.base().0;
                    return match self.flow_scan(line, i)? {
                        Some(end) => self.after_node(line, i, end),
                        None => Ok(()),
                    };
                }
                b'"' | b'\'' => {
                    return match quoted_end(line, i + 1, b) {
                        Some(end) => self.after_node(line, i, end),
                        None => {
                            self.quote = Some(b);
                            Ok(())
                        }
                    };
                }
                b'*' => {
                    let mut end = i;
                    while !blank_or_end(line, end) {
                        end += 1;
                    }
                    return self.after_node(line, i, end);
                }
                _ => return self.plain(line, i),
            }
        }
    }

    /// A plain scalar at `i` in block context: a key if a `: ` follows,
    /// else a value whose continuation lines are text.
    fn plain(&mut self, line: &[u8], i: usize) -> Result<(), usize> {
        let mut j = i;
        while j < line.len() {
            match line[j] {
                b':' if blank_or_end(line, j + 1) => {
                    self.push(i)?;
                    return self.block_node(line, j + 1);
                }
                b'#' if j > i && is_blank(line[j - 1]) => break,
                _ => j += 1,
            }
        }
        self.skip_deeper_than = Some(self.base().1);
        Ok(())
    }

    /// After a quoted scalar, alias or flow collection that began at
    /// `start` and ended at `end`: a `:` makes it a key.
    fn after_node(&mut self, line: &[u8], start: usize, end: usize) -> Result<(), usize> {
        let i = skip_blanks(line, end);
        if line.get(i) == Some(&b':') && blank_or_end(line, i + 1) {
            self.push(start)?;
            return self.block_node(line, i + 1);
        }
        Ok(())
    }

    /// Scans flow content from `i` (a `[` or `{` when the collection opens
    /// here). `Some(end)` once the outermost collection closes, `None` if it
    /// goes on to the next line (or a quoted scalar in it does).
    fn flow_scan(&mut self, line: &[u8], mut i: usize) -> Result<Option<usize>, usize> {
        while i < line.len() {
            let b = line[i];
            match b {
                b'[' | b'{' => {
                    self.flow += 1;
                    if self.flow_base + self.flow > self.max {
                        return Err(i);
                    }
                    self.flow_node_start = true;
                    self.flow_after_node = false;
                }
                b']' | b'}' => {
                    self.flow = self.flow.saturating_sub(1);
                    self.flow_node_start = false;
                    self.flow_after_node = true;
                    if self.flow == 0 {
                        return Ok(Some(i + 1));
                    }
                }
                b',' => {
                    self.flow_node_start = true;
                    self.flow_after_node = false;
                }
                b'#' if i == 0 || is_blank(line[i - 1]) => return Ok(None),
                b':' if self.flow_after_node
                    || line
                        .get(i + 1)
                        .is_none_or(|&n| is_blank(n) || is_flow_indicator(n)) =>
                {
                    self.flow_node_start = true;
                    self.flow_after_node = false;
                }
                b'"' | b'\'' if self.flow_node_start => match quoted_end(line, i + 1, b) {
                    Some(end) => {
                        self.flow_node_start = false;
                        self.flow_after_node = true;
                        i = end;
                        continue;
                    }
                    None => {
                        self.quote = Some(b);
                        return Ok(None);
                    }
                },
                b'!' | b'&' if self.flow_node_start => {
                    while i < line.len() && !is_blank(line[i]) && !is_flow_indicator(line[i]) {
                        i += 1;
                    }
                    continue;
                }
                b if is_blank(b) => {}
                _ => {
                    self.flow_node_start = false;
                    self.flow_after_node = false;
                }
            }
            i += 1;
        }
        Ok(None)
    }
}

/// Where a quoted scalar whose content starts at `i` ends (just after the
/// closing quote), or `None` if it goes on past this line.
fn quoted_end(line: &[u8], mut i: usize, quote: u8) -> Option<usize> {
    while i < line.len() {
        match line[i] {
            b'\\' if quote == b'"' => i += 2,
            b'\'' if quote == b'\'' && line.get(i + 1) == Some(&b'\'') => i += 2,
            b if b == quote => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The depth the scan finds: the smallest `max` it accepts.
    fn depth(text: &str) -> usize {
        (0..=MAX_DEPTH)
            .find(|&max| too_deep(text, max).is_none())
            .expect("within MAX_DEPTH")
    }

    #[test]
    fn counts_block_and_flow_nesting() {
        assert_eq!(depth(""), 0);
        assert_eq!(depth("# just a comment\n"), 0);
        assert_eq!(depth("plain\n"), 0);
        assert_eq!(depth("a: 1\nb: 2\n"), 1);
        assert_eq!(depth("a:\n  b:\n    c: 1\n"), 3);
        assert_eq!(depth("- - - x\n"), 3);
        assert_eq!(depth("- a: 1\n  b: [1, {c: 2}]\n"), 4);
        assert_eq!(depth("a: [[[x]]]\n"), 4);
        assert_eq!(depth("[[[x]]]\n"), 3);
        assert_eq!(depth("a: {b: {c: [1,\n  2, [3]]}}\n"), 5);
        assert_eq!(
            depth("prompt: p\ncases:\n  - id: a\n    vars: {x: [1]}\n"),
            5
        );
    }

    #[test]
    fn never_counts_what_cannot_nest() {
        // Brackets in quotes, comments, block scalars and plain scalars.
        let text = r#"
a: "[[[[ {{ not nesting"
b: '[[[ it''s text'
c: text with [[[ brackets
d: |
  [[[[[[[[ {{{{{{ literal
  - - - - - -
   key: value: more
e: >-
  {{{{{{{{
f: x # [[[[[[[[
g: [ "]]]]", '[[[[', {h: "{"} ]
"k[[[": v
i: "multi
  [[[[[[ line"
j: plain
  [[[[[[ continued
"#;
        assert_eq!(depth(text), 3, "{text}");
        // A prompt's template text, full of `{{ }}`.
        let prompt =
            "template: |\n  {{#each items}}\n  {{{{raw}}}} {{/each}}\n  [[[[[[[[[[[[[[[[[[\n";
        assert_eq!(depth(prompt), 1);
        let seq_block = "- |\n  [[[[[[[[[[\n- >\n   {{{{{{{{\n";
        assert_eq!(depth(seq_block), 1);
    }

    #[test]
    fn refuses_deep_flow_at_once() {
        let n = 200_000;
        let text = format!("a: {}{}\n", "[".repeat(n), "]".repeat(n));
        let started = std::time::Instant::now();
        assert_eq!(too_deep(&text, MAX_DEPTH), Some((1, 3 + MAX_DEPTH)));
        assert!(started.elapsed().as_secs() < 1);
        let text = format!("x: 1\ny: {}\n", "{a: ".repeat(n));
        assert_eq!(
            too_deep(&text, MAX_DEPTH),
            Some((2, 4 + 4 * (MAX_DEPTH - 1)))
        );
    }

    #[test]
    fn refuses_deep_block_nesting() {
        let text = format!("{}x\n", "- ".repeat(1000));
        assert_eq!(too_deep(&text, MAX_DEPTH), Some((1, 2 * MAX_DEPTH + 1)));
        let mut text = String::new();
        for i in 0..200 {
            text.push_str(&format!("{}k:\n", " ".repeat(i)));
        }
        assert_eq!(
            too_deep(&text, MAX_DEPTH),
            Some((MAX_DEPTH + 1, MAX_DEPTH + 1))
        );
    }

    #[test]
    fn the_bound_itself_is_fine() {
        let n = MAX_DEPTH - 1;
        let text = format!("a: {}{}\n", "[".repeat(n), "]".repeat(n));
        assert_eq!(too_deep(&text, MAX_DEPTH), None);
        let text = format!("a: {}{}\n", "[".repeat(n + 1), "]".repeat(n + 1));
        assert!(too_deep(&text, MAX_DEPTH).is_some());
    }

    /// How deep a value really nests: a collection is one level more than
    /// its deepest element.
    fn real_depth(v: &serde_json::Value) -> usize {
        use serde_json::Value;
        match v {
            Value::Array(a) => 1 + a.iter().map(real_depth).max().unwrap_or(0),
            Value::Object(o) => 1 + o.values().map(real_depth).max().unwrap_or(0),
            _ => 0,
        }
    }

    /// Any JSON value a few levels deep, whose strings are full of what
    /// YAML treats specially.
    fn value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        use serde_json::Value;
        let text = "[-\\[\\]{}\"'#:|>&*!?%@` ,.a-z\n\t]{0,12}";
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            text.prop_map(Value::String),
        ];
        leaf.prop_recursive(6, 64, 5, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                proptest::collection::btree_map(text, inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// The scan never counts more levels than the document has, in
        /// block style (as promptctl and most people write YAML) or flow
        /// style (JSON is YAML).
        #[test]
        fn never_deeper_than_the_document(v in value()) {
            let real = real_depth(&v);
            let block = serde_yaml::to_string(&v).unwrap();
            proptest::prop_assert!(depth(&block) <= real, "block:\n{}", block);
            let flow = serde_json::to_string(&v).unwrap();
            proptest::prop_assert!(depth(&flow) <= real, "flow: {}", flow);
            let pretty = serde_json::to_string_pretty(&v).unwrap();
            proptest::prop_assert!(depth(&pretty) <= real, "pretty:\n{}", pretty);
        }
    }
}
