"""Upload limits: bytes (declared or streamed) and pixels (from the header, before decoding)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_here = Path(__file__).parent
_spec = importlib.util.spec_from_file_location("svc_uploads", _here / "test_uploads.py")
u = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(u)
h, _png, _count_uploads, _stored_files = u.h, u._png, u._count_uploads, u._stored_files


@pytest.fixture
def lab_settings() -> dict:
    return {"max_upload_bytes": 1000, "max_upload_pixels": 10_000}


def test_oversized_upload(lab):
    c = h.case(lab)
    big = _png(10, 10) + b"\x00" * 5000  # a valid signature, then more than 1000 bytes
    r = h.upload(lab, c, big)
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"
    assert "1000 bytes" in r.json()["error"]["message"]
    assert _count_uploads(lab) == 0 and _stored_files(lab) == []


def test_oversized_upload_without_length_header(lab):
    """A chunked body (no Content-Length) is cut off at the limit as it streams."""
    c = h.case(lab)

    def chunks():
        yield _png(10, 10)
        for _ in range(10):
            yield b"\x00" * 500

    r = lab.client.post(f"/api/cases/{c['id']}/uploads", headers=lab.h("tech") | {
        "Content-Type": "image/png"}, content=chunks())
    assert r.status_code == 413
    assert _count_uploads(lab) == 0 and _stored_files(lab) == []


def test_decompression_bomb_refused_before_decoding(lab, monkeypatch):
    c = h.case(lab)
    import PIL.Image

    def no_decoding(*a, **k):
        raise AssertionError("decoded")

    monkeypatch.setattr(PIL.Image.Image, "load", no_decoding)
    bomb = _png(50_000, 50_000)  # 2.5 gigapixels in a few hundred bytes
    assert len(bomb) < 1000
    r = h.upload(lab, c, bomb)
    assert r.status_code == 413, r.text
    assert "2500000000 pixels" in r.json()["error"]["message"]
    assert _count_uploads(lab) == 0 and _stored_files(lab) == []
