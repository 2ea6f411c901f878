"""What the admin and `GET /api/v1/admin/wallet-status/` show: the configuration, the passes
waiting or failing, and the last sync run."""

from django.utils import timezone

from loyalty.models import Card, TaskRun, WalletPass
from loyalty.wallet import config
from loyalty.wallet.services import FAILING_AFTER_RUNS

SYNC_TASK = "loyalty.sync_wallet_passes"


def wallet_status() -> dict:
    configuration = config.read_configuration()
    modified_at = configuration.key_file_modified_at
    return {
        "enabled": configuration.enabled,
        "configured": configuration.configured,
        "reason": configuration.reason,
        "problems": [
            {"id": problem.id, "message": problem.message, "hint": problem.hint}
            for problem in configuration.problems
        ],
        "issuer_id": configuration.issuer_id,
        "service_account_email": configuration.service_account_email,
        "key_id": configuration.key_id,
        "key_file_modified_at": modified_at,
        "key_age_days": (timezone.now() - modified_at).days if modified_at else None,
        "passes": WalletPass.objects.count(),
        "stale_passes": Card.all_objects.filter(
            wallet_pass_state=Card.WalletPassState.STALE
        ).count(),
        "failing_passes": WalletPass.objects.filter(failed_runs__gte=FAILING_AFTER_RUNS).count(),
        "last_sync": _last_sync(),
    }


def _last_sync() -> dict | None:
    # Full runs only: a forced re-sync of one card says nothing of the failure rate.
    run = (
        TaskRun.objects.filter(task=SYNC_TASK, scope="")
        .exclude(status=TaskRun.Status.RUNNING)
        .first()
    )
    if run is None:
        return None
    pushed = run.counts.get("pushed", 0)
    failed = run.counts.get("failed", 0)
    return {
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "status": run.status,
        "scope": run.scope,
        "pushed": pushed,
        "failed": failed,
        "failure_rate": round(failed / (pushed + failed), 4) if pushed + failed else 0.0,
        "failed_card_ids": run.counts.get("failed_card_ids", []),
        "error": run.error,
    }
