"""Finding a patient's prior exams on the configured PACS nodes.

A clinician comparing with a prior does not care where it lives: the priors dialog lists the
local ones at once and then the remote ones as each node answers. Remote priors are matched
by Patient ID only (PS3.4 C.6.1.1.2: the Patient ID is the patient-level unique key); a node
that cannot be reached is reported by name, the others still answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pydicom.dataset import Dataset

from viewer.core.tasks import CancelToken
from viewer.net.errors import NetError
from viewer.net.find import FindQuery, as_list
from viewer.net.nodes import DicomWebNode, LocalSettings, RemoteNode
from viewer.services.network import find_any

#: Enough for any patient's history, small enough that a wrong Patient ID stays cheap.
MAX_PRIORS_PER_NODE = 200


@dataclass(frozen=True)
class RemotePrior:
    """One study of the patient on a remote node, as its STUDY-level C-FIND/QIDO answer says."""

    node: str
    study_uid: str
    study_date: str
    modalities: tuple[str, ...]
    description: str
    instance_count: int | None


@dataclass
class RemotePriors:
    """What the nodes answered: priors newest first, and one message per node that failed."""

    priors: list[RemotePrior]
    failures: list[str]


def find_remote_priors(
    nodes: Iterable[RemoteNode | DicomWebNode],
    patient_id: str,
    *,
    exclude: Iterable[str] = (),
    before: str = "",
    local: LocalSettings | None = None,
    cancel: CancelToken | None = None,
) -> RemotePriors:
    """Studies of ``patient_id`` on each node, minus the ``exclude`` study UIDs (already cached).

    ``before`` (YYYYMMDD) keeps studies on or before that date, so a follow-up does not offer
    later exams as "priors"; studies without a date are kept (the reader decides).
    A study held by several nodes is listed once, from the first node that has it.
    """
    result = RemotePriors([], [])
    if not patient_id.strip():
        return result  # matching priors by name alone is unsafe (PS3.4 C.2.2.2.1 universal match)
    seen = set(exclude)
    query = FindQuery(patient_id=patient_id)
    for node in nodes:
        if cancel is not None:
            cancel.raise_if_cancelled()
        try:
            answers = find_any(node, "STUDY", query, local=local, cancel=cancel, limit=MAX_PRIORS_PER_NODE)
        except NetError as exc:
            result.failures.append(f"{node.name}: {exc}")
            continue
        for ds in answers:
            prior = _prior(node.name, ds)
            if not prior.study_uid or prior.study_uid in seen:
                continue
            if before and prior.study_date and prior.study_date > before:
                continue
            seen.add(prior.study_uid)
            result.priors.append(prior)
    result.priors.sort(key=lambda p: p.study_date, reverse=True)
    return result


def _prior(node: str, ds: Dataset) -> RemotePrior:
    count = ds.get("NumberOfStudyRelatedInstances", None)
    return RemotePrior(
        node=node,
        study_uid=str(ds.get("StudyInstanceUID", "")),
        study_date=str(ds.get("StudyDate", "") or ""),
        modalities=tuple(as_list(ds.get("ModalitiesInStudy", ""))),
        description=str(ds.get("StudyDescription", "") or ""),
        instance_count=int(count) if count not in (None, "") else None,
    )
