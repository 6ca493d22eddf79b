"""Both real PACS peers start from ../shared/pacs and answer C-ECHO from pynetdicom."""

from __future__ import annotations

import pytest
from pynetdicom import AE
from pynetdicom.sop_class import Verification

pytestmark = pytest.mark.pacs


def test_peer_answers_c_echo(pacs: dict[str, str]) -> None:
    ae = AE(ae_title="LIGHTBOX")
    ae.add_requested_context(Verification)
    assoc = ae.associate("127.0.0.1", int(pacs["PACS_DICOM_PORT"]), ae_title=pacs["PACS_AET"])
    assert assoc.is_established, f"{pacs['KIND']} refused the association"
    try:
        status = assoc.send_c_echo()
    finally:
        assoc.release()
    assert status.Status == 0x0000
