"""IHC: membrane measures and classes (``membrane``), image quality (``quality``) and the
per-region score (``score``)."""
