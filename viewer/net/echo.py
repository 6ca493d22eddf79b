"""C-ECHO (Verification Service, PS3.4 A; PS3.7 9.1.5): is the node reachable and does it know us?"""

from __future__ import annotations

import time

from pynetdicom import build_context
from pynetdicom.sop_class import Verification

from viewer.net import status as st
from viewer.net.association import associate, raise_lost
from viewer.net.errors import StatusError
from viewer.net.nodes import LocalSettings, RemoteNode


def echo(node: RemoteNode, local: LocalSettings | None = None) -> float:
    """Verify ``node``; return the round-trip time in seconds (association + C-ECHO + release).

    The time covers the whole exchange because that is what a user waiting on a PACS feels;
    a failure raises the specific error (refused, timeout, rejected with the peer's reason,
    aborted, failure status).
    """
    calling = (local or LocalSettings()).ae_title
    start = time.perf_counter()
    with associate(node, [build_context(Verification)], service="Verification (C-ECHO)", calling_aet=calling) as (
        assoc,
        watch,
    ):
        rsp = assoc.send_c_echo()
        if "Status" not in rsp:
            raise_lost(assoc, watch, node, "C-ECHO")
        if st.category(rsp.Status) == "failure":
            raise StatusError(node.label, "C-ECHO", rsp.Status, st.meaning("C-ECHO", rsp.Status), st.comment(rsp))
    return time.perf_counter() - start
