"""File input and output: the only her2kit code that opens files.

``raster`` opens TIFF/OME-TIFF and PNG/JPEG files (metadata first, pixels on request);
``images`` reads whole brightfield images (``score-ihc``) and ``fish`` ISH fields
(``count-ish``), each with its own size limit from :mod:`her2kit.settings`; ``roi`` reads
GeoJSON regions as masks; ``jsonio`` reads case JSON; ``export`` builds table, PNG and
GeoJSON bytes; ``atomic`` writes a set of files all-or-nothing; ``blobs`` keeps uploaded
files content-addressed (the lab service) and ``sniff`` tells their type and size from
their header.
"""
