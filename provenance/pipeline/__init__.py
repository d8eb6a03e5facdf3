"""The scanning pipeline: input readers, durable chunk queue, Celery tasks, workers, job accounting, export."""
