"""The registry, the workers' model cache, url confinement and bounded reads, in process."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from werkzeug.exceptions import Conflict
from xgb_container.errors import UserError
from xgb_container.modelfiles import (
    ModelFiles,
    confine,
    model_limit,
    read_bounded,
    read_model_folder,
)
from xgb_container.registry import SETTLE_NS, Entry, Loaded, Registry, check_name


@pytest.fixture
def registry(tmp_path):
    folder = tmp_path / "registry"
    folder.mkdir()
    return Registry(folder)


def entry(name: str = "m1", url: str = "/opt/ml/models/m1/model") -> Entry:
    return Entry.new(name, url, "digest")


def test_an_entry_round_trips_and_shows_only_the_contract_fields(registry):
    added = entry()
    registry.add(added)
    assert registry.get("m1") == added
    assert registry.get("m1").public() == {"modelName": "m1", "modelUrl": added.url}
    assert json.loads((registry.folder / "m1.json").read_text())["generation"] == added.generation
    assert [p.name for p in registry.folder.iterdir()] == ["m1.json"]  # no temporary left


def test_every_load_has_its_own_generation():
    assert entry().generation != entry().generation
    assert len(entry().generation) == 32


def test_a_taken_name_is_a_conflict_and_keeps_the_first_entry(registry):
    first = entry()
    registry.add(first)
    with pytest.raises(Conflict):
        registry.add(entry(url="/opt/ml/models/other"))
    assert registry.get("m1") == first
    assert [p.name for p in registry.folder.iterdir()] == ["m1.json"]


def test_remove_and_absent_names(registry):
    assert registry.get("m1") is None
    assert registry.remove("m1") is False
    registry.add(entry())
    assert registry.remove("m1") is True
    assert registry.get("m1") is None
    assert registry.remove("m1") is False
    registry.add(entry())  # the name is free again
    assert registry.get("m1") is not None


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b'{"name": "m1", "url": "/x", "gen',
        b"[1, 2]",
        b'"text"',
        b'{"name": "m1", "url": "/x", "generation": "g"}',
        b'{"name": "m1", "url": "/x", "generation": "g", "digest": "d", "more": 1}',
        b'{"name": "m1", "url": 3, "generation": "g", "digest": "d"}',
        b"\xff\xfe",
    ],
)
def test_anything_but_a_whole_entry_reads_as_absent(registry, raw):
    (registry.folder / "m1.json").write_bytes(raw)
    assert registry.get("m1") is None
    assert registry.all() == []
    assert registry.names() == {"m1"}
    with pytest.raises(Conflict):  # the name stays taken until it is deleted
        registry.add(entry())
    assert registry.remove("m1") is True


def test_listing_skips_temporaries_folders_and_bad_names(registry):
    for name in ("b", "a", "c"):
        registry.add(entry(name))
    (registry.folder / ".a.123.tmp").write_text("{}")
    (registry.folder / ".hidden.json").write_text("{}")
    (registry.folder / "notes.txt").write_text("x")
    (registry.folder / "bad name!.json").write_text("{}")
    (registry.folder / "dir.json").mkdir()
    assert registry.get("dir") is None
    assert [e.name for e in registry.all()] == ["a", "b", "c"]
    assert registry.names() == {"a", "b", "c", "bad name!", "dir"}


@pytest.mark.parametrize("name", ["", ".hidden", "-x", "a/b", "a b", "é", "x" * 201, "../up"])
def test_bad_names_are_refused(registry, name):
    with pytest.raises(UserError, match="model name"):
        check_name(name)
    with pytest.raises(UserError):
        registry.get(name)


@pytest.mark.parametrize("name", ["a", "A9", "m.v2_final-1", "x" * 200])
def test_good_names_are_taken(name):
    assert check_name(name) == name


def test_the_stamp_changes_with_every_add_and_remove(registry):
    stamps = [registry.stamp()]
    for step in (lambda: registry.add(entry()), lambda: registry.remove("m1")):
        os.utime(registry.folder, ns=(0, 0))
        step()
        stamps.append(registry.stamp())
    assert stamps[1] != 0 and stamps[2] != 0


def test_the_cache_serves_only_its_own_generation(registry):
    loaded = Loaded(registry)
    first, second = entry(), entry()
    loaded.put(first, "booster-1")
    assert loaded.get(first) == "booster-1"
    assert loaded.get(second) is None  # same name and url, another load
    loaded.put(second, "booster-2")
    assert loaded.get(second) == "booster-2" and loaded.get(first) is None
    loaded.drop({"m1", "other"})
    assert loaded.get(second) is None


def test_a_sweep_forgets_deleted_models(registry):
    loaded = Loaded(registry)
    kept, gone = entry("kept"), entry("gone")
    for e in (kept, gone):
        registry.add(e)
        loaded.put(e, f"booster-{e.name}")
    loaded.sweep()
    assert loaded.get(gone) == "booster-gone"
    registry.remove("gone")
    loaded.sweep()
    assert loaded.get(gone) is None and loaded.get(kept) == "booster-kept"


def test_a_settled_stamp_is_trusted_and_a_fresh_one_is_not(registry):
    loaded = Loaded(registry)
    one, two = entry("one"), entry("two")
    for e in (one, two):
        registry.add(e)
        loaded.put(e, e.name)
    old = time.time_ns() - 2 * SETTLE_NS
    os.utime(registry.folder, ns=(old, old))
    loaded.sweep()  # looks once, remembers the stamp
    registry.remove("one")
    os.utime(registry.folder, ns=(old, old))  # a change the stamp cannot show
    loaded.sweep()
    assert loaded.get(one) == "one"  # trusted: no directory read
    now = time.time_ns()
    os.utime(registry.folder, ns=(now, now))
    loaded.sweep()  # another stamp: looks, remembers it
    assert loaded.get(one) is None and loaded.get(two) == "two"
    registry.remove("two")
    os.utime(registry.folder, ns=(now, now))  # the same stamp, but too fresh to trust
    loaded.sweep()
    assert loaded.get(two) is None


def test_a_change_seen_late_is_still_seen(registry):
    """A stamp that differs from the last look counts, however old it is."""
    loaded = Loaded(registry)
    added = entry()
    registry.add(added)
    loaded.put(added, "booster")
    old = time.time_ns() - 3 * SETTLE_NS
    os.utime(registry.folder, ns=(old, old))
    loaded.sweep()
    registry.remove("m1")
    os.utime(registry.folder, ns=(old + 1000, old + 1000))  # changed, and long settled
    loaded.sweep()
    assert loaded.get(added) is None


def test_urls_are_confined_to_the_models_folder(tmp_path):
    root = tmp_path / "models"
    (root / "m" / "model").mkdir(parents=True)
    (root / "link").symlink_to(tmp_path)
    (root / "inner").symlink_to(root / "m")
    assert confine(str(root / "m" / "model"), root) == (root / "m" / "model").resolve()
    assert confine(str(root / "inner" / "model"), root) == (root / "m" / "model").resolve()
    assert confine(str(root / "not-yet"), root) == (root / "not-yet").resolve()
    for url in (
        "/etc",
        str(root),
        f"{root}/",
        f"{root}/m/../..",
        str(root / "link"),
        "m/model",
        "",
    ):
        with pytest.raises(UserError, match="outside the models folder"):
            confine(url, root)
    with pytest.raises(UserError):
        confine(str(tmp_path / "models-other"), root)  # a sibling sharing the prefix
    with pytest.raises(UserError, match="not a usable path"):
        confine(f"{root}/a\x00b", root)


def test_bounded_reads(tmp_path):
    small = tmp_path / "small"
    small.write_bytes(b"12345")
    assert read_bounded(small, 5, "file", "5 B") == b"12345"
    with pytest.raises(UserError, match=r"file .*small is larger than 4 B"):
        read_bounded(small, 4, "file", "4 B")
    assert read_bounded(tmp_path / "absent", 5, "file", "5 B") is None
    (tmp_path / "dangling").symlink_to(tmp_path / "absent")
    assert read_bounded(tmp_path / "dangling", 5, "file", "5 B") is None
    (tmp_path / "inner").symlink_to(small)
    assert read_bounded(tmp_path / "inner", 5, "file", "5 B") == b"12345"
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "zero").symlink_to("/dev/zero")
    (tmp_path / "dir").mkdir()
    for name, kind in (("fifo", "a FIFO"), ("zero", "a character device"), ("dir", "a folder")):
        with pytest.raises(UserError, match=f"{name} is not a regular file \\({kind}\\)"):
            read_bounded(tmp_path / name, 5, "file", "5 B")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "out").symlink_to(small)
    with pytest.raises(UserError, match="outside its model folder"):
        read_bounded(tmp_path / "sub" / "out", 5, "file", "5 B")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    with pytest.raises(UserError, match="cannot read file"):
        read_bounded(tmp_path / "loop", 5, "file", "5 B")


def test_the_digest_names_both_files():
    digests = {
        ModelFiles(b"model", None).digest,
        ModelFiles(b"model", b"").digest,
        ModelFiles(b"model", b"{}").digest,
        ModelFiles(b"other", None).digest,
    }
    assert len(digests) == 4
    assert ModelFiles(b"model", b"{}").digest == ModelFiles(b"model", b"{}").digest


def test_the_model_size_bound_setting(monkeypatch):
    monkeypatch.delenv("XGB_MAX_MODEL_MB", raising=False)
    assert model_limit() == 1024 * 1024 * 1024
    monkeypatch.setenv("XGB_MAX_MODEL_MB", "0.5")
    assert model_limit() == 512 * 1024
    for bad in ("abc", "0", "-1", "nan"):
        monkeypatch.setenv("XGB_MAX_MODEL_MB", bad)
        with pytest.raises(UserError, match="XGB_MAX_MODEL_MB"):
            model_limit()


def test_a_model_folder_lists_its_contents_only_when_asked(tmp_path):
    for i in range(25):
        (tmp_path / f"f{i:02d}").write_text("x")
    with pytest.raises(UserError) as quiet:
        read_model_folder(tmp_path)
    assert str(quiet.value) == f"model folder {tmp_path} has no xgboost-model"
    with pytest.raises(UserError) as listed:
        read_model_folder(tmp_path, list_contents=True)
    assert str(listed.value).endswith(
        "(it holds f00, f01, f02, f03, f04, f05, f06, f07, f08, f09 and 15 more)"
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match=r"\(it is empty\)"):
        read_model_folder(empty, list_contents=True)
    with pytest.raises(UserError, match="does not exist"):
        read_model_folder(tmp_path / "absent")


def test_size_bounds_hold_to_the_byte(tmp_path, monkeypatch):
    monkeypatch.setenv("XGB_MAX_MODEL_MB", str(1000 / 1024 / 1024))  # 1000 bytes
    (tmp_path / "xgboost-model").write_bytes(b"m" * 1000)
    with (tmp_path / "metadata.json").open("wb") as f:
        f.truncate(16 * 1024 * 1024)  # sparse: exactly the bound
    files = read_model_folder(tmp_path)
    assert len(files.model) == 1000 and len(files.metadata) == 16 * 1024 * 1024
    with (tmp_path / "metadata.json").open("ab") as f:
        f.write(b"x")
    with pytest.raises(UserError, match="metadata.json is larger than 16 MiB"):
        read_model_folder(tmp_path)
    (tmp_path / "metadata.json").unlink()
    (tmp_path / "xgboost-model").write_bytes(b"m" * 1001)
    with pytest.raises(UserError, match=r"xgboost-model is larger than XGB_MAX_MODEL_MB \("):
        read_model_folder(tmp_path)
    monkeypatch.setenv("XGB_MAX_MODEL_MB", "0.5")
    (tmp_path / "xgboost-model").write_bytes(b"m" * (512 * 1024 + 1))
    with pytest.raises(UserError, match=r"larger than XGB_MAX_MODEL_MB \(0\.5 MiB\)$"):
        read_model_folder(tmp_path)


def test_a_file_larger_than_its_size_says_is_still_bounded():
    """/proc files say they are empty: the bound holds on what is read, not on st_size."""
    status = Path("/proc/self/status")
    assert status.stat().st_size == 0
    with pytest.raises(UserError, match="is larger than 11 B"):
        read_bounded(status, 11, "file", "11 B")
    assert len(read_bounded(status, 1 << 20, "file", "1 MiB")) > 11
