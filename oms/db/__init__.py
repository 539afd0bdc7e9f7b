"""The data stores: the model base, bounded write transactions, database-side change
stamps, replica routing, folded search, outage detection and the Redis cache."""
