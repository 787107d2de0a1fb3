//! The CFDATA checksum: XOR of little-endian 32-bit words, with the odd trailing bytes folded
//! in reversed order (as `CSUMCompute` in the Microsoft cabinet SDK does).

/// Streaming state so reserve bytes and data can be fed separately, exactly as the SDK does.
#[derive(Default)]
pub(crate) struct Checksum {
    value: u32,
    remainder: u32,
    shift: u32,
}

impl Checksum {
    pub(crate) fn update(&mut self, buf: &[u8]) {
        let mut rest = buf;
        // Finish a partial word first so the fast path below stays word-aligned.
        while self.shift != 0 {
            let Some((&b, tail)) = rest.split_first() else {
                return;
            };
            self.push_byte(b);
            rest = tail;
        }
        let mut words = rest.chunks_exact(4);
        for w in &mut words {
            self.value ^= u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
        }
        for &b in words.remainder() {
            self.push_byte(b);
        }
    }

    fn push_byte(&mut self, b: u8) {
        self.remainder |= u32::from(b) << self.shift;
        if self.shift == 24 {
            self.value ^= self.remainder;
            self.remainder = 0;
            self.shift = 0;
        } else {
            self.shift += 8;
        }
    }

    pub(crate) fn value(&self) -> u32 {
        let r = self.remainder;
        match self.shift {
            8 => self.value ^ r,
            16 => self.value ^ (r >> 8) ^ ((r & 0xff) << 8),
            24 => self.value ^ (r >> 16) ^ (r & 0xff00) ^ ((r & 0xff) << 16),
            _ => self.value,
        }
    }
}

/// Checksum of one CFDATA block as stored in its `csum` field.
pub(crate) fn data_block(reserve: &[u8], data: &[u8], cb_data: u16, cb_uncomp: u16) -> u32 {
    let mut c = Checksum::default();
    c.update(reserve);
    c.update(data);
    c.value() ^ (u32::from(cb_data) | (u32::from(cb_uncomp) << 16))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_cab_specification_example() {
        let data = b"#include <stdio.h>\r\n\r\nvoid main(void)\r\n{\r\n    printf(\"Hello, world!\\n\");\r\n}\r\n#include <stdio.h>\r\n\r\nvoid main(void)\r\n{\r\n    printf(\"Welcome!\\n\");\r\n}\r\n\r\n";
        assert_eq!(data.len(), 0x97);
        assert_eq!(data_block(&[], data, 0x97, 0x97), 0x30a6_5abd);
    }

    #[test]
    fn split_feeding_equals_one_shot() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1001).collect();
        let mut a = Checksum::default();
        a.update(&data);
        for split in [1, 2, 3, 5, 500] {
            let mut b = Checksum::default();
            b.update(&data[..split]);
            b.update(&data[split..]);
            assert_eq!(a.value(), b.value(), "split at {split}");
        }
        assert_eq!(data_block(b"", b"Hello, world!\n", 0x0e, 0x0e), 0x7f2e_1a4c);
    }
}
