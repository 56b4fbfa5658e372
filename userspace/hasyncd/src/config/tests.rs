//! Every configuration rule, each by a test that fails if the rule goes.

use super::*;

const MINIMAL: &str = "node = \"cu-a\"\n[[channels]]\nid = 1\nsections = 8\n";

fn load(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml(text, Path::new("t.toml"), &Overrides::default())
}

fn load_with(text: &str, o: &Overrides) -> Result<Config, ConfigError> {
    Config::from_toml(text, Path::new("t.toml"), o)
}

/// The error's text, for a config that must be refused.
fn refused(text: &str) -> String {
    match load(text) {
        Ok(c) => panic!("accepted: {c:?}"),
        Err(e) => e.to_string(),
    }
}

/// MINIMAL with `extra` after the node (so `extra` may open tables).
fn with(extra: &str) -> String {
    format!("node = \"cu-a\"\n{extra}\n[[channels]]\nid = 1\nsections = 8\n")
}

#[test]
fn defaults_fill_a_minimal_file() {
    let c = load(MINIMAL).expect("valid");
    assert_eq!(c.role, Role::Auto);
    assert_eq!(c.node, "cu-a");
    assert_eq!(c.log_level, "info");
    assert_eq!(c.ack_path, AckPath::Both);
    assert_eq!(c.trailing, Trailing::Replay);
    assert_eq!(c.audit_period, 60, "the audit is on by default");
    assert_eq!(
        c.tipc,
        Tipc {
            service_type: 18_888,
            instance: 1
        }
    );
    assert_eq!(c.limits.primary().window, 64);
    assert_eq!(c.limits.standby().max_pending, 1024);
    assert_eq!(c.limits.link_tolerance_ms, 1500);
    // The record limit follows the module unless configured.
    assert_eq!(c.limits.max_records, None);
    assert_eq!(c.limits.primary().sync_window, 1 << 20);
    assert_eq!(
        c.channel_list(),
        vec![(1, SectionCount::new(8).expect("8"))]
    );
}

#[test]
fn example_file_is_valid_and_round_trips() {
    let text = include_str!("../../examples/hasyncd.toml");
    let c = load(text).expect("example is valid");
    assert_eq!(c.channels.len(), 3);
    assert_eq!(c.trailing, Trailing::Budget(256));
    let again = load(&c.to_toml()).expect("printed config loads");
    assert_eq!(again, c);
    let json = serde_json::to_value(&c).expect("json");
    assert_eq!(json["trailing"], "budget 256");
    assert_eq!(json["channels"][0]["sections"], 16);
}

#[test]
fn unknown_keys_are_refused_by_name_and_place() {
    let e = refused(&with("colour = 1"));
    assert!(
        e.contains("unknown field `colour`") && e.starts_with("config: t.toml:2:1:"),
        "{e}"
    );
    let e = refused(&format!("{MINIMAL}bogus = 2\n"));
    assert!(
        e.contains("unknown field `bogus`") && e.contains("t.toml:5:"),
        "{e}"
    );
    let e = refused(&with("[limits]\nwindow = 3"));
    assert!(e.contains("unknown field `window`"), "{e}");
    let e = refused(&with("[tipc]\ntype = 100"));
    assert!(e.contains("unknown field `type`"), "{e}");
}

#[test]
fn wrong_types_and_syntax_are_refused() {
    let e = refused(&with("audit_period = \"5\""));
    assert!(e.starts_with("config: t.toml:2:"), "{e}");
    assert!(
        e.contains(": audit_period: invalid type"),
        "named by its key: {e}"
    );
    let e = refused(&with("audit_period = -1"));
    assert!(e.starts_with("config: t.toml:2:"), "{e}");
    assert!(e.contains(": audit_period: invalid value"), "{e}");
    let e = refused(&with("[limits]\nin_flight = \"x\""));
    assert!(
        e.contains(": limits.in_flight: invalid type"),
        "with its table: {e}"
    );
    let e = refused("node = \"a\"\n[[channels]]\nid = -4\nsections = 4\n");
    assert!(e.contains(": channels.id: invalid value"), "{e}");
    assert!(refused("node = ").starts_with("config: t.toml:1:"));
}

