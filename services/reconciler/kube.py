"""What the reconciler asks Kubernetes: which worker pods are alive, which Job runs this
pass, and an Event on that Job when a pass recovered something. Outside a cluster
there is no client and the reconciler falls back to time alone."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime

from kubernetes import client, config

log = logging.getLogger("mpwh.reconciler")

# A terminating pod (deletionTimestamp set, still Running) is finishing its attempt.
LIVE_PHASES = ("Pending", "Running")


def in_cluster_api() -> client.ApiClient | None:
    if not os.environ.get("KUBERNETES_SERVICE_HOST"):
        return None
    config.load_incluster_config()
    return client.ApiClient()


class Cluster:
    def __init__(self, api: client.ApiClient, namespace: str) -> None:
        self.core = client.CoreV1Api(api)
        self.namespace = namespace

    def live_pods(self, selector: str | None) -> set[str]:
        pods = self.core.list_namespaced_pod(self.namespace, label_selector=selector or "")
        return {
            pod.metadata.name
            for pod in pods.items
            if pod.metadata and pod.metadata.name and pod.status and pod.status.phase in LIVE_PHASES
        }

    def job_of_pod(self, pod_name: str) -> str | None:
        pods = self.core.list_namespaced_pod(self.namespace, field_selector=f"metadata.name={pod_name}")
        for pod in pods.items:
            for owner in (pod.metadata and pod.metadata.owner_references) or []:
                if owner.kind == "Job":
                    return owner.name
        return None

    def record_event(self, job_name: str, reason: str, message: str) -> None:
        now = datetime.now(UTC)
        event = client.CoreV1Event(
            metadata=client.V1ObjectMeta(generate_name=f"{job_name}.", namespace=self.namespace),
            involved_object=client.V1ObjectReference(
                api_version="batch/v1", kind="Job", name=job_name, namespace=self.namespace
            ),
            reason=reason,
            message=message,
            type="Normal",
            source=client.V1EventSource(component="mp-webhooks-reconciler"),
            first_timestamp=now,
            last_timestamp=now,
            count=1,
        )
        self.core.create_namespaced_event(self.namespace, event)
