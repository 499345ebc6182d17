"""The Vigil SDK: log predictions, labels and host metrics from a serving process to a Vigil server.

``Client(url).log(model, features=..., prediction=...)`` queues one record in about a microsecond and
never raises; a background thread sends batches over HTTP (``POST /v1/events``, ``/v1/labels``,
``/v1/host-metrics``) with retries. See :class:`vigil.sdk.client.Client`.
"""

from vigil.sdk.client import Client
from vigil.sdk.host import HostSampler
from vigil.sdk.monitor import Call, Monitor, current_call
from vigil.sdk.records import EVENT_FIELDS, new_request_id

__all__ = ["EVENT_FIELDS", "Call", "Client", "HostSampler", "Monitor", "current_call", "new_request_id"]
