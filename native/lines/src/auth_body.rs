//! The bodies of sshd, pam_unix and sudo lines, read as collectors/sshd.py, pam.py and sudo.py read
//! them (same regexes, followed step by step, backtracking included), into a body shape and its
//! values. None from a public function: a body the Python parser is to read (a rarer shape); from a
//! regex's reader: no match.

/// The body shapes, in the order the Python side hands their specs over (see syslog.py).
pub const NO_FIELDS: usize = 0;
pub const AUTH: usize = 1;
pub const FAILED: usize = 2;
pub const ACCEPTED: usize = 3;
pub const INVALID: usize = 4;
pub const DISCONNECT: usize = 5;
pub const FAILURE: usize = 6;
pub const SESSION: usize = 7;
pub const SESSION_BY: usize = 8;
pub const SUDO: usize = 9;
pub const MAX_TRIES: usize = 10;
pub const PEER: usize = 11;
pub const SU_FAILURE: usize = 12;
pub const SHAPES: usize = 13;

/// Text constants a body's values name (a list value is a new one-item list of it).
#[derive(Clone, Copy)]
pub enum Word {
    Start,
    End,
    SessionOpened,
    SessionClosed,
    Authentication,
    Info,
    Failure,
    Process,
    Success,
    Disconnected,
    Closed,
}

pub const WORDS: [&str; 11] = [
    "start",
    "end",
    "session_opened",
    "session_closed",
    "authentication",
    "info",
    "failure",
    "process",
    "success",
    "Disconnected",
    "Closed",
];

/// One value of a body, made a Python object once the whole line is known to be handled here.
#[derive(Clone, Copy)]
pub enum V<'a> {
    Null,
    Str(&'a [u8]),
    Int(i64),
    Word(Word),
    List(Word),
}

/// Is this peer an IP address (addresses.is_ip)? Dotted IPv4 is answered here; text with a colon
/// goes to the Python function (IPv6 has more spellings than are worth copying).
pub trait IsIp {
    fn is_ip(&mut self, text: &[u8]) -> Option<bool>;
}

/// `_IPV4` of addresses.py: four dot-separated decimal octets, no leading zeros, nothing after.
pub fn is_ipv4(t: &[u8]) -> bool {
    let mut parts = 0;
    for part in t.split(|&c| c == b'.') {
        parts += 1;
        if parts > 4 || part.is_empty() || part.len() > 3 || !part.iter().all(u8::is_ascii_digit) {
            return false;
        }
        if part.len() > 1 && part[0] == b'0' {
            return false;
        }
        let n = part.iter().fold(0u32, |n, &c| n * 10 + (c - b'0') as u32);
        if n > 255 {
            return false;
        }
    }
    parts == 4
}

/// A body's values (at most ten), without a heap allocation per line.
#[derive(Clone, Copy)]
pub struct Row<'a> {
    pub v: [V<'a>; 10],
    pub n: usize,
}

