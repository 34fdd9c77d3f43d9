"""The image store: read-only base disks, built from recipes in images/ or imported
(disks, OVF, OVA); prepare.py bakes a profile's role packages onto them (one image per
combination of roles).
"""

from lab.images.imports import ImportResult, profile_stanza
from lab.images.model import Boot, Image, Source, SourceKind
from lab.images.ovf import HardwareHints
from lab.images.recipe import BUILDER_VERSION, Recipe, cache_key, load_recipe
from lab.images.store import ImageStore

__all__ = [
    "BUILDER_VERSION",
    "Boot",
    "HardwareHints",
    "Image",
    "ImageStore",
    "ImportResult",
    "Recipe",
    "Source",
    "SourceKind",
    "cache_key",
    "load_recipe",
    "profile_stanza",
]
