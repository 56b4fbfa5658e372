//! Channels for a run: created fresh, deleted afterwards.

use std::io;

use hasync_model::IfName;
use hasync_nl::{Client, Error, NewChannel};

/// Deletes channel `id` if it exists.
pub fn remove(client: &mut Client, id: u32) -> Result<(), Error> {
    match client.channel_del(id) {
        Err(e)
            if e.errno().is_some_and(|n| {
                io::Error::from_raw_os_error(n).kind() == io::ErrorKind::NotFound
            }) =>
        {
            Ok(())
        }
        other => other,
    }
}

/// Creates channel `id` with `sections` sections, replacing one left over
/// from an earlier run.
pub fn fresh(client: &mut Client, id: u32, sections: u32) -> Result<(), Error> {
    remove(client, id)?;
    client.channel_new(&NewChannel {
        id,
        name: Some(format!("bench{id}")),
        sections: Some(sections),
    })
}

/// The record names a run cycles over: `b0`, `b1`, … (at most 15 bytes).
pub fn names(count: u32) -> Vec<IfName> {
    (0..count.max(1))
        .map(|i| IfName::new(format!("b{i}").as_bytes()).expect("b and at most 10 digits"))
        .collect()
}
