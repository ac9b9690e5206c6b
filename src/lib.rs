#![deny(clippy::all)]

#[cfg(feature = "node")]
mod binding;
pub mod core;

#[cfg(feature = "node")]
pub use binding::*;

/// mimalloc for the addon's own allocations: the delivery loop and the AWS SDK
/// allocate and free small buffers on several threads at once, where glibc's
/// allocator spent about a sixth of the background CPU, much of it on arena locks.
#[cfg(all(feature = "node", not(test)))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Tests count the allocations each thread makes (`core::testing::allocations`), on
/// top of the same allocator.
#[cfg(test)]
#[global_allocator]
static ALLOCATOR: core::testing::CountingAllocator = core::testing::CountingAllocator;
