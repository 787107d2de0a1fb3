//! Sharing the names many updates repeat. A catalog of 10,000 updates names a handful of
//! vendors, classifications, update types and product lists, and a store of 100,000 the
//! same handful per catalog: a string each was five or six allocations per update, held
//! twice in a plan (the catalogs' summaries and the server's snapshot). An [`Interner`]
//! lives for one read (a summary's decoding, a snapshot's scan) and hands out shared
//! copies; what it made stays alive only through the records that hold them.

use std::hash::{Hash as _, Hasher as _};
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet, FxHasher};

/// One allocation per distinct name or list of names, however many records repeat it.
#[derive(Default)]
pub(crate) struct Interner {
    names: FxHashSet<Arc<str>>,
    /// By the hash of their items (a list is not hashed as one string, and two lists may
    /// share a hash): the lists with that hash.
    lists: FxHashMap<u64, Vec<Arc<[String]>>>,
}

impl Interner {
    /// The shared copy of `s`.
    pub(crate) fn name(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.names.get(s) {
            return a.clone();
        }
        let a: Arc<str> = s.into();
        self.names.insert(a.clone());
        a
    }

    /// The shared list equal to `items`.
    pub(crate) fn list<S: AsRef<str>>(&mut self, items: &[S]) -> Arc<[String]> {
        let mut h = FxHasher::default();
        for i in items {
            i.as_ref().hash(&mut h);
        }
        let bucket = self.lists.entry(h.finish()).or_default();
        let same = |l: &Arc<[String]>| {
            l.len() == items.len() && l.iter().zip(items).all(|(a, b)| a == b.as_ref())
        };
        if let Some(l) = bucket.iter().find(|l| same(l)) {
            return l.clone();
        }
        let l: Arc<[String]> = items.iter().map(|i| i.as_ref().to_string()).collect();
        bucket.push(l.clone());
        l
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_names_and_lists_are_one_allocation_and_different_ones_are_not() {
        let mut i = Interner::default();
        let a = i.name("Contoso");
        let b = i.name(&String::from("Contoso"));
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &i.name("Fabrikam")));

        let l1 = i.list(&["Tools", "Editor"]);
        let l2 = i.list(&[String::from("Tools"), String::from("Editor")]);
        assert!(Arc::ptr_eq(&l1, &l2));
        // Same items in another order, or split differently, are other lists.
        assert!(!Arc::ptr_eq(&l1, &i.list(&["Editor", "Tools"])));
        assert!(!Arc::ptr_eq(&l1, &i.list(&["ToolsEditor"])));
        assert_eq!(&*i.list::<&str>(&[]), &[] as &[String]);
    }
}
