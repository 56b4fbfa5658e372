//! The TIPC service names of one hasync deployment.

use hasync_tipc::{ServiceAddr, ServiceRange};

/// The service names derived from the configured `{type, instance}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Services {
    /// Configured service type (64 and up, at most `u32::MAX - 3`).
    pub service_type: u32,
    /// Configured instance.
    pub instance: u32,
}

/// Default service type (`[tipc] service_type`).
pub const DEFAULT_SERVICE_TYPE: u32 = 18_888;
/// Default instance (`[tipc] instance`).
pub const DEFAULT_INSTANCE: u32 = 1;

impl Default for Services {
    fn default() -> Self {
        Services {
            service_type: DEFAULT_SERVICE_TYPE,
            instance: DEFAULT_INSTANCE,
        }
    }
}

impl Services {
    /// The replication stream, published by the primary.
    pub fn replication(self) -> ServiceAddr {
        ServiceAddr::new(self.service_type, self.instance)
    }

    /// Change requests, published by the primary (cluster scope).
    pub fn control(self) -> ServiceAddr {
        ServiceAddr::new(self.service_type.wrapping_add(1), self.instance)
    }

    /// Status of the daemon on this node (node scope).
    pub fn local(self) -> ServiceAddr {
        ServiceAddr::new(self.service_type.wrapping_add(2), self.instance)
    }

    /// One control unit, for elections: every daemon publishes its own
    /// engine node id as the instance (cluster scope), so the topology
    /// server tells who is up and a candidacy goes to one unit by name.
    pub fn unit(self, node: u32) -> ServiceAddr {
        ServiceAddr::new(self.service_type.wrapping_add(3), node)
    }

    /// Every control unit (the topology subscription).
    pub fn units(self) -> ServiceRange {
        ServiceRange::all(self.service_type.wrapping_add(3))
    }
}