impl<'a> Row<'a> {
    pub fn of(values: &[V<'a>]) -> Row<'a> {
        let mut row = Row {
            v: [V::Null; 10],
            n: 0,
        };
        row.extend(values);
        row
    }
    pub fn extend(&mut self, values: &[V<'a>]) {
        self.v[self.n..self.n + values.len()].copy_from_slice(values);
        self.n += values.len();
    }
    pub fn values(&self) -> &[V<'a>] {
        &self.v[..self.n]
    }
}

pub type Body<'a> = (usize, Row<'a>);

fn starts(b: &[u8], at: usize, s: &[u8]) -> bool {
    b.get(at..).is_some_and(|t| t.starts_with(s))
}

/// Where `s` first is in `b`: a scan by its first byte (memmem's searcher costs more to set up than
/// these short texts take to scan).
fn find(b: &[u8], s: &[u8]) -> Option<usize> {
    let mut at = 0;
    while let Some(k) = memchr::memchr(s[0], &b[at..]) {
        let i = at + k;
        if b[i..].starts_with(s) {
            return Some(i);
        }
        at = i + 1;
    }
    None
}

fn run(b: &[u8], from: usize, keep: impl Fn(u8) -> bool) -> usize {
    let mut i = from;
    while i < b.len() && keep(b[i]) {
        i += 1;
    }
    i
}

fn word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn hexish(c: u8) -> bool {
    c.is_ascii_hexdigit() || c == b'.' || c == b':'
}

fn int(digits: &[u8]) -> i64 {
    digits.iter().fold(0i64, |n, &c| n * 10 + (c - b'0') as i64)
}

/// `(?P<user>.*?) from (?P<ip>[^\s]+)` from `from`: the lazy user ends at the first " from " with
/// a non-space after it. Returns (user end, ip start, ip end).
fn user_from(b: &[u8], from: usize) -> Option<(usize, usize, usize)> {
    let mut at = from;
    loop {
        let i = at + find(&b[at..], b" from ")?;
        if b.get(i + 6).is_some_and(|&c| c != b' ') {
            return Some((i, i + 6, run(b, i + 6, |c| c != b' ')));
        }
        at = i + 1;
    }
}

/// `(?: port (?P<port>\d+))?` at `at`.
fn port_at(b: &[u8], at: usize) -> Option<&[u8]> {
    if starts(b, at, b" port ") {
        let end = run(b, at + 6, |c| c.is_ascii_digit());
        if end > at + 6 {
            return Some(&b[at + 6..end]);
        }
    }
    None
}

/// sshd.py's `_source`: (source.ip, source.port, source.domain) of a peer as written.
fn source<'a>(ip: &'a [u8], port: Option<&'a [u8]>, net: &mut dyn IsIp) -> Option<[V<'a>; 3]> {
    if ip.is_empty() {
        return Some([V::Null, V::Null, V::Null]);
    }
    let address = if ip.starts_with(b"::ffff:") && ip.contains(&b'.') {
        &ip[7..]
    } else {
        ip
    };
    if net.is_ip(address)? {
        return Some(match port {
            Some(p) if p.len() <= 5 => [V::Str(address), V::Int(int(p)), V::Null],
            _ => [V::Str(address), V::Null, V::Null],
        });
    }
    Some([V::Null, V::Null, V::Str(address)])
}

/// sshd_fields. Its tests are tried in its order; a regex that does not match lets the next test
/// go on, as there; the few tests not followed here give None.
pub fn sshd<'a>(msg: &'a [u8], net: &mut dyn IsIp) -> Option<Body<'a>> {
    let mut msg = msg;
    let mut first = *msg.first()?;
    if first == b'[' || msg.starts_with(b"message repeated") {
        return None;
    }
    if (first == b'F' && msg.starts_with(b"Failed "))
        || (first == b'A' && msg.starts_with(b"Accepted "))
    {
        if let Some(body) = login(msg, net) {
            return Some(body);
        }
    }
    if (first == b'I' || first == b'i') && starts(msg, 1, b"nvalid user ") {
        if let Some((user_end, ip, ip_end)) = user_from(msg, 13) {
            let peer = source(&msg[ip..ip_end], port_at(msg, ip_end), net)?;
            let mut v = Row::of(&[V::Str(&msg[13..user_end])]);
            v.extend(&peer);
            return Some((INVALID, v));
        }
    }
    if first == b'R' || first == b'D' || first == b'C' {
        if let Some(body) = disconnect(msg, net) {
            return Some(body);
        }
    }
    if first == b'e' && msg.starts_with(b"error: ") {
        if msg.starts_with(b"error: PAM: ") {
            return None; // _PAM_FAIL
        }
        msg = &msg[7..];
        first = *msg.first()?;
        if first == b'R' || first == b'D' || first == b'C' {
            if let Some(body) = disconnect(msg, net) {
                return Some(body);
            }
        }
    }
    if first == b'm' && msg.starts_with(b"maximum authentication") {
        if let Some(body) = max_tries(msg, net) {
            return Some(body);
        }
    }
    if first == b'U' && msg.starts_with(b"User ") && find(msg, b" not allowed").is_some() {
        return None; // _NOT_ALLOWED
    }
    if matches!(first, b'p' | b'(' | b'a')
        && (msg.starts_with(b"pam_unix(")
            || msg.starts_with(b"(pam_unix)")
            || msg.starts_with(b"authentication failure"))
    {
        return pam(msg, net);
    }
    if first == b'P'
        && msg.starts_with(b"PAM ")
        && find(msg, b"more authentication failure").is_some()
    {
        return None; // read as a rewritten pam_unix line
    }
    peer(msg, net)
}

