"""Which decoder handles which transfer syntax, chosen by measurement, and what is installed.

pydicom 3 keeps one :class:`~pydicom.pixels.decoders.base.Decoder` per transfer syntax, each with
plugins (pylibjpeg, gdcm, pyjpegls, pillow, pydicom's own RLE) that it tries in a fixed order.
That order is not the fastest: CharLS (pyjpegls) decodes JPEG-LS several times faster than
libjpeg, GDCM is faster than libjpeg for JPEG Lossless. :data:`PREFERRED_PLUGINS` records, per
syntax, the order measured with ``bench/decode_frame.py`` on this project's 512x512 CT (numbers
in the comments); :func:`plugin_order` filters it down to what is installed, and
:mod:`viewer.core.decode` asks pydicom for one plugin at a time in that order, so the
pure-pylibjpeg installation still decodes everything it can, just slower.

One plugin is Lightbox's own, registered through pydicom's plugin mechanism
(:func:`install_extra_plugins`): GDCM for *12-bit* JPEG Extended (Process 2 & 4). pydicom's gdcm
plugin refuses 12-bit JPEG Extended outright, and libjpeg rejects the real-world files whose
sequential-scan SOS parameters are non-zero (PS3.5 A.4.1 / ISO 10918-1 B.2.3 require Ss=0, Se=63,
Ah=Al=0 for sequential DCT; common encoders wrote other values). GDCM 3.x decodes those
tolerantly, giving the same values as DCMTK's ``dcmdjpeg`` (tested).

Whole series take a second path: :mod:`viewer.core.rawframes` hands each frame's bytes straight
to imagecodecs (libjpeg-turbo, CharLS, OpenJPEG, PackBits), whose codecs release the GIL so
frames decode on threads, without pydicom's per-frame overhead; without imagecodecs it falls back
to the plugins above. The two paths must agree value for value: ``test_fast_path_equals_pydicom``
and ``test_fast_path_covers_every_real_syntax`` compare them on every real file.

The module also exposes :func:`availability_report` for the About box.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from importlib.util import find_spec

from pydicom import uid as uids
from pydicom.pixels.decoders.base import DecodeRunner, get_decoder
from pydicom.uid import UID

# Measured with bench/decode_frame.py (2 cores, one thread, median ms per 512x512 frame); see
# the final report of issue 3 for the table. Plugins not installed are skipped; a syntax not
# listed uses pydicom's order.
PREFERRED_PLUGINS: dict[UID, tuple[str, ...]] = {
    uids.JPEGBaseline8Bit: ("pillow", "gdcm", "pylibjpeg"),  # 6.6, 12.5, 10.2 ms (640x480 YBR)
    uids.JPEGExtended12Bit: ("pillow", "pylibjpeg", "gdcm", "lightbox-gdcm12"),
    uids.JPEGLossless: ("gdcm", "pylibjpeg"),  # 19.1, 34.3 ms (1024x1024)
    uids.JPEGLosslessSV1: ("gdcm", "pylibjpeg"),  # 4.5, 7.9 ms
    uids.JPEGLSLossless: ("pyjpegls", "gdcm", "pylibjpeg"),  # 3.4, 5.3, 14.6 ms
    uids.JPEGLSNearLossless: ("pyjpegls", "gdcm", "pylibjpeg"),  # 3.3, 5.7, 10.3 ms
    uids.JPEG2000Lossless: ("gdcm", "pylibjpeg", "pillow"),  # 17.2, 23.0, 23.5 ms
    uids.JPEG2000: ("pylibjpeg", "pillow", "gdcm"),  # 3.2, 3.2, 6.8 ms
    uids.HTJ2KLossless: ("pylibjpeg",),
    uids.HTJ2KLosslessRPCL: ("pylibjpeg",),
    uids.HTJ2K: ("pylibjpeg",),
    uids.RLELossless: ("pylibjpeg", "pydicom"),  # 0.9, 4.4 ms
}

#: Every image transfer syntax the issue names (PS3.5 Annex A / PS3.6 Annex A), in menu order.
IMAGE_TRANSFER_SYNTAXES: tuple[UID, ...] = (
    uids.ImplicitVRLittleEndian,
    uids.ExplicitVRLittleEndian,
    uids.ExplicitVRBigEndian,
    uids.DeflatedExplicitVRLittleEndian,
    uids.JPEGBaseline8Bit,
    uids.JPEGExtended12Bit,
    uids.JPEGLossless,
    uids.JPEGLosslessSV1,
    uids.JPEGLSLossless,
    uids.JPEGLSNearLossless,
    uids.JPEG2000Lossless,
    uids.JPEG2000,
    uids.HTJ2KLossless,
    uids.HTJ2KLosslessRPCL,
    uids.HTJ2K,
    uids.RLELossless,
)

# --- Lightbox's GDCM plugin for 12-bit JPEG Extended (pydicom decoding-plugin contract) --------

#: pydicom's plugin contract: what the plugin needs for each syntax it serves.
DECODER_DEPENDENCIES: dict[UID, tuple[str, ...]] = {uids.JPEGExtended12Bit: ("python-gdcm>=3.0.10",)}


def is_available(transfer_syntax: str) -> bool:
    """pydicom's plugin contract: True when GDCM is importable and the syntax is 12-bit JPEG."""
    return transfer_syntax in DECODER_DEPENDENCIES and find_spec("gdcm") is not None


