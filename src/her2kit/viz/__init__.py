"""Overlays drawn on the analysed image (image first in every function), and their colours."""
