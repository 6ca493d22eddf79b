"""Fixtures for the network tests: nodes for the real PACS, our local AE, reference data."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest

from viewer.net.nodes import LocalSettings, RemoteNode

from .helpers import CT_COUNT, pacs_node


@pytest.fixture
def node(pacs: dict[str, str]) -> RemoteNode:
    """The real PACS of this parametrization (Orthanc, then dcmqrscp) as a RemoteNode."""
    return pacs_node(pacs)


@pytest.fixture
def local(viewer_scp: dict) -> LocalSettings:
    """Our AE exactly as both PACS know it as C-MOVE destination, bound to loopback."""
    return LocalSettings(ae_title=str(viewer_scp["aet"]), port=int(viewer_scp["port"]), bind_host="127.0.0.1")


@pytest.fixture(scope="session")
def ct_pixels(ct_dir: Path) -> dict[str, bytes]:
    """SOP Instance UID -> Pixel Data bytes of the 134 original CT files."""
    out = {}
    for path in sorted(ct_dir.iterdir()):
        if path.suffix.lower() != ".dcm":
            continue
        ds = pydicom.dcmread(path)
        out[str(ds.SOPInstanceUID)] = bytes(ds.PixelData)
    assert len(out) == CT_COUNT
    return out
