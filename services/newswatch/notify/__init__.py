"""newswatch.notify: alert delivery to subscribers (``newswatch notify``, ``newswatch alerts tail``).

The package root exports only the subscriber-side helper, so receivers can verify webhooks cheaply:

    from newswatch.notify import verify_signature, DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER
    verify_signature(secret, headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER], tolerance=300,
                     delivery_id=headers[DELIVERY_HEADER])

Modules: ``subscriptions`` (file and filters), ``webhook`` (signed POST, retries), ``signing``, ``console``,
``encoding`` (decode/encode alerts), ``formats`` (webhook bodies: json, Slack, Teams, Adaptive Card),
``store`` (delivery log), ``dispatch`` (per-subscription queues, offset tracking), ``metrics``, ``errors``,
``settings``, ``main`` (CLI wiring).
"""

from newswatch.notify.signing import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
    verify_signature,
)

__all__ = ["DELIVERY_HEADER", "SIGNATURE_HEADER", "TIMESTAMP_HEADER", "sign", "verify_signature"]
