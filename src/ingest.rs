//! Reading exports: the only module that opens input files. Decodes bytes (UTF-8 with or
//! without BOM, or Shift_JIS/CP932) and yields CSV records with their source line.

use std::path::PathBuf;

use crate::config::{EncodingChoice, TableConfig};
use crate::error::Error;

/// One export, decoded to UTF-8 text.
pub struct Source {
    pub table: &'static str,
    pub path: PathBuf,
    pub encoding: &'static str,
    pub text: String,
}

/// Reads a table's export. `Ok(None)` when an optional export is absent.
pub fn read_source(table: &TableConfig) -> Result<Option<Source>, Error> {
    let bytes = match std::fs::read(&table.path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if table.optional {
                return Ok(None);
            }
            return Err(Error::MissingFile {
                table: table.name.to_owned(),
                path: table.path.clone(),
            });
        }
        Err(source) => {
            return Err(Error::ReadFile {
                table: table.name.to_owned(),
                path: table.path.clone(),
                source,
            });
        }
    };
    let (text, encoding) = decode(bytes, table.encoding).map_err(|message| Error::BadFile {
        table: table.name.to_owned(),
        path: table.path.clone(),
        message,
    })?;
    Ok(Some(Source {
        table: table.name,
        path: table.path.clone(),
        encoding,
        text,
    }))
}

/// Decodes an export. `Auto` takes UTF-8 when the bytes are valid UTF-8 (a BOM is
/// dropped) and otherwise Shift_JIS, which is what Excel in Japan writes; a file that
/// is neither is refused whole rather than turned into replacement characters.
pub fn decode(bytes: Vec<u8>, choice: EncodingChoice) -> Result<(String, &'static str), String> {
    const BOM: &[u8] = b"\xEF\xBB\xBF";
    let utf8 = |bytes: Vec<u8>| -> Result<String, String> {
        let bytes = match bytes.strip_prefix(BOM) {
            Some(rest) => rest.to_vec(),
            None => bytes,
        };
        String::from_utf8(bytes).map_err(|e| {
            format!(
                "not valid UTF-8 (first bad byte at offset {}); set the table's `encoding`",
                e.utf8_error().valid_up_to()
            )
        })
    };
    let shift_jis = |bytes: &[u8]| -> Result<String, String> {
        let (text, had_errors) = encoding_rs::SHIFT_JIS.decode_without_bom_handling(bytes);
        if had_errors {
            Err("neither valid UTF-8 nor valid Shift_JIS (CP932)".to_owned())
        } else {
            Ok(text.into_owned())
        }
    };
    match choice {
        EncodingChoice::Utf8 => utf8(bytes).map(|t| (t, "utf-8")),
        EncodingChoice::ShiftJis => shift_jis(&bytes).map(|t| (t, "shift_jis")),
        EncodingChoice::Auto => {
            if bytes.starts_with(BOM) || std::str::from_utf8(&bytes).is_ok() {
                utf8(bytes).map(|t| (t, "utf-8"))
            } else {
                shift_jis(&bytes).map(|t| (t, "shift_jis"))
            }
        }
    }
}

/// A CSV reader over decoded text that accepts ragged rows: a row with too many or too
/// few fields is quarantined by validation, not fatal to the whole file.
pub fn csv_reader(text: &str) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_bom_is_dropped() {
        let (text, enc) = decode(b"\xEF\xBB\xBFa,b\n".to_vec(), EncodingChoice::Auto).unwrap();
        assert_eq!((text.as_str(), enc), ("a,b\n", "utf-8"));
    }

    #[test]
    fn shift_jis_is_detected() {
        let (bytes, _, _) = encoding_rs::SHIFT_JIS.encode("取引先ID,名前\n");
        let (text, enc) = decode(bytes.into_owned(), EncodingChoice::Auto).unwrap();
        assert_eq!((text.as_str(), enc), ("取引先ID,名前\n", "shift_jis"));
    }

    #[test]
    fn forced_utf8_refuses_shift_jis() {
        let (bytes, _, _) = encoding_rs::SHIFT_JIS.encode("取引先");
        let err = decode(bytes.into_owned(), EncodingChoice::Utf8).unwrap_err();
        assert!(err.contains("not valid UTF-8"), "{err}");
    }
}
