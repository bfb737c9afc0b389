"""The Kafka error types faust's producer and consumer raise, reached through faust.

faust-streaming runs over aiokafka, so what its producer raises (or wraps in ``ProducerSendError``) are
aiokafka's errors. The project imports aiokafka nowhere itself: its types come from faust's aiokafka
driver, the module that raises them, so they are always those of the aiokafka faust runs on.

    except ProducerSendError as exc:
        retry = isinstance(exc.__cause__, KafkaError) and exc.__cause__.retriable
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers import aiokafka as _driver

__all__ = ["KafkaError", "KafkaTimeoutError"]

#: Root of aiokafka's errors; ``retriable`` says whether trying again may succeed.
KafkaError: Any = _driver.KafkaError  # type: ignore[attr-defined]  # the driver imports it
#: A request that got no answer within its timeout (aiokafka does not flag it retriable).
KafkaTimeoutError: Any = _driver.aiokafka.errors.KafkaTimeoutError  # type: ignore[attr-defined]
