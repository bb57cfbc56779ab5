"""Operations: backup and restore, structured request logs, readiness and index warm-up."""
