//! Hex text: one message per block of lines, blocks separated by blank lines.
//! Whitespace is ignored, and so is everything from `#` to the end of a line.

use super::{Datagram, Extracted, InputError, Origin};

pub(crate) fn read_hex(input: &[u8]) -> Result<Vec<Extracted>, InputError> {
    let text = std::str::from_utf8(input).map_err(|e| {
        InputError::new(
            e.valid_up_to(),
            "not a pcap or pcapng capture, and not hex text (invalid UTF-8)",
        )
    })?;
    let mut out = Vec::new();
    let mut block: Option<Block> = None;
    let mut line_offset = 0;
    for (index, line) in text.split('\n').enumerate() {
        let content = line.split('#').next().unwrap_or("");
        if content.trim().is_empty() {
            // A comment-only line does not end a block; a blank one does.
            if line.trim().is_empty() {
                if let Some(done) = block.take() {
                    out.push(done.finish());
                }
            }
        } else {
            let current = block.get_or_insert_with(|| Block::new(index + 1, line_offset));
            current.add(index + 1, content);
        }
        line_offset += line.len() + 1;
    }
    if let Some(done) = block.take() {
        out.push(done.finish());
    }
    Ok(out)
}

struct Block {
    first_line: usize,
    input_offset: usize,
    digits: Vec<u8>,
    error: Option<String>,
}

impl Block {
    fn new(first_line: usize, input_offset: usize) -> Block {
        Block {
            first_line,
            input_offset,
            digits: Vec::new(),
            error: None,
        }
    }

    fn add(&mut self, line: usize, content: &str) {
        for (column, c) in content.char_indices() {
            if c.is_whitespace() || self.error.is_some() {
                continue;
            }
            match c.to_digit(16) {
                Some(d) => self.digits.push(d as u8),
                None => {
                    self.error = Some(format!(
                        "line {line}, column {}: {c:?} is not a hex digit",
                        column + 1
                    ))
                }
            }
        }
    }

    fn finish(self) -> Extracted {
        let origin = Origin::HexBlock {
            line: self.first_line,
            input_offset: self.input_offset,
        };
        if let Some(reason) = self.error {
            return Extracted::Problem { origin, reason };
        }
        if self.digits.len() % 2 != 0 {
            return Extracted::Problem {
                origin,
                reason: format!("odd number of hex digits ({})", self.digits.len()),
            };
        }
        let bytes = self
            .digits
            .chunks_exact(2)
            .map(|pair| pair[0] << 4 | pair[1])
            .collect();
        Extracted::Ike(Datagram { origin, bytes })
    }
}
