// SPDX-License-Identifier: GPL-2.0

//! A small KUnit harness for the module's Rust core, and its suites.
//!
//! The 6.12 `kernel` crate has KUnit assertions for its doctests only, so
//! suites are declared here with [`kunit_suite!`]: each puts a `kunit_suite`
//! in the module's `.kunit_test_suites` section, which KUnit runs when
//! `hasync_kunit.ko` is loaded, printing KTAP to the kernel log.  A failed
//! [`check!`] marks the case failed and lets it go on (a KUnit
//! expectation), so a case always frees what it allocated.

use kernel::bindings;
use kernel::str::CStr;

mod channel_test;
mod cookie_log_test;
mod hash_test;
mod parse_test;
mod replay_test;
mod state_test;
/// The shared hash vectors; plain `pub` inside, as userspace includes the
/// same file.
#[allow(unreachable_pub)]
pub(crate) mod vectors;

/// The running case.
///
/// INVARIANT: `0` is the `struct kunit` KUnit passed to the case, live for
/// the case's run.
pub(crate) struct Test(*mut bindings::kunit);

impl Test {
    /// # Safety
    ///
    /// `test` must be the argument KUnit passed to the running case.
    pub(crate) unsafe fn new(test: *mut bindings::kunit) -> Self {
        // INVARIANT: the caller's promise.
        Test(test)
    }

    /// Marks the case failed at `file:line`, saying what did not hold.
    pub(crate) fn failed(&self, file: &CStr, line: u32, what: &CStr) {
        let loc = bindings::kunit_loc {
            line: line as i32,
            file: file.as_char_ptr(),
        };
        let assert = bindings::kunit_unary_assert {
            assert: bindings::kunit_assert::default(),
            condition: what.as_char_ptr(),
            expected_true: true,
        };
        // SAFETY: `self.0` is the running case's `struct kunit` (the
        // invariant); `loc` and `assert` outlive the call, which formats
        // them into the log before returning; `assert.assert` is the first
        // field of a `kunit_unary_assert`, as the format callback expects; a
        // null message is allowed.  An expectation, not an assertion: KUnit
        // does not abort the case.
        unsafe {
            bindings::__kunit_do_failed_assertion(
                self.0,
                &loc,
                bindings::kunit_assert_type_KUNIT_EXPECTATION,
                &assert.assert,
                Some(bindings::kunit_unary_assert_format),
                core::ptr::null(),
            )
        };
    }
}

/// Expects `cond` to hold.
macro_rules! check {
    ($t:expr, $cond:expr) => {
        if !$cond {
            $t.failed(
                kernel::c_str!(file!()),
                line!(),
                kernel::c_str!(stringify!($cond)),
            );
        }
    };
}
pub(crate) use check;

/// Expects `left == right`, printing both when not.
macro_rules! check_eq {
    ($t:expr, $left:expr, $right:expr) => {{
        let (l, r) = (&$left, &$right);
        if l != r {
            kernel::pr_err!(
                "    # {} = {:?}, expected {} = {:?}\n",
                stringify!($left),
                l,
                stringify!($right),
                r
            );
            $t.failed(
                kernel::c_str!(file!()),
                line!(),
                kernel::c_str!(concat!(stringify!($left), " == ", stringify!($right))),
            );
        }
    }};
}
pub(crate) use check_eq;

/// The value of an `Ok` or `Some`; otherwise fails the case and returns
/// from it.
macro_rules! must {
    ($t:expr, $v:expr) => {
        match $crate::kunit::Must::must($v) {
            Some(v) => v,
            None => {
                $t.failed(
                    kernel::c_str!(file!()),
                    line!(),
                    kernel::c_str!(concat!(stringify!($v), " succeeds")),
                );
                return;
            }
        }
    };
}
pub(crate) use must;

/// What [`must!`] accepts.
pub(crate) trait Must<T> {
    fn must(self) -> Option<T>;
}

impl<T> Must<T> for Option<T> {
    fn must(self) -> Option<T> {
        self
    }
}

impl<T, E> Must<T> for core::result::Result<T, E> {
    fn must(self) -> Option<T> {
        self.ok()
    }
}

/// One case of a suite's table.
pub(crate) const fn case(
    name: &'static CStr,
    run: unsafe extern "C" fn(*mut bindings::kunit),
) -> bindings::kunit_case {
    bindings::kunit_case {
        run_case: Some(run),
        name: name.as_char_ptr(),
        // SAFETY: the remaining fields are integers, pointers and options
        // of function pointers, all valid zeroed (KUnit's own tables leave
        // them zero).
        ..unsafe { core::mem::zeroed() }
    }
}

/// The all-zero case that ends a suite's table.
// SAFETY: as for `case`.
pub(crate) const END: bindings::kunit_case = unsafe { core::mem::zeroed() };

/// A suite named `name` running `cases`.
pub(crate) const fn suite(name: &str, cases: *mut bindings::kunit_case) -> bindings::kunit_suite {
    // SAFETY: as for `case`: KUnit's own suites leave every other field
    // zero.
    let mut s: bindings::kunit_suite = unsafe { core::mem::zeroed() };
    let b = name.as_bytes();
    let mut i = 0;
    // Keep the last byte NUL.
    while i < b.len() && i < s.name.len() - 1 {
        s.name[i] = b[i] as _;
        i += 1;
    }
    s.test_cases = cases;
    s
}

/// Declares a suite of the cases named, each a `fn(&Test)` in scope.
macro_rules! kunit_suite {
    ($name:literal, [$($case:ident),+ $(,)?]) => {
        const KUNIT_NCASES: usize = [$(stringify!($case)),+].len();

        static mut KUNIT_CASES: [kernel::bindings::kunit_case; KUNIT_NCASES + 1] = [
            $($crate::kunit::case(kernel::c_str!(stringify!($case)), {
                /// # Safety
                ///
                /// `test` is the running case's `struct kunit`.
                unsafe extern "C" fn run(test: *mut kernel::bindings::kunit) {
                    // SAFETY: KUnit passes the running case's `struct kunit`.
                    $case(&unsafe { $crate::kunit::Test::new(test) });
                }
                run
            }),)+
            $crate::kunit::END,
        ];

        static mut KUNIT_SUITE: kernel::bindings::kunit_suite =
            $crate::kunit::suite($name, core::ptr::addr_of_mut!(KUNIT_CASES).cast());

        /// KUnit finds the suite through this section when the module loads.
        #[used]
        #[link_section = ".kunit_test_suites"]
        static mut KUNIT_SUITE_PTR: *mut kernel::bindings::kunit_suite = core::ptr::addr_of_mut!(KUNIT_SUITE);
    };
}
pub(crate) use kunit_suite;

/// The errno of a failure, for comparisons.
pub(crate) fn errno<T>(r: &core::result::Result<T, crate::error::Failure>) -> i32 {
    match r {
        Ok(_) => 0,
        Err(f) => f.errno.to_errno(),
    }
}

/// The extack cookie of a failure as a u64 (0 when there is none).
pub(crate) fn cookie<T>(r: &core::result::Result<T, crate::error::Failure>) -> u64 {
    match r {
        Err(f) if f.cookie_len == 8 => u64::from_ne_bytes(f.cookie),
        Err(f) if f.cookie_len == 4 => u64::from(u32::from_ne_bytes([
            f.cookie[0],
            f.cookie[1],
            f.cookie[2],
            f.cookie[3],
        ])),
        _ => 0,
    }
}
