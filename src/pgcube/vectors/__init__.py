"""Vector collections (SPEC §13): tables of chunks with their embeddings, searched through HNSW."""
