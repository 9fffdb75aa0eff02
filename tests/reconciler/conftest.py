from tests.worker.conftest import pipeline, sandbox, start_worker, worker_env  # noqa: F401 - shared fixtures
