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
    /// Ticks between resends now.
    wait: u32,
    /// Ticks until the next resend.
    left: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { wait: 1, left: 1 }
    }
}

impl Backoff {
    /// One tick. Progress since the previous tick resets the pacing and
    /// sends nothing; without it a resend is due after 1, then 2, 4 and
    /// at most [`MAX_TICKS`] ticks.
    pub fn tick(&mut self, progressed: bool) -> bool {
        if progressed {
            *self = Backoff::default();
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resends_back_off_while_stalled_and_reset_on_progress() {
        let mut b = Backoff::default();
        let due: Vec<u32> = (1..=40).filter(|_| b.tick(false)).collect();
        // The first stalled tick resends, then the gaps double up to the cap.
        assert_eq!(due.len(), 7);
        let mut b = Backoff::default();
        let at: Vec<u32> = (1..=40u32).filter(|_| b.tick(false)).collect();
        let gaps: Vec<u32> = at.windows(2).map(|w| w[1] - w[0]).collect();
        assert_eq!(at[0], 1);
        assert_eq!(gaps, vec![2, 4, 8, 8, 8, 8]);
        assert!(!b.tick(true));
        assert!(
            b.tick(false),
            "progress resets: the next stall resends at once"
        );
    }
}
