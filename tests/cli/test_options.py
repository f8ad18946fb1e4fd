"""The shared option parsers of the commands: maps are stated by the user, never guessed."""

from __future__ import annotations

import pytest

from her2kit.cli.options import channel_map, check_suffixes, exit_status
from her2kit.errors import Her2kitInputError, OutputError, ServiceUnavailableError
from her2kit.pipelines.count_ish import stain_map


def test_channel_maps_take_colour_letters_or_indices():
    assert channel_map(None) is None
    assert channel_map("her2=r, cep17=G,dapi=B") == {"her2": "R", "cep17": "G", "dapi": "B"}
    assert channel_map("dapi=0,her2=1,cep17=2") == {"dapi": 0, "her2": 1, "cep17": 2}
    with pytest.raises(Her2kitInputError, match=r"^--channels: her2 is mapped twice$"):
        channel_map("her2=R,her2=G")
    with pytest.raises(Her2kitInputError, match="got 'ki67=R'"):
        channel_map("ki67=R")


def test_stain_maps_start_from_the_kit_convention():
    assert stain_map(None, "dual-ish") == {"her2": "silver", "cep17": "fast_red",
                                           "nuclei": "hematoxylin"}
    swapped = stain_map("her2=fast_red,cep17=silver", "dual-ish")
    assert (swapped["her2"], swapped["cep17"]) == ("fast_red", "silver")
    with pytest.raises(Her2kitInputError, match="need different stains"):
        stain_map("her2=silver,cep17=silver", "dual-ish")
    with pytest.raises(Her2kitInputError, match=r"^--stains: expected her2=<stain>"):
        stain_map("cep17=silver", "cish")


def test_suffixes_and_exit_statuses():
    check_suffixes(("a.PNG", (".png",), "--overlay"), (None, (".csv",), "--cells"))
    with pytest.raises(Her2kitInputError,
                       match=r"^--cells: a\.txt: use a \.csv or \.parquet file$"):
        check_suffixes(("a.txt", (".csv", ".parquet"), "--cells"))
    assert exit_status(Her2kitInputError("x")) == 2
    assert exit_status(OutputError("x")) == 2
    assert exit_status(ServiceUnavailableError("x")) == 3
