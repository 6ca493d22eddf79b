"""C-STORE of files or datasets to a node (Storage Service, PS3.4 B), transfer syntax aware.

Each file is offered in its own transfer syntax and, in a separate presentation context of
the same SOP class, in Explicit/Implicit VR Little Endian (PS3.5 A.2/A.1). The acceptor
chooses per context (PS3.8 9.3.2.2), so a peer that refuses, say, JPEG-LS still accepts
the uncompressed context; such files are then decompressed with pydicom before sending and
counted as ``converted``. DCMTK dcmqrscp accepts only uncompressed syntaxes by default, so
this fallback is what makes sending compressed studies to it work at all.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.uid import UID, ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import build_context
from pynetdicom.association import Association

from viewer.core.errors import LightboxError, NetError
from viewer.core.reading import read_dataset, read_header
from viewer.core.tasks import CancelToken, Progress, ProgressCallback
from viewer.net import status as st
from viewer.net.association import associate, raise_lost
from viewer.net.nodes import LocalSettings, RemoteNode

log = logging.getLogger(__name__)

NATIVE_LE = (ExplicitVRLittleEndian, ImplicitVRLittleEndian)
MAX_CONTEXTS = 128  # PS3.8 9.3.2.2: context IDs are odd numbers 1-255


@dataclass
class SendReport:
    """What a send did; ``failures`` pairs each failed item (path or SOP Instance UID) with why."""

    total: int = 0
    sent: int = 0
    warning: int = 0
    converted: int = 0  # sent decompressed / re-encoded because the peer refused the original syntax
    failures: list[tuple[str, str]] = field(default_factory=list)
    cancelled: bool = False
    error: NetError | None = None
    seconds: float = 0.0

    @property
    def failed(self) -> int:
        return len(self.failures)

    @property
    def ok(self) -> bool:
        return not self.failures and self.error is None and not self.cancelled and self.sent == self.total

    def summary(self) -> str:
        parts = [f"{self.sent} of {self.total} sent"]
        if self.converted:
            parts.append(f"{self.converted} converted to Explicit VR Little Endian")
        if self.warning:
            parts.append(f"{self.warning} with warnings")
        if self.failures:
            parts.append(f"{self.failed} failed")
        if self.cancelled:
            parts.append("cancelled")
        text = ", ".join(parts) + f" in {self.seconds:.1f} s"
        return text + (f"; {self.error}" if self.error else "")


@dataclass
class _Item:
    name: str  # path or SOP Instance UID, for messages
    sop_class: str
    syntax: UID
    path: Path | None = None
    dataset: Dataset | None = None


def _syntax_of(ds: Dataset) -> UID:
    meta = getattr(ds, "file_meta", None)
    ts = meta.get("TransferSyntaxUID") if meta is not None else None
    return UID(ts) if ts else ImplicitVRLittleEndian


def _prepare(items: Iterable[str | os.PathLike[str] | Dataset], report: SendReport) -> list[_Item]:
    out = []
    for item in items:
        if isinstance(item, Dataset):
            out.append(
                _Item(
                    str(item.get("SOPInstanceUID", "?")),
                    str(item.SOPClassUID),
                    _syntax_of(item),
                    dataset=item,
                )
            )
            continue
        path = Path(item)
        try:
            header = read_header(path)
            out.append(_Item(str(path), str(header.SOPClassUID), _syntax_of(header), path=path))
        except (LightboxError, AttributeError) as exc:
            report.failures.append((str(path), f"not sendable: {exc}"))
    return out


def _contexts_for(batch: list[_Item]) -> list:
    """One native-LE context per SOP class plus one per other syntax actually present."""
    wanted: dict[str, set[str]] = {}
    for it in batch:
        wanted.setdefault(it.sop_class, set())
        if it.syntax not in NATIVE_LE:
            wanted[it.sop_class].add(str(it.syntax))
    contexts = []
    for sop_class, syntaxes in wanted.items():
        contexts.append(build_context(sop_class, list(NATIVE_LE)))
        contexts += [build_context(sop_class, ts) for ts in sorted(syntaxes)]
    return contexts


def _batches(items: list[_Item]) -> list[list[_Item]]:
    """Split so that no association proposes more than 128 presentation contexts."""
    batches: list[list[_Item]] = []
    current: list[_Item] = []
    for it in items:
        trial = [*current, it]
        if current and len(_contexts_for(trial)) > MAX_CONTEXTS:
            batches.append(current)
            trial = [it]
        current = trial
    if current:
        batches.append(current)
    return batches


def to_explicit_le(ds: Dataset) -> Dataset:
    """Re-encode ``ds`` as Explicit VR Little Endian: decompress, or byte-swap big endian pixels."""
    syntax = _syntax_of(ds)
    if syntax.is_compressed:
        # A lossless re-encoding keeps the instance's identity (PS3.5 8.2.1 / PS3.4 B.4.1.3)
        # pydicom would otherwise mint a new SOP Instance UID.
        ds.decompress(generate_instance_uid=False)
    elif syntax == ExplicitVRBigEndian and "PixelData" in ds:
        arr = ds.pixel_array
        ds.PixelData = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    else:
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds


def send(
    node: RemoteNode,
    items: Iterable[str | os.PathLike[str] | Dataset],
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    *,
    local: LocalSettings | None = None,
) -> SendReport:
    """C-STORE each file path or dataset to ``node``; per-item failures land in the report.

    Raises only when no association can be made (then nothing was sent). A lost association
    stops the send: the remaining items are reported as not sent, and ``report.error`` says why.
    """
    report = SendReport()
    start = time.perf_counter()
    prepared = _prepare(items, report)
    report.total = len(prepared) + len(report.failures)
    calling = (local or LocalSettings()).ae_title
    done = 0
    batches = _batches(prepared)
    try:
        for number, batch in enumerate(batches):
            contexts = _contexts_for(batch)
            with associate(node, contexts, service="Storage (C-STORE)", calling_aet=calling) as (
                assoc,
                watch,
            ):
                accepted = {(cx.abstract_syntax, cx.transfer_syntax[0]) for cx in assoc.accepted_contexts}
                for index, it in enumerate(batch):
                    if cancel is not None and cancel.cancelled:
                        report.cancelled = True
                        return report
                    if not _send_one(assoc, it, accepted, report):
                        try:
                            raise_lost(assoc, watch, node, "C-STORE")
                        except NetError as exc:
                            report.error = exc
                        unsent = batch[index + 1 :] + [it for later in batches[number + 1 :] for it in later]
                        report.failures += [(u.name, "not sent: association lost") for u in unsent]
                        return report
                    done += 1
                    if progress is not None:
                        progress(Progress(done, len(prepared), f"{report.sent} sent"))
    finally:
        report.seconds = time.perf_counter() - start
        log.info("%s: C-STORE %s", node.name, report.summary())
    return report


def _send_one(assoc: Association, it: _Item, accepted: set[tuple[str, str]], report: SendReport) -> bool:
    """Send one item; True when the peer answered (success, warning or failure status)."""
    try:
        ds = it.dataset if it.dataset is not None else read_dataset(it.path)  # type: ignore[arg-type]
    except LightboxError as exc:
        report.failures.append((it.name, str(exc)))
        return True
    syntax = _syntax_of(ds)
    as_is = (it.sop_class, str(syntax)) in accepted or (
        syntax in NATIVE_LE and any((it.sop_class, str(ts)) in accepted for ts in NATIVE_LE)
    )
    if not as_is:
        if not any((it.sop_class, str(ts)) in accepted for ts in NATIVE_LE):
            why = f"the peer accepts no transfer syntax for SOP class {it.sop_class}"
            report.failures.append((it.name, why))
            return True
        try:
            if it.dataset is not None:
                ds = ds.copy()
                ds.file_meta = ds.file_meta.copy()
            to_explicit_le(ds)
        except Exception as exc:
            why = f"the peer refused {syntax.name} and decompressing failed: {exc}"
            report.failures.append((it.name, why))
            return True
        report.converted += 1
    rsp = assoc.send_c_store(ds)
    if "Status" not in rsp:
        report.failures.append((it.name, "no response (association lost)"))
        return False
    code = int(rsp.Status)
    cat = st.category(code)
    if cat == "success":
        report.sent += 1
    elif cat == "warning":
        report.sent += 1
        report.warning += 1
    else:
        extra = f" ({st.comment(rsp)})" if st.comment(rsp) else ""
        report.failures.append((it.name, f"status 0x{code:04X}: {st.meaning('C-STORE', code)}{extra}"))
    return True
