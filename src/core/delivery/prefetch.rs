//! Asking the CPU for a buffer's cache lines, ready to be written, before `log()`
//! writes them.
//!
//! Why: `log()` copies each event's text into a buffer the delivery loop handed back
//! (`text_pool.rs`). The loop, on another core, read that buffer last, so before
//! `log()`'s copy can write a line the line must come back from that core. In `perf`
//! that copy (`memmove`) was the largest part of the native function: 11-19% of its
//! samples (85-137 ns per call), 8% of `log()`'s (about 180 ns). Asked for at the end
//! of one call, the next buffer's lines arrive while JavaScript builds and serializes
//! the next event: 8.5% and 3.7% (about 56 and 77 ns) with it (issue 21,
//! docs/performance.md).

/// A cache line: what the CPU moves between cores.
const LINE: usize = 64;

/// At most this much of a buffer is asked for: an event's text is a few hundred
/// bytes, and asking for more would only evict lines in use.
const MAX_PREFETCH_BYTES: usize = 1024;

/// Asks for the first `len` bytes at `ptr` (at most [`MAX_PREFETCH_BYTES`]) to be
/// brought into this core's cache in a state it can write. A hint and nothing more:
/// it reads and writes nothing, never faults whatever `ptr` is, and does nothing on a
/// CPU without the instruction or another architecture.
pub(crate) fn prefetch_for_write(ptr: *const u8, len: usize) {
    #[cfg(target_arch = "x86_64")]
    if x86::has_prefetchw() && len > 0 {
        // Every line the bytes touch: the buffer need not start on a line.
        let first = ptr as usize & !(LINE - 1);
        let last = (ptr as usize).wrapping_add(len.min(MAX_PREFETCH_BYTES) - 1) & !(LINE - 1);
        let mut line = first;
        while line <= last {
            x86::prefetchw(line as *const u8);
            line = line.wrapping_add(LINE);
            if line == 0 {
                break; // wrapped past the top of the address space
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (ptr, len);
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::__cpuid;
    use std::sync::OnceLock;

    /// Whether the CPU has PREFETCHW: CPUID leaf 0x8000_0001, ECX bit 8 (PRFCHW; AMD's
    /// since the K6-2, Intel's since Broadwell). Rust's `_MM_HINT_ET0` would be a read
    /// prefetch here: the `prfchw` target feature is unstable, and without it LLVM
    /// emits PREFETCHT0, which leaves the line shared with the other core.
    pub(super) fn has_prefetchw() -> bool {
        static HAS: OnceLock<bool> = OnceLock::new();
        *HAS.get_or_init(|| {
            __cpuid(0x8000_0000).eax >= 0x8000_0001 && __cpuid(0x8000_0001).ecx & (1 << 8) != 0
        })
    }

    pub(super) fn prefetchw(at: *const u8) {
        // SAFETY: PREFETCHW is a hint: it has no architectural effect on memory and
        // never faults, whatever the address. It runs only where CPUID says the CPU
        // has it (elsewhere the opcode may be undefined).
        unsafe {
            std::arch::asm!(
                "prefetchw byte ptr [{0}]",
                in(reg) at,
                options(nostack, preserves_flags, readonly)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asking_for_any_address_is_harmless() {
        let buf = vec![7u8; 4096];
        prefetch_for_write(buf.as_ptr(), buf.len());
        // Addresses no allocation backs: a hint never faults.
        prefetch_for_write(std::ptr::null(), 4096);
        prefetch_for_write(usize::MAX as *const u8, 64);
        prefetch_for_write(std::ptr::NonNull::<u8>::dangling().as_ptr(), 0);
        assert!(buf.iter().all(|&b| b == 7), "the buffer is unchanged");
    }
}
