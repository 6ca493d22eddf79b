"""Lightbox: a desktop DICOM viewer and PACS workstation.

Layers (dependency arrows point down): ``viewer.ui`` (the only PySide6 user) sits on the
use-case services, which wire ``viewer.store`` (SQLite cache), ``viewer.net`` (DIMSE and
DICOMweb) and ``viewer.render`` (VTK, no Qt) together; all of them stand on ``viewer.core``
(pure numpy + pydicom). ``viewer.app`` is the composition root and ``viewer.cli`` the
headless entry point that drives the same layers.
"""

__version__ = "0.1.0"
