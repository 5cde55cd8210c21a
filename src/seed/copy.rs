//! COPY encoding, binary or text, into the chunks the loader streams.

use super::layout::Id;
use super::spec::{civil_from_days, DAY, HOUR, MINUTE, PG_EPOCH_DAYS, SECOND};
use bytes::Bytes;
use std::io::Write as _;
use tokio::sync::mpsc;

/// Bytes of COPY data per message to the loader.
const CHUNK: usize = 256 * 1024;
/// Chunks buffered between the generator and the connection.
pub(super) const CHANNEL_CHUNKS: usize = 8;

pub(super) enum Chunk {
    /// COPY data and the number of rows it completes.
    Data(Bytes, u64),
    /// The current table is complete.
    End,
}

/// Rows of one COPY stream being written.
pub(super) struct Rows<const B: bool> {
    pub(super) buf: Vec<u8>,
    /// Rows completed in `buf`.
    pub(super) rows: u64,
    /// Text format: no field written yet in the current row.
    pub(super) first: bool,
    pub(super) out: mpsc::Sender<Chunk>,
    /// The loader is gone (an error, or it finished): stop generating.
    pub(super) closed: bool,
}

impl<const B: bool> Rows<B> {
    pub(super) fn new(out: mpsc::Sender<Chunk>) -> Self {
        Rows {
            buf: Vec::with_capacity(CHUNK + 64 * 1024),
            rows: 0,
            first: true,
            out,
            closed: false,
        }
    }

    pub(super) fn start_table(&mut self) {
        if B {
            self.buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
            self.buf.extend_from_slice(&0i32.to_be_bytes());
            self.buf.extend_from_slice(&0i32.to_be_bytes());
        }
    }

    pub(super) fn end_table(&mut self) {
        if B {
            self.buf.extend_from_slice(&(-1i16).to_be_bytes());
        }
        self.flush();
        if !self.closed && self.out.blocking_send(Chunk::End).is_err() {
            self.closed = true;
        }
    }

