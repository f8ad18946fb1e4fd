"""Synthetic images with known truth, for tests, demos and accuracy benchmarks.

Modules: :mod:`her2kit.synthetic.ihc` (brightfield HER2 IHC regions with a per-cell
membrane class), :mod:`her2kit.synthetic.ish` (in-situ hybridisation fields).
"""
