"""The request flow: the gateway service, the attempt loop and the plugin hooks."""
