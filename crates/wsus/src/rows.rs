//! Positional `GenericReadableRow` results (reference §4): SUSDB stored-procedure rows sent
//! as `<Values><anyType xsi:type=…>` cells, untyped except for `xsi:type`, possibly nil.
//!
//! Rows are read by index with a per-operation column map and extra trailing columns are
//! tolerated, because real servers carry more columns than documented (WSUS 10.0.26100
//! has four more in update rows). A missing *required* column is an error naming the
//! operation, the row and the column, never a silent default.

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::error::{Result, WsusError};
use crate::soap::Element;
use supctl_ids::UpdateId;

/// One cell: its `xsi:type` local name (`int`, `string`, `dateTime`, `guid`, …) and its
/// text, `None` when `xsi:nil="true"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub ty: Option<String>,
    pub value: Option<String>,
}

/// One row, cells in column order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub cells: Vec<Cell>,
}

/// Parses an `ArrayOfGenericReadableRow` element (nil rows are skipped: the WSDL allows
/// them and they carry nothing).
pub fn parse_rows(array: &Element) -> Vec<Row> {
    array
        .children_named("GenericReadableRow")
        .filter(|r| !r.is_nil())
        .map(parse_row)
        .collect()
}

/// Parses one `GenericReadableRow`.
pub fn parse_row(row: &Element) -> Row {
    let cells = row
        .child("Values")
        .map(|v| {
            v.children_named("anyType")
                .map(|c| Cell {
                    ty: c.xsi_type().map(str::to_string),
                    value: (!c.is_nil()).then(|| c.text.clone()),
                })
                .collect()
        })
        .unwrap_or_default();
    Row { cells }
}

/// Reads typed columns of one row, with error messages that say where.
pub struct Columns<'a> {
    pub operation: &'a str,
    pub index: usize,
    pub row: &'a Row,
}

impl<'a> Columns<'a> {
    fn cell(&self, col: usize) -> Option<&'a str> {
        self.row.cells.get(col).and_then(|c| c.value.as_deref())
    }

    fn bad(&self, col: usize, what: &str) -> WsusError {
        let found = match self.row.cells.get(col) {
            None => format!("the row has only {} columns", self.row.cells.len()),
            Some(Cell { value: None, .. }) => "it is nil".into(),
            Some(Cell { value: Some(v), .. }) => format!("found `{v}`"),
        };
        WsusError::malformed(
            self.operation,
            format!("row {} column {col}: expected {what}, {found}", self.index),
        )
    }

    /// Text, `None` when nil or absent.
    pub fn opt_str(&self, col: usize) -> Option<String> {
        self.cell(col).map(str::to_string)
    }

    pub fn str(&self, col: usize) -> Result<String> {
        self.opt_str(col).ok_or_else(|| self.bad(col, "text"))
    }

    pub fn i64(&self, col: usize) -> Result<i64> {
        self.cell(col)
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| self.bad(col, "an integer"))
    }

    /// Booleans come as `true`/`false` (or `1`/`0` from bit columns).
    pub fn bool(&self, col: usize) -> Result<bool> {
        self.cell(col)
            .and_then(parse_bool)
            .ok_or_else(|| self.bad(col, "a boolean"))
    }

    pub fn opt_bool(&self, col: usize) -> Option<bool> {
        self.cell(col).and_then(parse_bool)
    }

    pub fn guid(&self, col: usize) -> Result<UpdateId> {
        self.cell(col)
            .and_then(|v| UpdateId::parse(v).ok())
            .ok_or_else(|| self.bad(col, "a GUID"))
    }

    /// A date; `None` for nil and for SQL's "no date" sentinels.
    pub fn opt_date(&self, col: usize) -> Option<DateTime<Utc>> {
        self.cell(col).and_then(parse_date)
    }
}

pub(crate) fn parse_bool(v: &str) -> Option<bool> {
    match v.trim() {
        "true" | "1" | "True" => Some(true),
        "false" | "0" | "False" => Some(false),
        _ => None,
    }
}

/// Parses a SUSDB date: zone-less means UTC; 0–7 fractional digits; `0001-01-01…`,
/// `1753-01-01…` (SQL `datetime` minimum) and `9999-…` are the "none" sentinels (§2).
pub fn parse_date(v: &str) -> Option<DateTime<Utc>> {
    let v = v.trim();
    if v.starts_with("0001-01-01") || v.starts_with("1753-01-01") || v.starts_with("9999-") {
        return None;
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(v) {
        return Some(d.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|n| n.and_utc())
}

/// Walks rows with a column reader per row.
pub fn map_rows<T>(
    operation: &str,
    rows: &[Row],
    mut f: impl FnMut(&Columns) -> Result<T>,
) -> Result<Vec<T>> {
    rows.iter()
        .enumerate()
        .map(|(index, row)| {
            f(&Columns {
                operation,
                index,
                row,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(xml: &str) -> Vec<Row> {
        let doc = format!(
            r#"<A xmlns="urn:t" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">{xml}</A>"#
        );
        parse_rows(&Element::parse(&doc).unwrap())
    }

    #[test]
    fn cells_keep_type_nil_and_position() {
        let r = rows(
            r#"<GenericReadableRow><Values><anyType xsi:type="xsd:int">12</anyType><anyType xsi:nil="true"/><anyType xsi:type="xsd:string">x</anyType></Values></GenericReadableRow><GenericReadableRow xsi:nil="true"/>"#,
        );
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].cells.len(), 3);
        assert_eq!(r[0].cells[0].ty.as_deref(), Some("int"));
        assert_eq!(r[0].cells[1].value, None);
        let c = Columns {
            operation: "Op",
            index: 0,
            row: &r[0],
        };
        assert_eq!(c.i64(0).unwrap(), 12);
        assert_eq!(c.opt_str(1), None);
        let e = c.str(1).unwrap_err().to_string();
        assert!(
            e.contains("Op") && e.contains("column 1") && e.contains("nil"),
            "{e}"
        );
        let e = c.i64(7).unwrap_err().to_string();
        assert!(e.contains("only 3 columns"), "{e}");
        assert!(c.i64(2).is_err());
    }

    #[test]
    fn dates_are_utc_with_sentinels_for_none() {
        let d = |s| parse_date(s).map(|d| d.to_rfc3339());
        assert_eq!(
            d("2024-03-01T10:20:30"),
            Some("2024-03-01T10:20:30+00:00".into())
        );
        assert_eq!(
            d("2024-03-01T10:20:30.1234567"),
            Some("2024-03-01T10:20:30.123456700+00:00".into())
        );
        assert_eq!(
            d("2024-03-01T10:20:30.5Z"),
            Some("2024-03-01T10:20:30.500+00:00".into())
        );
        assert_eq!(d("0001-01-01T00:00:00"), None);
        assert_eq!(d("1753-01-01T00:00:00"), None);
        assert_eq!(d("9999-12-31T23:59:59.997"), None);
        assert_eq!(d("yesterday"), None);
    }

    #[test]
    fn guids_are_normalised() {
        let r = rows(
            r#"<GenericReadableRow><Values><anyType xsi:type="xsd:string">{0FA1201D-4330-4FA8-8AE9-B877473B6441}</anyType><anyType>1</anyType></Values></GenericReadableRow>"#,
        );
        let c = Columns {
            operation: "Op",
            index: 0,
            row: &r[0],
        };
        assert_eq!(
            c.guid(0).unwrap().as_str(),
            "0fa1201d-4330-4fa8-8ae9-b877473b6441"
        );
        assert!(c.bool(1).unwrap());
    }
}
