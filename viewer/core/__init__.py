"""The Qt-, VTK- and SQLite-free heart of Lightbox.

Everything that turns DICOM bytes into numbers a radiologist can trust lives here: reading
headers and decoding every transfer syntax (through pydicom's pixel backends), the pixel
pipeline of PS3.3 C.11 (modality LUT, VOI LUT, presentation), assembling a series into
volumes with their patient (LPS) geometry, and the small task primitives (cancel tokens,
progress) every long operation uses. Only the standard library, numpy, pydicom and
platformdirs may be imported; tests enforce it.
"""
