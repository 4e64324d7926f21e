//! The built-in detectors: a regular expression proposes candidates, then a
//! check the regex cannot express accepts or rejects them (Luhn, mod-97, SSN
//! ranges, and whether a number is glued to a longer one, which is what keeps
//! dates, versions and timestamps out).
//!
//! Every pattern uses ASCII word boundaries, so the lazy DFA never has to give
//! up on non-ASCII text; classes are spelled `[0-9]` because `\d` is Unicode.

use std::net::Ipv6Addr;
use std::sync::LazyLock;

use regex::Regex;

use crate::workspace::config::Builtin;

/// The kind a builtin writes into its marker.
pub(super) fn kind(builtin: Builtin) -> &'static str {
    match builtin {
        Builtin::Email => "email",
        Builtin::Phone => "phone",
        Builtin::CreditCard => "credit_card",
        Builtin::Ssn => "ssn",
        Builtin::Iban => "iban",
        Builtin::IpAddress => "ip_address",
        Builtin::ApiKey => "api_key",
    }
}

/// Calls `emit(start, end)` for every byte span of `text` that `builtin`
/// accepts. Spans of one detector may overlap; the caller resolves that.
pub(super) fn find(builtin: Builtin, text: &str, emit: &mut impl FnMut(usize, usize)) {
    match builtin {
        Builtin::Email => email(text, emit),
        Builtin::Phone => phone(text, emit),
        Builtin::CreditCard => credit_card(text, emit),
        Builtin::Ssn => ssn(text, emit),
        Builtin::Iban => iban(text, emit),
        Builtin::IpAddress => ip_address(text, emit),
        Builtin::ApiKey => api_key(text, emit),
    }
}

fn compile(pattern: &str) -> Regex {
    Regex::new(pattern).expect("builtin redaction patterns compile")
}

/// A word character in the ASCII sense, as `(?-u:\b)` sees it.
fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Whether the span starting at `start` continues a longer token to its left:
/// a word character, or a `.`/`-` that follows a digit (`1.2.3.4` inside
/// `1.2.3.4.5`, `555-123-4567` inside `12-555-123-4567`).
fn glued_before(text: &str, start: usize) -> bool {
    let b = text.as_bytes();
    match start.checked_sub(1).map(|i| b[i]) {
        None => false,
        Some(c) if is_word(c) => true,
        Some(b'.' | b'-') => start >= 2 && b[start - 2].is_ascii_digit(),
        Some(_) => false,
    }
}

/// The mirror of [`glued_before`] for the span ending at `end`.
fn glued_after(text: &str, end: usize) -> bool {
    let b = text.as_bytes();
    match b.get(end) {
        None => false,
        Some(&c) if is_word(c) => true,
        Some(b'.' | b'-') => b.get(end + 1).is_some_and(u8::is_ascii_digit),
        Some(_) => false,
    }
}

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,63}(?-u:\b)",
    )
});

fn email(text: &str, emit: &mut impl FnMut(usize, usize)) {
    for m in EMAIL.find_iter(text) {
        emit(m.start(), m.end());
    }
}

/// `+` country code and 7 to 15 digits in all (E.164), with spaces, dots,
/// dashes and parentheses between them.
static PHONE_INTL: LazyLock<Regex> =
    LazyLock::new(|| compile(r"\+[1-9](?:(?:[ .\-]|\)[ .\-]?|[ .\-]?\()?[0-9]){6,14}(?-u:\b)"));

/// North American `(555) 123-4567`, `555-123-4567`, `555.123.4567`,
/// `1-555-123-4567`. Exactly 3-3-4, so dates (4-2-2) never fit.
static PHONE_US: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r"(?:1[ .\-]?)?(?:\([2-9][0-9]{2}\) ?|[2-9][0-9]{2}[ .\-])[0-9]{3}[ .\-][0-9]{4}(?-u:\b)",
    )
});

fn phone(text: &str, emit: &mut impl FnMut(usize, usize)) {
    // A `+` glued to a digit is a timezone offset (`10:15:30+01:00`) or sum.
    for m in PHONE_INTL.find_iter(text) {
        if !glued_before(text, m.start()) {
            emit(m.start(), m.end());
        }
    }
    for m in PHONE_US.find_iter(text) {
        let plus = m.start() > 0 && text.as_bytes()[m.start() - 1] == b'+';
        if !plus && !glued_before(text, m.start()) && !glued_after(text, m.end()) {
            emit(m.start(), m.end());
        }
    }
}

/// A run of digit groups joined by single spaces or dashes; which groups form
/// a card is decided in [`credit_card`].
static DIGIT_RUN: LazyLock<Regex> =
    LazyLock::new(|| compile(r"(?-u:\b)[0-9]+(?:[ \-][0-9]+)*(?-u:\b)"));