#[test]
fn role_ack_path_trailing_are_keywords() {
    let c = load(&with(
        "role = \"standby\"\nack_path = \"direct\"\ntrailing = \"discard\"",
    ))
    .expect("valid");
    assert_eq!(
        (c.role, c.ack_path, c.trailing),
        (Role::Standby, AckPath::Direct, Trailing::Discard)
    );
    assert_eq!(
        refused(&with("role = \"master\"")),
        "config: role: \"master\" is not one of primary, standby, auto"
    );
    assert_eq!(
        refused(&with("ack_path = \"multicast\"")),
        "config: ack_path: \"multicast\" is not one of forward, direct, both"
    );
    assert_eq!(
        refused(&with("trailing = \"some\"")),
        "config: trailing: \"some\" is not one of replay, discard, budget N"
    );
    assert_eq!(
        refused(&with("trailing = \"budget 0\"")),
        "config: trailing: budget 0 replays nothing: write \"discard\""
    );
    assert_eq!(
        refused(&with("trailing = \"budget x\"")),
        "config: trailing: \"x\" is not a number of updates"
    );
    let c = load(&with("trailing = \"budget  12\"")).expect("valid");
    assert_eq!(c.trailing.policy(), Policy::Budget { max_ops: 12 });
    assert_eq!(Trailing::Replay.policy(), Policy::Replay);
    assert_eq!(Trailing::Discard.policy(), Policy::Discard);
}

#[test]
fn node_name_rules() {
    assert_eq!(
        refused("[[channels]]\nid = 1\nsections = 1\n"),
        "config: node: missing: set it in the file or with --node"
    );
    let too_long = "n".repeat(NODE_NAME_MAX + 1);
    assert!(refused(&format!(
        "node = \"{too_long}\"\n[[channels]]\nid = 1\nsections = 1\n"
    ))
    .starts_with("config: node: "));
    assert!(
        refused("node = \"\"\n[[channels]]\nid = 1\nsections = 1\n").starts_with("config: node: ")
    );
    assert!(
        refused("node = \"a b\"\n[[channels]]\nid = 1\nsections = 1\n")
            .starts_with("config: node: ")
    );
    assert!(
        refused("node = \"-a\"\n[[channels]]\nid = 1\nsections = 1\n")
            .starts_with("config: node: ")
    );
    let ok = "n".repeat(NODE_NAME_MAX);
    assert!(load(&format!(
        "node = \"{ok}\"\n[[channels]]\nid = 1\nsections = 1\n"
    ))
    .is_ok());
}

