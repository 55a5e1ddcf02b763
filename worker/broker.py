"""Kombu's Redis transport with two fixes: a worker that loses Redis while it holds unacknowledged
jobs reconnects instead of dying, and a channel reuses its Redis client instead of making one for
every command.

On a lost connection Kombu closes the channel and tries to hand the worker's unacknowledged jobs
back over that very connection; it fails with an AttributeError, which Celery treats as
unrecoverable, and the worker exits. The jobs are safe without that hand-back: they stay in Redis's
unacked set and are redelivered after the visibility timeout, and the sweeper re-enqueues any image
whose job was lost.
"""

import logging
from typing import Any

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
    _reused: Any = None

    def _create_client(self, asynchronous: bool = False) -> Any:
        """Kombu makes a new Redis client for every publish, acknowledgement and queue length it
        sends, and a redis-py client costs more to make than most commands take: it builds a table
        of its ~170 response callbacks (about 0.17 ms for each job a producer sends). The synchronous
        client is made once per channel and pool and reused; it takes a connection from the pool for
        each command, as a new one would."""
        if asynchronous:
            return super()._create_client(asynchronous=True)
        if self._reused is None or self._reused.connection_pool is not self.pool:
            self._reused = super()._create_client()
        return self._reused


class Transport(kombu_redis.Transport):
    Channel = Channel