/// 13 digits with at most single separators between them: every card has it.
static CARD_HINT: LazyLock<Regex> = LazyLock::new(|| compile(r"[0-9](?:[ \-]?[0-9]){12}"));

/// Cards are 13 to 19 digits that pass Luhn: either one unbroken group, or
/// groups as cards are printed (a first group of 4, then groups of 3 to 7 and
/// perhaps a shorter last one, so 4-4-4-4, 4-6-5 and 4-4-4-4-3 all fit).
/// Within a run of groups the leftmost, then longest, valid window wins, so
/// `2 4111 1111 1111 1111` still finds the card. A single group longer than
/// 19 digits is never a card.
fn credit_card(text: &str, emit: &mut impl FnMut(usize, usize)) {
    // Most text has numbers but no 13 of them in a row; one scan says so.
    if !CARD_HINT.is_match(text) {
        return;
    }
    for m in DIGIT_RUN.find_iter(text) {
        let run = m.as_str();
        if run.bytes().filter(u8::is_ascii_digit).count() < 13 {
            continue;
        }
        // (start, end) of each group, relative to the run. Only runs of 13 or
        // more digits get here, so this rarely allocates.
        let mut groups = Vec::new();
        let mut start = 0;
        for (i, b) in run.bytes().enumerate() {
            if !b.is_ascii_digit() {
                groups.push((start, i));
                start = i + 1;
            }
        }
        groups.push((start, run.len()));
        // A run that continues a decimal (`3.14159…`) can't start a card at
        // its first group, nor end one at its last.
        let first_ok = !glued_decimal_before(text, m.start());
        let last_ok = !glued_decimal_after(text, m.end());
        let mut i = if first_ok { 0 } else { 1 };
        while i < groups.len() {
            let last = if last_ok {
                groups.len()
            } else {
                groups.len() - 1
            };
            match longest_card_from(run, &groups[..last], i) {
                Some(j) => {
                    emit(m.start() + groups[i].0, m.start() + groups[j].1);
                    i = j + 1;
                }
                None => i += 1,
            }
        }
    }
}

/// The last group index of the longest valid card starting at group `i`.
fn longest_card_from(run: &str, groups: &[(usize, usize)], i: usize) -> Option<usize> {
    let len = |g: (usize, usize)| g.1 - g.0;
    let first = len(*groups.get(i)?);
    if first > 19 {
        return None;
    }
    let mut best = None;
    let mut digits = 0;
    for (j, &g) in groups.iter().enumerate().skip(i) {
        let l = len(g);
        // Groups after a first group of 4 are 3 to 7 digits; only the last
        // may be shorter (`4222 2222 2222 2`).
        if j > i && (first != 4 || l > 7) {
            break;
        }
        digits += l;
        if digits > 19 {
            break;
        }
        if digits >= 13 && luhn(&run[groups[i].0..g.1]) {
            best = Some(j);
        }
        if j > i && l < 3 {
            break;
        }
    }
    best
}

/// The Luhn check over the digits of `s` (separators skipped). All zeros is
/// rejected: it passes the arithmetic but is no card.
fn luhn(s: &str) -> bool {
    let mut sum = 0u32;
    let mut nonzero = false;
    for (k, b) in s.bytes().rev().filter(u8::is_ascii_digit).enumerate() {
        let d = u32::from(b - b'0');
        nonzero |= d != 0;
        sum += if k % 2 == 1 {
            let x = d * 2;
            if x > 9 { x - 9 } else { x }
        } else {
            d
        };
    }
    nonzero && sum.is_multiple_of(10)
}

/// `3.14159265358979323`: the digits after a decimal point are no card.
fn glued_decimal_before(text: &str, start: usize) -> bool {
    let b = text.as_bytes();
    start >= 2 && matches!(b[start - 1], b'.' | b',') && b[start - 2].is_ascii_digit()
}

fn glued_decimal_after(text: &str, end: usize) -> bool {
    let b = text.as_bytes();
    matches!(b.get(end), Some(b'.' | b',')) && b.get(end + 1).is_some_and(u8::is_ascii_digit)
}

static SSN: LazyLock<Regex> =
    LazyLock::new(|| compile(r"(?-u:\b)[0-9]{3}-[0-9]{2}-[0-9]{4}(?-u:\b)"));

/// US `AAA-GG-SSSS`. Area 000, 666 and 900-999, group 00 and serial 0000 are
/// never issued.
fn ssn(text: &str, emit: &mut impl FnMut(usize, usize)) {
    for m in SSN.find_iter(text) {
        let s = m.as_str();
        let (area, group, serial) = (&s[0..3], &s[4..6], &s[7..11]);
        let valid = area != "000"
            && area != "666"
            && !area.starts_with('9')
            && group != "00"
            && serial != "0000";
        if valid && !glued_before(text, m.start()) && !glued_after(text, m.end()) {
            emit(m.start(), m.end());
        }
    }
}

