"""Synthetic images with known truth, for tests, demos and accuracy benchmarks.

Modules: :mod:`her2kit.synthetic.ihc` (brightfield HER2 IHC regions with a per-cell
membrane class), :mod:`her2kit.synthetic.ish` (in-situ hybridisation fields: FISH,
Dual ISH, CISH). Both are split into stages (layout → staining → optics/camera →
truth) that share :mod:`her2kit.synthetic.tissue` (random fields, non-overlapping
elliptical nuclei) and :mod:`her2kit.synthetic.optics` (Beer-Lambert rendering of stain
OD, illumination, blur and defocus, point-source PSFs, camera and photon noise, JPEG).
Each generator takes keywords, or a frozen options object through its ``render_*``
twin (``IhcRegionOptions``, ``FishFieldOptions``, ``BrightfieldIshFieldOptions``); a seed
and the options determine every pixel.
"""
