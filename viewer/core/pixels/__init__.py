"""The pixel pipeline of PS3.3 C.11 / PS3.4 Annex N: stored values → modality values
(Modality LUT) → values of interest (VOI LUT / window) → presentation values (Presentation
LUT, MONOCHROME1 inversion) → display, plus colour conversion. Pure functions named after the
standard's steps, so each can be tested against the text of the standard."""
