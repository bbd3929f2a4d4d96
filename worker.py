"""Entry point: `python worker.py` runs an RQ worker on the gateway's queues (REDIS_URL required)."""

from gateway.run.worker import run_worker

if __name__ == "__main__":
    run_worker()
