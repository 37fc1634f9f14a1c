//! A small plain SMTP client (RFC 5321) for notifications through a local relay: EHLO,
//! MAIL FROM, RCPT TO, DATA, QUIT. No authentication and no TLS: the relay is on the host
//! or the local network (docs/deploy.md); a relay that needs either is reached through a
//! local MTA.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// One message.
pub struct Mail<'a> {
    pub from: &'a str,
    pub to: &'a [String],
    pub subject: &'a str,
    pub body: &'a str,
}

struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    /// Reads one reply (its continuation lines too) and checks its code.
    fn expect(&mut self, ok: &[u16], after: &str) -> Result<()> {
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line)? == 0 {
                bail!("the relay closed the connection after {after}");
            }
            let code: u16 = line.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
            if line.as_bytes().get(3) == Some(&b'-') {
                continue;
            }
            if !ok.contains(&code) {
                bail!("the relay answered {after} with {}", line.trim_end());
            }
            return Ok(());
        }
    }

    fn command(&mut self, cmd: &str, ok: &[u16]) -> Result<()> {
        self.writer.write_all(cmd.as_bytes())?;
        self.writer.write_all(b"\r\n")?;
        let verb = cmd.split([' ', ':']).next().unwrap_or(cmd);
        self.expect(ok, verb)
    }
}

/// An address without the characters that would break the protocol line.
fn clean(addr: &str) -> Result<&str> {
    if addr.is_empty() || addr.contains(['\r', '\n', '<', '>']) {
        bail!("{addr:?} is not a mail address");
    }
    Ok(addr)
}

/// The message text: headers, then the body with CRLF line ends and dot-stuffing.
fn message(m: &Mail<'_>) -> String {
    let subject: String = m.subject.chars().filter(|c| !c.is_control()).collect();
    let mut text = format!(
        "From: {}\r\nTo: {}\r\nSubject: {subject}\r\nDate: {}\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
        m.from,
        m.to.join(", "),
        chrono::Utc::now().to_rfc2822(),
    );
    for line in m.body.lines() {
        if line.starts_with('.') {
            text.push('.');
        }
        text.push_str(line);
        text.push_str("\r\n");
    }
    text
}

/// Sends `m` through the relay at `relay` (`HOST:PORT`).
pub fn send(relay: &str, m: &Mail<'_>, timeout: Duration) -> Result<()> {
    let addr = relay
        .to_socket_addrs()
        .with_context(|| format!("smtp relay {relay}"))?
        .next()
        .with_context(|| format!("smtp relay {relay}: no address"))?;
    let stream = TcpStream::connect_timeout(&addr, timeout)
        .with_context(|| format!("smtp relay {relay}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let mut c = Conn {
        reader: BufReader::new(stream.try_clone()?),
        writer: stream,
    };
    let run = |c: &mut Conn| -> Result<()> {
        c.expect(&[220], "connecting")?;
        c.command("EHLO ctem", &[250])?;
        c.command(&format!("MAIL FROM:<{}>", clean(m.from)?), &[250])?;
        for to in m.to {
            c.command(&format!("RCPT TO:<{}>", clean(to)?), &[250, 251])?;
        }
        c.command("DATA", &[354])?;
        c.writer.write_all(message(m).as_bytes())?;
        c.command(".", &[250])?;
        c.command("QUIT", &[221])
    };
    run(&mut c).with_context(|| format!("smtp relay {relay}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_dot_stuffed_with_crlf() {
        let to = vec!["a@example.org".to_string()];
        let m = Mail {
            from: "ctem@example.org",
            to: &to,
            subject: "x\r\nBcc: evil@example.org",
            body: "one\n.two\nthree",
        };
        let t = message(&m);
        assert!(t.contains("\r\n\r\none\r\n..two\r\nthree\r\n"), "{t}");
        assert!(t.contains("Subject: xBcc: evil@example.org\r\n"), "{t}");
        assert!(clean("a@b>\r\nRCPT TO:<c@d").is_err());
    }
}
