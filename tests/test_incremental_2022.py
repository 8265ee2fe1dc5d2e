"""The 2022 incremental format, payload by payload (``spaces_graphql/incremental_2022.py``).

End to end (real answers, merged as Apollo Client 3 merges them) in
``tests/test_incremental.py``; here the rewriting itself, including a fragment that
failed as a whole, which the sandbox cannot be made to produce.
"""

from __future__ import annotations

from spaces_graphql.incremental_2022 import Defer2022


def test_each_payload_is_rewritten_with_paths_labels_and_indices() -> None:
    d = Defer2022()
    first = d.convert(
        {
            "data": {"list": [{"n": 1}, {"n": 2}], "me": {"id": "a"}},
            "pending": [
                {"id": "0", "path": ["list"]},
                {"id": "1", "path": ["me"], "label": "more"},
            ],
            "hasNext": True,
        }
    )
    assert first == {"data": {"list": [{"n": 1}, {"n": 2}], "me": {"id": "a"}}, "hasNext": True}
    second = d.convert(
        {
            "incremental": [
                {"id": "0", "items": [{"n": 3}]},
                {"id": "1", "data": {"name": "Ada"}, "subPath": []},
            ],
            "completed": [{"id": "1"}],
            "hasNext": True,
        }
    )
    assert second == {
        "incremental": [
            {"items": [{"n": 3}], "path": ["list", 2]},
            {"data": {"name": "Ada"}, "path": ["me"], "label": "more"},
        ],
        "hasNext": True,
    }
    third = d.convert(
        {"incremental": [{"id": "0", "items": [{"n": 4}, {"n": 5}]}], "hasNext": True}
    )
    assert third["incremental"] == [{"items": [{"n": 4}, {"n": 5}], "path": ["list", 3]}]
    last = d.convert({"completed": [{"id": "0"}], "hasNext": False, "extensions": {"x": 1}})
    assert last == {"hasNext": False, "extensions": {"x": 1}}


def test_a_failed_fragment_is_null_at_its_path_with_its_errors() -> None:
    d = Defer2022()
    d.convert(
        {
            "data": {"me": {"id": "a"}},
            "pending": [{"id": "0", "path": ["me"], "label": "x"}],
            "hasNext": True,
        }
    )
    error = {"message": "boom", "path": ["me", "name"]}
    out = d.convert({"completed": [{"id": "0", "errors": [error]}], "hasNext": False})
    assert out == {
        "incremental": [{"data": None, "path": ["me"], "label": "x", "errors": [error]}],
        "hasNext": False,
    }


def test_a_stream_announced_with_its_first_items_counts_them() -> None:
    # A stream inside a deferred fragment: announced in the payload that brings the list.
    d = Defer2022()
    d.convert({"data": {"me": {}}, "pending": [{"id": "0", "path": ["me"]}], "hasNext": True})
    out = d.convert(
        {
            "pending": [{"id": "1", "path": ["me", "list"]}],
            "incremental": [{"id": "0", "data": {"list": [1, 2, 3]}}],
            "completed": [{"id": "0"}],
            "hasNext": True,
        }
    )
    assert out["incremental"] == [{"data": {"list": [1, 2, 3]}, "path": ["me"]}]
    later = d.convert({"incremental": [{"id": "1", "items": [4]}], "hasNext": True})
    assert later["incremental"] == [{"items": [4], "path": ["me", "list", 3]}]
