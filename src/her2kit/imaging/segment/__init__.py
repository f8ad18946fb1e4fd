"""Segmentation: nuclei for IHC (``nuclei``) and ISH (``ish_nuclei``), one result type
(:class:`~her2kit.imaging.segment.nuclei.NucleusDetection`), and cells (``cells``)."""
