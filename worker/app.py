"""The Celery instance and the settings that matter in production.

Three queues: live uploads and backfills are served by separate workers, so that a live upload is
never stuck behind a million-image backfill (priorities on Redis are approximate at best).
"""

from celery import Celery
from kombu import Exchange
from kombu import Queue as KombuQueue

from core.queues import CANARY_WATCH, INDEX, SWEEP, Queue
from core.settings import get_settings

PRELOAD_MODEL = "stylecat_preload_model"
"""Set by `stylecat worker` when it consumes a categorize queue: each child loads the model as it
starts (the pool hands it no job before that), not in its first job."""


def make_app() -> Celery:
    settings = get_settings()
    celery = Celery("stylecat", broker=settings.redis_url, include=["worker.tasks"])
    celery.conf.broker_transport = "worker.broker:Transport"  # survives Redis restarts, see worker/broker.py
    transport = {"visibility_timeout": settings.broker_visibility_timeout}
    celery.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,  # PostgreSQL is the record
        result_backend=None,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # long tasks: don't hoard jobs another child could run
        task_soft_time_limit=settings.task_soft_time_limit,
        task_time_limit=settings.task_time_limit,
        broker_transport_options=transport,
        broker_connection_retry_on_startup=True,
        worker_max_memory_per_child=settings.worker_max_memory_per_child,
        worker_proc_alive_timeout=60,  # a child loads the model on start
        # each queue its own exchange and key: unbound queues would all share the default ones, and
        # Redis would copy every message into every queue
        task_queues=[KombuQueue(q.value, Exchange(q.value, type="direct"), routing_key=q.value) for q in Queue],
        task_default_queue=Queue.LIVE.value,
        worker_send_task_events=True,  # for Flower
        # No task-sent event: it was nearly half of what sending a job cost the API (a second publish to
        # Redis for every upload); Flower lists a job once a worker receives it, and the queues'
        # depths show what waits.
        task_send_sent_event=False,
        # periodic runs expire, so that a backlog cannot pile up repeats
        beat_schedule={
            "sweep": {
                "task": SWEEP,
                "schedule": settings.sweep_interval,
                "options": {"expires": settings.sweep_interval * 0.9, "queue": Queue.INDEX.value},
            },
            "index": {
                "task": INDEX,
                "schedule": settings.index_interval,
                "options": {"expires": settings.index_interval * 0.9, "queue": Queue.INDEX.value},
            },
            "canary-watch": {
                "task": CANARY_WATCH,
                "schedule": settings.canary_check_interval,
                "options": {"expires": settings.canary_check_interval * 0.9, "queue": Queue.INDEX.value},
            },
        },
        beat_schedule_filename=str(settings.stack_dir / "celerybeat-schedule"),
    )
    return celery


app = make_app()
