use std::collections::HashSet;

use super::*;

const FIX: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/catalog/src/V3/"
);

fn file(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIX}{name}")).unwrap()
}

fn uid(n: u32) -> UpdateId {
    UpdateId::parse(&format!("{n:08x}-0000-4000-8000-{n:012x}")).unwrap()
}

fn cid(n: u32) -> CategoryId {
    CategoryId::parse(&format!("cccccccc-0000-4000-8000-{n:012x}")).unwrap()
}

fn raw(n: u32, name: &str, parent: Option<u32>, members: &[u32]) -> RawCategory {
    RawCategory {
        id: cid(n),
        display_name: name.into(),
        parent: parent.map(cid),
        members: members.iter().map(|&m| uid(m)).collect(),
    }
}

fn all_updates(n: u32) -> HashSet<UpdateId> {
    (1..=n).map(uid).collect()
}

#[test]
fn fixture_files_in_every_encoding_and_members_form() {
    let root = parse_category("root", &file("aaaaaaaa-0000-4000-8000-000000000001.json")).unwrap();
    assert_eq!(
        (
            root.display_name.as_str(),
            root.parent.as_ref(),
            root.members.len()
        ),
        ("Example", None, 3)
    );
    let x = parse_category("x", &file("aaaaaaaa-0000-4000-8000-000000000002.json")).unwrap();
    assert_eq!(x.members.len(), 1, "bare-string Members in UTF-16LE");
    assert_eq!(x.parent, Some(root.id));
    let y = parse_category("y", &file("aaaaaaaa-0000-4000-8000-000000000003.json")).unwrap();
    assert!(y.members.is_empty(), "null Members");
    let list = parse_category_list("l", &file("update_categories.json")).unwrap();
    assert_eq!(list.len(), 4);
}

#[test]
fn utf16_big_endian_and_bad_encodings() {
    let text = r#"{"DisplayName":"A","Id":"cccccccc-0000-4000-8000-000000000001","Members":[],"ParentId":null}"#;
    let mut be = vec![0xfe, 0xff];
    be.extend(text.encode_utf16().flat_map(|u| u.to_be_bytes()));
    assert_eq!(parse_category("be", &be).unwrap().id, cid(1));
    assert!(matches!(
        parse_category("odd", &[0xff, 0xfe, 0x41]),
        Err(V3Error::File { .. })
    ));
    assert!(matches!(
        parse_category("latin1", b"{\"Id\":\"\xe9\"}"),
        Err(V3Error::File { .. })
    ));
    let e = parse_category("f.json", br#"{"DisplayName":"A","Id":"x"}"#).unwrap_err();
    assert!(e.to_string().starts_with("f.json: "), "{e}");
    assert!(
        parse_category(
            "m",
            br#"{"DisplayName":"A","Id":"cccccccc-0000-4000-8000-000000000001","Members":5}"#
        )
        .is_err()
    );
}

#[test]
fn tree_paths_and_descendant_members() {
    let cats = build_tree(
        vec![
            raw(1, "Lenovo", None, &[1, 2, 3]),
            raw(2, "Device Drivers - X", Some(1), &[1]),
            raw(3, "BIOS", Some(2), &[2]),
            raw(4, "Other", Some(1), &[]),
        ],
        Some(&[cid(1), cid(2), cid(3), cid(4)]),
        &|i: &UpdateId| all_updates(3).contains(i),
    )
    .unwrap();
    let paths: Vec<&str> = cats.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "Lenovo",
            "Lenovo/Device Drivers - X",
            "Lenovo/Device Drivers - X/BIOS",
            "Lenovo/Other"
        ]
    );
    assert_eq!(
        resolve(&cats, "lenovo/device drivers - x").unwrap(),
        [cid(2)]
    );
    assert_eq!(
        resolve(&cats, &cid(3).as_str().to_uppercase()).unwrap(),
        [cid(3)]
    );
    assert_eq!(
        resolve(&cats, "Lenovo/Nope"),
        Err(CategoryError::NotFound("Lenovo/Nope".into()))
    );
    assert_eq!(
        resolve(&cats, &cid(9).as_str()),
        Err(CategoryError::UnknownId(cid(9)))
    );
    let under = members_under(&cats, &[cid(2)]);
    assert_eq!(under.into_iter().collect::<Vec<_>>(), [uid(1), uid(2)]);
    assert!(members_under(&cats, &[cid(4)]).is_empty());
    assert_eq!(
        resolve_all(&cats, &["Lenovo/Other", "Lenovo/other", &*cid(1).as_str()]).unwrap(),
        [cid(4), cid(1)]
    );
}

#[test]
fn ambiguous_paths_list_their_ids() {
    let cats = build_tree(
        vec![
            raw(1, "Dell", None, &[]),
            raw(2, "Latitude", Some(1), &[1]),
            raw(3, "Latitude", Some(1), &[2]),
        ],
        None,
        &|i: &UpdateId| all_updates(2).contains(i),
    )
    .unwrap();
    let e = resolve(&cats, "Dell/Latitude").unwrap_err();
    assert_eq!(
        e,
        CategoryError::Ambiguous {
            path: "Dell/Latitude".into(),
            ids: vec![cid(2), cid(3)]
        }
    );
    let msg = e.to_string();
    assert!(
        msg.contains(&*cid(2).as_str()) && msg.contains(&*cid(3).as_str()),
        "{msg}"
    );
}

#[test]
fn inconsistent_trees_are_errors() {
    let u = all_updates(2);
    let e = build_tree(vec![raw(1, "A", None, &[1, 7])], None, &|i: &UpdateId| {
        u.contains(i)
    })
    .unwrap_err();
    assert_eq!(e, V3Error::UnknownMembers(vec![(cid(1), vec![uid(7)])]));
    assert!(e.to_string().contains(&*uid(7).as_str()));
    let e = build_tree(vec![raw(1, "A", Some(5), &[])], None, &|i: &UpdateId| {
        u.contains(i)
    })
    .unwrap_err();
    assert!(matches!(e, V3Error::UnknownParent { .. }));
    let e = build_tree(
        vec![raw(1, "A", Some(2), &[]), raw(2, "B", Some(1), &[])],
        None,
        &|i: &UpdateId| u.contains(i),
    )
    .unwrap_err();
    assert!(matches!(e, V3Error::Cycle(_)));
    let e = build_tree(
        vec![raw(1, "A", None, &[]), raw(1, "B", None, &[])],
        None,
        &|i: &UpdateId| u.contains(i),
    )
    .unwrap_err();
    assert_eq!(e, V3Error::Duplicate(cid(1)));
    let e = build_tree(
        vec![raw(1, "A", None, &[])],
        Some(&[cid(1), cid(2)]),
        &|i: &UpdateId| u.contains(i),
    )
    .unwrap_err();
    assert_eq!(e, V3Error::Unlisted(vec![cid(2)]));
}
