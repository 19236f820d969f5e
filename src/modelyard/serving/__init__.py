"""Serving: endpoints, variants, routing, replica processes, supervisor, autoscaler, gateway."""
