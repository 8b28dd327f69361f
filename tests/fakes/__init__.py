"""In-process fakes for fault tests (loopback servers, no network)."""
