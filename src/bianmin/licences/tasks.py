"""Periodic work of the licence app: the audit chain's signed checkpoint.

`core.audit` keeps the chain and writes checkpoints, but the key that signs them is a department's seal,
which lives here. `bianmin tick` and the `bianmin run` ticker write one each round; with Celery, beat runs
`audit_checkpoint_task` (settings.CELERY_BEAT_SCHEDULE).
"""

from __future__ import annotations

import logging

from celery import shared_task

log = logging.getLogger(__name__)


def write_audit_checkpoint():
    """A checkpoint of the audit chain's newest entry, signed with the checkpoint seal, written outside
    the database (issue 11: deleting the log's tail is then caught). Raises `core.audit.AuditBroken` for a
    chain that does not verify (nothing is anchored), LookupError while no department has a seal."""
    from bianmin.core import audit

    from .seals import CheckpointSeal

    return audit.write_checkpoint(CheckpointSeal())


@shared_task(ignore_result=True)
def audit_checkpoint_task() -> int | None:
    """Beat's round: the checkpoint's entry id; a broken chain is logged as an error for the operators."""
    from bianmin.core import audit

    try:
        return write_audit_checkpoint().entry_id
    except audit.AuditBroken as exc:
        log.error("审计日志未通过核验,未写检查点:第 %s 号记录 %s", exc.result.broken_id, exc.result.reason)
    except LookupError as exc:  # a first run without seals: nothing to sign with yet
        log.warning("未写审计日志检查点:%s", exc)
    return None
