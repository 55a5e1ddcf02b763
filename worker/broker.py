"""Kombu's Redis transport with one fix: a worker that loses Redis while it holds unacknowledged jobs
reconnects instead of dying.

On a lost connection Kombu closes the channel and tries to hand the worker's unacknowledged jobs
back over that very connection; it fails with an AttributeError, which Celery treats as
unrecoverable, and the worker exits. The jobs are safe without that hand-back: they stay in Redis's
unacked set and are redelivered after the visibility timeout, and the sweeper re-enqueues any image
whose job was lost.
"""

import logging

from kombu.transport import redis as kombu_redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


class QoS(kombu_redis.QoS):
    def restore_unacked_once(self, stderr: object = None) -> None:
        try:
            super().restore_unacked_once(stderr)
        except (AttributeError, RedisError, OSError) as exc:
            log.warning(
                "Redis is away: %d unacknowledged jobs stay in its unacked set and come back after "
                "the visibility timeout (%s)",
                len(self._delivered),
                exc,
            )


class Channel(kombu_redis.Channel):
    QoS = QoS


class Transport(kombu_redis.Transport):
    Channel = Channel
