//! `palisade`: see `palisade --help` and the README.
#![forbid(unsafe_code)]

fn main() {
    palisade::cli::main();
}
