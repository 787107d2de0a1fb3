//! Memory supctl freed goes back to the system, on glibc.
//!
//! glibc gives each thread that allocates its own arena (up to eight per core) and hands
//! memory freed in an arena back to the system only from the arena's top. supctl parses
//! catalogs on the runtime's blocking threads, so each parse leaves its freed buffers
//! resident in its own arena while planning and apply allocate in others, and the records
//! a plan no longer needs stay resident after they are dropped. A daemon that shares the
//! update server with WSUS and SQL Server should not hold memory it freed. Measured on the
//! first apply of ten catalogs of 10,000 updates (BENCHMARKS.md): 638 MiB peak RSS with
//! glibc's defaults, 535 MiB with two arenas, at the same wall time. Two, not one, so the
//! two threads of parallel work (a parse, the image hash of a content file) do not queue
//! on one lock. Other platforms' allocators are left as they are.

/// Caps the number of malloc arenas. Call it first thing, before any thread starts.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` sets one tuning parameter of the allocator; it is called before
    // any other thread exists, and an unsupported value only makes it return 0.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Hands the memory freed so far back to the system: called once a plan's catalog records
/// are dropped, before apply starts writing.
pub fn release_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` only returns free pages of the allocator's arenas to the
    // system; it is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Drops `value` on a thread of its own. Freeing the records of ten 10,000-update catalogs
/// (a few hundred thousand allocations) took a tenth of a no-op `plan`, at its very end,
/// where nothing waits for the memory: the command prints its plan and exits. A process
/// that exits first never waits for the thread; one that does not frees it all the same.
pub fn drop_aside<T: Send + 'static>(value: T) {
    // When no thread can start, `spawn` drops the closure, and the value with it, here.
    let _ = std::thread::Builder::new()
        .name("drop".into())
        .spawn(move || drop(value));
}
