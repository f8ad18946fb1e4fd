"""What an uploaded file is, from its bytes, and how many pixels it holds, without decoding.

:func:`sniff_image` reads the signature (never the name or a client's claim) and the
header: PNG's IHDR, JPEG's start-of-frame, a TIFF's first page tags. A decompression bomb
(a small file that would decode to billions of pixels) is refused from these numbers,
before any pixel is decoded.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from her2kit.errors import ImageInputError

__all__ = ["ImageHeader", "media_type_of", "sniff_image"]

_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"II+\x00", "image/tiff"),  # BigTIFF
    (b"MM\x00+", "image/tiff"),
)


@dataclass(frozen=True)
class ImageHeader:
    """The sniffed type and size of an image file.

    Attributes
    ----------
    media_type : {"image/png", "image/jpeg", "image/tiff"}
    width_px, height_px : int
        Of the first image (TIFF: first page).
    pixels : int
        Pixels a full decode would produce: width x height x planes (TIFF pages and
        samples of a stack count; a plain image counts width x height).
    """

    media_type: str
    width_px: int
    height_px: int
    pixels: int


def media_type_of(head: bytes) -> str | None:
    """The media type the first bytes of a file announce, or None."""
    for magic, media_type in _SIGNATURES:
        if head.startswith(magic):
            return media_type
    return None


def _tiff_header(path: Path) -> ImageHeader:
    import tifffile

    with tifffile.TiffFile(path) as tf:
        page = tf.pages[0]
        width, height = int(page.imagewidth), int(page.imagelength)
        total = 0
        for series in tf.series:
            n = 1
            for dim in series.shape:
                n *= int(dim)
            total += n
        return ImageHeader("image/tiff", width, height, max(total, width * height))


def _png_header(head: bytes) -> ImageHeader:
    # The IHDR chunk comes first: length (4), "IHDR", width (4), height (4), big-endian.
    if len(head) < 24 or head[12:16] != b"IHDR":
        raise ImageInputError("PNG without its IHDR header", field="body")
    width, height = struct.unpack(">II", head[16:24])
    return ImageHeader("image/png", width, height, width * height)


#: JPEG start-of-frame markers (SOF0-SOF15 but DHT C4, JPG C8, DAC CC).
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg_header(fh) -> ImageHeader:
    fh.seek(2)
    while True:
        marker = fh.read(2)
        if len(marker) < 2 or marker[0] != 0xFF:
            raise ImageInputError("JPEG without a frame header", field="body")
        if marker[1] == 0xFF:  # fill byte
            fh.seek(-1, 1)
            continue
        length_bytes = fh.read(2)
        if len(length_bytes) < 2:
            raise ImageInputError("JPEG without a frame header", field="body")
        (length,) = struct.unpack(">H", length_bytes)
        if marker[1] in _SOF:
            frame = fh.read(5)
            if len(frame) < 5:
                raise ImageInputError("JPEG frame header cut short", field="body")
            height, width = struct.unpack(">HH", frame[1:5])
            return ImageHeader("image/jpeg", width, height, width * height)
        fh.seek(length - 2, 1)


def sniff_image(path: str | Path) -> ImageHeader:
    """The type and pixel count of an image file, from its signature and header only.

    Raises
    ------
    ImageInputError
        Not a PNG, JPEG or TIFF by content, or a header that cannot be read.
    """
    p = Path(path)
    with open(p, "rb") as fh:
        head = fh.read(32)
        media_type = media_type_of(head)
        if media_type is None:
            raise ImageInputError("content is not a PNG, JPEG or TIFF image", field="body")
        if media_type == "image/png":
            return _png_header(head)
        if media_type == "image/jpeg":
            return _jpeg_header(fh)
    try:
        return _tiff_header(p)
    except ImageInputError:
        raise
    except Exception as exc:  # decoders raise many types for a broken header
        raise ImageInputError(f"cannot read the {media_type} header: {exc}",
                              field="body") from None
