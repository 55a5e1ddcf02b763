"""Celery app and tasks, image fetching/decoding, classifier backends."""
