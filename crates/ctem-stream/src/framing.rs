//! Syslog over TCP (RFC 6587): octet counting (`LEN SP MSG`) and non-transparent framing
//! (a message a line, LF or NUL ended), told apart per frame by its first byte: a digit
//! starts a count, anything else a line (RFC 5424 / 3164 messages start with `<`).
//!
//! [`Framer`] is pushed bytes as they arrive and keeps its state between reads, so a read
//! that times out (to look at the stop flag) or a message split across TCP segments
//! loses nothing.

/// One frame out of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Message(Vec<u8>),
    /// Longer than the limit (skipped whole, counted as rejected).
    TooLong,
    /// An octet count of zero, or a stream that ended inside a counted frame.
    Bad,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    /// Digits of an octet count read so far (also kept in `buf` in case this is a line).
    Count(usize),
    Octets {
        left: usize,
        skip: bool,
    },
    Line {
        skip: bool,
    },
}

/// Push parser of a TCP syslog stream.
#[derive(Debug)]
pub struct Framer {
    state: State,
    buf: Vec<u8>,
    max: usize,
}

/// The longest octet count read (ten digits: past any sane message).
const MAX_DIGITS: usize = 10;

impl Framer {
    /// A framer for messages of at most `max` bytes.
    pub fn new(max: usize) -> Self {
        Framer {
            state: State::Start,
            buf: Vec::new(),
            max: max.max(1),
        }
    }

    /// Consumes `data`, calling `out` with every frame it completes.
    pub fn push(&mut self, mut data: &[u8], out: &mut impl FnMut(Frame)) {
        while !data.is_empty() {
            data = match self.state {
                State::Start => self.start(data),
                State::Count(n) => self.count(n, data, out),
                State::Octets { left, skip } => self.octets(left, skip, data, out),
                State::Line { skip } => self.line(skip, data, out),
            };
        }
    }

    /// The end of the stream: a last line without its newline is a message; a counted
    /// frame cut short is bad.
    pub fn finish(&mut self, out: &mut impl FnMut(Frame)) {
        match self.state {
            State::Start => {}
            State::Count(_) | State::Line { skip: false } => {
                if !self.buf.is_empty() {
                    out(Frame::Message(std::mem::take(&mut self.buf)));
                }
            }
            State::Line { skip: true } => out(Frame::TooLong),
            State::Octets { .. } => out(Frame::Bad),
        }
        self.buf.clear();
        self.state = State::Start;
    }

    fn start<'a>(&mut self, data: &'a [u8]) -> &'a [u8] {
        let b = data[0];
        match b {
            b'\n' | b'\r' | 0 | b' ' => {}
            b'0'..=b'9' => {
                self.buf.clear();
                self.buf.push(b);
                self.state = State::Count(usize::from(b - b'0'));
            }
            _ => {
                self.buf.clear();
                self.state = State::Line { skip: false };
                return data;
            }
        }
        &data[1..]
    }

    fn count<'a>(&mut self, n: usize, data: &'a [u8], out: &mut impl FnMut(Frame)) -> &'a [u8] {
        let b = data[0];
        if b.is_ascii_digit() && self.buf.len() < MAX_DIGITS {
            self.buf.push(b);
            self.state = State::Count(n * 10 + usize::from(b - b'0'));
        } else if b == b' ' {
            self.buf.clear();
            if n == 0 {
                out(Frame::Bad);
                self.state = State::Start;
            } else {
                self.state = State::Octets {
                    left: n,
                    skip: n > self.max,
                };
            }
        } else {
            // digits, then not a space: a line that starts with a digit
            self.state = State::Line { skip: false };
            return data;
        }
        &data[1..]
    }

    fn octets<'a>(
        &mut self,
        left: usize,
        skip: bool,
        data: &'a [u8],
        out: &mut impl FnMut(Frame),
    ) -> &'a [u8] {
        let take = left.min(data.len());
        if !skip {
            self.buf.extend_from_slice(&data[..take]);
        }
        let left = left - take;
        if left == 0 {
            out(if skip {
                Frame::TooLong
            } else {
                Frame::Message(std::mem::take(&mut self.buf))
            });
            self.state = State::Start;
        } else {
            self.state = State::Octets { left, skip };
        }
        &data[take..]
    }

    fn line<'a>(&mut self, skip: bool, data: &'a [u8], out: &mut impl FnMut(Frame)) -> &'a [u8] {
        let end = memchr::memchr2(b'\n', 0, data);
        let part = &data[..end.unwrap_or(data.len())];
        let skip = skip || self.buf.len() + part.len() > self.max;
        if skip {
            self.buf.clear();
        } else {
            self.buf.extend_from_slice(part);
        }
        match end {
            Some(i) => {
                if skip {
                    out(Frame::TooLong);
                } else {
                    if self.buf.last() == Some(&b'\r') {
                        self.buf.pop();
                    }
                    out(Frame::Message(std::mem::take(&mut self.buf)));
                }
                self.state = State::Start;
                &data[i + 1..]
            }
            None => {
                self.state = State::Line { skip };
                &[]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(chunks: &[&[u8]], max: usize) -> Vec<Frame> {
        let mut f = Framer::new(max);
        let mut out = Vec::new();
        for c in chunks {
            f.push(c, &mut |fr| out.push(fr));
        }
        f.finish(&mut |fr| out.push(fr));
        out
    }

    fn msg(s: &str) -> Frame {
        Frame::Message(s.as_bytes().to_vec())
    }

    #[test]
    fn octet_counted_and_newline_framed_mix_and_split_anywhere() {
        let stream = b"11 <13>1 a b c\n<13>Jan  1 00:00:00 h app: x\r\n5 <1>yz\0<2>last";
        let want = vec![
            msg("<13>1 a b c"),
            msg("<13>Jan  1 00:00:00 h app: x"),
            msg("<1>yz"),
            msg("<2>last"),
        ];
        assert_eq!(frames(&[stream], 1024), want);
        // every split point gives the same frames
        for i in 0..stream.len() {
            let (a, b) = stream.split_at(i);
            assert_eq!(frames(&[a, b], 1024), want, "split at {i}");
        }
        // byte by byte
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(frames(&bytes, 1024), want);
    }

    #[test]
    fn octet_counts_keep_newlines_inside_the_message() {
        assert_eq!(
            frames(&[b"6 <1>a\nb8 <1>c\r\nde"], 64),
            vec![msg("<1>a\nb"), msg("<1>c\r\nde")]
        );
    }

    #[test]
    fn too_long_frames_are_skipped_whole_and_the_next_one_is_read() {
        let f = frames(&[b"20 <1>0123456789abcdef", b"5 <1>ok"], 10);
        assert_eq!(f, vec![Frame::TooLong, msg("<1>ok")]);
        let f = frames(&[b"<1>this line is far too long\n<1>short\n"], 10);
        assert_eq!(f, vec![Frame::TooLong, msg("<1>short")]);
    }

    #[test]
    fn bad_counts_and_lines_starting_with_digits() {
        assert_eq!(frames(&[b"0 x\n"], 64), vec![Frame::Bad, msg("x")]);
        assert_eq!(frames(&[b"9 <1>cut"], 64), vec![Frame::Bad]);
        // a line starting with digits but no count is a line
        assert_eq!(
            frames(&[b"2024-01-01 text\n"], 64),
            vec![msg("2024-01-01 text")]
        );
        assert_eq!(frames(&[b"123"], 64), vec![msg("123")]);
    }
}
