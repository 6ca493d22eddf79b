"""The Qt (PySide6) user interface: the only package that imports PySide6.

Widgets, item models, dialogs, and the bridge that re-emits worker events on the GUI thread.
No DICOM logic lives here: widgets call services and core functions and display results.
"""
