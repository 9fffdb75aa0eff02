"""Worker names and the pods they run in. A worker is named `<pod>.<suffix>`: unique even
when a container restarts inside the same pod while RQ still remembers the previous
one, and the reconciler reads the pod back to tell whether the worker is alive."""

from __future__ import annotations

import os
import secrets
import socket

SEPARATOR = "."


def worker_name(pod_name: str | None) -> str:
    host = pod_name or f"{socket.gethostname()}-{os.getpid()}"
    return f"{host}{SEPARATOR}{secrets.token_hex(3)}"


def pod_of(worker: str) -> str:
    return worker.rsplit(SEPARATOR, 1)[0]
