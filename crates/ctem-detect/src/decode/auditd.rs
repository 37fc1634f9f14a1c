//! Raw Linux audit logs (`/var/log/audit/audit.log`): `type=T msg=audit(TIME:SERIAL): k=v ...`.
//!
//! The records of one event share its serial number (a `SYSCALL`, its `EXECVE`, `CWD`,
//! `PATH` and `PROCTITLE`); they are grouped into one event, as the kernel meant them:
//! `type` lists every record type, each key keeps its value (a key that several records
//! carry, such as `a0` of `SYSCALL` and `EXECVE` or `name` of two `PATH` records, becomes a
//! list, and a rule matches any element), `serial` and `timestamp` come from `msg`, and
//! `format` is `auditd`. Records of one serial are expected together (as auditd writes
//! them); an event ends at its `EOE` record or at the next serial.

use serde_json::{Map, Value};

/// Whether a line looks like a raw audit record.
pub fn is_auditd_line(line: &str) -> bool {
    line.starts_with("type=") && line.contains(" msg=audit(")
}

/// One record: its type, time, serial and fields.
struct AuditRecord {
    kind: String,
    time: String,
    serial: String,
    fields: Vec<(String, String)>,
}

/// Splits `k=v k="v w" k='v'` pairs (quotes removed; a value without `=` in front is kept
/// whole as `msg` text).
fn pairs(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        let ks = i;
        while i < b.len() && b[i] != b'=' && b[i] != b' ' {
            i += 1;
        }
        if i >= b.len() || b[i] != b'=' {
            continue;
        }
        let key = &s[ks..i];
        i += 1;
        let value = match b.get(i) {
            Some(q @ (b'"' | b'\'')) => {
                let end = s[i + 1..].find(*q as char).map_or(s.len(), |e| i + 1 + e);
                let v = &s[(i + 1).min(s.len())..end];
                i = end + 1;
                v
            }
            _ => {
                let vs = i;
                while i < b.len() && b[i] != b' ' {
                    i += 1;
                }
                &s[vs..i]
            }
        };
        if !key.is_empty() {
            out.push((key.to_string(), value.to_string()));
        }
    }
    out
}

fn parse_record(line: &str) -> Option<AuditRecord> {
    let rest = line.strip_prefix("type=")?;
    let (kind, rest) = rest.split_once(' ')?;
    let rest = rest.trim_start().strip_prefix("msg=audit(")?;
    let (stamp, rest) = rest.split_once("):")?;
    let (time, serial) = stamp.split_once(':')?;
    let mut fields = Vec::new();
    for (k, v) in pairs(rest) {
        if k == "msg" {
            // the user-space message of a record (`msg='op=... exe=...'`) holds pairs too
            fields.extend(pairs(&v));
        }
        fields.push((k, v));
    }
    Some(AuditRecord {
        kind: kind.to_string(),
        time: time.to_string(),
        serial: serial.to_string(),
        fields,
    })
}

/// Groups audit records by serial number into events.
#[derive(Default)]
pub struct AuditGrouper {
    open: Option<(String, Map<String, Value>)>,
}

fn add(obj: &mut Map<String, Value>, key: &str, value: Value) {
    match obj.get_mut(key) {
        None => {
            obj.insert(key.to_string(), value);
        }
        Some(Value::Array(a)) => {
            if !a.contains(&value) {
                a.push(value);
            }
        }
        Some(old) => {
            if *old != value {
                let first = old.take();
                *old = Value::Array(vec![first, value]);
            }
        }
    }
}

impl AuditGrouper {
    /// Takes one line; returns the event it completes, if any (the previous serial's, or
    /// this one's at `EOE`). A line that is not an audit record is an `Err` with its text.
    pub fn push(&mut self, line: &str) -> Result<Option<Value>, String> {
        let Some(rec) = parse_record(line.trim_end()) else {
            return Err(format!("not an audit record: {:.80}", line));
        };
        let mut done = None;
        if self.open.as_ref().is_some_and(|(s, _)| *s != rec.serial) {
            done = self.finish();
        }
        if rec.kind == "EOE" {
            return Ok(done.or_else(|| self.finish()));
        }
        let (_, obj) = self.open.get_or_insert_with(|| {
            let mut o = Map::new();
            o.insert("format".into(), "auditd".into());
            o.insert("serial".into(), rec.serial.clone().into());
            let ts = rec
                .time
                .parse::<f64>()
                .ok()
                .and_then(|t| chrono::DateTime::from_timestamp_millis((t * 1000.0) as i64))
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
            o.insert("timestamp".into(), ts.map_or(Value::Null, Value::String));
            o.insert(
                "msg".into(),
                format!("audit({}:{})", rec.time, rec.serial).into(),
            );
            (rec.serial.clone(), o)
        });
        add(obj, "type", Value::String(rec.kind.clone()));
        for (k, v) in rec.fields {
            add(obj, &k, Value::String(v));
        }
        Ok(done)
    }

    /// Whether an event is under way.
    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// The event under way, if any (at the end of the input).
    pub fn finish(&mut self) -> Option<Value> {
        self.open.take().map(|(_, o)| Value::Object(o))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The six records of one `arp -a` (real lines of an OTRF audit log) become one event.
    #[test]
    fn records_of_one_serial_are_one_event() {
        let text = r#"type=SYSCALL msg=audit(1604994496.155:92733): arch=c000003e syscall=59 success=yes exit=0 a0=558e251634a0 items=2 ppid=29002 pid=1631 auid=1000 uid=1000 comm="arp" exe="/usr/sbin/arp" key=(null)
type=EXECVE msg=audit(1604994496.155:92733): argc=2 a0="arp" a1="-a"
type=CWD msg=audit(1604994496.155:92733): cwd="/home/wardog"
type=PATH msg=audit(1604994496.155:92733): item=0 name="/usr/sbin/arp" inode=13181
type=PATH msg=audit(1604994496.155:92733): item=1 name="/lib64/ld-linux-x86-64.so.2" inode=29514
type=PROCTITLE msg=audit(1604994496.155:92733): proctitle=617270002D61
type=SYSCALL msg=audit(1604994496.155:92734): arch=c000003e syscall=59 comm="grep" exe="/bin/grep"
type=ADD_GROUP msg=audit(1610903553.686:584): pid=2940 uid=0 auid=1000 ses=14 msg='op=adding group to /etc/group id=1004 exe="/usr/sbin/groupadd" res=success'"#;
        let mut g = AuditGrouper::default();
        let mut events = Vec::new();
        for l in text.lines() {
            events.extend(g.push(l).expect("record"));
        }
        events.extend(g.finish());
        assert_eq!(events.len(), 3);
        let e = &events[0];
        assert_eq!(e["serial"], "92733");
        assert_eq!(e["format"], "auditd");
        assert_eq!(e["timestamp"], "2020-11-10T07:48:16.155Z");
        assert_eq!(
            e["type"],
            serde_json::json!(["SYSCALL", "EXECVE", "CWD", "PATH", "PROCTITLE"])
        );
        assert_eq!(e["a0"], serde_json::json!(["558e251634a0", "arp"]));
        assert_eq!(e["a1"], "-a");
        assert_eq!(e["exe"], "/usr/sbin/arp");
        assert_eq!(
            e["name"],
            serde_json::json!(["/usr/sbin/arp", "/lib64/ld-linux-x86-64.so.2"])
        );
        assert_eq!(events[1]["comm"], "grep");
        assert_eq!(events[2]["exe"], "/usr/sbin/groupadd");
        assert_eq!(events[2]["res"], "success");
        assert!(g.push("Jan 1 host sshd[1]: hello").is_err());
    }
}