def gdcm_frame_image(gdcm, stream: bytes, columns: int, rows: int):
    """A one-frame gdcm.Image holding ``stream`` as its single encapsulated fragment (PS3.5 A.4).

    Callers set the photometric interpretation, pixel format and transfer syntax, then read
    ``GetBuffer()``; shared by the JPEG Extended rescue here and the fast series loader.
    """
    fragment = gdcm.Fragment()
    fragment.SetByteStringValue(stream)
    fragments = gdcm.SequenceOfFragments.New()
    fragments.AddFragment(fragment)
    element = gdcm.DataElement(gdcm.Tag(0x7FE0, 0x0010))
    element.SetValue(fragments.__ref__())
    image = gdcm.Image()
    image.SetNumberOfDimensions(2)
    image.SetDimensions((columns, rows, 1))
    image.SetDataElement(element)
    return image


def decode_jpeg_extended_with_gdcm(src: bytes, runner: DecodeRunner) -> bytes:
    """Decode one JPEG Extended (Process 2 & 4) frame of 8 or 12 bits with GDCM.

    The same steps as pydicom's own gdcm plugin (wrap the codestream as a one-fragment Pixel
    Data element of a ``gdcm.Image`` and ask for its buffer), without its blanket refusal of
    12-bit data. Registered last in :data:`PREFERRED_PLUGINS`, so it only runs when libjpeg
    and Pillow have already failed on the frame.
    """
    import gdcm  # optional; availability checked by is_available

    gdcm.Trace.WarningOff()  # it prints "Invalid SOS parameters" to stderr for every such frame

    image = gdcm_frame_image(gdcm, src, runner.columns, runner.rows)
    pi_type = gdcm.PhotometricInterpretation.GetPIType(str(runner.photometric_interpretation))
    image.SetPhotometricInterpretation(gdcm.PhotometricInterpretation(pi_type))
    if runner.samples_per_pixel > 1:
        image.SetPlanarConfiguration(runner.planar_configuration)
    image.SetTransferSyntax(gdcm.TransferSyntax(gdcm.TransferSyntax.JPEGExtendedProcess2_4))
    bits_stored = runner.bits_stored
    image.SetPixelFormat(gdcm.PixelFormat(runner.samples_per_pixel, runner.bits_allocated, bits_stored,
                                          bits_stored - 1, runner.pixel_representation))
    frame = image.GetBuffer()
    if not frame:
        raise ValueError("GDCM could not decode the JPEG Extended codestream")
    # GDCM returns char* as str; surrogateescape gives back the original bytes
    data = frame.encode("utf-8", "surrogateescape")
    expected = runner.rows * runner.columns * runner.samples_per_pixel * (runner.bits_allocated // 8)
    if len(data) != expected:
        raise ValueError(f"GDCM returned {len(data)} bytes, expected {expected}")
    return data


_install_lock = threading.Lock()
_installed = False


def install_extra_plugins() -> None:
    """Register Lightbox's own decoding plugins with pydicom (idempotent, thread-safe)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        decoder = get_decoder(uids.JPEGExtended12Bit)
        if "lightbox-gdcm12" not in decoder.available_plugins:
            decoder.add_plugin("lightbox-gdcm12", (__name__, "decode_jpeg_extended_with_gdcm"))
        _installed = True


def plugin_order(transfer_syntax: str) -> list[str]:
    """Installed decoding plugins for the syntax, fastest first; ``[""]`` for native syntaxes.

    ``""`` means "let pydicom decide", which for native (uncompressed) data is its own reader.
    Raises :class:`NotImplementedError` (from pydicom) for a syntax pydicom has no decoder for.
    """
    install_extra_plugins()
    decoder = get_decoder(UID(transfer_syntax))
    if decoder.is_native:
        return [""]
    available = set(decoder.available_plugins)
    preferred = [p for p in PREFERRED_PLUGINS.get(decoder.UID, ()) if p in available]
    return preferred + sorted(available - set(preferred))


@dataclass(frozen=True)
class CodecStatus:
    """One row of the About box: a transfer syntax and how (or whether) Lightbox decodes it."""

    transfer_syntax: UID
    name: str
    plugins: tuple[str, ...]
    missing: tuple[str, ...]

    @property
    def available(self) -> bool:
        return bool(self.plugins)

    def __str__(self) -> str:
        """One line for the About box, e.g. "JPEG-LS Lossless ...: pyjpegls (then gdcm, pylibjpeg)"."""
        if not self.plugins:
            return f"{self.name}: not available (install {', '.join(self.missing) or 'a decoder'})"
        rest = [p for p in self.plugins[1:] if p]
        return f"{self.name}: {self.used}" + (f" (then {', '.join(rest)})" if rest else "")

    @property
    def used(self) -> str:
        """The plugin tried first ("native" for uncompressed syntaxes, "" when none)."""
        if not self.plugins:
            return ""
        return self.plugins[0] or "native"


def availability_report() -> list[CodecStatus]:
    """Per image transfer syntax: installed plugins in the order used, and what is missing."""
    install_extra_plugins()
    rows = []
    for ts in IMAGE_TRANSFER_SYNTAXES:
        decoder = get_decoder(ts)
        plugins = tuple(plugin_order(ts)) if decoder.is_available else ()
        missing = tuple(decoder.missing_dependencies) if not decoder.is_native else ()
        rows.append(CodecStatus(ts, ts.name, plugins, missing))
    return rows
