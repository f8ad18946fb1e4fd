"""Image analysis for HER2 testing: read → stain separation → nuclei/cells → membranes or spots.

Modules
-------
io, ish_io
    Reading and writing image files (brightfield regions; FISH stacks, channel files and
    RGB composites). Only these open image files.
stains, ish_stains
    Colour deconvolution in base-10 optical density (H-DAB; hematoxylin / silver / red).
nuclei, cells, membrane, ihc
    Nuclei on hematoxylin with sizes in µm; cells as nuclei expanded within a Voronoi
    limit; DAB membrane measures and classes; :func:`her2kit.imaging.ihc.score_ihc_image`.
spots, ish
    Laplacian-of-Gaussian signal detection; :func:`her2kit.imaging.ish.count_fish` and
    :func:`her2kit.imaging.ish.count_brightfield_ish`, the per-nucleus ISH counts.
overlay, ish_overlay
    Overlays a pathologist or technologist can check cell by cell.
roi, export, ihc_document, ish_document
    GeoJSON ROIs to masks; per-cell CSV and QuPath GeoJSON; the JSON documents the
    ``score-ihc`` and ``count-ish`` commands print.

Arrays are (row, col[, channel]) with the channel last; sizes are in µm unless the name
ends in ``_px``.
"""