#[test]
fn units_name_each_unit_once_and_give_distinct_epoch_bytes() {
    // Unlisted, the byte is the name's hash: cu-8 and cu-55 share one.
    let c8 = load_with(
        MINIMAL,
        &Overrides {
            node: Some("cu-8".into()),
            ..Overrides::default()
        },
    );
    let c55 = load_with(
        MINIMAL,
        &Overrides {
            node: Some("cu-55".into()),
            ..Overrides::default()
        },
    );
    let (c8, c55) = (c8.expect("valid"), c55.expect("valid"));
    assert!(c8.units.is_empty());
    assert_eq!(
        c8.unit_byte(),
        c55.unit_byte(),
        "the clash `units` exists for"
    );
    // Listed, the byte is the unit's position: distinct by construction.
    let listed = |node: &str| {
        load_with(
            &with("units = [\"cu-8\", \"cu-55\", \"cu-a\"]"),
            &Overrides {
                node: Some(node.into()),
                ..Overrides::default()
            },
        )
        .expect("valid")
    };
    let bytes: Vec<u8> = ["cu-8", "cu-55", "cu-a"]
        .iter()
        .map(|n| listed(n).unit_byte())
        .collect();
    assert_eq!(bytes, [1, 2, 3]);
    assert_eq!(listed("cu-a").units.len(), 3);
    // It round-trips through --check-config's output.
    let c = listed("cu-55");
    assert_eq!(load(&c.to_toml()).expect("round trip"), c);

    assert_eq!(
        refused(&with("units = [\"cu-b\"]")),
        "config: units: does not list this unit (node = \"cu-a\")"
    );
    assert_eq!(
        refused(&with("units = [\"cu-a\", \"cu-a\"]")),
        "config: units: \"cu-a\" is listed twice"
    );
    assert!(refused(&with("units = [\"cu-a\", \"a b\"]")).starts_with("config: units: \"a b\""));
    let many: Vec<String> = (0..256).map(|i| format!("\"u{i}\"")).collect();
    assert_eq!(
        refused(&with(&format!("units = [\"cu-a\", {}]", many.join(", ")))),
        "config: units: 257 units; at most 255"
    );
    assert!(refused(&with("units = \"cu-a\""))
        .ends_with("t.toml:2:9: units: invalid type: string \"cu-a\", expected a sequence"));
}

#[test]
fn log_level_rules() {
    let c = load(&with("log_level = \"debug,hasyncd::kernel=trace\"")).expect("valid");
    assert_eq!(c.log_level, "debug,hasyncd::kernel=trace");
    assert_eq!(
        refused(&with("log_level = \"verbose\"")),
        "config: log_level: \"verbose\" is not one of off, error, warn, info, debug, trace"
    );
    assert_eq!(
        refused(&with("log_level = \"info,hasyncd\"")),
        "config: log_level: \"hasyncd\" is not TARGET=LEVEL"
    );
    assert!(refused(&with("log_level = \"info,a=loud\"")).starts_with("config: log_level: "));
}

#[test]
fn audit_period_bounds() {
    assert_eq!(
        load(&with("audit_period = 86400"))
            .expect("valid")
            .audit_period,
        86_400
    );
    assert_eq!(
        refused(&with("audit_period = 86401")),
        "config: audit_period: 86401 is above the maximum 86400"
    );
}

#[test]
fn tipc_service_type_is_not_reserved() {
    let c = load(&with("[tipc]\nservice_type = 64\ninstance = 7")).expect("valid");
    assert_eq!(
        c.tipc,
        Tipc {
            service_type: 64,
            instance: 7
        }
    );
    assert_eq!(
        refused(&with("[tipc]\nservice_type = 63")),
        "config: tipc.service_type: 63 is reserved by TIPC (use 64 or above)"
    );
    assert!(load(&with("[tipc]\nservice_type = 4294967292")).is_ok());
    assert_eq!(
        refused(&with("[tipc]\nservice_type = 4294967293")),
        "config: tipc.service_type: 4294967293 is above the maximum 4294967292"
    );
}

