"""Image analysis for HER2 testing: arrays in, frozen results out.

Nothing here opens a file (:mod:`her2kit.io` does), applies a guideline limit
(:mod:`her2kit.pipelines` reads the results against :mod:`her2kit.guideline`) or draws an
overlay (:mod:`her2kit.viz`); the layer contracts in ``pyproject.toml`` enforce it.

Subpackages, from the bottom up
-------------------------------
color
    One optical-density rule (:mod:`~her2kit.imaging.color.od`), one stain table
    (:mod:`~her2kit.imaging.color.stains`), H-DAB deconvolution
    (:mod:`~her2kit.imaging.color.hdab`) and the brightfield ISH chromogens
    (:mod:`~her2kit.imaging.color.ish`). Imports none of the others.
segment
    Nuclei (:func:`~her2kit.imaging.segment.nuclei.detect_nuclei` for IHC,
    :func:`~her2kit.imaging.segment.ish_nuclei.segment_ish_nuclei` for ISH, both returning
    :class:`~her2kit.imaging.segment.nuclei.NucleusDetection`) and cells as nuclei
    expanded within a Voronoi limit (:mod:`~her2kit.imaging.segment.cells`). Imports
    neither ``ihc`` nor ``ish``.
ihc
    DAB membrane measures and the five membrane classes
    (:mod:`~her2kit.imaging.ihc.membrane`), image-quality flags
    (:mod:`~her2kit.imaging.ihc.quality`) and the per-region score
    :func:`~her2kit.imaging.ihc.score.score_ihc_image` with its ``IhcOptions``.
ish
    Channels, spots, probe signals, nucleus selection, counting
    (:func:`~her2kit.imaging.ish.count.count_fish`,
    :func:`~her2kit.imaging.ish.count.count_brightfield_ish`) and the pooling of fields;
    see :mod:`her2kit.imaging.ish`.

Shared modules: :mod:`~her2kit.imaging.filters` (smoothing, block means and maxima,
running extrema), :mod:`~her2kit.imaging.draw` (scanline polygon rasterisation),
:mod:`~her2kit.imaging.outlines` (every object's outline of a label image at once) and
``_validate`` (the boundary checks and their messages).

Arrays are (row, col[, channel]) with the channel last; sizes are in µm unless the name
ends in ``_px``.
"""
