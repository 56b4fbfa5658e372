//! The ops of `kernel update` (`set RECORD`, `del dev NAME`) and the
//! records of `kernel replay`, read with the model's one record grammar
//! ([`RecordChange`]):
//!
//! ```text
//! dev NAME [mtu N] [up|down] [mac M] [vlan V] [addr ADDR[/LEN]]... [desc TEXT] [speed MBPS]
//! ```
//!
//! A `set` carries a whole record: fields left out take their defaults.

use hasync_model::text::read_name;
use hasync_model::{IfRecord, Op, RecordChange};

use crate::words::{unknown, usage, Usage, Words};

/// Reads one whole record, up to a word in `stop` or the end.
pub fn read_record(w: &mut Words, stop: &[&str]) -> Result<IfRecord, Usage> {
    RecordChange::read(w, stop).map(|c| c.record())
}

/// Reads `set RECORD` and `del dev NAME` ops to the end.
pub fn read_ops(w: &mut Words) -> Result<Vec<Op>, Usage> {
    const OPS: &[&str] = &["set", "del"];
    let mut ops = Vec::new();
    while let Some(word) = w.next_word() {
        match word.as_str() {
            "set" => ops.push(Op::Set(read_record(w, OPS)?)),
            "del" => match w.next_word().as_deref() {
                Some("dev" | "name") => ops.push(Op::Del(read_name(w)?)),
                _ => return usage("\"del\" needs \"dev NAME\""),
            },
            other => return unknown(other),
        }
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hasync_model::IfName;

    fn words(s: &str) -> Words {
        Words::new(s.split_whitespace().map(str::to_owned))
    }

    fn name(s: &str) -> IfName {
        IfName::new(s.as_bytes()).expect("valid")
    }

    #[test]
    fn ops() {
        let ops = read_ops(&mut words("set dev a up del dev b set dev c mtu 1400")).expect("valid");
        let mut a = IfRecord::new(name("a"));
        a.admin_up = true;
        let mut c = IfRecord::new(name("c"));
        c.mtu = 1400;
        assert_eq!(ops, vec![Op::Set(a), Op::Del(name("b")), Op::Set(c)]);
        assert_eq!(read_ops(&mut words("")), Ok(vec![]));
        assert_eq!(
            read_ops(&mut words("del b")),
            Err(Usage("\"del\" needs \"dev NAME\"".into()))
        );
        assert!(read_ops(&mut words("del dev a/b")).is_err());
        assert!(read_ops(&mut words("set dev a mtu 10")).is_err());
        assert!(read_ops(&mut words("frob")).is_err());
    }
}
