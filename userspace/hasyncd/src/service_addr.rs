//! The floating service address: put on an interface by the unit that
//! becomes primary, announced by gratuitous ARP, taken off by a unit that
//! stops being primary.
//!
//! Two rtnetlink requests and one ARP frame, so they are built here on raw
//! sockets: the message layouts are pure functions tested below, and the
//! daemon needs no rtnetlink library for them.

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

// <linux/rtnetlink.h>, <linux/if_addr.h>, <linux/netlink.h>.
const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_REPLACE: u16 = 0x100;
const NLM_F_CREATE: u16 = 0x400;
const ETH_P_ARP: u16 = 0x0806;
const ETH_P_IP: u16 = 0x0800;

/// An IPv4 address on a named interface.
#[derive(Debug, Clone)]
pub struct ServiceAddr {
    /// The address.
    pub ip: Ipv4Addr,
    /// Its prefix length.
    pub prefix: u8,
    /// The interface's name.
    pub interface: String,
}

impl ServiceAddr {
    /// Puts the address on its interface (already there is fine) and
    /// announces it: two gratuitous ARP requests, so that neighbours whose
    /// cache still names the previous primary's link address move to ours.
    pub fn take(&self) -> io::Result<()> {
        let index = if_index(&self.interface)?;
        rtnl(&addr_msg(RTM_NEWADDR, index, self.ip, self.prefix))?;
        let mac = hw_addr(&self.interface)?;
        let frame = garp(mac, self.ip);
        for _ in 0..2 {
            send_arp(index, &frame)?;
        }
        Ok(())
    }

    /// Takes the address off its interface (already gone is fine).
    pub fn release(&self) -> io::Result<()> {
        let index = match if_index(&self.interface) {
            Ok(i) => i,
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => return Ok(()),
            Err(e) => return Err(e),
        };
        match rtnl(&addr_msg(RTM_DELADDR, index, self.ip, self.prefix)) {
            Err(e) if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) => Ok(()),
            other => other,
        }
    }
}

/// The index of interface `name` in this network namespace.
pub fn if_index(name: &str) -> io::Result<u32> {
    let c = std::ffi::CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `c` is a valid NUL-terminated string for the whole call.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if i == 0 {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no interface {name:?} in this network namespace"),
        ));
    }
    Ok(i)
}

fn socket(domain: i32, ty: i32, proto: i32) -> io::Result<OwnedFd> {
    // SAFETY: plain system call; the result is checked before use.
    let fd = unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, proto) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// An `RTM_NEWADDR` (create or replace) or `RTM_DELADDR` request.
fn addr_msg(kind: u16, index: u32, ip: Ipv4Addr, prefix: u8) -> Vec<u8> {
    let flags = NLM_F_REQUEST
        | NLM_F_ACK
        | if kind == RTM_NEWADDR {
            NLM_F_CREATE | NLM_F_REPLACE
        } else {
            0
        };
    let len: u32 = 16 + 8 + 2 * 8;
    let mut m = Vec::with_capacity(len as usize);
    m.extend_from_slice(&len.to_ne_bytes());
    m.extend_from_slice(&kind.to_ne_bytes());
    m.extend_from_slice(&flags.to_ne_bytes());
    m.extend_from_slice(&1u32.to_ne_bytes()); // sequence
    m.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel's
                                              // struct ifaddrmsg
    m.extend_from_slice(&[libc::AF_INET as u8, prefix, 0, libc::RT_SCOPE_UNIVERSE]);
    m.extend_from_slice(&index.to_ne_bytes());
    for ty in [IFA_LOCAL, IFA_ADDRESS] {
        m.extend_from_slice(&8u16.to_ne_bytes());
        m.extend_from_slice(&ty.to_ne_bytes());
        m.extend_from_slice(&ip.octets());
    }
    m
}

/// Sends one request and waits for its ACK.
fn rtnl(msg: &[u8]) -> io::Result<()> {
    crate::rtnl::Rtnl::open()?.call(msg)
}

