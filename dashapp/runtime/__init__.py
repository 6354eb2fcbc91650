"""Job backends, result and page caches, settings: the server-side runtime shared by every worker."""
