//! `palisade`: see `palisade --help` and the README.
#![forbid(unsafe_code)]

/// The server allocates through mimalloc. Why: sled allocates and frees a node copy per
/// insert and a page per split on the writer thread while request threads allocate too, and
/// glibc's allocator spent a quarter of a bulk import in `malloc`/`free` and waiting on its
/// arena locks; mimalloc's thread-local free lists made the same sled inserts ≈ 1.5× faster
/// (`cargo bench --bench transfer` declares it too, issue #25).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    palisade::cli::main();
}
