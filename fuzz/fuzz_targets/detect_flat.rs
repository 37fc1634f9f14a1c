//! The lazy JSON-line scanner (`FlatEvent`) against serde_json: whenever serde_json reads a
//! line as an object, the scanner must read it too and give every top-level field the same
//! value; the streaming decoder must never panic.
#![no_main]
use ctem_detect::Event;
use ctem_detect::flat::{FieldIndex, FlatEvent};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for r in ctem_detect::decode::stream(std::io::Cursor::new(data.to_vec()), ctem_detect::decode::Format::Auto, None)
        .into_iter()
        .flatten()
        .take(1000)
    {
        let _ = r;
    }
    let Ok(line) = std::str::from_utf8(data) else { return };
    let Ok(serde_json::Value::Object(obj)) = serde_json::from_str::<serde_json::Value>(line) else {
        let idx = FieldIndex::new(["a"]);
        let mut ev = FlatEvent::new(&idx);
        let _ = ev.scan(line);
        let _ = ev.field("a");
        let _ = ev.keywords(&mut |_| false);
        return;
    };
    let value = serde_json::Value::Object(obj.clone());
    let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    // half of the keys interned, half looked up by scanning
    let idx = FieldIndex::new(keys.iter().step_by(2).copied());
    let mut ev = FlatEvent::new(&idx);
    assert!(ev.scan(line).is_ok(), "serde_json reads it, the scanner must too");
    for k in &keys {
        assert_eq!(ev.field(k), value.field(k), "field {k:?}");
    }
});