#[test]
fn limits_bounds() {
    assert_eq!(
        refused(&with("[limits]\nin_flight = 0")),
        "config: limits.in_flight: 0 is below the minimum 1"
    );
    assert_eq!(
        refused(&with(
            "[limits]\nin_flight = 65537\nstandby_max_pending = 100000"
        )),
        "config: limits.in_flight: 65537 is above the maximum 65536"
    );
    assert_eq!(
        refused(&with("[limits]\nstandby_max_pending = 0")),
        "config: limits.standby_max_pending: 0 is below the minimum 1"
    );
    assert_eq!(
        refused(&with("[limits]\nstandby_max_pending = 2000000")),
        "config: limits.standby_max_pending: 2000000 is above the maximum 1048576"
    );
    assert_eq!(
        refused(&with(
            "[limits]\nin_flight = 128\nstandby_max_pending = 100"
        )),
        "config: limits.standby_max_pending: 100 is below limits.in_flight (128)"
    );
    assert_eq!(
        refused(&with("[limits]\nlink_tolerance_ms = 49")),
        "config: limits.link_tolerance_ms: 49 is below the minimum 50"
    );
    assert_eq!(
        refused(&with("[limits]\nlink_tolerance_ms = 30001")),
        "config: limits.link_tolerance_ms: 30001 is above the maximum 30000"
    );
    assert_eq!(
        refused(&with("[limits]\nmax_records = 0")),
        "config: limits.max_records: 0 is below the minimum 1"
    );
    assert_eq!(
        refused(&with("[limits]\nmax_records = 1048577")),
        "config: limits.max_records: 1048577 is above the maximum 1048576"
    );
    assert_eq!(
        refused(&with("[limits]\nsync_window_kib = 63")),
        "config: limits.sync_window_kib: 63 is below the minimum 64"
    );
    assert_eq!(
        refused(&with("[limits]\nsync_window_kib = 16385")),
        "config: limits.sync_window_kib: 16385 is above the maximum 16384"
    );
    let c = load(&with(
        "[limits]\nlink_tolerance_ms = 50\nin_flight = 8\nstandby_max_pending = 8\n\
         max_records = 4096\nsync_window_kib = 64",
    ))
    .expect("valid");
    assert_eq!(c.limits.link_tolerance_ms, 50);
    assert_eq!(c.limits.primary().max_entries, 4096);
    assert_eq!(c.limits.primary().sync_window, 64 * 1024);
}

#[test]
fn channel_rules() {
    let base = "node = \"a\"\n";
    let ch =
        |body: &str| format!("{base}[[channels]]\nid = 1\nsections = 4\n[[channels]]\n{body}\n");
    assert_eq!(
        refused(base),
        "config: channels: none configured: add a [[channels]] table"
    );
    assert_eq!(
        refused(&ch("id = 2\nsections = 48")),
        "config: channels[1].sections: 48 is not a power of two from 1 to 64"
    );
    assert_eq!(
        refused(&ch("id = 2\nsections = 0")),
        "config: channels[1].sections: 0 is not a power of two from 1 to 64"
    );
    assert_eq!(
        refused(&ch("id = 2\nsections = 128")),
        "config: channels[1].sections: 128 is not a power of two from 1 to 64"
    );
    // Left out, a channel gets the module's default of 64 sections.
    let c = load(&ch("id = 2")).expect("sections have a default");
    assert_eq!(c.channels[1].sections.get(), 64);
    assert_eq!(
        refused(&ch("sections = 2")),
        "config: channels[1].id: missing"
    );
    assert_eq!(
        refused(&ch("id = 1\nsections = 2")),
        "config: channels[1].id: 1 is already the id of channels[0]"
    );
    let named = format!(
        "{base}[[channels]]\nid = 1\nname = \"up\"\nsections = 4\n[[channels]]\nid = 2\nname = \"up\"\nsections = 4\n"
    );
    assert_eq!(
        refused(&named),
        "config: channels[1].name: \"up\" is already the name of channels[0]"
    );
    assert_eq!(
        refused(&ch("id = 2\nsections = 2\nname = \"\"")),
        "config: channels[1].name: empty: leave the key out for an unnamed channel"
    );
    let long = "x".repeat(CHANNEL_NAME_MAX + 1);
    assert!(
        refused(&ch(&format!("id = 2\nsections = 2\nname = \"{long}\"")))
            .starts_with("config: channels[1].name: ")
    );
    assert!(refused(&ch("id = 2\nsections = 2\nname = \"a\\tb\""))
        .starts_with("config: channels[1].name: "));
    let e = refused(&ch("id = 2\nsections = 2\nsection = 2"));
    assert!(
        e.contains("unknown field `section`") && e.contains("t.toml:8:1:"),
        "{e}"
    );
    let c = load(&ch(&format!(
        "id = 2\nsections = 64\nname = \"{}\"",
        "x".repeat(CHANNEL_NAME_MAX)
    )))
    .expect("valid");
    assert_eq!(c.channels[1].sections.get(), 64);
}

