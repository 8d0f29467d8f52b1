//! Plain aligned columns for terminal output.

/// A table: a header row and rows of cells, rendered as columns separated by two
/// spaces, each as wide as its widest cell (the last one is not padded).
#[derive(Debug, Clone, Default)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

/// One line of a cell: control characters (newlines, tabs) become spaces.
fn clean(cell: &str) -> String {
    cell.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

impl Table {
    pub fn new(headers: &[&str]) -> Table {
        Table {
            headers: headers.iter().map(|h| clean(h)).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells are empty, extra ones are dropped.
    pub fn row<S: AsRef<str>>(&mut self, cells: impl IntoIterator<Item = S>) {
        let mut row: Vec<String> = cells
            .into_iter()
            .take(self.headers.len())
            .map(|c| clean(c.as_ref()))
            .collect();
        row.resize(self.headers.len(), String::new());
        self.rows.push(row);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn render(&self) -> String {
        let columns = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for row in std::iter::once(&self.headers).chain(&self.rows) {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                line.push_str(cell);
                if i + 1 < columns {
                    let pad = widths[i] - cell.chars().count() + 2;
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_columns() {
        let mut t = Table::new(&["ID", "VERSION", "STATUS"]);
        t.row(["hello", "0.1.0", "manually_enabled"]);
        t.row(["a-much-longer-id", "10.0.0-beta.1", ""]);
        assert_eq!(
            t.render(),
            "ID                VERSION        STATUS\n\
             hello             0.1.0          manually_enabled\n\
             a-much-longer-id  10.0.0-beta.1\n"
        );
    }

    #[test]
    fn cleans_and_pads_cells() {
        let mut t = Table::new(&["A", "B"]);
        t.row(["x\ny", "tab\there"]);
        t.row(["only-one"]);
        t.row(["1", "2", "dropped"]);
        assert!(!t.is_empty());
        assert_eq!(
            t.render(),
            "A         B\nx y       tab here\nonly-one\n1         2\n"
        );
    }

    #[test]
    fn counts_characters_not_bytes() {
        let mut t = Table::new(&["NAME", "X"]);
        t.row(["héllo", "1"]);
        assert_eq!(t.render(), "NAME   X\nhéllo  1\n");
        assert!(Table::new(&["A"]).is_empty());
    }
}
