"""Socket.IO namespaces: thin handlers that validate and call services."""