#[test]
fn flags_override_the_file_and_are_named_in_errors() {
    let o = Overrides {
        role: Some("primary".into()),
        node: Some("cu-b".into()),
        log_level: Some("warn".into()),
        ack_path: Some("forward".into()),
        trailing: Some("budget 3".into()),
        audit_period: Some(30),
        service_type: Some(100),
        instance: Some(9),
        in_flight: Some(16),
        standby_max_pending: Some(32),
        link_tolerance_ms: Some(200),
        max_records: Some(2048),
    };
    let c = load_with(MINIMAL, &o).expect("valid");
    assert_eq!(c.role, Role::Primary);
    assert_eq!(c.node, "cu-b");
    assert_eq!(c.log_level, "warn");
    assert_eq!(c.ack_path, AckPath::Forward);
    assert_eq!(c.trailing, Trailing::Budget(3));
    assert_eq!(c.audit_period, 30);
    assert_eq!(
        c.tipc,
        Tipc {
            service_type: 100,
            instance: 9
        }
    );
    assert_eq!(
        c.limits,
        Limits {
            in_flight: 16,
            standby_max_pending: 32,
            link_tolerance_ms: 200,
            max_records: Some(2048),
            sync_window_kib: 1024,
        }
    );
    // A flag can repair a bad file value: the effective value is judged.
    let fixed = Overrides {
        link_tolerance_ms: Some(100),
        ..Overrides::default()
    };
    assert!(load_with(&with("[limits]\nlink_tolerance_ms = 10"), &fixed).is_ok());
    let bad = Overrides {
        link_tolerance_ms: Some(10),
        ..Overrides::default()
    };
    assert_eq!(
        load_with(MINIMAL, &bad).map(drop).map_err(|e| e.to_string()),
        Err("config: limits.link_tolerance_ms (from --link-tolerance-ms): 10 is below the minimum 50".into())
    );
    let bad = Overrides {
        role: Some("boss".into()),
        ..Overrides::default()
    };
    assert_eq!(
        load_with(MINIMAL, &bad)
            .map(drop)
            .map_err(|e| e.to_string()),
        Err("config: role (from --role): \"boss\" is not one of primary, standby, auto".into())
    );
}

#[test]
fn from_overrides_needs_channels() {
    let o = Overrides {
        node: Some("a".into()),
        ..Overrides::default()
    };
    assert_eq!(
        Config::from_overrides(&o)
            .map(drop)
            .map_err(|e| e.to_string()),
        Err("config: channels: none configured: add a [[channels]] table".into())
    );
}

#[test]
fn unreadable_file_names_the_path() {
    let e = Config::load(
        Path::new("/nonexistent/hasyncd.toml"),
        &Overrides::default(),
    )
    .map(drop)
    .map_err(|e| e.to_string());
    assert!(
        matches!(&e, Err(m) if m.starts_with("config: cannot read /nonexistent/hasyncd.toml: ")),
        "{e:?}"
    );
}

#[test]
fn line_col_counts_from_one() {
    assert_eq!(line_col("ab\ncd", 0), (1, 1));
    assert_eq!(line_col("ab\ncd", 4), (2, 2));
    assert_eq!(line_col("ab", 99), (1, 3));
}

#[test]
fn known_keys_cover_the_example() {
    let text = include_str!("../../examples/hasyncd.toml");
    let table: toml::Table = toml::from_str(text).expect("toml");
    let mut seen = BTreeSet::new();
    for (k, v) in &table {
        match v {
            toml::Value::Table(t) => seen.extend(t.keys().map(|s| format!("{k}.{s}"))),
            toml::Value::Array(a) if a.iter().all(toml::Value::is_table) => {
                for item in a.iter().filter_map(toml::Value::as_table) {
                    seen.extend(item.keys().map(|s| format!("{k}[].{s}")));
                }
            }
            _ => {
                seen.insert(k.clone());
            }
        }
    }
    let known = known_keys();
    assert_eq!(
        seen, known,
        "the example documents every key, and only those"
    );
}

