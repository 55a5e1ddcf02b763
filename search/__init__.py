"""OpenSearch: index mapping, the indexer (PostgreSQL outbox to OpenSearch), the search API."""
