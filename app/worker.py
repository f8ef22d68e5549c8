"""`arq app.worker.WorkerSettings`, the path deployments made before the worker moved to app/jobs, still works."""

from app.jobs.worker import WorkerSettings

__all__ = ["WorkerSettings"]