#[test]
fn upgrade_chooses_a_handling_only_where_the_item_allows_one() {
    let c = load(&with("[upgrade]\n\"field.speed\" = \"dont-care\"")).expect("valid");
    assert_eq!(
        c.node_config(false).lacking.handling("field.speed"),
        hasync_engine::release::Handling::DontCare
    );
    // Left out: every item keeps its default.
    assert_eq!(
        load(MINIMAL)
            .expect("valid")
            .node_config(false)
            .lacking
            .handling("field.speed"),
        hasync_engine::release::Handling::Drop
    );
    // It prints back as it loads.
    let again = load(&c.to_toml()).expect("round trip");
    assert_eq!(again, c);
    let e = refused(&with("[upgrade]\n\"field.sped\" = \"drop\""));
    assert!(
        e.contains("upgrade.\"field.sped\"") && e.contains("unknown item"),
        "{e}"
    );
    let e = refused(&with("[upgrade]\n\"op.rename\" = \"cold\""));
    assert!(e.contains("always handled as \"transform\""), "{e}");
    let e = refused(&with("[upgrade]\n\"field.speed\" = \"transform\""));
    assert!(e.contains("one of drop, dont-care, cold"), "{e}");
    let e = refused(&with("[upgrade]\n\"field.speed\" = 3"));
    assert!(e.contains("upgrade.\"field.speed\": invalid type"), "{e}");
}

#[test]
fn tcp_face_is_checked_key_by_key() {
    let c = load(&with(
        "[tcp]\nlisten = \"10.9.0.1\"\ninterface = \"svc0\"\nprefix = 16",
    ))
    .expect("valid");
    let t = c.tcp.as_ref().expect("configured");
    assert_eq!(t.listen.port(), super::tcp::DEFAULT_PORT);
    // Confined to the service address's network unless told otherwise.
    assert_eq!(t.allow.len(), 1);
    assert_eq!(t.allow[0].to_string(), "10.9.0.0/16");
    assert!(t.allows("10.9.200.1".parse().expect("ip")));
    assert!(!t.allows("10.10.0.1".parse().expect("ip")));
    assert_eq!(load(&c.to_toml()).expect("printed config loads"), c);
    for (body, key, says) in [
        ("interface = \"svc0\"", "tcp.listen", "missing"),
        ("listen = \"10.9.0.1\"", "tcp.interface", "missing"),
        (
            "listen = \"::1\"\ninterface = \"svc0\"",
            "tcp.listen",
            "IPv6",
        ),
        (
            "listen = \"0.0.0.0:7\"\ninterface = \"svc0\"",
            "tcp.listen",
            "unicast",
        ),
        (
            "listen = \"10.9.0.1:0\"\ninterface = \"svc0\"",
            "tcp.listen",
            "port",
        ),
        (
            "listen = \"10.9.0.1\"\ninterface = \"a/b\"",
            "tcp.interface",
            "not an interface",
        ),
        (
            "listen = \"10.9.0.1\"\ninterface = \"svc0\"\nprefix = 0",
            "tcp.prefix",
            "1 to 32",
        ),
        (
            "listen = \"10.9.0.1\"\ninterface = \"svc0\"\nsecret = \"key\"",
            "tcp.secret",
            "absolute",
        ),
        (
            "listen = \"10.9.0.1\"\ninterface = \"svc0\"\nallow = []",
            "tcp.allow",
            "empty",
        ),
        (
            "listen = \"10.9.0.1\"\ninterface = \"svc0\"\nallow = [\"10.0.0.0/8\", \"x\"]",
            "tcp.allow[1]",
            "not an IPv4",
        ),
    ] {
        let e = load(&with(&format!("[tcp]\n{body}")))
            .expect_err(body)
            .to_string();
        assert!(e.contains(key) && e.contains(says), "{body}: {e}");
    }
}
