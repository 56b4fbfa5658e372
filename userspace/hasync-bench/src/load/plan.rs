//! What request `k` is: its channel, interface name and field values, as
//! pure functions of the flags and `k`, so a checker can recompute them.
//!
//! Request `k` (1, 2, 3, …) sets `{prefix}{channel}_{k % keys}` on its
//! channel with `mtu = 1000 + k % 50000`, `up = k is even` and
//! `description = "s{k}"`: a kernel record names the request it came from.
//! With `--addrs N` it also carries N addresses `10.{i}.{k / 256 % 256}.{k %
//! 256}/24` for `i` in `0..N`.
//! The channel is drawn from `splitmix64(splitmix64(seed) ^ k)`: the first
//! channel of the list with probability `skew / 1000` and the others
//! uniformly, or every channel uniformly when `skew` is 0. With `--sweep`
//! it is the `(k / keys) % channels`-th: `keys` consecutive requests per
//! channel, so `channels × keys` consecutive ones set every name once.

use hasync_ctl::SetIface;

/// Longest interface name the kernel takes (`IFNAMSIZ - 1`).
pub const NAME_MAX: usize = 15;

/// The request stream's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    channels: Vec<u32>,
    keys: u64,
    skew: u32,
    prefix: String,
    seed: u64,
    addrs: u8,
    sweep: bool,
}

