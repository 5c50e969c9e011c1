"""Where predictions run: in-process (``local``) or on Celery workers (``celery``)."""
