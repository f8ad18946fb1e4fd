"""Uploads under attack: size, decompression bombs, wrong types, path traversal, full disk."""

from __future__ import annotations

import errno
import importlib.util
import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

_spec = importlib.util.spec_from_file_location("svc_helpers", Path(__file__).with_name(
    "helpers.py"))
h = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(h)


def _png(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height (only its first row of data is present)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * (width + 1))) + chunk(b"IEND", b""))


def _small_png() -> bytes:
    from her2kit.io.export import png_bytes

    return png_bytes(np.full((8, 8, 3), 200, np.uint8))


def _jpeg() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.full((10, 12, 3), 128, np.uint8)).save(buf, format="JPEG")
    return buf.getvalue()


def _count_uploads(lab) -> int:
    from her2kit.store.schema import uploads

    with lab.svc.db.read() as session:
        return session.execute(select(func.count()).select_from(uploads)).scalar()


def _stored_files(lab) -> list[Path]:
    root = lab.data_dir / "blobs"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_upload_is_content_addressed(lab):
    import hashlib

    c = h.case(lab)
    data = _small_png()
    r = h.upload(lab, c, data)
    assert r.status_code == 201, r.text
    sha = hashlib.sha256(data).hexdigest()
    assert r.json()["sha256"] == sha
    assert (lab.data_dir / "blobs" / sha[:2] / f"{sha}.png").read_bytes() == data
    got = lab.client.get(f"/api/uploads/{r.json()['id']}/content", headers=lab.h("tech"))
    assert got.content == data and got.headers["content-type"] == "image/png"
    assert h.upload(lab, c, data).status_code == 201  # the same bytes: one file
    assert len(_stored_files(lab)) == 1


def test_jpeg_sniffed_with_its_size(lab):
    r = h.upload(lab, h.case(lab), _jpeg(), media_type="image/jpeg", name="a.jpg")
    assert r.status_code == 201, r.text
    assert (r.json()["width_px"], r.json()["height_px"]) == (12, 10)


@pytest.mark.parametrize("claimed,data,code", [
    ("image/png", b"GIF89a" + b"\x00" * 40, "unsupported_media_type"),
    ("image/png", b"<html><script>alert(1)</script></html>", "unsupported_media_type"),
    ("image/tiff", None, "wrong_type"),  # a PNG sent as TIFF
    ("application/x-sh", b"#!/bin/sh\nrm -rf /\n", "unsupported_media_type"),
    ("image/svg+xml", b"<svg onload=alert(1)>", "unsupported_media_type"),
])
def test_content_not_the_claimed_type(lab, claimed, data, code):
    c = h.case(lab)
    r = h.upload(lab, c, data if data is not None else _small_png(), media_type=claimed)
    assert r.status_code == 415, r.text
    assert r.json()["error"]["code"] == code
    assert _count_uploads(lab) == 0 and _stored_files(lab) == []


@pytest.mark.parametrize("name", ["../../../../etc/passwd.png", "..\\..\\boot.ini",
                                  "/etc/cron.d/x.png", "a/../../b.png", "..", "\x00evil.png"])
def test_path_traversal_in_file_name(lab, name, tmp_path):
    before = {p for p in tmp_path.rglob("*")}
    c = h.case(lab)
    r = h.upload(lab, c, _small_png(), name=name)
    assert r.status_code == 201, r.text
    label = r.json()["original_name"]
    assert "/" not in label and "\\" not in label and label not in ("..", ".")
    new = {p for p in tmp_path.rglob("*")} - before
    assert all(p.is_relative_to(lab.data_dir) for p in new)
    assert not Path("/etc/passwd.png").exists()


def test_disk_full_during_upload(lab, monkeypatch):
    from her2kit.io import blobs

    real_write = blobs.IncomingBlob.write
    calls = {"n": 0}

    def write(self, chunk):
        calls["n"] += 1
        if calls["n"] > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(self, chunk)

    monkeypatch.setattr(blobs.IncomingBlob, "write", write)
    c = h.case(lab)

    def chunks():
        yield _small_png()
        yield b"\x00" * 100

    r = lab.client.post(f"/api/cases/{c['id']}/uploads", headers=lab.h("tech") | {
        "Content-Type": "image/png"}, content=chunks())
    assert r.status_code == 507, r.text
    assert r.json()["error"]["code"] == "disk_full"
    assert _count_uploads(lab) == 0
    assert _stored_files(lab) == []  # no partial file, in .incoming or stored


def test_disk_full_at_fsync(lab, monkeypatch):
    import os

    from her2kit.io import blobs

    def fsync(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(blobs.os, "fsync", fsync)
    r = h.upload(lab, h.case(lab), _small_png())
    monkeypatch.setattr(blobs.os, "fsync", os.fsync)
    assert r.status_code == 507
    assert _count_uploads(lab) == 0 and _stored_files(lab) == []
