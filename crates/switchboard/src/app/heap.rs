//! Hands freed heap memory back to the operating system after idle agent
//! sessions were closed. glibc keeps freed chunks in its arenas (one per
//! thread that allocated), so the memory a burst of sessions used stays in
//! the broker's RSS after they end; `malloc_trim(0)` releases every arena's
//! free pages. Owns nothing else; must never be called on a hot path (it
//! walks every arena: about a millisecond on a 30 MB heap).

/// Return freed heap pages to the OS; `true` when some were released.
/// A no-op (returning `false`) off glibc.
pub fn return_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim only walks the allocator's own free lists
        // under its arena locks; it takes no pointer of ours.
        unsafe { libc::malloc_trim(0) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn freed_memory_is_returned_after_a_burst_of_small_allocations() {
        // Many small blocks (below the mmap threshold) come from the arena;
        // once freed, only a trim hands the pages back.
        let blocks: Vec<Vec<u8>> = (0..20_000).map(|i| vec![(i % 251) as u8; 1000]).collect();
        assert_eq!(blocks.len(), 20_000);
        drop(blocks);
        assert!(
            return_freed_memory(),
            "20 MB of freed small blocks should leave free pages to release"
        );
    }
}
