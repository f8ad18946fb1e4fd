"""Colour: one optical-density rule (``od``), one stain table (``stains``), H-DAB (``hdab``)
and brightfield ISH (``ish``) deconvolution. The bottom of :mod:`her2kit.imaging`."""
