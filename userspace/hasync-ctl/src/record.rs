//! The record change a `set` request carries, to and from the model's
//! [`RecordChange`]: the CLI builds the request from one, the daemon reads
//! one back, with the record rules checked on both sides by the same code
//! ([`RecordChange::check`]). The request keeps its text fields (MAC and
//! addresses as strings) so that its JSON is the one earlier releases send.

use hasync_model::text::{mac_to_string, parse_mac, read_name};
use hasync_model::words::{Usage, Words};
use hasync_model::{Prefix, RecordChange};

use crate::proto::{DelIface, SetIface};

impl SetIface {
    /// The request for `change` on `channel` (default: where the record is).
    pub fn new(change: &RecordChange, channel: Option<u32>) -> Self {
        SetIface {
            name: change.name.to_string(),
            channel,
            up: change.admin_up,
            mtu: change.mtu,
            mac: change.mac.as_ref().map(mac_to_string),
            vlan: change.vlan,
            addrs: change
                .addrs
                .as_ref()
                .map(|a| a.iter().map(ToString::to_string).collect()),
            description: change
                .description
                .as_ref()
                .map(|d| String::from_utf8_lossy(d).into_owned()),
            speed: change.speed,
        }
    }

    /// The change the request asks for, every value checked; the error
    /// names the field.
    pub fn change(&self) -> Result<RecordChange, Usage> {
        let mut c = RecordChange::new(name(&self.name)?);
        c.admin_up = self.up;
        c.mtu = self.mtu;
        c.vlan = self.vlan;
        c.mac = match &self.mac {
            Some(m) => Some(parse_mac(m).map_err(|e| Usage(format!("\"mac\": {e}")))?),
            None => None,
        };
        c.addrs = match &self.addrs {
            Some(a) => Some(
                a.iter()
                    .map(|s| {
                        s.parse::<Prefix>()
                            .map_err(|e| Usage(format!("\"addr\": {e}")))
                    })
                    .collect::<Result<_, _>>()?,
            ),
            None => None,
        };
        c.description = self.description.as_ref().map(|d| d.as_bytes().to_vec());
        c.speed = self.speed;
        c.check()?;
        Ok(c)
    }
}

impl DelIface {
    /// The name of the record to delete, checked.
    pub fn record_name(&self) -> Result<hasync_model::IfName, Usage> {
        name(&self.name)
    }
}

impl crate::proto::RenameIface {
    /// The record's name and its new one, checked.
    pub fn names(&self) -> Result<(hasync_model::IfName, hasync_model::IfName), Usage> {
        Ok((name(&self.name)?, name(&self.to)?))
    }
}

fn name(s: &str) -> Result<hasync_model::IfName, Usage> {
    read_name(&mut Words::new([s.to_owned()]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(line: &str) -> RecordChange {
        RecordChange::read(
            &mut Words::new(line.split_whitespace().map(str::to_owned)),
            &[],
        )
        .expect("valid")
    }

    #[test]
    fn round_trips() {
        for line in [
            "dev eth0",
            "dev eth0 down",
            "dev eth0 mtu 9000 up mac 02:00:00:00:00:01 vlan 10 addr 10.0.0.1/24 addr ::1 desc uplink",
        ] {
            let c = change(line);
            let s = SetIface::new(&c, Some(3));
            assert_eq!(s.channel, Some(3));
            assert_eq!(s.change(), Ok(c), "{line}");
        }
        // The JSON earlier releases send.
        let s = SetIface::new(&change("dev eth0 mtu 9000 addr 10.0.0.1/24"), None);
        assert_eq!(
            serde_json::to_string(&s).expect("serializes"),
            "{\"name\":\"eth0\",\"mtu\":9000,\"addrs\":[\"10.0.0.1/24\"]}"
        );
    }

    #[test]
    fn bad_values_are_named() {
        let bad = |f: &dyn Fn(&mut SetIface)| {
            let mut s = SetIface {
                name: "eth0".into(),
                ..SetIface::default()
            };
            f(&mut s);
            s.change().expect_err("refused").0
        };
        assert!(bad(&|s| s.name = "a/b".into()).contains("\"dev\""));
        assert!(bad(&|s| s.name = String::new()).contains("\"dev\""));
        assert!(bad(&|s| s.mtu = Some(10)).contains("\"mtu\""));
        assert!(bad(&|s| s.vlan = Some(4095)).contains("\"vlan\""));
        assert!(bad(&|s| s.mac = Some("1:2".into())).contains("\"mac\""));
        assert!(bad(&|s| s.addrs = Some(vec!["10.0.0.1/40".into()])).contains("\"addr\""));
        assert!(bad(&|s| s.description = Some("x".repeat(256))).contains("\"desc\""));
        assert!(bad(&|s| s.description = Some("a\0b".into())).contains("NUL"));
        let d = DelIface {
            name: "x".repeat(16),
            channel: None,
        };
        assert!(d.record_name().is_err());
    }
}