/// `_PEER`'s first match (in finditer's order) that is an IP address, else no peer.
fn peer<'a>(msg: &'a [u8], net: &mut dyn IsIp) -> Option<Body<'a>> {
    let mut p = 0;
    while p < msg.len() {
        match peer_at(msg, p) {
            Some((g0, k)) => {
                if net.is_ip(&msg[g0..k])? {
                    return Some((PEER, Row::of(&[V::Str(&msg[g0..k])])));
                }
                p = k;
            }
            None => p += 1,
        }
    }
    Some((AUTH, Row::of(&[])))
}

/// `(?:\[|(?:from|FROM|with|for) )(?:::ffff:)?([0-9A-Fa-f.:]*[0-9A-Fa-f])\b` at `p`: the group.
fn peer_at(msg: &[u8], p: usize) -> Option<(usize, usize)> {
    let q = if msg[p] == b'[' {
        p + 1
    } else {
        let key = [b"from ".as_slice(), b"FROM ", b"with ", b"for "]
            .into_iter()
            .find(|k| msg[p..].starts_with(k))?;
        p + key.len()
    };
    if starts(msg, q, b"::ffff:") {
        if let Some(k) = peer_group(msg, q + 7) {
            return Some((q + 7, k));
        }
    }
    peer_group(msg, q).map(|k| (q, k))
}

/// `[0-9A-Fa-f.:]*[0-9A-Fa-f]\b` at `g0`: the longest that ends in a hex digit before a non-word
/// character (or the end).
fn peer_group(msg: &[u8], g0: usize) -> Option<usize> {
    let end = run(msg, g0, hexish);
    (g0 + 1..=end)
        .rev()
        .find(|&k| msg[k - 1].is_ascii_hexdigit() && msg.get(k).is_none_or(|&c| !word(c)))
}

/// `_MAX_TRIES`.
fn max_tries<'a>(msg: &'a [u8], net: &mut dyn IsIp) -> Option<Body<'a>> {
    const HEAD: &[u8] = b"maximum authentication attempts exceeded for ";
    if !msg.starts_with(HEAD) {
        return None;
    }
    let (u0, (user_end, ip, ip_end)) = lazy_user(msg, HEAD.len())?;
    let peer = source(&msg[ip..ip_end], port_at(msg, ip_end), net)?;
    let mut v = Row::of(&[V::Str(&msg[u0..user_end])]);
    v.extend(&peer);
    Some((MAX_TRIES, v))
}

/// `(?P<invalid>invalid user )?(?P<user>.*?) from (?P<ip>[^\s]+)` at `at`, the optional group
/// given up when nothing follows it (as the regex backtracks): (user start, user_from's answer).
fn lazy_user(msg: &[u8], at: usize) -> Option<(usize, (usize, usize, usize))> {
    if starts(msg, at, b"invalid user ") {
        if let Some(found) = user_from(msg, at + 13) {
            return Some((at + 13, found));
        }
    }
    user_from(msg, at).map(|found| (at, found))
}

fn login<'a>(msg: &'a [u8], net: &mut dyn IsIp) -> Option<Body<'a>> {
    let accepted = msg[0] == b'A';
    let m0 = if accepted { 9 } else { 7 };
    let m1 = run(msg, m0, |c| word(c) || c == b'-');
    if m1 == m0 {
        return None;
    }
    let mut j = m1;
    if msg.get(j) == Some(&b'/') {
        j = run(msg, j + 1, word);
        if j == m1 + 1 {
            return None;
        }
    }
    if !starts(msg, j, b" for ") {
        return None;
    }
    let (u0, (user_end, ip, ip_end)) = lazy_user(msg, j + 5)?;
    let peer = source(&msg[ip..ip_end], port_at(msg, ip_end), net)?;
    let mut v = Row::of(&[V::Str(&msg[u0..user_end]), V::Str(&msg[m0..m1])]);
    v.extend(&peer);
    Some((if accepted { ACCEPTED } else { FAILED }, v))
}

/// `(?P<ip>[0-9A-Fa-f.:]+[0-9A-Fa-f])` at `at`: its end, the longest that ends in a hex digit.
fn ip_at(b: &[u8], at: usize) -> Option<usize> {
    let end = run(b, at, hexish);
    (at + 1..end)
        .rev()
        .find(|&k| b[k].is_ascii_hexdigit())
        .map(|k| k + 1)
}