    pub(super) fn flush(&mut self) {
        if self.closed || self.buf.is_empty() {
            return;
        }
        let data = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK + 64 * 1024));
        let rows = std::mem::take(&mut self.rows);
        if self
            .out
            .blocking_send(Chunk::Data(Bytes::from(data), rows))
            .is_err()
        {
            self.closed = true;
        }
    }

    pub(super) fn begin(&mut self, columns: usize) {
        if B {
            self.buf.extend_from_slice(&(columns as i16).to_be_bytes());
        } else {
            self.first = true;
        }
    }

    pub(super) fn end(&mut self) {
        if !B {
            self.buf.push(b'\n');
        }
        self.rows += 1;
        if self.buf.len() >= CHUNK {
            self.flush();
        }
    }

    pub(super) fn sep(&mut self) {
        if !self.first {
            self.buf.push(b'\t');
        }
        self.first = false;
    }

    /// A binary field: length prefix patched after `write` wrote the value.
    pub(super) fn binary(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        let at = self.buf.len();
        self.buf.extend_from_slice(&[0; 4]);
        write(&mut self.buf);
        let len = (self.buf.len() - at - 4) as i32;
        self.buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
    }

    pub(super) fn fixed(&mut self, bytes: &[u8]) {
        self.buf
            .extend_from_slice(&(bytes.len() as i32).to_be_bytes());
        self.buf.extend_from_slice(bytes);
    }

    pub(super) fn null(&mut self) {
        if B {
            self.buf.extend_from_slice(&(-1i32).to_be_bytes());
        } else {
            self.sep();
            self.buf.extend_from_slice(b"\\N");
        }
    }

    /// text, citext, enum labels: whatever `write` puts out, as UTF-8.
    pub(super) fn text_with(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        if B {
            self.binary(write);
        } else {
            self.sep();
            let start = self.buf.len();
            write(&mut self.buf);
            escape_text_tail(&mut self.buf, start);
        }
    }

    pub(super) fn text(&mut self, s: &str) {
        self.text_with(|b| b.extend_from_slice(s.as_bytes()));
    }

    pub(super) fn opt_text(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.text(s),
            None => self.null(),
        }
    }

    pub(super) fn jsonb_with(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        if B {
            self.binary(|b| {
                b.push(1);
                write(b);
            });
        } else {
            self.text_with(write);
        }
    }

    pub(super) fn jsonb(&mut self, s: &str) {
        self.jsonb_with(|b| b.extend_from_slice(s.as_bytes()));
    }

    pub(super) fn uuid(&mut self, id: &Id) {
        if B {
            self.fixed(id);
        } else {
            self.sep();
            write_uuid_text(&mut self.buf, id);
        }
    }

    pub(super) fn opt_uuid(&mut self, id: Option<&Id>) {
        match id {
            Some(id) => self.uuid(id),
            None => self.null(),
        }
    }

    pub(super) fn int4(&mut self, v: i32) {
        if B {
            self.fixed(&v.to_be_bytes());
        } else {
            self.sep();
            let _ = write!(self.buf, "{v}");
        }
    }

    pub(super) fn int8(&mut self, v: i64) {
        if B {
            self.fixed(&v.to_be_bytes());
        } else {
            self.sep();
            let _ = write!(self.buf, "{v}");
        }
    }

    pub(super) fn boolean(&mut self, v: bool) {
        if B {
            self.fixed(&[v as u8]);
        } else {
            self.sep();
            self.buf.push(if v { b't' } else { b'f' });
        }
    }

    /// timestamptz, as microseconds since 2000-01-01 UTC.
    pub(super) fn ts(&mut self, micros: i64) {
        if B {
            self.fixed(&micros.to_be_bytes());
        } else {
            self.sep();
            write_timestamp_text(&mut self.buf, micros);
        }
    }

    pub(super) fn opt_ts(&mut self, micros: Option<i64>) {
        match micros {
            Some(m) => self.ts(m),
            None => self.null(),
        }
    }

    /// numeric `value` × 10^-scale.
    pub(super) fn numeric(&mut self, value: i64, scale: u32) {
        if B {
            self.binary(|b| write_numeric_binary(b, value, scale));
        } else {
            self.sep();
            let pow = 10u64.pow(scale);
            let abs = value.unsigned_abs();
            let sign = if value < 0 { "-" } else { "" };
            let _ = write!(self.buf, "{sign}{}", abs / pow);
            if scale > 0 {
                let _ = write!(self.buf, ".{:0width$}", abs % pow, width = scale as usize);
            }
        }
    }

    pub(super) fn inet4(&mut self, a: [u8; 4]) {
        if B {
            // PGSQL_AF_INET (AF_INET + 0), 32 bits, not cidr, 4 address bytes.
            self.fixed(&[2, 32, 0, 4, a[0], a[1], a[2], a[3]]);
        } else {
            self.sep();
            let _ = write!(self.buf, "{}.{}.{}.{}", a[0], a[1], a[2], a[3]);
        }
    }

    /// text[] of plain words (no quotes or backslashes in them).
    pub(super) fn text_array(&mut self, items: &[&str]) {
        if B {
            self.binary(|b| {
                b.extend_from_slice(&1i32.to_be_bytes()); // dimensions
                b.extend_from_slice(&0i32.to_be_bytes()); // no NULLs
                b.extend_from_slice(&25u32.to_be_bytes()); // element type: text
                b.extend_from_slice(&(items.len() as i32).to_be_bytes());
                b.extend_from_slice(&1i32.to_be_bytes()); // lower bound
                for item in items {
                    b.extend_from_slice(&(item.len() as i32).to_be_bytes());
                    b.extend_from_slice(item.as_bytes());
                }
            });
        } else {
            self.sep();
            self.buf.push(b'{');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    self.buf.push(b',');
                }
                self.buf.push(b'"');
                self.buf.extend_from_slice(item.as_bytes());
                self.buf.push(b'"');
            }
            self.buf.push(b'}');
        }
    }
}

/// COPY text escaping of what was written from `start` on (rarely needed: generated strings
/// hold no tabs, newlines or backslashes).
fn escape_text_tail(buf: &mut Vec<u8>, start: usize) {
    if !buf[start..]
        .iter()
        .any(|c| matches!(c, b'\\' | b'\t' | b'\n' | b'\r'))
    {
        return;
    }
    let tail = buf.split_off(start);
    for c in tail {
        match c {
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            c => buf.push(c),
        }
    }
}