/// Country code, check digits, then up to 30 alphanumerics: compact, or in
/// groups of four separated by single spaces with a shorter last group.
static IBAN: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r"(?-u:\b)[A-Z]{2}[0-9]{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,3})?)(?-u:\b)",
    )
});

/// IBANs pass the ISO 13616 mod-97 check. A grouped IBAN may be followed by a
/// number that looks like one more group (`BE68 5390 0754 7034 2024`), so
/// shorter prefixes ending at a group boundary are tried, longest first.
fn iban(text: &str, emit: &mut impl FnMut(usize, usize)) {
    for m in IBAN.find_iter(text) {
        let s = m.as_str();
        let mut end = s.len();
        loop {
            if iban_valid(&s[..end]) {
                emit(m.start(), m.start() + end);
                break;
            }
            match s[..end].rfind(' ') {
                Some(space) if space > 4 => end = space,
                _ => break,
            }
        }
    }
}

fn iban_valid(s: &str) -> bool {
    let compact = || s.bytes().filter(|&b| b != b' ');
    let len = compact().count();
    if !(15..=34).contains(&len) {
        return false;
    }
    let check = &s.as_bytes()[2..4];
    let check = u32::from(check[0] - b'0') * 10 + u32::from(check[1] - b'0');
    if !(2..=98).contains(&check) {
        return false;
    }
    // Move the first four characters to the end, read letters as 10..35.
    let mut rem = 0u32;
    for b in compact().skip(4).chain(compact().take(4)) {
        rem = match b {
            b'0'..=b'9' => (rem * 10 + u32::from(b - b'0')) % 97,
            b'A'..=b'Z' => (rem * 100 + u32::from(b - b'A') + 10) % 97,
            _ => return false,
        };
    }
    rem == 1
}

const OCTET: &str = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])";

/// Exactly four octets of 0-255 without leading zeros.
static IPV4: LazyLock<Regex> =
    LazyLock::new(|| compile(&format!(r"(?-u:\b){OCTET}(?:\.{OCTET}){{3}}(?-u:\b)")));

/// A candidate IPv6 address: hex groups with at least two colons, perhaps
/// ending in an IPv4 address. `Ipv6Addr` decides whether it is one.
static IPV6: LazyLock<Regex> = LazyLock::new(|| {
    compile(r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,8}(?:(?:\.[0-9]{1,3}){3})?")
});

fn ip_address(text: &str, emit: &mut impl FnMut(usize, usize)) {
    for m in IPV4.find_iter(text) {
        if !glued_before(text, m.start()) && !glued_after(text, m.end()) {
            emit(m.start(), m.end());
        }
    }
    for m in IPV6.find_iter(text) {
        let start = m.start();
        let before = start.checked_sub(1).map(|i| text.as_bytes()[i]);
        if before.is_some_and(|c| is_word(c) || c == b'.' || c == b':') {
            continue;
        }
        let mut s = m.as_str();
        if s.parse::<Ipv6Addr>().is_err() {
            // A colon that ends a sentence: `listening on fe80::1: ok`.
            match s.strip_suffix(':') {
                Some(t) if !t.ends_with(':') && t.parse::<Ipv6Addr>().is_ok() => s = t,
                _ => continue,
            }
        }
        let end = start + s.len();
        // `a::b` and `std::` are code, not addresses: real addresses have a
        // digit somewhere, unless all eight groups are written out.
        let plausible =
            s.bytes().any(|b| b.is_ascii_digit()) || s.bytes().filter(|&b| b == b':').count() == 7;
        if plausible && !glued_after(text, end) {
            emit(start, end);
        }
    }
}

/// The rest of a PEM block after its `BEGIN … PRIVATE KEY` header: up to the
/// matching footer, or else the base64 lines that follow.
static PEM_FOOTER: LazyLock<Regex> =
    LazyLock::new(|| compile(r"-----END (?:[A-Z]+ )?PRIVATE KEY-----"));
static PEM_BODY: LazyLock<Regex> =
    LazyLock::new(|| compile(r"\A(?:(?:\r?\n|\\n)[A-Za-z0-9+/=]+)*"));

/// Credentials, by the detectors `promptctl lint` uses. A bearer token is
/// redacted with its `Bearer` prefix; a private key with its whole PEM block.
fn api_key(text: &str, emit: &mut impl FnMut(usize, usize)) {
    for (kind, re) in crate::privacy::secrets::DETECTORS.iter() {
        for m in re.find_iter(text) {
            let end = if *kind == "private_key" {
                pem_end(text, m.end())
            } else {
                m.end()
            };
            emit(m.start(), end);
        }
    }
}

fn pem_end(text: &str, header_end: usize) -> usize {
    let rest = &text[header_end..];
    if let Some(footer) = PEM_FOOTER.find(rest) {
        return header_end + footer.end();
    }
    header_end + PEM_BODY.find(rest).map_or(0, |m| m.end())
}
