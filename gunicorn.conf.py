"""gunicorn settings for Referloop on one machine (the benchmark uses them too).

Start with ``gunicorn --config gunicorn.conf.py wsgi:app``. Override any value
with gunicorn's own flags or ``GUNICORN_CMD_ARGS``; ``WEB_CONCURRENCY`` sets the
number of workers.
"""

import gc
import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# One process per core: the work is CPU-bound Python (templates, forms, SQLite).
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
threads = int(os.environ.get("GUNICORN_THREADS", 1))
# Load the app once in the master, then fork: workers share its memory pages.
preload_app = True
# Recycle a worker now and then, so a slow leak can never grow without bound.
max_requests = 20_000
max_requests_jitter = 2_000
timeout = 30
graceful_timeout = 20
# Behind a proxy on the same machine: trust its X-Forwarded-* headers.
forwarded_allow_ips = "127.0.0.1"


def when_ready(server):
    """Compile every template in the master, before it forks the workers, so that
    each new worker (one every ``max_requests``) shares them instead of compiling
    them again on a visitor's time.

    Then move everything loaded so far out of the garbage collector's sight
    (``gc.freeze``, as Python's documentation advises before a fork): the app's
    modules and templates live as long as the worker, and a full collection in a
    worker no longer walks them (nor writes to their pages, which stay shared)."""
    if server.cfg.preload_app:
        from app.templating import compile_templates

        compile_templates(server.app.wsgi())
        gc.collect()
        gc.freeze()