/// The interface's link-layer address.
fn hw_addr(name: &str) -> io::Result<[u8; 6]> {
    let fd = socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
    // SAFETY: `ifreq` is plain data; all zeroes is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req
        .ifr_name
        .iter_mut()
        .zip(name.bytes().take(libc::IFNAMSIZ - 1))
    {
        *d = s as libc::c_char;
    }
    // SAFETY: SIOCGIFHWADDR reads `ifr_name` and writes `ifr_hwaddr` of
    // the `ifreq` we own.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::SIOCGIFHWADDR, &mut req) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: SIOCGIFHWADDR succeeded, so `ifr_hwaddr` is the member set.
    let sa = unsafe { req.ifr_ifru.ifru_hwaddr };
    let mut mac = [0u8; 6];
    for (d, s) in mac.iter_mut().zip(sa.sa_data.iter()) {
        *d = *s as u8;
    }
    Ok(mac)
}

/// A gratuitous ARP request for `ip` from `mac`: sender and target
/// address both `ip`, which every neighbour that knows `ip` takes as the
/// new link address for it.
fn garp(mac: [u8; 6], ip: Ipv4Addr) -> [u8; 28] {
    let mut f = [0u8; 28];
    f[0..2].copy_from_slice(&1u16.to_be_bytes()); // Ethernet
    f[2..4].copy_from_slice(&ETH_P_IP.to_be_bytes());
    f[4] = 6;
    f[5] = 4;
    f[6..8].copy_from_slice(&1u16.to_be_bytes()); // request
    f[8..14].copy_from_slice(&mac);
    f[14..18].copy_from_slice(&ip.octets());
    f[24..28].copy_from_slice(&ip.octets());
    f
}

fn send_arp(index: u32, frame: &[u8]) -> io::Result<()> {
    let fd = socket(
        libc::AF_PACKET,
        libc::SOCK_DGRAM,
        i32::from(ETH_P_ARP.to_be()),
    )?;
    // SAFETY: `sockaddr_ll` is plain data; all zeroes is a valid value.
    let mut to: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    to.sll_family = libc::AF_PACKET as u16;
    to.sll_protocol = ETH_P_ARP.to_be();
    to.sll_ifindex = index as i32;
    to.sll_halen = 6;
    to.sll_addr[..6].copy_from_slice(&[0xff; 6]);
    // SAFETY: `frame` and `to` are valid for the lengths given.
    let n = unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            frame.as_ptr().cast(),
            frame.len(),
            0,
            std::ptr::from_ref(&to).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_requests_have_the_kernels_layout() {
        let ip = Ipv4Addr::new(10, 77, 0, 100);
        let m = addr_msg(RTM_NEWADDR, 7, ip, 24);
        assert_eq!(m.len(), 40);
        assert_eq!(u32::from_ne_bytes(m[0..4].try_into().expect("4")), 40);
        assert_eq!(u16::from_ne_bytes([m[4], m[5]]), RTM_NEWADDR);
        assert_eq!(
            u16::from_ne_bytes([m[6], m[7]]),
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE
        );
        assert_eq!(&m[16..20], &[libc::AF_INET as u8, 24, 0, 0]);
        assert_eq!(u32::from_ne_bytes(m[20..24].try_into().expect("4")), 7);
        assert_eq!(u16::from_ne_bytes([m[26], m[27]]), IFA_LOCAL);
        assert_eq!(&m[28..32], &ip.octets());
        assert_eq!(u16::from_ne_bytes([m[34], m[35]]), IFA_ADDRESS);
        let d = addr_msg(RTM_DELADDR, 7, ip, 24);
        assert_eq!(u16::from_ne_bytes([d[6], d[7]]), NLM_F_REQUEST | NLM_F_ACK);
    }

    #[test]
    fn a_gratuitous_arp_names_the_address_as_sender_and_target() {
        let f = garp([2, 0, 0, 0, 0, 9], Ipv4Addr::new(10, 77, 0, 100));
        assert_eq!(&f[0..8], &[0, 1, 8, 0, 6, 4, 0, 1]);
        assert_eq!(&f[8..14], &[2, 0, 0, 0, 0, 9]);
        assert_eq!(&f[14..18], &[10, 77, 0, 100]);
        assert_eq!(&f[18..24], &[0; 6]);
        assert_eq!(&f[24..28], &[10, 77, 0, 100]);
    }
}
