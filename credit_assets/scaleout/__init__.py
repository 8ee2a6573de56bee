"""Scale-out: the Celery app, the executors, step queues, worker start-up and preloading."""
