//! Pacing of the periodic tick's retransmissions.
//!
//! Replication runs over reliable, ordered connections: what the tick
//! resends is lost only to a peer that dropped it (a full pending queue, an
//! update of an epoch it does not follow yet) or to a lossy link in the
//! simulator. Resending everything outstanding on every tick made the
//! retransmissions grow with the number of channels, not with what was
//! lost: at 1 000 channels a syncing standby fell behind the resends of
//! its own unacknowledged chunks until its connection's queue overflowed.
//! So a resend waits until a whole tick passed without progress, then backs
//! off exponentially while nothing moves.

/// Longest wait between resends of a stalled transfer, in ticks.
pub const MAX_TICKS: u32 = 8;

/// Resend pacing for one transfer (one channel to one peer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The transfer's progress mark (a watermark or a count) at the
    /// previous tick.
    mark: u64,
    /// Ticks between resends now.
    wait: u32,
    /// Ticks until the next resend.
    left: u32,
}

impl Backoff {
    /// Pacing for a transfer whose progress mark is `mark` now.
    pub fn new(mark: u64) -> Self {
        Backoff {
            mark,
            wait: 1,
            left: 1,
        }
    }

    /// One tick, with the transfer's progress mark now and whether
    /// anything is outstanding. A moved mark or nothing outstanding resets
    /// the pacing and sends nothing; otherwise a resend is due after 1,
    /// then 2, 4 and at most [`MAX_TICKS`] ticks.
    pub fn tick(&mut self, mark: u64, outstanding: bool) -> bool {
        if mark != self.mark || !outstanding {
            *self = Backoff::new(mark);
            return false;
        }
        self.left = self.left.saturating_sub(1);
        if self.left > 0 {
            return false;
        }
        self.wait = (self.wait * 2).min(MAX_TICKS);
        self.left = self.wait;
        true
    }

    /// [`Backoff::tick`] for a transfer to a peer over an ordered,
    /// reliable connection: while the peer acknowledges anything at all
    /// (`peer_quiet` false) what it has not acknowledged here is queued
    /// behind that, not lost, so the pacing restarts and nothing is due.
    pub fn tick_if_quiet(&mut self, mark: u64, outstanding: bool, peer_quiet: bool) -> bool {
        if !peer_quiet {
            *self = Backoff::new(mark);
            return false;
        }
        self.tick(mark, outstanding)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resends_back_off_while_stalled_and_reset_on_progress() {
        let mut b = Backoff::new(5);
        let at: Vec<u32> = (1..=40u32).filter(|_| b.tick(5, true)).collect();
        // The first stalled tick resends, then the gaps double up to the cap.
        assert_eq!(at.len(), 7);
        assert_eq!(at[0], 1);
        let gaps: Vec<u32> = at.windows(2).map(|w| w[1] - w[0]).collect();
        assert_eq!(gaps, vec![2, 4, 8, 8, 8, 8]);
        assert!(!b.tick(6, true), "progress sends nothing");
        assert!(
            b.tick(6, true),
            "progress resets: the next stall resends at once"
        );
        assert!(!b.tick(6, false), "nothing outstanding, nothing to resend");
    }

    #[test]
    fn a_peer_acknowledging_other_things_restarts_the_pacing() {
        let mut b = Backoff::new(5);
        assert!(b.tick_if_quiet(5, true, true), "quiet and stalled: resend");
        assert!(!b.tick_if_quiet(5, true, false), "not quiet: nothing due");
        assert_eq!(b, Backoff::new(5), "and the pacing starts over");
        assert!(b.tick_if_quiet(5, true, true));
    }
}
