"""GPT-2 Provenance application layer: settings, CLI; later storage, Celery tasks and the API."""

__version__ = "0.1.0"
