"""atomic_write never leaves a partial file."""

from __future__ import annotations

import os
import stat

import pytest

from railtrack._io import atomic_write
from railtrack.errors import InputError


def test_writes_bytes_and_text(tmp_path):
    atomic_write(tmp_path / "a.txt", "héllo")
    atomic_write(tmp_path / "b.bin", b"\x00\x01")
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == "héllo"
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"


def test_mode_is_applied(tmp_path):
    atomic_write(tmp_path / "key", b"secret", mode=0o600)
    assert stat.S_IMODE(os.stat(tmp_path / "key").st_mode) == 0o600


def test_missing_folder_is_input_error_and_leaves_nothing(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        atomic_write(tmp_path / "nope" / "x.txt", "x")
    assert not (tmp_path / "nope").exists()


def test_directory_target_is_refused(tmp_path):
    with pytest.raises(InputError, match="directory"):
        atomic_write(tmp_path, "x")


def test_failed_write_keeps_previous_content(tmp_path, monkeypatch):
    target = tmp_path / "out.txt"
    target.write_text("old")

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(InputError, match="No space left"):
        atomic_write(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
