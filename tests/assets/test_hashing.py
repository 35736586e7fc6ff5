"""Content hashes and automatic versions."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelpack.assets import hash_data, hash_file, hash_path, hash_tree, next_version


def tree(root: Path, files: dict[str, bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return root


FILES = {"score.py": b"def init(): ...\n", "lib/util.py": b"X = 1\n"}


def test_tree_hash_is_stable_across_locations(tmp_path: Path) -> None:
    first = tree(tmp_path / "a" / "src", FILES)
    second = tree(tmp_path / "b" / "src", dict(reversed(FILES.items())))
    assert hash_tree(first) == hash_tree(second)
    assert hash_path(first) == hash_path(second)
    assert len(hash_tree(first)) == 64


def test_tree_hash_follows_content_and_names(tmp_path: Path) -> None:
    base = hash_tree(tree(tmp_path / "base", FILES))
    changed = hash_tree(tree(tmp_path / "changed", FILES | {"score.py": b"def init(): pass\n"}))
    renamed = hash_tree(
        tree(
            tmp_path / "renamed",
            {"main.py": FILES["score.py"], "lib/util.py": FILES["lib/util.py"]},
        )
    )
    added = hash_tree(tree(tmp_path / "added", FILES | {"empty.txt": b""}))
    assert len({base, changed, renamed, added}) == 4


def test_tree_hash_ignores_bytecode(tmp_path: Path) -> None:
    clean = hash_tree(tree(tmp_path / "clean", FILES))
    cached = tree(
        tmp_path / "cached",
        FILES | {"__pycache__/score.cpython-311.pyc": b"\0", "lib/old.pyc": b"\1"},
    )
    assert hash_tree(cached) == clean


def test_path_hash_includes_the_top_name(tmp_path: Path) -> None:
    one = tree(tmp_path / "x" / "model", {"w.bin": b"1"})
    two = tree(tmp_path / "y" / "weights", {"w.bin": b"1"})
    assert hash_tree(one) == hash_tree(two)
    assert hash_path(one) != hash_path(two)
    single = tmp_path / "x" / "model.pkl"
    single.write_bytes(b"1")
    assert hash_path(single) != hash_file(single)
    assert hash_file(single) == hash_file(one / "w.bin")


def test_data_hash_ignores_key_order() -> None:
    assert hash_data({"a": 1, "b": [1, 2]}) == hash_data({"b": [1, 2], "a": 1})
    assert hash_data({"a": 1}) != hash_data({"a": 2})


@pytest.mark.parametrize(
    "previous, current, explicit, expected",
    [
        (None, "h1", None, "1"),
        ({"version": "1", "hash": "h1"}, "h1", None, "1"),
        ({"version": "1", "hash": "h1"}, "h2", None, "2"),
        ({"version": "9", "hash": "h1"}, "h2", None, "10"),
        ({"version": "1.9", "hash": "h1"}, "h2", None, "1.10"),
        ({"version": "v007", "hash": "h1"}, "h2", None, "v008"),
        ({"version": "beta", "hash": "h1"}, "h2", None, "beta.1"),
        ({"version": "4", "hash": "h1"}, "h2", "3", "3"),
        (None, "h1", "7", "7"),
    ],
)
def test_next_version(
    previous: dict | None, current: str, explicit: str | None, expected: str
) -> None:
    assert next_version(previous, current, explicit) == expected