fn write_uuid_text(buf: &mut Vec<u8>, id: &Id) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, byte) in id.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            buf.push(b'-');
        }
        buf.push(HEX[(byte >> 4) as usize]);
        buf.push(HEX[(byte & 0x0f) as usize]);
    }
}

pub(super) fn write_hex(buf: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for byte in bytes {
        buf.push(HEX[(byte >> 4) as usize]);
        buf.push(HEX[(byte & 0x0f) as usize]);
    }
}

fn write_timestamp_text(buf: &mut Vec<u8>, micros: i64) {
    let days = micros.div_euclid(DAY);
    let rest = micros.rem_euclid(DAY);
    let (y, m, d) = civil_from_days(days + PG_EPOCH_DAYS);
    let _ = write!(
        buf,
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:06}+00",
        rest / HOUR,
        rest % HOUR / MINUTE,
        rest % MINUTE / SECOND,
        rest % SECOND
    );
}

/// numeric_send's layout: ndigits, weight, sign, dscale, then base-10000 digits, most
/// significant first, the decimal point on a digit boundary.
fn write_numeric_binary(buf: &mut Vec<u8>, value: i64, scale: u32) {
    let abs = value.unsigned_abs();
    let pow = 10u64.pow(scale);
    let (mut int, frac) = (abs / pow, abs % pow);
    let frac_groups = scale.div_ceil(4);
    let mut digits = [0u16; 12];
    let mut n = 0;
    let mut int_digits = [0u16; 5];
    let mut k = 0;
    while int > 0 {
        int_digits[k] = (int % 10_000) as u16;
        int /= 10_000;
        k += 1;
    }
    for i in (0..k).rev() {
        digits[n] = int_digits[i];
        n += 1;
    }
    let mut frac = frac * 10u64.pow(frac_groups * 4 - scale);
    let mut frac_digits = [0u16; 5];
    for i in (0..frac_groups as usize).rev() {
        frac_digits[i] = (frac % 10_000) as u16;
        frac /= 10_000;
    }
    for d in frac_digits.iter().take(frac_groups as usize) {
        digits[n] = *d;
        n += 1;
    }
    let weight = k as i16 - 1;
    let sign: u16 = if value < 0 { 0x4000 } else { 0 };
    buf.extend_from_slice(&(n as i16).to_be_bytes());
    buf.extend_from_slice(&weight.to_be_bytes());
    buf.extend_from_slice(&sign.to_be_bytes());
    buf.extend_from_slice(&(scale as u16).to_be_bytes());
    for d in &digits[..n] {
        buf.extend_from_slice(&d.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::spec::days_from_civil;

    #[test]
    fn timestamp_text_layout() {
        let t = (days_from_civil(2025, 3, 15) - PG_EPOCH_DAYS) * DAY + 12 * HOUR;
        let mut buf = Vec::new();
        write_timestamp_text(&mut buf, t + 5 * MINUTE + 7 * SECOND + 42);
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "2025-03-15 12:05:07.000042+00"
        );
    }

    #[test]
    fn numeric_binary_layout() {
        let enc = |v, s| {
            let mut b = Vec::new();
            write_numeric_binary(&mut b, v, s);
            b.chunks(2)
                .map(|c| i16::from_be_bytes([c[0], c[1]]))
                .collect::<Vec<_>>()
        };
        // 12.34 with scale 2: digits [12, 3400], weight 0.
        assert_eq!(enc(1234, 2), vec![2, 0, 0, 2, 12, 3400]);
        // 123456.789012 with scale 6: [12, 3456, 7890, 1200], weight 1.
        assert_eq!(
            enc(123_456_789_012, 6),
            vec![4, 1, 0, 6, 12, 3456, 7890, 1200]
        );
        // 0.05: [0, 500]? no integer digits: [500], weight -1.
        assert_eq!(enc(5, 2), vec![1, -1, 0, 2, 500]);
        assert_eq!(enc(0, 2), vec![1, -1, 0, 2, 0]);
    }
}