/// splitmix64's output function: a bijection that mixes every input bit.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Plan {
    /// Checks that the channels are given once each, `keys` is at least 1,
    /// `skew` at most 1000 and that every name fits [`NAME_MAX`] bytes.
    pub fn new(
        channels: Vec<u32>,
        keys: u64,
        skew: u32,
        prefix: String,
        seed: u64,
    ) -> Result<Plan, String> {
        if channels.is_empty() {
            return Err("--channels needs at least one channel id".into());
        }
        let mut sorted = channels.clone();
        sorted.sort_unstable();
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!("--channels lists channel {} twice", w[0]));
        }
        if keys == 0 {
            return Err("--keys must be at least 1".into());
        }
        if skew > 1000 {
            return Err(format!("--skew {skew} is over 1000 permille"));
        }
        let plan = Plan {
            channels,
            keys,
            skew,
            prefix,
            seed,
            addrs: 0,
            sweep: false,
        };
        let widest = sorted.last().copied().unwrap_or_default();
        let longest = plan.name(widest, keys - 1);
        if longest.len() > NAME_MAX {
            return Err(format!(
                "interface names such as \"{longest}\" exceed {NAME_MAX} bytes: \
                 shorten --prefix or lower --keys"
            ));
        }
        Ok(plan)
    }

    /// Every request carries `n` (at most 16) addresses.
    pub fn with_addrs(self, n: u8) -> Plan {
        Plan { addrs: n, ..self }
    }

    /// Channels in turn, `keys` requests each (`--sweep`).
    pub fn with_sweep(self, sweep: bool) -> Plan {
        Plan { sweep, ..self }
    }

    /// The channel of request `seq`.
    pub fn channel(&self, seq: u64) -> u32 {
        let r = mix(mix(self.seed) ^ seq);
        let n = self.channels.len() as u64;
        let i = if self.sweep {
            seq / self.keys % n
        } else if self.skew == 0 || n == 1 {
            r % n
        } else if r % 1000 < u64::from(self.skew) {
            0
        } else {
            1 + (r / 1000) % (n - 1)
        };
        // i < n, and n came from a Vec's length.
        self.channels[i as usize]
    }

    /// The interface name request `seq` sets on `channel`.
    pub fn name(&self, channel: u32, seq: u64) -> String {
        format!("{}{channel}_{}", self.prefix, seq % self.keys)
    }

    /// Request `seq`.
    pub fn request(&self, seq: u64) -> SetIface {
        let channel = self.channel(seq);
        SetIface {
            name: self.name(channel, seq),
            channel: Some(channel),
            up: Some(seq % 2 == 0),
            // Below 51 000: fits u32.
            mtu: Some(1000 + (seq % 50_000) as u32),
            description: Some(format!("s{seq}")),
            addrs: (self.addrs > 0).then(|| {
                (0..self.addrs)
                    .map(|i| format!("10.{i}.{}.{}/24", (seq >> 8) & 255, seq & 255))
                    .collect()
            }),
            ..SetIface::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(channels: &[u32], skew: u32, seed: u64) -> Plan {
        Plan::new(channels.to_vec(), 64, skew, "l".into(), seed).expect("valid")
    }

    #[test]
    fn a_sweep_sets_every_name_of_every_channel_once() {
        let p = Plan::new(vec![3, 5, 9], 4, 0, "l".into(), 1)
            .expect("valid")
            .with_sweep(true);
        let mut seen = std::collections::BTreeSet::new();
        for seq in 17..17 + 12 {
            let r = p.request(seq);
            assert!(seen.insert((r.channel, r.name)), "request {seq} repeats");
        }
        assert_eq!(seen.len(), 12);
        // Consecutive requests stay on one channel.
        assert_eq!(p.channel(20), p.channel(23));
    }

    #[test]
    fn dense_requests_carry_distinct_addresses() {
        let p = plan(&[7], 0, 1).with_addrs(16);
        let a = p.request(0x1234).addrs.expect("addresses");
        assert_eq!(a.len(), 16);
        assert_eq!(a[0], "10.0.18.52/24");
        assert_eq!(a[15], "10.15.18.52/24");
        assert_eq!(plan(&[7], 0, 1).request(1).addrs, None);
    }

    #[test]
    fn request_fields() {
        let p = plan(&[7], 0, 1);
        assert_eq!(
            p.request(65),
            SetIface {
                name: "l7_1".into(),
                channel: Some(7),
                up: Some(false),
                mtu: Some(1065),
                description: Some("s65".into()),
                ..SetIface::default()
            }
        );
        let r = p.request(50_064);
        assert_eq!(
            (r.name.as_str(), r.mtu, r.up),
            ("l7_16", Some(1064), Some(true))
        );
    }

    #[test]
    fn names_must_fit() {
        // "l4294967295_63" is 14 bytes.
        assert!(Plan::new(vec![u32::MAX], 64, 0, "l".into(), 0).is_ok());
        let err = Plan::new(vec![1, u32::MAX], 1000, 0, "ab".into(), 0).expect_err("too long");
        assert_eq!(
            err,
            "interface names such as \"ab4294967295_999\" exceed 15 bytes: \
             shorten --prefix or lower --keys"
        );
        assert!(Plan::new(vec![1], 1, 0, "x".repeat(12), 0).is_ok());
        assert!(Plan::new(vec![1], 1, 0, "x".repeat(13), 0).is_err());
        assert!(Plan::new(vec![], 1, 0, "l".into(), 0).is_err());
        assert!(Plan::new(vec![1, 2, 1], 1, 0, "l".into(), 0).is_err());
        assert!(Plan::new(vec![1], 0, 0, "l".into(), 0).is_err());
        assert!(Plan::new(vec![1], 1, 1001, "l".into(), 0).is_err());
    }

    fn shares(p: &Plan, channels: &[u32], n: u64) -> Vec<u64> {
        let mut counts = vec![0; channels.len()];
        for seq in 1..=n {
            let c = p.channel(seq);
            let i = channels.iter().position(|&x| x == c).expect("listed");
            counts[i] += 1;
        }
        counts
    }

    #[test]
    fn channel_choice_is_deterministic_and_skewed() {
        let chans = [3, 1, 2, 4];
        let a: Vec<_> = (1..200).map(|k| plan(&chans, 0, 9).channel(k)).collect();
        let b: Vec<_> = (1..200).map(|k| plan(&chans, 0, 9).channel(k)).collect();
        let c: Vec<_> = (1..200).map(|k| plan(&chans, 0, 10).channel(k)).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        for share in shares(&plan(&chans, 0, 1), &chans, 40_000) {
            assert!((9_000..11_000).contains(&share), "uniform: {share}");
        }
        let skewed = shares(&plan(&chans, 700, 1), &chans, 40_000);
        assert!(
            (27_000..29_000).contains(&skewed[0]),
            "first: {}",
            skewed[0]
        );
        for &share in &skewed[1..] {
            assert!((3_500..4_500).contains(&share), "others: {share}");
        }
        assert_eq!(shares(&plan(&chans, 1000, 1), &chans, 1000)[0], 1000);
        assert_eq!(shares(&plan(&[5], 300, 1), &[5], 100), [100]);
    }
}
