//! Hex digits on the stack. The audit writer formats a hash, a client key and a request id
//! for every request it stores — thousands a second — and none of them needs a heap string.

/// `N` lower-case hex digits: two per byte of the value they were made from.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Hex<const N: usize>([u8; N]);

impl<const N: usize> Hex<N> {
    /// The digits of `bytes`: bytes beyond `N / 2` are left out, missing ones read as zero.
    pub fn of(bytes: &[u8]) -> Self {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = [b'0'; N];
        for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
            pair[0] = DIGITS[usize::from(b >> 4)];
            pair[1] = DIGITS[usize::from(b & 15)];
        }
        Self(out)
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever written, so this never falls back.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl<const N: usize> std::fmt::Display for Hex<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<const N: usize> std::fmt::Debug for Hex<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Hex;

    #[test]
    fn matches_the_hex_crate_and_pads_or_cuts_to_its_width() {
        let bytes = [0x00, 0x0f, 0xa5, 0xff, 0x10];
        assert_eq!(Hex::<10>::of(&bytes).as_str(), hex::encode(bytes));
        assert_eq!(Hex::<4>::of(&bytes).as_str(), "000f");
        assert_eq!(Hex::<12>::of(&bytes).as_str(), "000fa5ff1000");
        assert_eq!(Hex::<16>::of(&u64::to_be_bytes(0xdead_beef)).to_string(), "00000000deadbeef");
    }
}
