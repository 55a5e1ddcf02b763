"""One OpenSearch client per process, with retries that also cover time-outs."""

from functools import lru_cache

from opensearchpy import OpenSearch

from core.settings import get_settings


@lru_cache
def client_for(url: str) -> OpenSearch:
    return OpenSearch(url, timeout=30, max_retries=3, retry_on_timeout=True)


def get_client() -> OpenSearch:
    return client_for(get_settings().opensearch_url)
