"""Contrôle de service fait: automatic checks, the queue, requests, decisions."""
