//! A rooms listing keeping only some kinds of rooms (`rooms.adminRooms`):
//! discussions and teams' main rooms left out or kept, with or without a name
//! filter, the total counting what is kept.

use palaver_server::store::{
    Direction, DynStore, Page, Room, RoomKinds, RoomMatch, RoomType, Sort, SortKey,
};

use super::{channel, ids, room};

pub async fn list_rooms_of_kinds(store: DynStore) {
    let mut discussion = room("r-d", RoomType::Group, Some("alpha-talk"), 1);
    discussion.extra.prid = Some("r-a".into());
    let mut team = channel("r-t", "alpha-team", 1);
    team.extra.team_id = Some("t-1".into());
    team.extra.team_main = true;
    let mut in_team = channel("r-i", "alpha-in-team", 1);
    in_team.extra.team_id = Some("t-1".into());
    for r in [
        channel("r-a", "alpha", 1),
        room("r-b", RoomType::Group, Some("beta"), 1),
        discussion,
        team,
        in_team,
    ] {
        store.create_room(&r, &[]).await.unwrap();
    }
    let types = [RoomType::Channel, RoomType::Group];
    let by_name = Sort {
        key: SortKey::Name,
        dir: Direction::Asc,
    };
    let list = |kinds: RoomKinds, term: Option<&'static str>| {
        let store = store.clone();
        async move {
            let filter = term.map(|term| RoomMatch {
                term,
                display_names: true,
            });
            let listing = store
                .list_rooms_of_kinds(&types, filter, kinds, by_name, Page::new(0, 50))
                .await
                .unwrap();
            (ids(&listing.items, |r: &Room| r.id.as_str()), listing.total)
        }
    };
    let none = RoomKinds {
        discussions: false,
        team_mains: false,
        of_any_type: false,
    };
    let (rooms, total) = list(none, None).await;
    assert_eq!(rooms, ["r-a", "r-i", "r-b"]);
    assert_eq!(total, 3);
    let (rooms, total) = list(RoomKinds::ALL, None).await;
    assert_eq!(rooms, ["r-a", "r-i", "r-d", "r-t", "r-b"]);
    assert_eq!(total, 5);
    let discussions = RoomKinds {
        discussions: true,
        team_mains: false,
        of_any_type: false,
    };
    let (rooms, _) = list(discussions, Some("alpha")).await;
    assert_eq!(rooms, ["r-a", "r-i", "r-d"]);
    let teams = RoomKinds {
        discussions: false,
        team_mains: true,
        of_any_type: false,
    };
    let (rooms, _) = list(teams, Some("alph")).await;
    assert_eq!(rooms, ["r-a", "r-i", "r-t"]);
    let (rooms, _) = list(none, Some("alpha-t")).await;
    assert!(rooms.is_empty(), "{rooms:?}");

    // Kinds listed whatever their type (`rooms.adminRooms`): beside the rooms of
    // the listing's types, or alone when it has none.
    let any_type = |discussions, team_mains, types: &'static [RoomType]| {
        let store = store.clone();
        async move {
            let kinds = RoomKinds {
                discussions,
                team_mains,
                of_any_type: true,
            };
            let listing = store
                .list_rooms_of_kinds(types, None, kinds, by_name, Page::new(0, 50))
                .await
                .unwrap();
            (
                ids(&listing.items, |r: &Room| r.id.as_str()).join(","),
                listing.total,
            )
        }
    };
    assert_eq!(
        any_type(true, false, &[RoomType::Channel]).await,
        ("r-a,r-i,r-d".to_string(), 3),
        "the channels and the group's discussion"
    );
    assert_eq!(any_type(true, false, &[]).await, ("r-d".to_string(), 1));
    assert_eq!(any_type(false, true, &[]).await, ("r-t".to_string(), 1));
    assert_eq!(any_type(true, true, &[]).await, ("r-d,r-t".to_string(), 2));
    assert_eq!(
        any_type(false, true, &[RoomType::Group]).await,
        ("r-t,r-b".to_string(), 2),
        "the groups (not their discussion) and the team"
    );
    assert_eq!(
        any_type(false, false, &[RoomType::Group]).await,
        ("r-b".to_string(), 1),
        "no kind asked: the type's plain rooms"
    );
}
