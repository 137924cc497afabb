"""Application services: chat logic that knows nothing of Socket.IO."""
