"""Background jobs: the queue (arq, or in-process without Redis), the registry of job functions and crons,
the arq worker's settings and its heartbeat.

The job functions themselves live with their domains (`app/<domain>/tasks.py`); `registry.py` lists them.
"""
