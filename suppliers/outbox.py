"""The outbox directory: files appear in it whole or not at all, and `manifest.json` lists them.

A file is written to `.tmp/` inside the outbox (same file system), flushed and fsynced,
then renamed over its final name and the directory fsynced: a reader, or a crash at any
instant, sees the old state or the new one, never half a file. Leftovers in `.tmp/` are
from a crashed run and are removed by the next one.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

TEMP_DIR = ".tmp"
MANIFEST = "manifest.json"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(outbox: Path, name: str, data: bytes) -> Path:
    """Write `data` to `outbox/name` atomically (temporary file, fsync, rename, fsync the directory)."""
    if Path(name).name != name or name in ("", ".", "..") or "\x00" in name:
        raise ValueError(f"not a plain file name: {name!r}")
    temp_dir = outbox / TEMP_DIR
    temp_dir.mkdir(parents=True, exist_ok=True)
    target = outbox / name
    temp = temp_dir / f"{name}.{os.getpid()}.part"
    with open(temp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, target)
    _fsync_dir(outbox)
    return target


def clear_leftovers(outbox: Path) -> list[str]:
    """Remove partial files a crashed run left in `.tmp/` (call while holding the export lock)."""
    temp_dir = outbox / TEMP_DIR
    removed = []
    if temp_dir.is_dir():
        for leftover in sorted(temp_dir.iterdir()):
            if leftover.is_file():
                leftover.unlink()
                removed.append(leftover.name)
    return removed


def tidy(outbox: Path) -> None:
    """Remove the temporary area when a run leaves it empty."""
    temp_dir = outbox / TEMP_DIR
    if temp_dir.is_dir() and not any(temp_dir.iterdir()):
        temp_dir.rmdir()


def manifest_bytes(entries: list[dict[str, Any]]) -> bytes:
    """The manifest: every file with its SHA-256, size, format, supplier and PO numbers, by name."""
    ordered = sorted(entries, key=lambda e: e["file"])
    return (json.dumps({"files": ordered}, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode(
        "utf-8"
    )


def write_manifest(outbox: Path, entries: list[dict[str, Any]]) -> bool:
    """Write the manifest atomically when its content changes; True when it was written."""
    data = manifest_bytes(entries)
    path = outbox / MANIFEST
    if path.is_file() and path.read_bytes() == data:
        return False
    atomic_write(outbox, MANIFEST, data)
    return True


def file_digest(path: Path) -> str | None:
    """SHA-256 of a file on disk, None when it is not there."""
    try:
        return sha256_hex(path.read_bytes())
    except FileNotFoundError:
        return None
