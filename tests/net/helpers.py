"""Constants and helpers shared by the network tests (the data in ../shared/data)."""

from __future__ import annotations

from pathlib import Path

import pydicom

from viewer.net.nodes import RemoteNode

CT_STUDY = "1.3.6.1.4.1.14519.5.2.1.21087345762211724523378497892240459677"
CT_SERIES = "1.3.6.1.4.1.14519.5.2.1.302382790855582445722435410442490497846"
CT_PATIENT_ID = "Pancreas-CT-CB_001"
CT_COUNT = 134
MR_COUNT = 100


def pacs_node(pacs: dict[str, str], **kw: object) -> RemoteNode:
    return RemoteNode(
        name=pacs.get("KIND", pacs["PACS_AET"].lower()),
        aet=pacs["PACS_AET"],
        host="127.0.0.1",
        port=int(pacs["PACS_DICOM_PORT"]),
        **kw,  # type: ignore[arg-type]
    )


def read_folder(folder: Path) -> dict[str, pydicom.Dataset]:
    """SOP Instance UID -> dataset of every .dcm a FolderSink wrote."""
    out = {}
    for path in folder.glob("*.dcm"):
        ds = pydicom.dcmread(path)
        out[str(ds.SOPInstanceUID)] = ds
    return out
