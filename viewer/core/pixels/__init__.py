"""The pixel pipeline of PS3.3 C.11 / PS3.4 Annex N: stored values → modality values
(Modality LUT) → values of interest (VOI LUT / window) → presentation values (Presentation
LUT, MONOCHROME1 inversion) → display, plus colour conversion. Pure functions named after the
standard's steps, so each can be tested against the text of the standard.

Modules, in pipeline order:

* :mod:`.modality` — Rescale Slope/Intercept (per frame in enhanced objects) and the Modality
  LUT Sequence: ``apply_modality_lut(stored, ds, frame=None)``.
* :mod:`.voi` — ``Window`` (with its VOI LUT Function), ``VoiLut`` (a VOI LUT Sequence item),
  ``file_windows`` / ``file_voi_luts`` (presets from the file), ``apply_window`` (the exact
  LINEAR / LINEAR_EXACT / SIGMOID formulas), pixel padding and ``auto_window``.
* :mod:`.display` — ``presentation_inverted``, ``to_display_uint8`` and ``display_frame`` (one
  frame all the way to bytes, with its overlay and shutter layers).
* :mod:`.color` — RGB / YBR / palette (normal and segmented) to RGB bytes.
* :mod:`.overlays` — overlay planes (60xx) as a boolean layer.
* :mod:`.shutters` — rectangular, circular and polygonal display shutters as a mask.
* :mod:`.statistics` — region value statistics without Pixel Padding.
"""