fn disconnect<'a>(msg: &'a [u8], net: &mut dyn IsIp) -> Option<Body<'a>> {
    const EVENTS: [&[u8]; 5] = [
        b"Received disconnect ",
        b"Disconnected ",
        b"Disconnecting ",
        b"Connection closed ",
        b"Connection reset ",
    ];
    let ev = EVENTS.iter().find(|e| msg.starts_with(e))?;
    let mut i = ev.len();
    if starts(msg, i, b"from ") {
        i += 5;
    } else if starts(msg, i, b"by ") {
        i += 3;
    }
    let mut user: &[u8] = b"";
    let ip;
    if starts(msg, i, b"invalid user ") || starts(msg, i, b"authenticating user ") {
        let s = i + if msg[i] == b'i' { 13 } else { 20 };
        // The lazy user: the first space after which an address pattern matches.
        let mut j = s;
        loop {
            j += memchr::memchr(b' ', &msg[j..])?;
            if let Some(end) = ip_at(msg, j + 1) {
                user = &msg[s..j];
                ip = (j + 1, end);
                break;
            }
            j += 1;
        }
    } else if starts(msg, i, b"user ") {
        let s = i + 5;
        let e = run(msg, s, |c| c != b' ');
        if e == s || msg.get(e) != Some(&b' ') {
            return None;
        }
        user = &msg[s..e];
        ip = (e + 1, ip_at(msg, e + 1)?);
    } else {
        ip = (i, ip_at(msg, i)?);
    }
    let port = port_at(msg, ip.1);
    let peer = source(&msg[ip.0..ip.1], port, net)?;
    let kind = if msg[0] != b'C' {
        Word::Disconnected
    } else {
        Word::Closed
    };
    let mut v = Row::of(&[
        if user.is_empty() {
            V::Null
        } else {
            V::Str(user)
        },
        V::Word(kind),
    ]);
    v.extend(&peer);
    Some((DISCONNECT, v))
}

/// pam_fields.
pub fn pam<'a>(msg: &'a [u8], net: &mut dyn IsIp) -> Option<Body<'a>> {
    if let Some(at) = find(msg, b"authentication failure") {
        let rest = &msg[at + 22..];
        // `(\w+)=(\S*)` found left to right; the first of each key counts.
        let (mut rhost, mut user, mut ruser) = (None::<&[u8]>, None::<&[u8]>, None::<&[u8]>);
        let mut i = 0;
        while i < rest.len() {
            if !word(rest[i]) {
                i += 1;
                continue;
            }
            let j = run(rest, i, word);
            if rest.get(j) != Some(&b'=') {
                i = j;
                continue;
            }
            let e = run(rest, j + 1, |c| c != b' ');
            let (key, value) = (&rest[i..j], &rest[j + 1..e]);
            let slot = match key {
                b"rhost" => &mut rhost,
                b"user" => &mut user,
                b"ruser" => &mut ruser,
                _ => &mut None,
            };
            if slot.is_none() {
                *slot = Some(value);
            }
            i = e;
        }
        let name = match (user, ruser) {
            (Some(u), _) if !u.is_empty() => V::Str(u),
            (_, Some(r)) if !r.is_empty() => V::Str(r),
            _ => V::Null,
        };
        return Some(match rhost {
            Some(h) if !h.is_empty() => {
                if net.is_ip(h)? {
                    (FAILURE, Row::of(&[name, V::Str(h), V::Null]))
                } else {
                    (FAILURE, Row::of(&[name, V::Null, V::Str(h)]))
                }
            }
            _ => (FAILURE, Row::of(&[name, V::Null, V::Null])),
        });
    }
    let mut at = 0;
    while let Some(k) = find(&msg[at..], b"session ") {
        let i = at + k;
        at = i + 1;
        let opened = if starts(msg, i, b"session opened for user ") {
            true
        } else if starts(msg, i, b"session closed for user ") {
            false
        } else {
            continue;
        };
        let s = i + 24;
        let e = run(msg, s, |c| c != b' ' && c != b'(');
        if e == s {
            continue;
        }
        let mut j = e;
        if starts(msg, j, b"(uid=") {
            let d = run(msg, j + 5, |c| c.is_ascii_digit());
            if d > j + 5 && msg.get(d) == Some(&b')') {
                j = d + 1;
            }
        }
        let (kind, action) = if opened {
            (Word::Start, Word::SessionOpened)
        } else {
            (Word::End, Word::SessionClosed)
        };
        let user = V::Str(&msg[s..e]);
        if starts(msg, j, b" by ") {
            let b = run(msg, j + 4, |c| c != b' ' && c != b'(');
            if b > j + 4 {
                return Some((
                    SESSION_BY,
                    Row::of(&[V::List(kind), V::Word(action), user, V::Str(&msg[j + 4..b])]),
                ));
            }
        }
        return Some((SESSION, Row::of(&[V::List(kind), V::Word(action), user])));
    }
    Some((AUTH, Row::of(&[])))
}

