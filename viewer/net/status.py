"""DIMSE status codes: category and meaning, per service.

Categories follow PS3.7 C.1-C.5 (0x0000 success, 0xFF00/0xFF01 pending, 0xFE00 cancel,
0x0001/0xBxxx warning, others failure). Meanings come from the per-service tables in
PS3.4: Storage B.2.3, C-FIND C.4.1.1.4, C-MOVE C.4.2.1.5, C-GET C.4.3.1.4; pynetdicom
ships those tables, so we look them up there instead of copying them.
"""

from __future__ import annotations

from typing import Literal

from pydicom.dataset import Dataset
from pynetdicom import status as _tables

Category = Literal["success", "pending", "cancel", "warning", "failure"]

SUCCESS = 0x0000
CANCEL = 0xFE00
PENDING = (0xFF00, 0xFF01)
# PS3.4 C.4.2.1.5 / C.4.3.1.4: "Sub-operations complete, one or more failures or warnings".
SUBOPS_WARNING = 0xB000

_TABLES = {
    "C-ECHO": _tables.VERIFICATION_SERVICE_CLASS_STATUS,
    "C-STORE": _tables.STORAGE_SERVICE_CLASS_STATUS,
    "C-FIND": _tables.QR_FIND_SERVICE_CLASS_STATUS,
    "C-MOVE": _tables.QR_MOVE_SERVICE_CLASS_STATUS,
    "C-GET": _tables.QR_GET_SERVICE_CLASS_STATUS,
}


def category(code: int) -> Category:
    """The PS3.7 Annex C category of ``code``."""
    if code == SUCCESS:
        return "success"
    if code in PENDING:
        return "pending"
    if code == CANCEL:
        return "cancel"
    if code == 0x0001 or 0xB000 <= code <= 0xBFFF or code == 0x0107 or code == 0x0116:
        return "warning"
    return "failure"


def meaning(service: str, code: int) -> str:
    """Text for ``code`` under ``service`` ("C-FIND", "C-MOVE", ...), e.g. "Move destination unknown"."""
    entry = _TABLES.get(service, _tables.GENERAL_STATUS).get(code)
    if entry and entry[1]:
        return str(entry[1])
    return {"success": "Success", "pending": "Pending", "cancel": "Cancelled"}.get(category(code), "Unknown status")


def comment(status: Dataset) -> str:
    """The peer's Error Comment (0000,0902), if it sent one (PS3.7 C.4)."""
    return str(status.get("ErrorComment", "") or "").strip()
