//! How a table's rows belong to a row of an owner table (issue #28, owner-bound tokens): the
//! chain of reference columns that leads from a table to the owner table
//! (`invoice_items.invoice_id → invoices.client_id → clients`). The schema's references are
//! the only source, so an ownership rule is never written by hand and cannot drift from the
//! data: a table reaches the owner by exactly one shortest chain — or, where it has several
//! reference columns that could, the one its `owner_path = "column"` names — or a token
//! bound to that owner cannot name it (the error names the table and says why).

use std::collections::{BTreeMap, VecDeque};

use super::Schema;

/// One step of a chain: `table.column` references the next table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    pub table: String,
    pub column: String,
}

impl Schema {
    /// The chain from `table` to `owner` (empty when `table` is the owner table).
    pub fn owner_path(&self, table: &str, owner: &str) -> Result<Vec<Hop>, String> {
        if table == owner {
            return Ok(Vec::new());
        }
        if self.table(table).is_none() {
            return Err(format!("unknown table {table:?}"));
        }
        // Breadth first from `table`: the first chains to reach `owner` are the shortest.
        let mut found: Vec<Vec<Hop>> = Vec::new();
        let mut queue: VecDeque<(String, Vec<Hop>)> = VecDeque::from([(table.to_string(), Vec::new())]);
        let mut depth_of: BTreeMap<String, usize> = BTreeMap::from([(table.to_string(), 0)]);
        while let Some((at, path)) = queue.pop_front() {
            if found.first().is_some_and(|f| path.len() >= f.len()) {
                break;
            }
            let Some(def) = self.table(&at) else { continue };
            // `owner_path` names the one column to follow where a table has several.
            let followed = def.columns.values().filter(|c| def.owner_path.as_ref().is_none_or(|p| *p == c.name));
            for c in followed {
                let Some(next) = c.references.as_deref() else { continue };
                let mut longer = path.clone();
                longer.push(Hop { table: at.clone(), column: c.name.clone() });
                if next == owner {
                    found.push(longer);
                } else if depth_of.get(next).is_none_or(|d| *d >= longer.len()) && !path.iter().any(|h| h.table == next)
                {
                    depth_of.insert(next.to_string(), longer.len());
                    queue.push_back((next.to_string(), longer));
                }
            }
        }
        match found.len() {
            0 => Err(format!(
                "table {table:?} has no chain of references to {owner:?}, so its rows belong to no {owner} row"
            )),
            1 => Ok(found.remove(0)),
            _ => {
                let chains: Vec<String> = found
                    .iter()
                    .map(|p| p.iter().map(|h| format!("{}.{}", h.table, h.column)).collect::<Vec<_>>().join(" → "))
                    .collect();
                Err(format!("table {table:?} reaches {owner:?} by more than one chain ({}), so which owner a row has is ambiguous: set owner_path = \"column\" on it", chains.join("; ")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Schema;

    #[test]
    fn chains_to_the_owner() {
        let s = Schema::parse(super::super::EMBEDDED_SCHEMA).unwrap();
        let path = |t: &str| {
            s.owner_path(t, "clients")
                .map(|p| p.iter().map(|h| format!("{}.{}", h.table, h.column)).collect::<Vec<_>>())
        };
        assert_eq!(path("clients").unwrap(), Vec::<String>::new());
        assert_eq!(path("invoices").unwrap(), vec!["invoices.client_id"]);
        assert_eq!(path("invoice_items").unwrap(), vec!["invoice_items.invoice_id", "invoices.client_id"]);
        assert!(path("leads").unwrap_err().contains("no chain"));
        let two = Schema::parse(
            r#"
[tables.clients.columns]
name = { type = "string" }
[tables.projects.columns]
client_id = { type = "int", references = "clients" }
[tables.tasks.columns]
client_id = { type = "int", references = "clients" }
billed_to = { type = "int", references = "clients" }
"#,
        )
        .unwrap();
        assert!(two.owner_path("tasks", "clients").unwrap_err().contains("more than one chain"));
        assert!(two.owner_path("projects", "clients").is_ok());
        let named = Schema::parse(
            r#"
[tables.clients.columns]
name = { type = "string" }
[tables.tasks]
owner_path = "client_id"
[tables.tasks.columns]
client_id = { type = "int", references = "clients" }
billed_to = { type = "int", references = "clients" }
"#,
        )
        .unwrap();
        let path = named.owner_path("tasks", "clients").unwrap();
        assert_eq!(path[0].column, "client_id");
        let wrong = "[tables.clients.columns]\nname = { type = \"string\" }\n[tables.tasks]\nowner_path = \"name\"\n[tables.tasks.columns]\nname = { type = \"string\" }\n";
        assert!(Schema::parse(wrong).is_err());
    }
}