fn strip(mut s: &[u8]) -> &[u8] {
    while let [b' ', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' '] = s {
        s = rest;
    }
    s
}

/// sudo_fields.
pub fn sudo<'a>(msg: &'a [u8], net: &mut dyn IsIp) -> Option<Body<'a>> {
    if msg.starts_with(b"pam_") {
        return pam(msg, net);
    }
    let Some(sep) = find(msg, b" : ") else {
        return Some((AUTH, Row::of(&[])));
    };
    let (user, rest) = (&msg[..sep], &msg[sep + 3..]);
    let (mut command, mut tty, mut pwd, mut runas) =
        (None::<&[u8]>, None::<&[u8]>, None::<&[u8]>, None::<&[u8]>);
    let mut problem: &[u8] = b"";
    let mut from = 0;
    loop {
        let end = find(&rest[from..], b" ; ").map_or(rest.len(), |k| from + k);
        let part = &rest[from..end];
        let eq = memchr::memchr(b'=', part);
        match eq {
            Some(e) if e > 0 && part[..e].iter().all(u8::is_ascii_uppercase) => {
                let (key, value) = (&part[..e], &part[e + 1..]);
                if key == b"COMMAND" {
                    // The command is last and may itself contain " ; ".
                    let at = find(rest, b"COMMAND=").expect("this part holds it");
                    command = Some(&rest[at + 8..]);
                    break;
                }
                match key {
                    b"USER" => runas = Some(value),
                    b"TTY" => tty = Some(value),
                    b"PWD" => pwd = Some(value),
                    _ => {}
                }
            }
            _ => {
                if problem.is_empty() {
                    problem = strip(part);
                }
            }
        }
        if end == rest.len() {
            break;
        }
        from = end + 3;
    }
    let opt = |v: Option<&'a [u8]>| v.map_or(V::Null, V::Str);
    let user = strip(user);
    let mut v = if problem.is_empty() {
        Row::of(&[
            V::List(Word::Process),
            V::List(Word::Start),
            V::Word(Word::Success),
        ])
    } else {
        Row::of(&[
            V::List(Word::Authentication),
            V::List(Word::Info),
            V::Word(Word::Failure),
        ])
    };
    v.extend(&[
        if user.is_empty() {
            V::Null
        } else {
            V::Str(user)
        },
        opt(runas),
        opt(command),
        opt(command),
        opt(tty),
        opt(pwd),
        if problem.is_empty() {
            V::Null
        } else {
            V::Str(problem)
        },
    ]);
    Some((SUDO, v))
}

/// su_fields, but for the lines its three regexes would match (those go to Python): pam_unix lines
/// (a failure as su's), anything else no fields.
pub fn su<'a>(msg: &'a [u8], net: &mut dyn IsIp) -> Option<Body<'a>> {
    if msg.starts_with(b"pam_") {
        let (shape, values) = pam(msg, net)?;
        return Some((if shape == FAILURE { SU_FAILURE } else { shape }, values));
    }
    // The starts _SU, _SU_OLD and _SU_SUCCESS can match at.
    for start in [
        b"(to ".as_slice(),
        b"FAILED SU ",
        b"FAILED su ",
        b"+ ",
        b"- ",
        b"Successful su for ",
    ] {
        if msg.starts_with(start) {
            return None;
        }
    }
    Some((AUTH, Row::of(&[])))
}

/// _kernel: a packet log line (netfilter.is_netfilter needs "SRC=") is left to Python, anything
/// else has no fields.
pub fn kernel<'a>(msg: &'a [u8]) -> Option<Body<'a>> {
    if find(msg, b"SRC=").is_some() {
        return None;
    }
    Some((NO_FIELDS, Row::of(&[])))
}

/// _generic's bodies that tell their kind whatever program wrote them: pam_unix lines, and plain
/// text (no "=": key=value bodies may be firewall lines, left to Python).
pub fn generic<'a>(msg: &'a [u8], net: &mut dyn IsIp) -> Option<Body<'a>> {
    if msg.starts_with(b"pam_unix") || msg.starts_with(b"(pam_unix)") {
        return pam(msg, net);
    }
    if msg.contains(&b'=') {
        return None;
    }
    Some((NO_FIELDS, Row::of(&[])))
}
